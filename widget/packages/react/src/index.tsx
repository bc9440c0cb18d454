import {
  forwardCallbacks,
  latchkeyError,
  loadLatchkey,
  optionsKey,
  type Connection,
  type LatchkeyError,
  type LatchkeyOptions,
  type LatchkeyStatic,
} from '@latchkey/core';
import { useCallback, useEffect, useRef, useState, type CSSProperties, type ReactNode } from 'react';

export type { Connection, LatchkeyError, LatchkeyEventName, LatchkeyOptions } from '@latchkey/core';

export interface UseLatchkeyOptions extends LatchkeyOptions {
  /** Latchkey's URL: embed.js is loaded from `{baseUrl}/embed.js`. */
  baseUrl: string;
}

export interface UseLatchkeyResult {
  /** Opens the picker; call it from a click handler. */
  open: () => Promise<Connection>;
  /** embed.js has loaded: `open` will work. */
  ready: boolean;
  /** Set when embed.js failed to load (code `load_failed`). */
  error: LatchkeyError | null;
}

function useLatest<T>(value: T): { readonly current: T } {
  const latest = useRef(value);
  useEffect(() => {
    latest.current = value;
  });
  return latest;
}

/** Loads embed.js once per page; a load failure also reaches `onError`. */
function useLoadedLatchkey(baseUrl: string, latest: { readonly current: LatchkeyOptions }) {
  const [latchkey, setLatchkey] = useState<LatchkeyStatic | null>(null);
  const [error, setError] = useState<LatchkeyError | null>(null);
  useEffect(() => {
    let current = true;
    loadLatchkey(baseUrl).then(
      (loaded) => current && setLatchkey(loaded),
      (reason: LatchkeyError) => {
        if (!current) return;
        setError(reason);
        latest.current.onError?.(reason);
      },
    );
    return () => {
      current = false;
    };
  }, [baseUrl, latest]);
  return [latchkey, error] as const;
}

export function useLatchkey(options: UseLatchkeyOptions): UseLatchkeyResult {
  const latest = useLatest(options);
  const [latchkey, error] = useLoadedLatchkey(options.baseUrl, latest);
  const open = useCallback(
    () =>
      latchkey
        ? latchkey.open(latest.current)
        : Promise.reject(error || latchkeyError('load_failed', 'Latchkey has not loaded yet')),
    [latchkey, error, latest],
  );
  return { open, ready: latchkey !== null, error };
}

interface ElementProps {
  className?: string;
  style?: CSSProperties;
  id?: string;
}

export interface LatchkeyButtonProps extends UseLatchkeyOptions, ElementProps {
  children?: ReactNode;
  disabled?: boolean;
}

/** A button that opens the picker (popup, or redirect with `mode="redirect"`); disabled until loaded. */
export function LatchkeyButton({ children, className, style, id, disabled, ...options }: LatchkeyButtonProps) {
  const { open, ready } = useLatchkey(options);
  const onClick = () => {
    open().catch(() => {}); // failures reach the host through onError / onClose
  };
  return (
    <button type="button" className={className} style={style} id={id} disabled={disabled || !ready} onClick={onClick}>
      {children ?? 'Connect an integration'}
    </button>
  );
}

/** The picker inline in an iframe (`mode="inline"`), or else a LatchkeyButton. */
export function LatchkeyConnect(props: LatchkeyButtonProps) {
  return props.mode === 'inline' ? <LatchkeyInline {...props} /> : <LatchkeyButton {...props} />;
}

function LatchkeyInline({ children: _children, className, style, id, disabled: _disabled, ...options }: LatchkeyButtonProps) {
  const latest = useLatest(options);
  const [latchkey] = useLoadedLatchkey(options.baseUrl, latest);
  const container = useRef<HTMLDivElement>(null);
  const key = optionsKey(options);
  useEffect(() => {
    if (!latchkey || !container.current) return;
    const inline = latchkey.mount(container.current, forwardCallbacks(() => latest.current));
    return () => inline.destroy();
  }, [latchkey, key, latest]);
  return <div ref={container} className={className} style={style} id={id} />;
}
