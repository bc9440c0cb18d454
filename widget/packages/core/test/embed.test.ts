import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { closeAllPopups, pickerParams, stubResultChannel, stubWindowOpen } from './helpers';

beforeEach(() => {
  vi.resetModules();
  delete window.Latchkey;
});

afterEach(() => {
  delete window.Latchkey;
  closeAllPopups();
  vi.restoreAllMocks();
});

async function loadEmbedFrom(src: string | null) {
  const script = src ? Object.assign(document.createElement('script'), { src }) : null;
  vi.spyOn(document, 'currentScript', 'get').mockReturnValue(script);
  await import('../src/embed');
}

describe('embed.js', () => {
  it('installs window.Latchkey', async () => {
    await loadEmbedFrom('https://latchkey.example/embed.js');
    expect(window.Latchkey).toMatchObject({ version: '0.0.0-test' });
    expect(typeof window.Latchkey!.open).toBe('function');
    expect(typeof window.Latchkey!.mount).toBe('function');
  });

  it('defaults baseUrl to where the script was loaded from', async () => {
    await loadEmbedFrom('https://latchkey.example/embed.js?v=3');
    stubResultChannel();
    const windowOpen = stubWindowOpen();
    window.Latchkey!.open({ workspaceId: 'ws_1' }).catch(() => {});
    expect(pickerParams(windowOpen.mock.calls[0][0] as string).get('workspace')).toBe('ws_1');
  });

  it('keeps a path prefix the service is mounted under', async () => {
    await loadEmbedFrom('https://tools.example/latchkey/embed.js');
    stubResultChannel();
    const windowOpen = stubWindowOpen();
    window.Latchkey!.open({ workspaceId: 'ws_1' }).catch(() => {});
    expect(windowOpen.mock.calls[0][0]).toMatch(/^https:\/\/tools\.example\/latchkey\/picker\?/);
  });

  it('leaves the first copy in charge when loaded twice', async () => {
    await loadEmbedFrom('https://latchkey.example/embed.js');
    const first = window.Latchkey;
    vi.resetModules();
    await loadEmbedFrom('https://latchkey.example/embed.js');
    expect(window.Latchkey).toBe(first);
  });
});
