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

/**
 * Whether `[data-latchkey]` on this element asks for an inline picker: only a bare attribute (or
 * `data-latchkey="inline"`) on an element inside the body does. A value is configuration a page keeps
 * for its own script (`<body data-latchkey="https://…">`), and the document's own elements never
 * hold a picker, so neither mounts a frame that has no environment or end-user.
 */
export function wantsInlinePicker(element: HTMLElement): boolean {
  const value = element.getAttribute('data-latchkey');
  if (value !== '' && value !== 'inline') return false;
  return element !== document.body && element !== document.documentElement && element.tagName !== 'HEAD';
}

export function mountAll(): void {
  document.querySelectorAll<HTMLElement>('[data-latchkey]').forEach((element) => {
    if (mounted.has(element) || !wantsInlinePicker(element)) return;
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
