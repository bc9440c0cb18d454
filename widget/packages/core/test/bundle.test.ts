import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { closeAllPopups, created, fakePopup, pickerParams, post, stubResultChannel, stubWindowOpen } from './helpers';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'embed.js');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;

afterEach(() => {
  delete window.Latchkey;
  closeAllPopups();
});

// The minified build itself, as the service serves it; skipped until `npm run build` has made it.
describe.skipIf(!existsSync(bundle))('dist/embed.js', () => {
  it('installs window.Latchkey and completes a popup flow', async () => {
    new Function(readFileSync(bundle, 'utf8'))();
    expect(window.Latchkey!.version).toBe(version);

    stubResultChannel();
    const popup = fakePopup();
    const windowOpen = stubWindowOpen(popup);
    const onSuccess = vi.fn();
    const promise = window.Latchkey!.open({ baseUrl: 'https://latchkey.example', workspaceId: 'ws_1', onSuccess });
    const nonce = pickerParams(windowOpen.mock.calls[0][0] as string).get('nonce')!;
    post(created(nonce), popup);
    await expect(promise).resolves.toMatchObject({ connectionId: 'conn_1' });
    expect(onSuccess).toHaveBeenCalledTimes(1);
  });
});
