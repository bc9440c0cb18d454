// Public declarations of @latchkey/core, shipped as dist/index.d.ts and dist/embed.d.ts: written
// by hand, except the regions generated from the service's vocabularies. Must stay a valid .d.ts.

// generated: display (python -m server.generated)
/** How the picker is shown: a popup window (default), the top window, or an iframe. */
export type LatchkeyMode = 'popup' | 'redirect' | 'inline';

/** The picker's colour scheme; `auto` follows the browser. */
export type LatchkeyTheme = 'light' | 'dark' | 'auto';
// end generated: display

// generated: langs (python -m server.generated)
/** The languages the picker and its pages speak. */
export type LatchkeyLang = 'en' | 'fr' | 'de' | 'es' | 'ja';
// end generated: langs

// generated: error-codes (python -m server.generated)
/** Stable error codes: every code a browser can see from the service, plus the embed's own. */
export type LatchkeyErrorCode =
  | 'server_error'
  | 'invalid_request'
  | 'not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'rate_limited'
  | 'access_denied'
  | 'invalid_state'
  | 'expired_state'
  | 'state_reused'
  | 'wrong_browser'
  | 'invalid_scope'
  | 'integration_not_active'
  | 'integration_not_found'
  | 'origin_not_allowed'
  | 'redirect_not_allowed'
  | 'session_required'
  | 'session_used'
  | 'expired_session'
  | 'issuer_mismatch'
  | 'invalid_credentials'
  | 'provider_error'
  | 'provider_unavailable'
  | 'service_unavailable'
  | 'popup_blocked'
  | 'load_failed'
  | 'closed';
// end generated: error-codes

/** The picker's messages, by their stable protocol names. */
export type LatchkeyEventName =
  | 'loaded'
  | 'integration.selected'
  | 'connection.created'
  | 'connection.failed'
  | 'closed'
  | 'resize';

/** What the host receives when an end-user has authorized an integration. */
export interface Connection {
  connectionId: string;
  integration: string;
  externalXref: string | null;
  state: string | null;
}

/** The reason a flow ended without a connection. An `Error`, so it carries a stack. */
export interface LatchkeyError extends Error {
  name: 'LatchkeyError';
  /** Stable snake_case code; unknown codes from a newer service pass through unchanged. */
  code: LatchkeyErrorCode | (string & {});
  integration?: string;
}

/** A picker message's fields, without the envelope (`source`, `version`, `nonce`, `type`). */
export interface LatchkeyEventData {
  connectionId?: string | null;
  integration?: string | null;
  externalXref?: string | null;
  state?: string | null;
  error?: string | null;
  errorDescription?: string | null;
  /** `resize` only: the picker's height in CSS px. */
  height?: number;
  [field: string]: unknown;
}

export interface LatchkeyCallbacks {
  /** The picker has loaded. */
  onLoad?: () => void;
  onSuccess?: (connection: Connection) => void;
  /** Alias of `onSuccess`, under the name hosted vendors' docs use. */
  onConnectionCreated?: (connection: Connection) => void;
  /** The flow failed; not called when the end-user merely closes the picker (see `onClose`). */
  onError?: (error: LatchkeyError) => void;
  /** The end-user closed the picker without finishing. */
  onClose?: () => void;
  /** Every picker message, by its protocol name. */
  onEvent?: (name: LatchkeyEventName, data: LatchkeyEventData) => void;
}

export interface LatchkeyOptions extends LatchkeyCallbacks {
  /** Latchkey's URL. Default: where embed.js was loaded from. */
  baseUrl?: string;
  /** Public workspace ID (public mode, with `environment`). */
  workspaceId?: string;
  environment?: 'sandbox' | 'production' | (string & {});
  /** Alias of `environment`. */
  environmentId?: string;
  /** A connect session token minted by the host's backend; takes precedence over public params. */
  sessionToken?: string;
  /** The host's own ID for the end-user. */
  externalXref?: string;
  scopes?: string[];
  integrations?: string[];
  categories?: string[];
  /** Default `popup`. `inline` needs an element: use `mount()`. */
  mode?: LatchkeyMode;
  successUrl?: string;
  failureUrl?: string;
  /** The host's own opaque value (at most 512 chars), echoed back. */
  state?: string;
  lang?: LatchkeyLang | (string & {});
  theme?: LatchkeyTheme;
  /** Accent colour, `rrggbb` or `#rrggbb`. */
  accent?: string;
  /** Re-authorize this existing connection (connect session only). */
  connectionId?: string;
  /** When the popup is blocked, navigate the top window in redirect mode instead. Default false. */
  fallbackToRedirect?: boolean;
}

export interface LatchkeyInline {
  /** Removes the iframe and stops listening. */
  destroy(): void;
}

export interface LatchkeyStatic {
  readonly version: string;
  /**
   * Opens the picker (popup or redirect). Call it synchronously from a user action, or the
   * popup is blocked. Resolves with the connection; rejects with a LatchkeyError (`closed`
   * when the end-user closes the popup). In redirect mode the page navigates away and the
   * promise never settles.
   */
  open(options: LatchkeyOptions): Promise<Connection>;
  /** Shows the picker in an iframe appended to `element`; results arrive through the callbacks. */
  mount(element: HTMLElement, options: LatchkeyOptions): LatchkeyInline;
}

/**
 * Loads `{baseUrl}/embed.js` once and resolves with `window.Latchkey`. Repeat calls return the
 * same promise; after a failed load (rejected with code `load_failed`) the next call retries.
 * Resolves with null where there is no `window` (server-side rendering).
 */
export declare function loadLatchkey(baseUrl: string): Promise<LatchkeyStatic | null>;

/** Makes a LatchkeyError, e.g. to reject an `open()` called before Latchkey has loaded. */
export declare function latchkeyError(code: LatchkeyErrorCode | (string & {}), message?: string | null, integration?: string | null): LatchkeyError;

/**
 * For framework wrappers: a copy of `current()` whose callbacks call the ones `current()` returns at
 * the time, so a mounted picker follows callback props that change after mount.
 */
export declare function forwardCallbacks(current: () => LatchkeyOptions): LatchkeyOptions;

/** For framework wrappers: a string that changes when an option other than a callback changes. */
export declare function optionsKey(options: LatchkeyOptions): string;

declare global {
  interface Window {
    Latchkey?: LatchkeyStatic;
  }
}
