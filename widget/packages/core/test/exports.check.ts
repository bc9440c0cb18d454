// Compile-only: what a consumer gets through package.json's exports (dist/, from `npm run build`).
import type { LatchkeyErrorCode, LatchkeyStatic } from '@latchkey/core/embed.js';
import { loadLatchkey } from '@latchkey/core';
// @ts-expect-error embed.js is a script: it sets window.Latchkey and has no values to import
import { open as notExported } from '@latchkey/core/embed.js';

export const fromScript: LatchkeyStatic | undefined = window.Latchkey;
export const code: LatchkeyErrorCode = 'closed';
export const loader: (baseUrl: string) => Promise<LatchkeyStatic | null> = loadLatchkey;
export const value: unknown = notExported;
