import { act, cleanup, fireEvent, render, renderHook, screen, waitFor } from '@testing-library/react';
import { StrictMode } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { latchkeyError, loadLatchkey, type LatchkeyStatic } from '@latchkey/core';
import { LatchkeyButton, LatchkeyConnect, useLatchkey } from '../src/index';

vi.mock('@latchkey/core', async (importOriginal) => ({
  ...(await importOriginal<typeof import('@latchkey/core')>()),
  loadLatchkey: vi.fn(),
}));
const load = vi.mocked(loadLatchkey);
const never = () => new Promise<never>(() => {});

const BASE = 'https://latchkey.example';
const connection = { connectionId: 'conn_1', integration: 'hubspot', externalXref: 'user-42', state: null };

let latchkey: { version: string; open: ReturnType<typeof vi.fn>; mount: ReturnType<typeof vi.fn> };
let destroy: ReturnType<typeof vi.fn>;

beforeEach(() => {
  destroy = vi.fn();
  latchkey = {
    version: 'test',
    open: vi.fn(async () => connection),
    mount: vi.fn(() => ({ destroy })),
  };
  load.mockReset();
  load.mockResolvedValue(latchkey as unknown as LatchkeyStatic);
});

afterEach(cleanup);

describe('useLatchkey', () => {
  it('is ready once embed.js has loaded, and opens with the current options', async () => {
    const onSuccess = vi.fn();
    const { result, rerender } = renderHook((props) => useLatchkey(props), {
      initialProps: { baseUrl: BASE, workspaceId: 'ws_1', onSuccess },
    });
    expect(result.current.ready).toBe(false);
    await waitFor(() => expect(result.current.ready).toBe(true));
    expect(result.current.error).toBeNull();

    rerender({ baseUrl: BASE, workspaceId: 'ws_2', onSuccess });
    await expect(result.current.open()).resolves.toEqual(connection);
    expect(latchkey.open).toHaveBeenCalledTimes(1);
    expect(latchkey.open.mock.calls[0][0]).toMatchObject({ baseUrl: BASE, workspaceId: 'ws_2', onSuccess });
  });

  it('never opens by itself, even in StrictMode', async () => {
    const { result } = renderHook(() => useLatchkey({ baseUrl: BASE, workspaceId: 'ws_1' }), { wrapper: StrictMode });
    await waitFor(() => expect(result.current.ready).toBe(true));
    expect(latchkey.open).not.toHaveBeenCalled();
  });

  it('loads embed.js from baseUrl', async () => {
    const { result } = renderHook(() => useLatchkey({ baseUrl: BASE, workspaceId: 'ws_1' }), { wrapper: StrictMode });
    await waitFor(() => expect(result.current.ready).toBe(true));
    expect(load).toHaveBeenCalledWith(BASE);
  });

  it('rejects open() with load_failed before embed.js has loaded', async () => {
    load.mockImplementation(never);
    const { result } = renderHook(() => useLatchkey({ baseUrl: BASE, workspaceId: 'ws_1' }));
    await expect(result.current.open()).rejects.toMatchObject({ code: 'load_failed' });
    expect(latchkey.open).not.toHaveBeenCalled();
  });

  it('reports a failed load as error and through onError, once', async () => {
    const failure = latchkeyError('load_failed', 'Could not load embed.js');
    load.mockRejectedValue(failure);
    const onError = vi.fn();
    const { result } = renderHook(() => useLatchkey({ baseUrl: BASE, workspaceId: 'ws_1', onError }), {
      wrapper: StrictMode,
    });
    await waitFor(() => expect(result.current.error).toBe(failure));
    expect(result.current.ready).toBe(false);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError).toHaveBeenCalledWith(failure);
    await expect(result.current.open()).rejects.toBe(failure);
  });
});

describe('LatchkeyButton', () => {
  it('opens the picker once per click with the host prop names', async () => {
    const onConnectionCreated = vi.fn();
    render(
      <StrictMode>
        <LatchkeyButton baseUrl={BASE} workspaceId="ws_1" environmentId="sandbox" onConnectionCreated={onConnectionCreated} className="cta">
          Connect CRM
        </LatchkeyButton>
      </StrictMode>,
    );
    const button = screen.getByRole('button', { name: 'Connect CRM' });
    expect(button.className).toBe('cta');
    await waitFor(() => expect((button as HTMLButtonElement).disabled).toBe(false));
    expect(latchkey.open).not.toHaveBeenCalled();

    fireEvent.click(button);
    expect(latchkey.open).toHaveBeenCalledTimes(1);
    expect(latchkey.open.mock.calls[0][0]).toMatchObject({
      workspaceId: 'ws_1',
      environmentId: 'sandbox',
      onConnectionCreated,
    });
    expect(latchkey.open.mock.calls[0][0]).not.toHaveProperty('className');
  });

  it('is disabled until embed.js has loaded', () => {
    load.mockImplementation(never);
    render(<LatchkeyButton baseUrl={BASE} workspaceId="ws_1" />);
    const button = screen.getByRole('button', { name: 'Connect an integration' }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    fireEvent.click(button);
    expect(latchkey.open).not.toHaveBeenCalled();
  });
});

describe('LatchkeyConnect', () => {
  it('renders a button outside inline mode', async () => {
    render(<LatchkeyConnect baseUrl={BASE} workspaceId="ws_1" mode="popup" />);
    expect(screen.getByRole('button')).toBeTruthy();
  });

  it('mounts the inline picker once, and destroys it on unmount', async () => {
    const { container, unmount } = render(
      <StrictMode>
        <LatchkeyConnect baseUrl={BASE} workspaceId="ws_1" mode="inline" className="picker" />
      </StrictMode>,
    );
    await waitFor(() => expect(latchkey.mount).toHaveBeenCalled());
    // StrictMode mounts, destroys and mounts again: one picker stays.
    expect(latchkey.mount.mock.calls.length - destroy.mock.calls.length).toBe(1);
    const [element, options] = latchkey.mount.mock.lastCall!;
    expect(element).toBe(container.querySelector('div.picker'));
    expect(options).toMatchObject({ workspaceId: 'ws_1', mode: 'inline' });
    unmount();
    expect(latchkey.mount.mock.calls.length - destroy.mock.calls.length).toBe(0);
  });

  it('calls the latest callbacks without remounting, and remounts when an option changes', async () => {
    const first = vi.fn();
    const second = vi.fn();
    const { rerender } = render(<LatchkeyConnect baseUrl={BASE} workspaceId="ws_1" mode="inline" onSuccess={first} />);
    await waitFor(() => expect(latchkey.mount).toHaveBeenCalledTimes(1));

    rerender(<LatchkeyConnect baseUrl={BASE} workspaceId="ws_1" mode="inline" onSuccess={second} />);
    expect(latchkey.mount).toHaveBeenCalledTimes(1);
    act(() => latchkey.mount.mock.calls[0][1].onSuccess(connection));
    expect(first).not.toHaveBeenCalled();
    expect(second).toHaveBeenCalledWith(connection);

    rerender(<LatchkeyConnect baseUrl={BASE} workspaceId="ws_2" mode="inline" onSuccess={second} />);
    expect(destroy).toHaveBeenCalledTimes(1);
    expect(latchkey.mount).toHaveBeenCalledTimes(2);
    expect(latchkey.mount.mock.calls[1][1]).toMatchObject({ workspaceId: 'ws_2' });
  });
});
