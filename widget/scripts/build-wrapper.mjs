// Bundles a wrapper package's entry point (argv[2]) to dist/index.mjs, leaving its dependencies and
// peer dependencies to the host's bundler. Run from the package's folder. `--use-client` marks the
// module as client-only for React Server Components (esbuild drops the directive from the source).
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';

const [entry, ...flags] = process.argv.slice(2);
const pkg = JSON.parse(await readFile('package.json', 'utf8'));
const external = Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies }).flatMap((name) => [name, `${name}/*`]);

await rm('dist', { recursive: true, force: true });
await build({
  entryPoints: [entry],
  outfile: 'dist/index.mjs',
  bundle: true,
  format: 'esm',
  target: 'es2019',
  platform: 'neutral',
  jsx: 'automatic',
  external,
  banner: flags.includes('--use-client') ? { js: "'use client';" } : undefined,
});
