import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  define: { __VERSION__: JSON.stringify('0.0.0-test') },
  resolve: {
    alias: { '@latchkey/core': fileURLToPath(new URL('packages/core/src/index.ts', import.meta.url)) },
  },
  test: {
    include: ['packages/*/test/**/*.test.{ts,tsx}'],
    environment: 'happy-dom',
    environmentOptions: {
      happyDOM: {
        url: 'https://host.example/app',
        settings: { disableIframePageLoading: true, disableJavaScriptFileLoading: true },
      },
    },
    restoreMocks: true,
    setupFiles: ['./vitest.setup.ts'],
    unstubGlobals: true,
  },
});
