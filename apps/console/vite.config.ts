import { defineConfig } from 'vite';

// The console is a static app served by @koru/server at `/`: relative asset URLs (so any
// mount point works), hashed file names (served with a year-long immutable cache), and
// no inline scripts or styles (the server's Content-Security-Policy allows only 'self').
export default defineConfig({
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  // `pnpm dev`: the page on 127.0.0.1:5173, its WebSocket proxied to a `kdelta start` on
  // :7878 (started with `--allow-origin http://127.0.0.1:5173`: the browser's Origin is
  // the dev server's).
  server: { host: '127.0.0.1', port: 5173, strictPort: true, proxy: { '/v1': { target: 'http://127.0.0.1:7878', ws: true } } },
  build: {
    outDir: 'dist/app',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
    sourcemap: false,
  },
});
