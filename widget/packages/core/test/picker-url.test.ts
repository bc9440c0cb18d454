import { afterEach, describe, expect, it, vi } from 'vitest';
import { open, pickerUrl, randomToken } from '../src/latchkey';
import { BASE, closeAllPopups, pickerParams, stubResultChannel, stubWindowOpen } from './helpers';

afterEach(closeAllPopups);

describe('pickerUrl', () => {
  it('maps every option to its protocol parameter', () => {
    const url = pickerUrl(
      {
        workspaceId: 'ws_1',
        environment: 'sandbox',
        externalXref: 'user-42',
        scopes: ['crm.contacts.read', 'crm.deals.read'],
        integrations: ['hubspot', 'salesforce'],
        categories: ['crm'],
        successUrl: 'https://host.example/ok',
        failureUrl: 'https://host.example/ko',
        state: 'opaque',
        lang: 'fr',
        theme: 'dark',
        accent: '#ff8800',
      },
      BASE,
      'popup',
      'the-nonce',
      'the-channel',
    );
    expect(Object.fromEntries(pickerParams(url))).toEqual({
      workspace: 'ws_1',
      env: 'sandbox',
      external_xref: 'user-42',
      scopes: 'crm.contacts.read,crm.deals.read',
      integrations: 'hubspot,salesforce',
      categories: 'crm',
      success_url: 'https://host.example/ok',
      failure_url: 'https://host.example/ko',
      state: 'opaque',
      mode: 'popup',
      origin: 'https://host.example',
      nonce: 'the-nonce',
      channel: 'the-channel',
      lang: 'fr',
      theme: 'dark',
      accent: 'ff8800',
    });
  });

  it('sends a session token and re-authorized connection, and omits what is unset', () => {
    const url = pickerUrl({ sessionToken: 'cs_abc', connectionId: 'conn_9', scopes: [] }, BASE, 'popup', 'n', 'c');
    expect(Object.fromEntries(pickerParams(url))).toEqual({
      session: 'cs_abc',
      connection: 'conn_9',
      mode: 'popup',
      origin: 'https://host.example',
      nonce: 'n',
      channel: 'c',
    });
  });

  it('accepts environmentId as an alias of environment', () => {
    expect(pickerParams(pickerUrl({ workspaceId: 'ws_1', environmentId: 'production' }, BASE, 'popup')).get('env')).toBe(
      'production',
    );
  });

  it('sends no origin, nonce or channel in redirect mode', () => {
    const params = pickerParams(pickerUrl({ workspaceId: 'ws_1', environment: 'sandbox' }, BASE, 'redirect'));
    expect(params.get('mode')).toBe('redirect');
    expect(params.has('origin') || params.has('nonce') || params.has('channel')).toBe(false);
  });
});

describe('randomToken', () => {
  it('is base64url of the requested number of random bytes', () => {
    const channel = randomToken(32);
    expect(channel).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken(32)).not.toBe(channel);
  });
});

describe('open', () => {
  it('opens a centered 480x720 popup on the picker with a fresh nonce and channel', () => {
    stubResultChannel();
    const windowOpen = stubWindowOpen();
    open({ baseUrl: `${BASE}/`, workspaceId: 'ws_1', environment: 'sandbox' }).catch(() => {});
    expect(windowOpen).toHaveBeenCalledTimes(1);
    const [url, target, features] = windowOpen.mock.calls[0] as [string, string, string];
    const params = pickerParams(url);
    expect(params.get('mode')).toBe('popup');
    expect(params.get('nonce')).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(params.get('channel')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(target).toBe('_blank');
    expect(features).toMatch(/width=480,height=720,left=\d+,top=\d+/);
  });

  it('navigates the top window in redirect mode', () => {
    const assign = vi.spyOn(location, 'assign').mockImplementation(() => {});
    const windowOpen = stubWindowOpen();
    open({ baseUrl: BASE, workspaceId: 'ws_1', environment: 'sandbox', mode: 'redirect', successUrl: 'https://host.example/ok' });
    expect(windowOpen).not.toHaveBeenCalled();
    const params = pickerParams(assign.mock.calls[0][0] as string);
    expect(params.get('mode')).toBe('redirect');
    expect(params.get('success_url')).toBe('https://host.example/ok');
  });

  it('refuses inline mode, which needs an element', async () => {
    const windowOpen = stubWindowOpen();
    await expect(open({ baseUrl: BASE, mode: 'inline' })).rejects.toMatchObject({ code: 'invalid_request' });
    expect(windowOpen).not.toHaveBeenCalled();
  });
});
