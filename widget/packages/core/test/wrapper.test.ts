import { describe, expect, it, vi } from 'vitest';
import { forwardCallbacks, optionsKey } from '../src/index';
import type { LatchkeyOptions } from '../src/types';

describe('forwardCallbacks', () => {
  it('calls the callbacks current at the time of the call', () => {
    const first = vi.fn();
    const second = vi.fn();
    let current: LatchkeyOptions = { workspaceId: 'ws_1', onSuccess: first };
    const options = forwardCallbacks(() => current);
    expect(options.workspaceId).toBe('ws_1');

    current = { workspaceId: 'ws_1', onSuccess: second };
    const connection = { connectionId: 'conn_1', integration: 'hubspot', externalXref: null, state: null };
    options.onSuccess!(connection);
    expect(first).not.toHaveBeenCalled();
    expect(second).toHaveBeenCalledWith(connection);
    expect(() => options.onClose!()).not.toThrow();
  });
});

describe('optionsKey', () => {
  it('changes with options but not with callbacks', () => {
    const key = optionsKey({ workspaceId: 'ws_1', scopes: ['a'], onSuccess: () => {} });
    expect(optionsKey({ workspaceId: 'ws_1', scopes: ['a'], onSuccess: () => {} })).toBe(key);
    expect(optionsKey({ workspaceId: 'ws_1', scopes: ['b'] })).not.toBe(key);
  });
});
