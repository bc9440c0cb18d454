import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mount } from '../src/latchkey';
import { BASE, created, message, pickerParams, post, stubResultChannel } from './helpers';

beforeEach(() => {
  vi.useFakeTimers();
  document.body.innerHTML = '<div id="picker"></div>';
});

afterEach(() => {
  vi.useRealTimers();
});

function start() {
  const channel = stubResultChannel();
  const element = document.getElementById('picker')!;
  const handlers = { onLoad: vi.fn(), onSuccess: vi.fn(), onError: vi.fn(), onClose: vi.fn(), onEvent: vi.fn() };
  const inline = mount(element, { baseUrl: BASE, workspaceId: 'ws_1', environment: 'sandbox', ...handlers });
  const iframe = element.querySelector('iframe')!;
  // happy-dom loads no page in the iframe: give it a window of its own to post from.
  Object.defineProperty(iframe, 'contentWindow', { value: { name: 'picker frame' } });
  const params = pickerParams(iframe.src);
  return { channel, element, handlers, inline, iframe, nonce: params.get('nonce')!, channelId: params.get('channel')! };
}

describe('mount', () => {
  it('appends a sandboxed, titled iframe on the picker in inline mode', () => {
    const { iframe } = start();
    expect(iframe.title).toBe('Connect an integration');
    expect(iframe.getAttribute('sandbox')).toBe(
      'allow-scripts allow-same-origin allow-forms allow-popups allow-popups-to-escape-sandbox',
    );
    expect(iframe.hasAttribute('allow')).toBe(false);
    const params = pickerParams(iframe.src);
    expect(params.get('mode')).toBe('inline');
    expect(params.get('origin')).toBe('https://host.example');
  });

  it('follows the picker height from resize messages', () => {
    const { iframe, nonce, handlers } = start();
    post(message(nonce, 'resize', { height: 512 }), iframe.contentWindow);
    expect(iframe.style.height).toBe('512px');
    expect(handlers.onEvent).toHaveBeenCalledWith('resize', { height: 512 });
  });

  it('delivers the connection from the iframe once, and keeps resizing after', () => {
    const { iframe, nonce, handlers } = start();
    post(message(nonce, 'loaded'), iframe.contentWindow);
    post(created(nonce), iframe.contentWindow);
    post(created(nonce), iframe.contentWindow);
    post(message(nonce, 'closed'), iframe.contentWindow);
    expect(handlers.onLoad).toHaveBeenCalledTimes(1);
    expect(handlers.onSuccess).toHaveBeenCalledTimes(1);
    expect(handlers.onSuccess).toHaveBeenCalledWith({
      connectionId: 'conn_1',
      integration: 'hubspot',
      externalXref: 'user-42',
      state: 'host-state',
    });
    expect(handlers.onClose).not.toHaveBeenCalled();
    post(message(nonce, 'resize', { height: 300 }), iframe.contentWindow);
    expect(iframe.style.height).toBe('300px');
  });

  it('ignores messages from another window or origin', () => {
    const { iframe, nonce, handlers } = start();
    post(created(nonce), window);
    post(created(nonce), iframe.contentWindow, 'https://evil.example');
    post(message(nonce, 'resize', { height: 9999 }), window);
    expect(handlers.onSuccess).not.toHaveBeenCalled();
    expect(handlers.onEvent).not.toHaveBeenCalled();
    expect(iframe.style.height).not.toBe('9999px');
  });

  it('polls the result channel and stops once settled', async () => {
    const { channel, nonce, channelId, handlers } = start();
    await vi.advanceTimersByTimeAsync(2000);
    expect(channel.fetch).toHaveBeenCalledTimes(2);
    expect(channel.fetch.mock.calls[0][0]).toBe(`${BASE}/widget/result?channel=${channelId}`);
    channel.deliver(message(nonce, 'connection.failed', { error: 'invalid_credentials', integration: 'stripe' }));
    await vi.advanceTimersByTimeAsync(1000);
    expect(handlers.onError).toHaveBeenCalledWith(expect.objectContaining({ code: 'invalid_credentials', integration: 'stripe' }));
    await vi.advanceTimersByTimeAsync(5000);
    expect(channel.fetch).toHaveBeenCalledTimes(3);
  });

  it('destroy removes the iframe and stops listening and polling', async () => {
    const { channel, element, inline, iframe, nonce, handlers } = start();
    const frame = iframe.contentWindow;
    inline.destroy();
    expect(element.querySelector('iframe')).toBeNull();
    post(created(nonce), frame);
    await vi.advanceTimersByTimeAsync(5000);
    expect(handlers.onSuccess).not.toHaveBeenCalled();
    expect(channel.fetch).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fails with load_failed when the frame sends nothing within the load timeout', async () => {
    const { handlers } = start();
    await vi.advanceTimersByTimeAsync(19_000);
    expect(handlers.onError).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(handlers.onError).toHaveBeenCalledTimes(1);
    expect(handlers.onError).toHaveBeenCalledWith(expect.objectContaining({ name: 'LatchkeyError', code: 'load_failed' }));
  });

  it('fails soon after the frame loads when it never says it is ready (a refused frame still fires load)', async () => {
    const { handlers, iframe } = start();
    await vi.advanceTimersByTimeAsync(500);
    iframe.dispatchEvent(new Event('load'));
    await vi.advanceTimersByTimeAsync(2_900);
    expect(handlers.onError).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(100);
    expect(handlers.onError).toHaveBeenCalledWith(expect.objectContaining({ code: 'load_failed' }));
  });

  it('does not time out once the frame has spoken, even after a later load event', async () => {
    const { handlers, iframe, nonce } = start();
    post(message(nonce, 'loaded'), iframe.contentWindow);
    iframe.dispatchEvent(new Event('load'));
    await vi.advanceTimersByTimeAsync(30_000);
    expect(handlers.onLoad).toHaveBeenCalledTimes(1);
    expect(handlers.onError).not.toHaveBeenCalled();
  });

  it("reports the frame's own connection.failed, not a timeout, when the picker could not open", async () => {
    const { handlers, iframe, nonce } = start();
    post(message(nonce, 'connection.failed', { error: 'expired_session', errorDescription: 'expired' }), iframe.contentWindow);
    iframe.dispatchEvent(new Event('load'));
    await vi.advanceTimersByTimeAsync(30_000);
    expect(handlers.onError).toHaveBeenCalledTimes(1);
    expect(handlers.onError).toHaveBeenCalledWith(expect.objectContaining({ code: 'expired_session' }));
  });
});
