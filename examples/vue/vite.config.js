import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [vue()],
  // @latchkey/* are linked from widget/packages: resolve their imports from this app, so there is
  // one Vue and no need for widget/node_modules.
  resolve: { dedupe: ['vue', '@latchkey/core'] },
  // The demo workspace (make run) allows http://localhost:5173 as an origin and redirect prefix.
  server: { host: 'localhost', port: 5173, strictPort: true },
  preview: { host: 'localhost', port: 5173, strictPort: true },
});
