import '@angular/compiler';
import { Component, signal } from '@angular/core';
import { TestBed, getTestBed } from '@angular/core/testing';
import { BrowserTestingModule, platformBrowserTesting } from '@angular/platform-browser/testing';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadLatchkey, type LatchkeyStatic } from '@latchkey/core';
import { LatchkeyConnectComponent } from '../src/index';

vi.mock('@latchkey/core', async (importOriginal) => ({
  ...(await importOriginal<typeof import('@latchkey/core')>()),
  loadLatchkey: vi.fn(),
}));
const load = vi.mocked(loadLatchkey);

const BASE = 'https://latchkey.example';
const connection = { connectionId: 'conn_1', integration: 'hubspot', externalXref: 'user-42', state: null };

@Component({
  standalone: true,
  imports: [LatchkeyConnectComponent],
  template: `
    <latchkey-connect [baseUrl]="base" workspaceId="ws_1" environmentId="sandbox" [mode]="mode()"
      [workspaceId]="workspace()" (success)="successes.push($event)" (closed)="closes = closes + 1">Connect CRM</latchkey-connect>
  `,
})
class HostComponent {
  base = BASE;
  mode = signal<'popup' | 'inline'>('popup');
  workspace = signal('ws_1');
  successes: unknown[] = [];
  closes = 0;
}

let latchkey: { version: string; open: ReturnType<typeof vi.fn>; mount: ReturnType<typeof vi.fn> };
let destroy: ReturnType<typeof vi.fn>;

beforeAll(() => {
  getTestBed().initTestEnvironment(BrowserTestingModule, platformBrowserTesting());
});

beforeEach(() => {
  destroy = vi.fn();
  latchkey = { version: 'test', open: vi.fn(async () => connection), mount: vi.fn(() => ({ destroy })) };
  load.mockReset();
  load.mockResolvedValue(latchkey as unknown as LatchkeyStatic);
});

afterEach(() => TestBed.resetTestingModule());

async function render() {
  const fixture = TestBed.createComponent(HostComponent);
  fixture.autoDetectChanges();
  await fixture.whenStable();
  await Promise.resolve(); // loadLatchkey() resolves; the component marks itself for check
  await fixture.whenStable();
  return fixture;
}

describe('<latchkey-connect>', () => {
  it('opens the picker on click and emits the result', async () => {
    const fixture = await render();
    const button = fixture.nativeElement.querySelector('button') as HTMLButtonElement;
    expect(button.textContent!.trim()).toBe('Connect CRM');
    expect(button.disabled).toBe(false);
    expect(load).toHaveBeenCalledWith(BASE);
    expect(latchkey.open).not.toHaveBeenCalled();

    button.click();
    expect(latchkey.open).toHaveBeenCalledTimes(1);
    const options = latchkey.open.mock.calls[0][0];
    expect(options).toMatchObject({ baseUrl: BASE, workspaceId: 'ws_1', environmentId: 'sandbox' });
    options.onSuccess(connection);
    options.onClose();
    expect(fixture.componentInstance.successes).toEqual([connection]);
    expect(fixture.componentInstance.closes).toBe(1);
  });

  it('keeps the button disabled until embed.js has loaded', async () => {
    load.mockImplementation(() => new Promise<never>(() => {}));
    const fixture = await render();
    const button = fixture.nativeElement.querySelector('button') as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    button.click();
    expect(latchkey.open).not.toHaveBeenCalled();
  });

  it('mounts an inline picker, remounts it when an input changes, and destroys it', async () => {
    const fixture = await render();
    fixture.componentInstance.mode.set('inline');
    await fixture.whenStable();
    expect(fixture.nativeElement.querySelector('button')).toBeNull();
    expect(latchkey.mount).toHaveBeenCalledTimes(1);
    expect(latchkey.mount.mock.calls[0][1]).toMatchObject({ mode: 'inline', workspaceId: 'ws_1' });

    fixture.componentInstance.workspace.set('ws_2');
    await fixture.whenStable();
    expect(destroy).toHaveBeenCalledTimes(1);
    expect(latchkey.mount).toHaveBeenCalledTimes(2);
    expect(latchkey.mount.mock.calls[1][1]).toMatchObject({ workspaceId: 'ws_2' });

    fixture.destroy();
    expect(destroy).toHaveBeenCalledTimes(2);
  });
});
