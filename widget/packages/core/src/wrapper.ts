import type { LatchkeyOptions } from './types';

const CALLBACKS = ['onLoad', 'onSuccess', 'onConnectionCreated', 'onError', 'onClose', 'onEvent'] as const;

export function forwardCallbacks(current: () => LatchkeyOptions): LatchkeyOptions {
  const options: LatchkeyOptions = { ...current() };
  for (const name of CALLBACKS) {
    (options as Record<string, unknown>)[name] = (...args: unknown[]) => {
      const callback = current()[name] as ((...args: unknown[]) => void) | undefined;
      if (callback) callback(...args);
    };
  }
  return options;
}

export function optionsKey(options: LatchkeyOptions): string {
  return JSON.stringify(options, (_key, value) => (typeof value === 'function' ? undefined : value));
}
