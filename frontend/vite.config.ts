import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defineConfig, type Plugin } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// `npm run dev` talks to a running `modelbar serve` (MODELBAR_URL, default
// http://127.0.0.1:11500) through Vite's proxy, with the admin token from
// MODELBAR_TOKEN or the default data dir's admin-token file.
const target = process.env.MODELBAR_URL ?? 'http://127.0.0.1:11500';
const meta = '<meta name="modelbar-admin-token" content="">';

function devToken(): Plugin {
  return {
    name: 'modelbar-dev-token',
    apply: 'serve',
    transformIndexHtml(html) {
      let token = process.env.MODELBAR_TOKEN ?? '';
      if (!token) {
        const dirs = [join(homedir(), 'Library', 'Application Support', 'modelbar'), join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'modelbar')];
        for (const d of dirs) {
          try {
            token = readFileSync(join(d, 'admin-token'), 'utf8').trim();
            break;
          } catch {
            // try the next
          }
        }
      }
      return html.replace(meta, `<meta name="modelbar-admin-token" content="${token.replace(/[^A-Za-z0-9_-]/g, '')}">`);
    },
  };
}

// The gateway takes /api only from its own origin: the dev proxy drops the
// browser's Origin, as if the page were served by modelbar itself.
const proxy = {
  target,
  changeOrigin: true,
  configure: (p: { on: (ev: 'proxyReq', f: (req: { removeHeader: (h: string) => void }) => void) => void }) =>
    p.on('proxyReq', (req) => req.removeHeader('origin')),
};

// base './': the same build works at the Wails window's root and at /ui/.
export default defineConfig({
  base: './',
  plugins: [svelte(), devToken()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  server: { proxy: { '/api': proxy, '/v1': proxy } },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
});
