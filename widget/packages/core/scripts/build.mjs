// Builds dist/embed.js (the script the service serves at /embed.js), the ESM loader and its types.
import { build } from 'esbuild';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';

const root = new URL('..', import.meta.url);
const dist = new URL('dist/', root);
const { version } = JSON.parse(await readFile(new URL('package.json', root), 'utf8'));

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await Promise.all([
  build({
    entryPoints: [new URL('src/embed.ts', root).pathname],
    outfile: new URL('embed.js', dist).pathname,
    bundle: true,
    format: 'iife',
    minify: true,
    target: 'es2019',
    define: { __VERSION__: JSON.stringify(version) },
    legalComments: 'none',
  }),
  build({
    entryPoints: [new URL('src/index.ts', root).pathname],
    outfile: new URL('index.mjs', dist).pathname,
    bundle: true,
    format: 'esm',
    target: 'es2019',
    platform: 'neutral',
  }),
  copyFile(new URL('src/types.ts', root), new URL('index.d.ts', dist)),
  // embed.js is a script: it defines window.Latchkey (declared globally by index.d.ts) and exports no values.
  writeFile(
    new URL('embed.d.ts', dist),
    "// Types for '@latchkey/core/embed.js': the script sets window.Latchkey and exports nothing at run time.\nexport type * from './index.js';\n",
  ),
]);
