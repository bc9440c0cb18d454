import {
  latchkeyError,
  loadLatchkey,
  optionsKey,
  type Connection,
  type LatchkeyError,
  type LatchkeyEventData,
  type LatchkeyEventName,
  type LatchkeyInline,
  type LatchkeyMode,
  type LatchkeyOptions,
  type LatchkeyStatic,
  type LatchkeyTheme,
} from '@latchkey/core';
import {
  computed,
  defineComponent,
  h,
  onBeforeUnmount,
  onMounted,
  ref,
  shallowRef,
  toValue,
  watch,
  type MaybeRefOrGetter,
  type PropType,
  type Ref,
  type ShallowRef,
} from 'vue';

export type { Connection, LatchkeyError, LatchkeyEventName, LatchkeyOptions } from '@latchkey/core';

export interface UseLatchkeyOptions extends LatchkeyOptions {
  /** Latchkey's URL: embed.js is loaded from `{baseUrl}/embed.js`. */
  baseUrl: string;
}

export interface UseLatchkeyResult {
  /** Opens the picker; call it from a click handler. */
  open: () => Promise<Connection>;
  ready: Readonly<Ref<boolean>>;
  /** Set when embed.js failed to load (code `load_failed`). */
  error: Readonly<ShallowRef<LatchkeyError | null>>;
}

/** Loads embed.js once the component is mounted (never during SSR); a failure also reaches `onError`. */
function useLatchkeyState(current: () => UseLatchkeyOptions) {
  const latchkey = shallowRef<LatchkeyStatic | null>(null);
  const error = shallowRef<LatchkeyError | null>(null);
  onMounted(() => {
    loadLatchkey(current().baseUrl).then(
      (loaded) => {
        latchkey.value = loaded;
      },
      (reason: LatchkeyError) => {
        error.value = reason;
        current().onError?.(reason);
      },
    );
  });
  const open = () =>
    latchkey.value
      ? latchkey.value.open(current())
      : Promise.reject(error.value || latchkeyError('load_failed', 'Latchkey has not loaded yet'));
  return { latchkey, open, ready: computed(() => latchkey.value !== null), error };
}

export function useLatchkey(options: MaybeRefOrGetter<UseLatchkeyOptions>): UseLatchkeyResult {
  const { open, ready, error } = useLatchkeyState(() => toValue(options));
  return { open, ready, error };
}

const optional = <T>(type: PropType<T>) => ({ type, default: undefined });

/** A button that opens the picker, or with `mode="inline"` the picker itself in an iframe. */
export const LatchkeyConnect = defineComponent({
  name: 'LatchkeyConnect',
  props: {
    baseUrl: { type: String, required: true },
    workspaceId: optional(String),
    environment: optional(String),
    environmentId: optional(String),
    sessionToken: optional(String),
    externalXref: optional(String),
    scopes: optional(Array as PropType<string[]>),
    integrations: optional(Array as PropType<string[]>),
    categories: optional(Array as PropType<string[]>),
    mode: optional(String as PropType<LatchkeyMode>),
    successUrl: optional(String),
    failureUrl: optional(String),
    state: optional(String),
    lang: optional(String),
    theme: optional(String as PropType<LatchkeyTheme>),
    accent: optional(String),
    connectionId: optional(String),
    fallbackToRedirect: { type: Boolean, default: false },
  },
  emits: {
    load: () => true,
    success: (_connection: Connection) => true,
    connectionCreated: (_connection: Connection) => true,
    error: (_error: LatchkeyError) => true,
    close: () => true,
    event: (_name: LatchkeyEventName, _data: LatchkeyEventData) => true,
  },
  setup(props, { emit, slots }) {
    // emit() calls the listeners current at the time, so these options never go stale.
    const options = (): UseLatchkeyOptions => ({
      ...props,
      onLoad: () => emit('load'),
      onSuccess: (connection) => emit('success', connection),
      onConnectionCreated: (connection) => emit('connectionCreated', connection),
      onError: (error) => emit('error', error),
      onClose: () => emit('close'),
      onEvent: (name, data) => emit('event', name, data),
    });
    const { latchkey, open, ready } = useLatchkeyState(options);
    const container = ref<HTMLElement | null>(null);
    let inline: LatchkeyInline | null = null;
    const unmount = () => {
      inline?.destroy();
      inline = null;
    };
    watch(
      [latchkey, container, () => (props.mode === 'inline' ? optionsKey(options()) : null)],
      ([loaded, element, key]) => {
        unmount();
        if (loaded && element && key) inline = loaded.mount(element, options());
      },
      { flush: 'post' },
    );
    onBeforeUnmount(unmount);

    return () =>
      props.mode === 'inline'
        ? h('div', { ref: container })
        : h(
            'button',
            { type: 'button', disabled: !ready.value, onClick: () => open().catch(() => {}) },
            slots.default ? slots.default() : 'Connect an integration',
          );
  },
});
