import { flushPromises, mount } from '@vue/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { defineComponent, h, nextTick, ref } from 'vue';
import { latchkeyError, loadLatchkey, type LatchkeyStatic } from '@latchkey/core';
import { LatchkeyConnect, useLatchkey, type UseLatchkeyOptions } from '../src/index';

vi.mock('@latchkey/core', async (importOriginal) => ({
  ...(await importOriginal<typeof import('@latchkey/core')>()),
  loadLatchkey: vi.fn(),
}));
const load = vi.mocked(loadLatchkey);

const BASE = 'https://latchkey.example';
const connection = { connectionId: 'conn_1', integration: 'hubspot', externalXref: 'user-42', state: null };

let latchkey: { version: string; open: ReturnType<typeof vi.fn>; mount: ReturnType<typeof vi.fn> };
let destroy: ReturnType<typeof vi.fn>;
const wrappers: Array<{ unmount(): void }> = [];

beforeEach(() => {
  destroy = vi.fn();
  latchkey = { version: 'test', open: vi.fn(async () => connection), mount: vi.fn(() => ({ destroy })) };
  load.mockReset();
  load.mockResolvedValue(latchkey as unknown as LatchkeyStatic);
});

afterEach(() => {
  for (const wrapper of wrappers.splice(0)) wrapper.unmount();
});

function track<T extends { unmount(): void }>(wrapper: T): T {
  wrappers.push(wrapper);
  return wrapper;
}

function withComposable(options: UseLatchkeyOptions | (() => UseLatchkeyOptions)) {
  let result!: ReturnType<typeof useLatchkey>;
  track(
    mount(
      defineComponent({
        setup() {
          result = useLatchkey(options);
          return () => h('div');
        },
      }),
    ),
  );
  return result;
}

describe('useLatchkey', () => {
  it('loads embed.js on mount and opens with the current options', async () => {
    const workspace = ref('ws_1');
    const result = withComposable(() => ({ baseUrl: BASE, workspaceId: workspace.value }));
    expect(result.ready.value).toBe(false);
    await flushPromises();
    expect(load).toHaveBeenCalledWith(BASE);
    expect(result.ready.value).toBe(true);

    workspace.value = 'ws_2';
    await expect(result.open()).resolves.toEqual(connection);
    expect(latchkey.open).toHaveBeenCalledTimes(1);
    expect(latchkey.open.mock.calls[0][0]).toMatchObject({ workspaceId: 'ws_2' });
  });

  it('rejects open() with load_failed before embed.js has loaded', async () => {
    load.mockImplementation(() => new Promise<never>(() => {}));
    const result = withComposable({ baseUrl: BASE });
    await expect(result.open()).rejects.toMatchObject({ code: 'load_failed' });
  });

  it('reports a failed load as error and through onError', async () => {
    const failure = latchkeyError('load_failed', 'Could not load embed.js');
    load.mockRejectedValue(failure);
    const onError = vi.fn();
    const result = withComposable({ baseUrl: BASE, onError });
    await flushPromises();
    expect(result.error.value).toBe(failure);
    expect(onError).toHaveBeenCalledTimes(1);
  });
});

describe('LatchkeyConnect', () => {
  it('renders a button that opens the picker on click, and emits the result', async () => {
    const wrapper = track(
      mount(LatchkeyConnect, {
        props: { baseUrl: BASE, workspaceId: 'ws_1', environmentId: 'sandbox', scopes: ['crm.read'] },
        slots: { default: 'Connect CRM' },
        attrs: { class: 'cta' },
      }),
    );
    const button = wrapper.get('button');
    expect(button.text()).toBe('Connect CRM');
    expect(button.classes()).toContain('cta');
    expect(button.attributes('disabled')).toBeDefined();
    await flushPromises();
    expect(button.attributes('disabled')).toBeUndefined();
    expect(latchkey.open).not.toHaveBeenCalled();

    await button.trigger('click');
    expect(latchkey.open).toHaveBeenCalledTimes(1);
    const options = latchkey.open.mock.calls[0][0];
    expect(options).toMatchObject({ baseUrl: BASE, workspaceId: 'ws_1', environmentId: 'sandbox', scopes: ['crm.read'] });

    options.onSuccess(connection);
    options.onConnectionCreated(connection);
    options.onEvent('integration.selected', { integration: 'hubspot' });
    options.onClose();
    expect(wrapper.emitted('success')).toEqual([[connection]]);
    expect(wrapper.emitted('connectionCreated')).toEqual([[connection]]);
    expect(wrapper.emitted('event')).toEqual([['integration.selected', { integration: 'hubspot' }]]);
    expect(wrapper.emitted('close')).toHaveLength(1);
  });

  it('mounts the inline picker, remounts when an option changes, and destroys it on unmount', async () => {
    const wrapper = mount(LatchkeyConnect, { props: { baseUrl: BASE, workspaceId: 'ws_1', mode: 'inline' } });
    await flushPromises();
    expect(wrapper.find('button').exists()).toBe(false);
    expect(latchkey.mount).toHaveBeenCalledTimes(1);
    expect(latchkey.mount.mock.calls[0][0]).toBe(wrapper.element);
    expect(latchkey.mount.mock.calls[0][1]).toMatchObject({ workspaceId: 'ws_1', mode: 'inline' });

    latchkey.mount.mock.calls[0][1].onError(latchkeyError('access_denied'));
    expect(wrapper.emitted('error')?.[0][0]).toMatchObject({ code: 'access_denied' });

    await wrapper.setProps({ workspaceId: 'ws_2' });
    await nextTick();
    expect(destroy).toHaveBeenCalledTimes(1);
    expect(latchkey.mount).toHaveBeenCalledTimes(2);
    expect(latchkey.mount.mock.calls[1][1]).toMatchObject({ workspaceId: 'ws_2' });

    wrapper.unmount();
    expect(destroy).toHaveBeenCalledTimes(2);
  });
});
