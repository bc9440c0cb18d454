import { latchkeyError } from './error';
import type {
  Connection,
  LatchkeyError,
  LatchkeyEventData,
  LatchkeyEventName,
  LatchkeyInline,
  LatchkeyMode,
  LatchkeyOptions,
} from './types';

interface Message extends LatchkeyEventData {
  source: 'latchkey';
  version: 1;
  nonce: string;
  type: LatchkeyEventName;
}

interface Flow {
  url: string;
  /** Fails with `load_failed` unless the frame sends a message within `ms`; a later call resets the timer. */
  expectWord(ms: number): void;
  /** Starts listening to `frame()`'s messages and polling the result channel. */
  watch(frame: () => Window | null, onResize?: (height: number) => void, onSettled?: () => void): void;
  /** The picker is gone: one last look at the result channel decides between a result and `closed`. */
  pickerGone(): void;
  fail(error: LatchkeyError): void;
  stop(): void;
}

const POLL_INTERVAL = 1000;
const CLOSED_INTERVAL = 500;
/** An inline picker that has sent no message this long after it was added (a slow network) failed to load. */
const FRAME_LOAD_TIMEOUT = 20_000;
/**
 * ...or this long after its frame's load event: a frame the browser refused to show (its address
 * unreachable, or an error page that may not be framed by this origin) still fires `load`.
 */
const FRAME_READY_GRACE = 3_000;
const POPUP_WIDTH = 480;
const POPUP_HEIGHT = 720;
const IFRAME_SANDBOX = 'allow-scripts allow-same-origin allow-forms allow-popups allow-popups-to-escape-sandbox';
/** How long a started flow may still end after its popup looks closed (the state's lifetime). */
const STARTED_PATIENCE = 600_000;
/**
 * A popup that looks closed after its flow reached the provider may only be cut off by the
 * provider's Cross-Origin-Opener-Policy. But an open popup holds the focus: once the host page
 * has held it this long (and the result channel is still empty), the end-user is back, so `closed`.
 */
const BACK_AT_HOST = 2_000;
const FINAL_TYPES = ['connection.created', 'connection.failed', 'closed'];

const noop = () => {};

/** The folder embed.js was loaded from: Latchkey's base URL when the options name none. */
function scriptBase(): string {
  const script = document.currentScript as HTMLScriptElement | null;
  return script && script.src ? new URL('.', script.src).href : location.origin;
}

const defaultBaseUrl = scriptBase();

function baseUrlOf(options: LatchkeyOptions): string {
  return new URL(options.baseUrl || defaultBaseUrl, location.href).href.replace(/\/+$/, '');
}

