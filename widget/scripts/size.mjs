// Prints the size of the built embed script and fails when it is over budget (3 KB min+gz).
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const BUDGET = 3072;
const path = new URL('../packages/core/dist/embed.js', import.meta.url);

let source;
try {
  source = readFileSync(path);
} catch {
  console.error(`embed.js: not built (${path.pathname}); run npm run build first`);
  process.exit(1);
}
const gzipped = gzipSync(source, { level: 9 }).length;
console.log(`embed.js: ${source.length} bytes min, ${gzipped} bytes min+gz`);
if (gzipped > BUDGET) {
  console.error(`embed.js is over its budget of ${BUDGET} bytes min+gz`);
  process.exit(1);
}
