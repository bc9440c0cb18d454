import { mount, open } from './latchkey';
import type { LatchkeyMode, LatchkeyOptions, LatchkeyTheme } from './types';

const list = (value?: string) => (value ? value.split(',').map((item) => item.trim()).filter(Boolean) : undefined);

/** Reads options from `data-*` attributes; results are dispatched as `latchkey:*` DOM events on the element. */
export function optionsFromElement(element: HTMLElement): LatchkeyOptions {
  const data = element.dataset;
  const fire = (name: string, detail?: unknown) =>
    element.dispatchEvent(new CustomEvent(`latchkey:${name}`, { bubbles: true, detail }));
  return {
    ...data,
    workspaceId: data.workspace || data.workspaceId,
    sessionToken: data.session || data.sessionToken,
    scopes: list(data.scopes),
    integrations: list(data.integrations),
    categories: list(data.categories),
    mode: data.mode as LatchkeyMode | undefined,
    theme: data.theme as LatchkeyTheme | undefined,
    fallbackToRedirect: data.fallbackToRedirect != null && data.fallbackToRedirect !== 'false',
    onLoad: () => fire('load'),
    onSuccess: (connection) => fire('success', connection),
    onError: (error) => fire('error', error),
    onClose: () => fire('close'),
    onEvent: (name, detail) => fire('event', { name, data: detail }),
  };
}

const mounted = new WeakSet<Element>();

export function mountAll(): void {
  document.querySelectorAll<HTMLElement>('[data-latchkey]').forEach((element) => {
    if (mounted.has(element)) return;
    mounted.add(element);
    mount(element, optionsFromElement(element));
  });
}

export function openOnClick(event: Event): void {
  const target = event.target as Element | null;
  const element = target && target.closest && target.closest<HTMLElement>('[data-latchkey-open]');
  if (!element) return;
  event.preventDefault();
  open(optionsFromElement(element));
}

export function installDeclarative(): void {
  document.addEventListener('click', openOnClick);
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mountAll);
  else mountAll();
}