export function randomToken(bytes: number): string {
  const values = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...values)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function pickerUrl(
  options: LatchkeyOptions,
  baseUrl: string,
  mode: LatchkeyMode,
  nonce?: string,
  channel?: string,
): string {
  const params: Record<string, unknown> = {
    session: options.sessionToken,
    workspace: options.workspaceId,
    env: options.environment || options.environmentId,
    external_xref: options.externalXref,
    scopes: options.scopes,
    integrations: options.integrations,
    categories: options.categories,
    success_url: options.successUrl,
    failure_url: options.failureUrl,
    state: options.state,
    mode,
    // Redirect mode posts no messages, so it needs no origin, nonce or channel.
    origin: nonce && location.origin,
    nonce,
    channel,
    lang: options.lang,
    theme: options.theme,
    accent: options.accent && options.accent.replace(/^#/, ''),
    connection: options.connectionId,
  };
  const query = new URLSearchParams();
  for (const key in params) {
    let value = params[key];
    if (Array.isArray(value)) value = value.join(',');
    if (value != null && value !== '') query.set(key, String(value));
  }
  return `${baseUrl}/picker?${query}`;
}

function createFlow(
  options: LatchkeyOptions,
  baseUrl: string,
  mode: LatchkeyMode,
  resolve: (connection: Connection) => void = noop,
  reject: (error: LatchkeyError) => void = noop,
): Flow {
  const origin = new URL(baseUrl).origin;
  const nonce = randomToken(16);
  const channel = randomToken(32);
  let frame: () => Window | null = () => null;
  let resize: (height: number) => void = noop;
  let settledHook: () => void = noop;
  let pollTimer: ReturnType<typeof setTimeout> | undefined;
  let wordTimer: ReturnType<typeof setTimeout> | undefined;
  let heard = false;
  let settled = false;
  let stopped = false;

  const isOurs = (data: any): data is Message =>
    !!data && data.source === 'latchkey' && data.version === 1 && data.nonce === nonce;

  function receive(event: MessageEvent): void {
    const source = frame();
    if (source && event.source === source && event.origin === origin && isOurs(event.data)) handle(event.data);
  }

  function handle(message: Message): void {
    const { source, version, nonce: _nonce, type, ...data } = message;
    const final = FINAL_TYPES.indexOf(type) >= 0;
    if (stopped || (final && settled)) return;
    heard = true;
    clearTimeout(wordTimer);
    if (options.onEvent) options.onEvent(type, data);
    if (type === 'loaded' && options.onLoad) options.onLoad();
    if (type === 'resize' && typeof data.height === 'number') resize(data.height);
    if (final) conclude(message);
  }

  // handle() lets one final message through, so each path below runs at most once.
  function settle(): void {
    settled = true;
    clearTimeout(pollTimer);
    clearTimeout(wordTimer);
    if (mode !== 'inline') stop();
    settledHook();
  }

  function conclude(message: Message): void {
    if (message.type === 'connection.created') {
      settle();
      const connection: Connection = {
        connectionId: message.connectionId as string,
        integration: message.integration as string,
        externalXref: message.externalXref ?? null,
        state: message.state ?? null,
      };
      resolve(connection);
      if (options.onSuccess) options.onSuccess(connection);
      if (options.onConnectionCreated) options.onConnectionCreated(connection);
    } else if (message.type === 'connection.failed') {
      fail(latchkeyError(message.error || 'server_error', message.errorDescription, message.integration));
    } else {
      settle();
      reject(latchkeyError('closed', 'The picker was closed'));
      if (options.onClose) options.onClose();
    }
  }

  function fail(error: LatchkeyError): void {
    settle();
    reject(error);
    if (options.onError) options.onError(error);
  }

  // Set when the channel says a flow reached the provider: a popup that then looks closed may
  // only have been cut off by the provider's Cross-Origin-Opener-Policy, so keep waiting.
  let started = false;
  function poll(): Promise<Message | null> {
    return fetch(`${baseUrl}/widget/result?channel=${channel}`, { credentials: 'omit' })
      .then((response) => (response.ok ? response.json() : null))
      .then((body) => {
        if (body && body.started) started = true;
        return body && body.status === 'done' && isOurs(body.message) ? body.message : null;
      })
      .catch(() => null); // a failed poll is retried on the next tick, or concluded as closed
  }

  function schedulePoll(): void {
    pollTimer = setTimeout(() => {
      poll().then((message) => {
        if (settled || stopped) return;
        if (message) handle(message);
        else schedulePoll();
      });
    }, POLL_INTERVAL);
  }

  function stop(): void {
    stopped = true;
    clearTimeout(pollTimer);
    clearTimeout(wordTimer);
    removeEventListener('message', receive);
  }

  return {
    url: pickerUrl(options, baseUrl, mode, nonce, channel),
    expectWord(ms) {
      if (heard || settled || stopped) return;
      clearTimeout(wordTimer);
      wordTimer = setTimeout(() => {
        if (!heard && !settled && !stopped) {
          fail(latchkeyError('load_failed', `The picker did not load in its frame: check the browser console, and that this page's origin is on the environment's allowed origins`));
        }
      }, ms);
    },
    watch(source, onResize, onSettled) {
      frame = source;
      if (onResize) resize = onResize;
      if (onSettled) settledHook = onSettled;
      addEventListener('message', receive);
      schedulePoll();
    },
    pickerGone() {
      clearTimeout(pollTimer);
      const giveUp = Date.now() + STARTED_PATIENCE;
      let backSince: number | null = null;
      const last = (): void => {
        poll().then((message) => {
          if (settled || stopped) return;
          if (message) return handle(message);
          const now = Date.now();
          backSince = hostHasFocus() ? (backSince ?? now) : null;
          const back = backSince !== null && now - backSince >= BACK_AT_HOST;
          if (started && !back && now < giveUp) pollTimer = setTimeout(last, POLL_INTERVAL);
          else handle({ type: 'closed' } as Message);
        });
      };
      last();
    },
    fail,
    stop,
  };
}

function hostHasFocus(): boolean {
  return document.visibilityState !== 'hidden' && document.hasFocus();
}

function isClosed(popup: Window): boolean {
  try {
    return popup.closed;
  } catch {
    // Some browsers make a cross-origin-isolated popup unreadable: treat it as still open.
    return false;
  }
}

function popupFeatures(): string {
  const left = Math.max(0, Math.round(screenX + (outerWidth - POPUP_WIDTH) / 2));
  const top = Math.max(0, Math.round(screenY + (outerHeight - POPUP_HEIGHT) / 2));
  return `popup=yes,width=${POPUP_WIDTH},height=${POPUP_HEIGHT},left=${left},top=${top}`;
}

let active: { popup: Window; promise: Promise<Connection> } | null = null;

export function open(options: LatchkeyOptions): Promise<Connection> {
  const baseUrl = baseUrlOf(options);
  const mode = options.mode || 'popup';
  const redirect = () => {
    location.assign(pickerUrl(options, baseUrl, 'redirect'));
    return new Promise<Connection>(noop); // the page is going away
  };
  if (mode === 'redirect') return redirect();
  if (mode !== 'popup') return Promise.reject(latchkeyError('invalid_request', `Use Latchkey.mount() for ${mode} mode`));
  if (active && !isClosed(active.popup)) {
    active.popup.focus();
    return active.promise;
  }

  let resolve!: (connection: Connection) => void;
  let reject!: (error: LatchkeyError) => void;
  const promise = new Promise<Connection>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  // A host that handles failures through callbacks need not also catch the promise.
  if (options.onError || options.onClose) promise.catch(noop);

  const flow = createFlow(options, baseUrl, 'popup', resolve, reject);
  const popup = window.open(flow.url, '_blank', popupFeatures());
  if (!popup || isClosed(popup)) {
    if (options.fallbackToRedirect) return redirect();
    flow.fail(latchkeyError('popup_blocked', 'The browser blocked the popup: open it from a click handler'));
    return promise;
  }

  const current = (active = { popup, promise });
  const closedTimer = setInterval(() => {
    if (isClosed(popup)) {
      clearInterval(closedTimer);
      flow.pickerGone();
    }
  }, CLOSED_INTERVAL);
  flow.watch(
    () => popup,
    undefined,
    () => {
      clearInterval(closedTimer);
      if (active === current) active = null;
      try {
        popup.close();
      } catch {
        // A popup whose opener was cut may refuse; the result page closes itself anyway.
      }
    },
  );
  return promise;
}

export function mount(element: HTMLElement, options: LatchkeyOptions): LatchkeyInline {
  const flow = createFlow(options, baseUrlOf(options), 'inline');
  const iframe = document.createElement('iframe');
  iframe.title = 'Connect an integration';
  iframe.setAttribute('sandbox', IFRAME_SANDBOX);
  iframe.style.cssText = 'display:block;width:100%;height:600px;border:0';
  iframe.src = flow.url;
  iframe.addEventListener('load', () => flow.expectWord(FRAME_READY_GRACE));
  element.appendChild(iframe);
  flow.watch(
    () => iframe.contentWindow,
    (height) => {
      iframe.style.height = `${height}px`;
    },
  );
  flow.expectWord(FRAME_LOAD_TIMEOUT);
  return {
    destroy() {
      flow.stop();
      iframe.remove();
    },
  };
}
