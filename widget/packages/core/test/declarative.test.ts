import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mountAll, openOnClick, optionsFromElement } from '../src/declarative';
import { BASE, closeAllPopups, created, fakePopup, message, pickerParams, post, stubResultChannel, stubWindowOpen } from './helpers';

beforeEach(() => {
  vi.useFakeTimers();
  stubResultChannel();
  document.addEventListener('click', openOnClick);
});

afterEach(() => {
  document.removeEventListener('click', openOnClick);
  document.body.innerHTML = '';
  closeAllPopups();
  vi.useRealTimers();
});

describe('optionsFromElement', () => {
  it('reads the options from data attributes', () => {
    document.body.innerHTML = `<button data-latchkey-open data-base-url="${BASE}" data-workspace="ws_1"
      data-environment="sandbox" data-external-xref="user-42" data-scopes="a.read, b.write" data-integrations="hubspot"
      data-categories="crm" data-mode="redirect" data-success-url="https://host.example/ok" data-state="s"
      data-lang="de" data-theme="dark" data-accent="112233" data-fallback-to-redirect>Connect</button>`;
    const options = optionsFromElement(document.querySelector('button')!);
    expect(options).toMatchObject({
      baseUrl: BASE,
      workspaceId: 'ws_1',
      environment: 'sandbox',
      externalXref: 'user-42',
      scopes: ['a.read', 'b.write'],
      integrations: ['hubspot'],
      categories: ['crm'],
      mode: 'redirect',
      successUrl: 'https://host.example/ok',
      state: 's',
      lang: 'de',
      theme: 'dark',
      accent: '112233',
      fallbackToRedirect: true,
    });
  });

  it('leaves fallbackToRedirect off unless the attribute is present and not "false"', () => {
    document.body.innerHTML = '<button data-latchkey-open></button><button data-latchkey-open data-fallback-to-redirect="false"></button>';
    const [plain, off] = Array.from(document.querySelectorAll('button'));
    expect(optionsFromElement(plain).fallbackToRedirect).toBe(false);
    expect(optionsFromElement(off).fallbackToRedirect).toBe(false);
  });
});

describe('data-latchkey-open', () => {
  it('opens a popup on click and dispatches the result as a DOM event', async () => {
    document.body.innerHTML = `<button data-latchkey-open data-base-url="${BASE}" data-workspace="ws_1"
      data-environment="sandbox"><span>Connect</span></button>`;
    const popup = fakePopup();
    const windowOpen = stubWindowOpen(popup);
    const success = vi.fn();
    document.body.addEventListener('latchkey:success', (event) => success((event as CustomEvent).detail));

    document.querySelector('span')!.click();
    expect(windowOpen).toHaveBeenCalledTimes(1);
    const params = pickerParams(windowOpen.mock.calls[0][0] as string);
    expect(params.get('workspace')).toBe('ws_1');
    post(created(params.get('nonce')!), popup);
    expect(success).toHaveBeenCalledWith(expect.objectContaining({ connectionId: 'conn_1', integration: 'hubspot' }));
  });

  it('dispatches latchkey:close when the end-user closes the popup', async () => {
    document.body.innerHTML = `<button data-latchkey-open data-base-url="${BASE}" data-workspace="ws_1">Connect</button>`;
    const popup = fakePopup();
    const windowOpen = stubWindowOpen(popup);
    const close = vi.fn();
    const button = document.querySelector('button')!;
    button.addEventListener('latchkey:close', close);
    button.click();
    post(message(pickerParams(windowOpen.mock.calls[0][0] as string).get('nonce')!, 'closed'), popup);
    expect(close).toHaveBeenCalledTimes(1);
  });

  it('does nothing for clicks elsewhere', () => {
    document.body.innerHTML = '<button>Other</button>';
    const windowOpen = stubWindowOpen();
    document.querySelector('button')!.click();
    expect(windowOpen).not.toHaveBeenCalled();
  });
});

describe('data-latchkey', () => {
  it('mounts an inline picker in each element, once', () => {
    document.body.innerHTML = `<div data-latchkey data-base-url="${BASE}" data-workspace="ws_1" data-mode="inline"></div>
      <div data-latchkey data-base-url="${BASE}" data-session="cs_1"></div>`;
    mountAll();
    mountAll();
    const frames = Array.from(document.querySelectorAll('div[data-latchkey] > iframe')) as HTMLIFrameElement[];
    expect(frames).toHaveLength(2);
    expect(pickerParams(frames[0].src).get('workspace')).toBe('ws_1');
    expect(pickerParams(frames[1].src).get('session')).toBe('cs_1');
    expect(pickerParams(frames[1].src).get('mode')).toBe('inline');
  });

  it('mounts nothing for the body or for a data-latchkey that holds a value', () => {
    document.body.setAttribute('data-latchkey', BASE);
    document.documentElement.setAttribute('data-latchkey', '');
    document.body.innerHTML = `<div id="config" data-latchkey="${BASE}" data-workspace="ws_1"></div>
      <div id="inline" data-latchkey="inline" data-base-url="${BASE}" data-workspace="ws_1"></div>`;
    try {
      mountAll();
      expect(document.querySelectorAll('iframe')).toHaveLength(1);
      expect(document.querySelector('#inline > iframe')).not.toBeNull();
    } finally {
      document.body.removeAttribute('data-latchkey');
      document.documentElement.removeAttribute('data-latchkey');
    }
  });
});
