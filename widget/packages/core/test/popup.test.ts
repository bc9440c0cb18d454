import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { open } from '../src/latchkey';
import type { LatchkeyOptions } from '../src/types';
import {
  BASE,
  closeAllPopups,
  created,
  fakePopup,
  message,
  pickerParams,
  post,
  stubResultChannel,
  stubWindowOpen,
} from './helpers';

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  closeAllPopups();
  vi.useRealTimers();
});

function callbacks() {
  return {
    onLoad: vi.fn(),
    onSuccess: vi.fn(),
    onConnectionCreated: vi.fn(),
    onError: vi.fn(),
    onClose: vi.fn(),
    onEvent: vi.fn(),
  } satisfies LatchkeyOptions;
}

function start(options: LatchkeyOptions = {}) {
  const channel = stubResultChannel();
  const popup = fakePopup();
  const windowOpen = stubWindowOpen(popup);
  const handlers = callbacks();
  const promise = open({ baseUrl: BASE, workspaceId: 'ws_1', environment: 'sandbox', ...handlers, ...options });
  const params = pickerParams(windowOpen.mock.lastCall![0] as string);
  const outcome = promise.then(
    (connection) => ({ connection }),
    (error) => ({ error }),
  );
  return { channel, popup, handlers, promise, outcome, nonce: params.get('nonce')!, channelId: params.get('channel')! };
}

