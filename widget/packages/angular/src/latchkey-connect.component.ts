import {
  ChangeDetectionStrategy,
  ChangeDetectorRef,
  Component,
  ElementRef,
  EventEmitter,
  Input,
  NgZone,
  Output,
  ViewChild,
  booleanAttribute,
  inject,
  type OnChanges,
  type OnDestroy,
  type OnInit,
} from '@angular/core';
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

export interface LatchkeyEvent {
  name: LatchkeyEventName;
  data: LatchkeyEventData;
}

/**
 * `<latchkey-connect>`: a button that opens the picker, or with `mode="inline"` the picker itself in
 * an iframe. Latchkey's timers and listeners run outside the Angular zone; outputs are emitted inside it.
 */
@Component({
  selector: 'latchkey-connect',
  standalone: true,
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    @if (mode === 'inline') {
      <div #container></div>
    } @else {
      <button type="button" [disabled]="!ready" (click)="openFromClick()">
        <ng-content>Connect an integration</ng-content>
      </button>
    }
  `,
})
export class LatchkeyConnectComponent implements OnInit, OnChanges, OnDestroy {
  @Input({ required: true }) baseUrl!: string;
  @Input() workspaceId?: string;
  @Input() environment?: string;
  @Input() environmentId?: string;
  @Input() sessionToken?: string;
  @Input() externalXref?: string;
  @Input() scopes?: string[];
  @Input() integrations?: string[];
  @Input() categories?: string[];
  @Input() mode?: LatchkeyMode;
  @Input() successUrl?: string;
  @Input() failureUrl?: string;
  @Input() state?: string;
  @Input() lang?: string;
  @Input() theme?: LatchkeyTheme;
  @Input() accent?: string;
  @Input() connectionId?: string;
  @Input({ transform: booleanAttribute }) fallbackToRedirect = false;

  @Output() readonly loaded = new EventEmitter<void>();
  @Output() readonly success = new EventEmitter<Connection>();
  @Output() readonly connectionCreated = new EventEmitter<Connection>();
  @Output() readonly failed = new EventEmitter<LatchkeyError>();
  @Output() readonly closed = new EventEmitter<void>();
  @Output() readonly latchkeyEvent = new EventEmitter<LatchkeyEvent>();

  /** embed.js has loaded. */
  ready = false;
  /** Set when embed.js failed to load (code `load_failed`). */
  error: LatchkeyError | null = null;

  private readonly zone = inject(NgZone);
  private readonly changes = inject(ChangeDetectorRef);
  private latchkey: LatchkeyStatic | null = null;
  private container: HTMLElement | null = null;
  private inline: LatchkeyInline | null = null;
  private inlineKey: string | null = null;
  private destroyed = false;

  @ViewChild('container')
  set containerRef(ref: ElementRef<HTMLElement> | undefined) {
    this.container = ref ? ref.nativeElement : null;
    this.syncInline();
  }

  ngOnInit(): void {
    loadLatchkey(this.baseUrl).then(
      (loaded) => this.whenAlive(() => {
        this.latchkey = loaded;
        this.ready = loaded !== null;
        this.syncInline();
      }),
      (reason: LatchkeyError) => this.whenAlive(() => {
        this.error = reason;
        this.failed.emit(reason);
      }),
    );
  }

  ngOnChanges(): void {
    this.syncInline();
  }

  ngOnDestroy(): void {
    this.destroyed = true;
    this.unmountInline();
  }

  /** Opens the picker; call it from a click handler. */
  open(): Promise<Connection> {
    const latchkey = this.latchkey;
    if (!latchkey) return Promise.reject(this.error || latchkeyError('load_failed', 'Latchkey has not loaded yet'));
    return this.zone.runOutsideAngular(() => latchkey.open(this.options()));
  }

  protected openFromClick(): void {
    this.open().catch(() => {}); // failures reach the host through the outputs
  }

  private options(): LatchkeyOptions {
    const emit = <T>(emitter: EventEmitter<T>) => (value: T) => this.zone.run(() => emitter.emit(value));
    return {
      baseUrl: this.baseUrl,
      workspaceId: this.workspaceId,
      environment: this.environment,
      environmentId: this.environmentId,
      sessionToken: this.sessionToken,
      externalXref: this.externalXref,
      scopes: this.scopes,
      integrations: this.integrations,
      categories: this.categories,
      mode: this.mode,
      successUrl: this.successUrl,
      failureUrl: this.failureUrl,
      state: this.state,
      lang: this.lang,
      theme: this.theme,
      accent: this.accent,
      connectionId: this.connectionId,
      fallbackToRedirect: this.fallbackToRedirect,
      onLoad: () => emit(this.loaded)(undefined),
      onSuccess: emit(this.success),
      onConnectionCreated: emit(this.connectionCreated),
      onError: emit(this.failed),
      onClose: () => emit(this.closed)(undefined),
      onEvent: (name, data) => emit(this.latchkeyEvent)({ name, data }),
    };
  }

  private syncInline(): void {
    const latchkey = this.latchkey;
    const container = this.container;
    const key = this.mode === 'inline' && latchkey && container ? optionsKey(this.options()) : null;
    if (key === this.inlineKey) return;
    this.unmountInline();
    this.inlineKey = key;
    if (key && latchkey && container) {
      this.inline = this.zone.runOutsideAngular(() => latchkey.mount(container, this.options()));
    }
  }

  private unmountInline(): void {
    this.inline?.destroy();
    this.inline = null;
    this.inlineKey = null;
  }

  private whenAlive(update: () => void): void {
    if (this.destroyed) return;
    update();
    this.changes.markForCheck();
  }
}
