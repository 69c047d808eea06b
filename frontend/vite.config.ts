import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// `npm run dev` talks to a running `modelbar serve` (MODELBAR_URL, default
// http://127.0.0.1:11500) through Vite's proxy. The page signs in as it does
// when modelbar serves it: open the link `modelbar ui --no-open` prints with
// its origin replaced by the dev server's (http://localhost:5173/ui/login?code=...);
// the proxy passes it to modelbar, which sets the session cookie, and sends
// the browser to the dev server's root.
const target = process.env.MODELBAR_URL ?? 'http://127.0.0.1:11500';

// The gateway takes /api only from its own origin: the dev proxy drops the
// browser's Origin, as if the page were served by modelbar itself (a change
// then passes modelbar's CSRF check by the browser's Sec-Fetch-Site:
// same-origin, which the proxy forwards).
type ProxyEvents = {
  on(ev: 'proxyReq', f: (req: { removeHeader: (h: string) => void }) => void): void;
  on(ev: 'proxyRes', f: (res: { headers: Record<string, string | string[] | undefined> }) => void): void;
};
const proxy = {
  target,
  changeOrigin: true,
  configure: (p: ProxyEvents) => {
    p.on('proxyReq', (req) => req.removeHeader('origin'));
    // The login link redirects to /ui/; in development the app is at /.
    p.on('proxyRes', (res) => {
      if (res.headers.location === '/ui/') res.headers.location = '/';
    });
  },
};

// base './': the same build works at the Wails window's root and at /ui/.
export default defineConfig({
  base: './',
  plugins: [svelte()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  server: { proxy: { '/api': proxy, '/v1': proxy, '/ui/login': proxy } },
  // Component tests (*.test.ts that render a .svelte file) declare
  // `// @vitest-environment jsdom` and get Svelte's browser build.
  resolve: process.env.VITEST ? { conditions: ['browser'] } : undefined,
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
});
