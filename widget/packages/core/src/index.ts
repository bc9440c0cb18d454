import { latchkeyError } from './error';
import type { LatchkeyStatic } from './types';

export type * from './types';
export { latchkeyError } from './error';
export { forwardCallbacks, optionsKey } from './wrapper';

let loading: Promise<LatchkeyStatic | null> | null = null;

export function loadLatchkey(baseUrl: string): Promise<LatchkeyStatic | null> {
  if (typeof window === 'undefined' || typeof document === 'undefined') return Promise.resolve(null);
  if (loading) return loading;
  loading = new Promise<LatchkeyStatic | null>((resolve, reject) => {
    if (window.Latchkey) {
      resolve(window.Latchkey);
      return;
    }
    const src = `${baseUrl.replace(/\/+$/, '')}/embed.js`;
    let script = Array.from(document.scripts).find((existing) => existing.src === new URL(src, location.href).href);
    const injected = !script;
    if (!script) {
      script = document.createElement('script');
      script.src = src;
      script.async = true;
      (document.head || document.body).appendChild(script);
    }
    const failed = script;
    script.addEventListener('load', () => {
      if (window.Latchkey) resolve(window.Latchkey);
      else reject(latchkeyError('load_failed', `${src} loaded but did not define window.Latchkey`));
    });
    script.addEventListener('error', () => {
      // A fresh <script> is needed to retry: a failed one never loads again.
      if (injected) failed.remove();
      reject(latchkeyError('load_failed', `Could not load ${src}`));
    });
  });
  loading.catch(() => {
    loading = null;
  });
  return loading;
}
