// The console's Content-Security-Policy in a real Chromium: a page served at `/` by a
// server with a token loads its script from /assets, signs in on a same-origin WebSocket
// (CSP3: `connect-src 'self'` covers ws: of the page's own host and port) and calls the
// REST API; an inline script, a foreign connection and a foreign script are blocked.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { tempDir } from '@koru/vitest-preset/helpers';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from './chromium.js';
import { startServer } from '../src/index.js';

const available = chromiumAvailable('console-chromium');

// A classic script listens for violations first; the inline one must not run; the module
// script records what the page could do.
const INDEX = `<!doctype html><meta charset="utf-8"><title>console</title>
<script src="/assets/watch-abc123.js"></script>
<script>window.inlineRan = true;</script>
<script type="module" src="/assets/app-abc123.js"></script>`;
const WATCH = `window.violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.violations.push(e.violatedDirective + ' ' + e.blockedURI));
`;
const APP = `
const token = decodeURIComponent(location.hash.slice(1));
const settle = (p, ms = 5000) => Promise.race([p, new Promise((r) => setTimeout(() => r('timeout'), ms))]);
const ws = () => new Promise((resolve) => {
  const socket = new WebSocket('ws://' + location.host + '/v1/ws');
  socket.onopen = () => socket.send(JSON.stringify({ type: 'hello', protocol: 1, token }));
  socket.onmessage = (m) => {
    const msg = JSON.parse(String(m.data));
    if (msg.type === 'welcome') socket.send(JSON.stringify({ id: 1, method: 'put', params: ['users', 'ada', { from: 'console' }] }));
    else if (msg.id === 1) { socket.close(); resolve(msg.result !== undefined ? 'put ok' : JSON.stringify(msg)); }
  };
  socket.onerror = () => resolve('refused');
});
const rest = async (auth) => { const r = await fetch('/v1/ns', auth ? { headers: { authorization: 'Bearer ' + token } } : {}); return r.status + ' ' + (await r.text()); };
const foreignWs = () => new Promise((resolve) => {
  try {
    const s = new WebSocket('ws://127.0.0.2:9/v1/ws');
    s.onerror = () => resolve('error');
    s.onopen = () => resolve('open');
  } catch (e) { resolve('threw ' + e.name); }
});
const foreignScript = () => new Promise((resolve) => {
  const s = document.createElement('script');
  s.src = 'http://127.0.0.2:9/x.js';
  s.onerror = () => resolve('error');
  s.onload = () => resolve('loaded');
  document.head.append(s);
});
window.result = (async () => {
  const out = { ws: await settle(ws()), restWithout: await rest(false), restWith: await rest(true), foreignWs: await settle(foreignWs()), foreignScript: await settle(foreignScript()) };
  await new Promise((r) => setTimeout(r, 200)); // violation events are dispatched asynchronously
  return { ...out, inlineRan: window.inlineRan === true, violations: window.violations };
})();
`;

let browser: Browser | undefined;

beforeAll(async () => {
  if (!available) return;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe.skipIf(!available)('the console page in a real Chromium', () => {
  it('loads from /assets, signs in on a same-origin WebSocket and calls the API; inline and foreign code and connections are blocked', async () => {
    const t = tempDir('koru-console-chromium-');
    const dir = join(t.dir, 'app');
    mkdirSync(join(dir, 'assets'), { recursive: true });
    writeFileSync(join(dir, 'index.html'), INDEX);
    writeFileSync(join(dir, 'assets', 'watch-abc123.js'), WATCH);
    writeFileSync(join(dir, 'assets', 'app-abc123.js'), APP);
    writeFileSync(join(dir, 'assets', 'app-abc123.js.br'), brotliCompressSync(APP));
    writeFileSync(join(dir, 'assets', 'app-abc123.js.gz'), gzipSync(APP));
    const server = await startServer({ path: join(t.dir, 'db'), port: 0, log: 'silent', token: 'page-token', console: { dir } });
    const page = await browser!.newPage();
    try {
      const encodings: string[] = [];
      page.on('response', (r) => {
        if (r.url().endsWith('/assets/app-abc123.js')) encodings.push(r.headers()['content-encoding'] ?? 'identity');
      });
      const nav = await page.goto(`${server.url}/#page-token`);
      expect(nav?.status()).toBe(200);
      const out = (await page.evaluate('window.result')) as Record<string, unknown> & { violations: string[] };
      expect(out).toMatchObject({ ws: 'put ok', restWithout: expect.stringMatching(/^401 /), restWith: '200 ["users"]', inlineRan: false });
      expect(out.foreignWs).not.toBe('open');
      expect(out.foreignScript).toBe('error');
      // Blocked by the policy, not by chance: each one reported, and nothing same-origin.
      expect(out.violations).toContain('script-src-elem inline');
      expect(out.violations).toContain('connect-src ws://127.0.0.2:9/v1/ws');
      expect(out.violations).toContain('script-src-elem http://127.0.0.2:9/x.js');
      expect(out.violations.filter((v) => v.includes(new URL(server.url).host))).toEqual([]);
      // Chromium asks for br: the precompressed copy went out.
      expect(encodings).toEqual(['br']);
      expect(await server.db.get('users', 'ada')).toEqual({ from: 'console' });
    } finally {
      await page.close();
      await server.close();
      t.cleanup();
    }
  }, 30_000);
});
