import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LatchkeyStatic } from '../src/types';

const fakeLatchkey = { version: 'fake', open: vi.fn(), mount: vi.fn() } as unknown as LatchkeyStatic;

async function freshLoader() {
  vi.resetModules();
  return (await import('../src/index')).loadLatchkey;
}

const injected = () => Array.from(document.querySelectorAll('script[src$="/embed.js"]')) as HTMLScriptElement[];

beforeEach(() => {
  delete window.Latchkey;
  document.head.innerHTML = '';
});

afterEach(() => {
  delete window.Latchkey;
});

describe('loadLatchkey', () => {
  it('injects {baseUrl}/embed.js once and resolves with window.Latchkey', async () => {
    const loadLatchkey = await freshLoader();
    const first = loadLatchkey('https://latchkey.example/');
    const second = loadLatchkey('https://latchkey.example');
    expect(second).toBe(first);
    expect(injected().map((script) => script.src)).toEqual(['https://latchkey.example/embed.js']);

    window.Latchkey = fakeLatchkey;
    injected()[0].dispatchEvent(new Event('load'));
    await expect(first).resolves.toBe(fakeLatchkey);
    expect(loadLatchkey('https://latchkey.example')).toBe(first);
    expect(injected()).toHaveLength(1);
  });

  it('rejects with load_failed and retries with a fresh script on the next call', async () => {
    const loadLatchkey = await freshLoader();
    const first = loadLatchkey('https://latchkey.example');
    injected()[0].dispatchEvent(new Event('error'));
    await expect(first).rejects.toMatchObject({ name: 'LatchkeyError', code: 'load_failed' });
    expect(injected()).toHaveLength(0);

    const retry = loadLatchkey('https://latchkey.example');
    expect(retry).not.toBe(first);
    expect(injected()).toHaveLength(1);
    window.Latchkey = fakeLatchkey;
    injected()[0].dispatchEvent(new Event('load'));
    await expect(retry).resolves.toBe(fakeLatchkey);
  });

  it('rejects with load_failed when the script defines no window.Latchkey', async () => {
    const loadLatchkey = await freshLoader();
    const promise = loadLatchkey('https://latchkey.example');
    injected()[0].dispatchEvent(new Event('load'));
    await expect(promise).rejects.toMatchObject({ code: 'load_failed' });
  });

  it('uses a window.Latchkey that a script tag already installed', async () => {
    window.Latchkey = fakeLatchkey;
    const loadLatchkey = await freshLoader();
    await expect(loadLatchkey('https://latchkey.example')).resolves.toBe(fakeLatchkey);
    expect(injected()).toHaveLength(0);
  });

  it('waits for an embed.js script tag already in the page instead of adding another', async () => {
    document.head.innerHTML = '<script src="https://latchkey.example/embed.js"></script>';
    const loadLatchkey = await freshLoader();
    const promise = loadLatchkey('https://latchkey.example');
    expect(injected()).toHaveLength(1);
    window.Latchkey = fakeLatchkey;
    injected()[0].dispatchEvent(new Event('load'));
    await expect(promise).resolves.toBe(fakeLatchkey);
  });
});
