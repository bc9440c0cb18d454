import { vi } from 'vitest';

export const BASE = 'https://latchkey.example';

export interface FakePopup {
  closed: boolean;
  close: ReturnType<typeof vi.fn>;
  focus: ReturnType<typeof vi.fn>;
}

const popups: FakePopup[] = [];

export function fakePopup(): FakePopup {
  const popup: FakePopup = {
    closed: false,
    close: vi.fn(() => {
      popup.closed = true;
    }),
    focus: vi.fn(),
  };
  popups.push(popup);
  return popup;
}

/** Closes every fake popup, so that no flow of one test is still "open" in the next. */
export function closeAllPopups(): void {
  for (const popup of popups.splice(0)) Object.defineProperty(popup, 'closed', { value: true, configurable: true });
}

export function stubWindowOpen(popup: FakePopup | null = fakePopup()) {
  return vi.spyOn(window, 'open').mockImplementation(() => popup as unknown as Window);
}

export function pickerParams(url: string): URLSearchParams {
  const parsed = new URL(url);
  if (parsed.origin + parsed.pathname !== `${BASE}/picker`) throw new Error(`not a picker URL: ${url}`);
  return parsed.searchParams;
}

/** Stubs fetch for the result channel: `pending` until `deliver()` is called. */
export function stubResultChannel() {
  let message: unknown = null;
  let started = false;
  const fetchMock = vi.fn(async (_url: string, _init?: RequestInit) => {
    const body = message ? { status: 'done', message } : { status: 'pending', started };
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  });
  vi.stubGlobal('fetch', fetchMock);
  return {
    fetch: fetchMock,
    deliver(next: unknown) {
      message = next;
    },
    /** The flow reached the provider (the server's `started: true`). */
    start() {
      started = true;
    },
  };
}

export function message(nonce: string, type: string, fields: Record<string, unknown> = {}) {
  return { source: 'latchkey', version: 1, nonce, type, ...fields };
}

export function post(data: unknown, source: unknown, origin = BASE): void {
  window.dispatchEvent(new MessageEvent('message', { data, origin, source: source as Window }));
}

export const created = (nonce: string) =>
  message(nonce, 'connection.created', {
    connectionId: 'conn_1',
    integration: 'hubspot',
    externalXref: 'user-42',
    state: 'host-state',
    error: null,
    errorDescription: null,
  });