describe('messages from the popup', () => {
  it('resolves with the connection and fires the callbacks', async () => {
    const flow = start();
    post(message(flow.nonce, 'loaded'), flow.popup);
    post(message(flow.nonce, 'integration.selected', { integration: 'hubspot' }), flow.popup);
    post(created(flow.nonce), flow.popup);

    const connection = { connectionId: 'conn_1', integration: 'hubspot', externalXref: 'user-42', state: 'host-state' };
    expect(await flow.outcome).toEqual({ connection });
    expect(flow.handlers.onLoad).toHaveBeenCalledTimes(1);
    expect(flow.handlers.onSuccess).toHaveBeenCalledWith(connection);
    expect(flow.handlers.onConnectionCreated).toHaveBeenCalledWith(connection);
    expect(flow.handlers.onError).not.toHaveBeenCalled();
    expect(flow.handlers.onClose).not.toHaveBeenCalled();
    expect(flow.handlers.onEvent.mock.calls.map(([name]) => name)).toEqual([
      'loaded',
      'integration.selected',
      'connection.created',
    ]);
    expect(flow.handlers.onEvent.mock.calls[1][1]).toEqual({ integration: 'hubspot' });
  });

  it('rejects with the stable error code of a failed connection', async () => {
    const flow = start();
    post(
      message(flow.nonce, 'connection.failed', {
        integration: 'hubspot',
        error: 'access_denied',
        errorDescription: 'The user denied access',
      }),
      flow.popup,
    );
    const { error } = (await flow.outcome) as { error: any };
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'LatchkeyError', code: 'access_denied', message: 'The user denied access', integration: 'hubspot' });
    expect(flow.handlers.onError).toHaveBeenCalledWith(error);
    expect(flow.handlers.onSuccess).not.toHaveBeenCalled();
  });

  it('rejects with closed when the picker reports that the end-user closed it', async () => {
    const flow = start();
    post(message(flow.nonce, 'closed'), flow.popup);
    expect(await flow.outcome).toMatchObject({ error: { code: 'closed' } });
    expect(flow.handlers.onClose).toHaveBeenCalledTimes(1);
    expect(flow.handlers.onError).not.toHaveBeenCalled();
  });

  it.each([
    ['another origin', (nonce: string, popup: unknown) => post(created(nonce), popup, 'https://evil.example')],
    ['a look-alike origin', (nonce: string, popup: unknown) => post(created(nonce), popup, `${BASE}.evil.example`)],
    ['another window', (nonce: string) => post(created(nonce), window)],
    ['another nonce', (_nonce: string, popup: unknown) => post(created('forged-nonce'), popup)],
    ['another source field', (nonce: string, popup: unknown) => post({ ...created(nonce), source: 'other' }, popup)],
    ['another protocol version', (nonce: string, popup: unknown) => post({ ...created(nonce), version: 2 }, popup)],
    ['a non-object payload', (_nonce: string, popup: unknown) => post('connection.created', popup)],
  ])('ignores a forged message from %s', async (_label, forge) => {
    const flow = start();
    forge(flow.nonce, flow.popup);
    await vi.advanceTimersByTimeAsync(0);
    expect(flow.handlers.onSuccess).not.toHaveBeenCalled();
    expect(flow.handlers.onEvent).not.toHaveBeenCalled();

    post(message(flow.nonce, 'closed'), flow.popup);
    expect(await flow.outcome).toMatchObject({ error: { code: 'closed' } });
  });

  it('settles once, however many results arrive', async () => {
    const flow = start();
    post(created(flow.nonce), flow.popup);
    post(created(flow.nonce), flow.popup);
    post(message(flow.nonce, 'connection.failed', { error: 'server_error' }), flow.popup);
    post(message(flow.nonce, 'closed'), flow.popup);
    flow.channel.deliver(created(flow.nonce));
    flow.popup.closed = true;
    await vi.advanceTimersByTimeAsync(5000);

    expect(await flow.outcome).toHaveProperty('connection');
    expect(flow.handlers.onSuccess).toHaveBeenCalledTimes(1);
    expect(flow.handlers.onEvent).toHaveBeenCalledTimes(1);
    expect(flow.handlers.onError).not.toHaveBeenCalled();
    expect(flow.handlers.onClose).not.toHaveBeenCalled();
  });

  it('stops listening, polling and watching once settled, and closes the popup', async () => {
    const flow = start();
    post(created(flow.nonce), flow.popup);
    await flow.outcome;
    expect(flow.popup.close).toHaveBeenCalled();
    const polls = flow.channel.fetch.mock.calls.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(flow.channel.fetch).toHaveBeenCalledTimes(polls);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('the result channel', () => {
  it('polls every second without credentials and resolves with a delivered result', async () => {
    const flow = start();
    await vi.advanceTimersByTimeAsync(999);
    expect(flow.channel.fetch).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(flow.channel.fetch).toHaveBeenCalledTimes(1);
    const [url, init] = flow.channel.fetch.mock.calls[0];
    expect(url).toBe(`${BASE}/widget/result?channel=${flow.channelId}`);
    expect(init).toEqual({ credentials: 'omit' });
    await vi.advanceTimersByTimeAsync(2000);
    expect(flow.channel.fetch).toHaveBeenCalledTimes(3);

    // The popup's opener was cut: the result only reaches the channel.
    flow.channel.deliver(created(flow.nonce));
    await vi.advanceTimersByTimeAsync(1000);
    expect(await flow.outcome).toMatchObject({ connection: { connectionId: 'conn_1' } });
    expect(flow.handlers.onSuccess).toHaveBeenCalledTimes(1);
    expect(flow.handlers.onEvent).toHaveBeenCalledWith('connection.created', expect.objectContaining({ connectionId: 'conn_1' }));
  });

  it('ignores a channel result carrying another nonce', async () => {
    const flow = start();
    flow.channel.deliver(created('another-nonce'));
    await vi.advanceTimersByTimeAsync(3000);
    expect(flow.handlers.onSuccess).not.toHaveBeenCalled();
    post(message(flow.nonce, 'closed'), flow.popup);
    await flow.outcome;
  });

  it('keeps polling through network errors', async () => {
    const flow = start();
    flow.channel.fetch.mockRejectedValueOnce(new TypeError('Failed to fetch'));
    await vi.advanceTimersByTimeAsync(1000);
    flow.channel.deliver(created(flow.nonce));
    await vi.advanceTimersByTimeAsync(1000);
    expect(await flow.outcome).toHaveProperty('connection');
  });
});

describe('closing the popup', () => {
  it('rejects with closed after one last empty poll', async () => {
    const flow = start();
    await vi.advanceTimersByTimeAsync(1200);
    const polls = flow.channel.fetch.mock.calls.length;
    flow.popup.closed = true;
    await vi.advanceTimersByTimeAsync(500);

    expect(await flow.outcome).toMatchObject({ error: { code: 'closed' } });
    expect(flow.channel.fetch).toHaveBeenCalledTimes(polls + 1);
    expect(flow.handlers.onClose).toHaveBeenCalledTimes(1);
    expect(flow.handlers.onEvent).toHaveBeenCalledWith('closed', {});
    expect(flow.handlers.onError).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  describe('after the flow reached the provider', () => {
    function atProvider(hostFocused: boolean) {
      vi.spyOn(document, 'hasFocus').mockReturnValue(hostFocused);
      const flow = start();
      flow.channel.start();
      return flow;
    }

    afterEach(() => {
      vi.restoreAllMocks();
    });

    it('rejects with closed within seconds once the host page has the focus back', async () => {
      const flow = atProvider(true);
      await vi.advanceTimersByTimeAsync(1200); // a poll has seen the flow start
      flow.popup.closed = true;
      await vi.advanceTimersByTimeAsync(2000);
      expect(flow.handlers.onClose).not.toHaveBeenCalled(); // a callback landing just now still wins
      await vi.advanceTimersByTimeAsync(1000);
      expect(await flow.outcome).toMatchObject({ error: { code: 'closed' } });
      expect(flow.handlers.onClose).toHaveBeenCalledTimes(1);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('keeps waiting while the host page lacks the focus: the provider may only have cut the popup off', async () => {
      const flow = atProvider(false);
      await vi.advanceTimersByTimeAsync(1200);
      flow.popup.closed = true; // what a Cross-Origin-Opener-Policy makes an open popup look like
      await vi.advanceTimersByTimeAsync(60_000);
      expect(flow.handlers.onClose).not.toHaveBeenCalled();
      flow.channel.deliver(created(flow.nonce)); // the end-user finished in the cut-off popup
      await vi.advanceTimersByTimeAsync(1000);
      expect(await flow.outcome).toHaveProperty('connection');
      expect(flow.handlers.onClose).not.toHaveBeenCalled();
    });

    it('gives up with closed after the state lifetime when the focus never comes back', async () => {
      const flow = atProvider(false);
      await vi.advanceTimersByTimeAsync(1200);
      flow.popup.closed = true;
      await vi.advanceTimersByTimeAsync(601_000);
      expect(await flow.outcome).toMatchObject({ error: { code: 'closed' } });
    });

    it('delivers a result that lands while the host has the focus back', async () => {
      const flow = atProvider(true);
      await vi.advanceTimersByTimeAsync(1200);
      flow.popup.closed = true;
      await vi.advanceTimersByTimeAsync(1000);
      flow.channel.deliver(created(flow.nonce));
      await vi.advanceTimersByTimeAsync(1000);
      expect(await flow.outcome).toHaveProperty('connection');
      expect(flow.handlers.onClose).not.toHaveBeenCalled();
    });
  });

  it('resolves when the last poll after closing finds the result', async () => {
    const flow = start();
    flow.channel.deliver(created(flow.nonce));
    flow.popup.closed = true;
    await vi.advanceTimersByTimeAsync(500);
    expect(await flow.outcome).toHaveProperty('connection');
    expect(flow.handlers.onClose).not.toHaveBeenCalled();
  });

  it('treats a popup whose closed flag throws as still open', async () => {
    const flow = start();
    Object.defineProperty(flow.popup, 'closed', {
      configurable: true,
      get() {
        throw new DOMException('Blocked by Cross-Origin-Opener-Policy', 'SecurityError');
      },
    });
    await vi.advanceTimersByTimeAsync(3000);
    expect(flow.handlers.onClose).not.toHaveBeenCalled();
    flow.channel.deliver(created(flow.nonce));
    await vi.advanceTimersByTimeAsync(1000);
    expect(await flow.outcome).toHaveProperty('connection');
  });

  it('rejects with closed when the promise is the only handler', async () => {
    const flow = start({ onClose: undefined, onError: undefined });
    post(message(flow.nonce, 'closed'), flow.popup);
    await expect(flow.promise).rejects.toMatchObject({ code: 'closed' });
  });
});

describe('a blocked popup', () => {
  it('rejects with popup_blocked when window.open returns null', async () => {
    stubResultChannel();
    stubWindowOpen(null);
    const onError = vi.fn();
    const promise = open({ baseUrl: BASE, workspaceId: 'ws_1', environment: 'sandbox', onError });
    await expect(promise).rejects.toMatchObject({ code: 'popup_blocked' });
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: 'popup_blocked' }));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with popup_blocked when the popup comes back already closed', async () => {
    stubResultChannel();
    const popup = fakePopup();
    popup.closed = true;
    stubWindowOpen(popup);
    await expect(open({ baseUrl: BASE, workspaceId: 'ws_1' })).rejects.toMatchObject({ code: 'popup_blocked' });
  });

  it('falls back to redirect mode when asked to', async () => {
    stubResultChannel();
    stubWindowOpen(null);
    const assign = vi.spyOn(location, 'assign').mockImplementation(() => {});
    const onError = vi.fn();
    open({ baseUrl: BASE, workspaceId: 'ws_1', environment: 'sandbox', fallbackToRedirect: true, onError });
    expect(assign).toHaveBeenCalledTimes(1);
    const params = pickerParams(assign.mock.calls[0][0] as string);
    expect(params.get('mode')).toBe('redirect');
    expect(params.get('workspace')).toBe('ws_1');
    expect(onError).not.toHaveBeenCalled();
  });
});

describe('opening twice', () => {
  it('focuses the open popup instead of opening another', async () => {
    const flow = start();
    const second = open({ baseUrl: BASE, workspaceId: 'ws_1' });
    expect(window.open).toHaveBeenCalledTimes(1);
    expect(flow.popup.focus).toHaveBeenCalled();
    expect(second).toBe(flow.promise);
    post(message(flow.nonce, 'closed'), flow.popup);
    await flow.outcome;
  });

  it('opens a new popup once the previous flow has ended', async () => {
    const first = start();
    post(message(first.nonce, 'closed'), first.popup);
    await first.outcome;
    const second = start();
    expect(second.nonce).not.toBe(first.nonce);
    expect(second.channelId).not.toBe(first.channelId);
    post(created(first.nonce), first.popup);
    post(created(first.nonce), second.popup);
    await vi.advanceTimersByTimeAsync(0);
    expect(second.handlers.onSuccess).not.toHaveBeenCalled();
  });
});
