// A real Chromium page on another origin (a tiny HTTP server on another port) calls a real
// KoruDelta server with fetch and a WebSocket: refused, nothing written; the same page on
// an allowed origin works (preflighted PUT, GET, a WebSocket call).
import { createServer, type Server } from 'node:http';
import { tempDir } from '@koru/vitest-preset/helpers';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from './chromium.js';
import { startServer, type KoruServer, type ServerOptions } from '../src/index.js';

const available = chromiumAvailable('browser-guard');

let pages: Server | undefined;
let pageOrigin = '';
let browser: Browser | undefined;

beforeAll(async () => {
  if (!available) return;
  pages = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><meta charset="utf-8"><title>page</title>'));
  await new Promise<void>((resolve) => pages!.listen(0, '127.0.0.1', resolve));
  pageOrigin = `http://127.0.0.1:${(pages.address() as { port: number }).port}`;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (pages ? pages.close(() => resolve()) : resolve()));
});

async function koru(options: ServerOptions): Promise<{ server: KoruServer; done: () => Promise<void> }> {
  const t = tempDir('koru-chromium-');
  const server = await startServer({ path: t.dir, port: 0, log: 'silent', ...options });
  return {
    server,
    done: async () => {
      await server.close();
      t.cleanup();
    },
  };
}

/** What the page manages to do against `url`: each attempt's outcome as a string. */
async function attempt(url: string, token?: string): Promise<Record<string, string>> {
  const page = await browser!.newPage();
  try {
    await page.goto(pageOrigin);
    return await page.evaluate(
      async ({ url, token }) => {
        const auth: Record<string, string> = token !== undefined ? { authorization: `Bearer ${token}` } : {};
        const out: Record<string, string> = {};
        const outcome = async (name: string, run: () => Promise<string>): Promise<void> => {
          try {
            out[name] = await run();
          } catch (e) {
            out[name] = `error: ${String(e)}`;
          }
        };
        // The "simple" request: no preflight, the page cannot read the answer, but it is sent.
        await outcome('simplePost', async () => {
          const r = await fetch(`${url}/v1/views`, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ name: 'stolen', namespace: 'users' }) });
          return `opaque ${r.type}`;
        });
        await outcome('put', async () => {
          const r = await fetch(`${url}/v1/kv/users/alice`, { method: 'PUT', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ from: 'page' }) });
          return `${r.status} ${r.headers.get('etag') !== null ? 'etag' : 'no-etag'}`;
        });
        await outcome('get', async () => {
          const r = await fetch(`${url}/v1/kv/users/alice`, { headers: auth });
          return `${r.status} ${await r.text()}`;
        });
        await outcome('ws', () =>
          new Promise<string>((resolve) => {
            const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ws`);
            ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', protocol: 1, ...(token !== undefined ? { token } : {}) }));
            ws.onmessage = (m) => {
              const msg = JSON.parse(String(m.data)) as { type?: string; id?: number; result?: unknown };
              if (msg.type === 'welcome') ws.send(JSON.stringify({ id: 1, method: 'put', params: ['users', 'bob', { from: 'ws' }] }));
              else if (msg.id === 1) {
                ws.close();
                resolve(`put ${msg.result !== undefined ? 'ok' : JSON.stringify(msg)}`);
              }
            };
            ws.onerror = () => resolve('refused');
            setTimeout(() => resolve('timeout'), 5_000);
          }),
        );
        return out;
      },
      { url, token },
    );
  } finally {
    await page.close();
  }
}

describe.skipIf(!available)('a real Chromium page', () => {
  it('on another origin: fetch and WebSocket are refused and nothing is written', async () => {
    const { server, done } = await koru({});
    try {
      const out = await attempt(server.url);
      expect(out.simplePost).toBe('opaque opaque');
      expect(out.put).toMatch(/^error: TypeError/);
      expect(out.get).toMatch(/^error: TypeError/);
      expect(out.ws).toBe('refused');
      expect(await server.db.listNamespaces()).toEqual([]);
      expect(await server.db.listViews()).toEqual([]);
    } finally {
      await done();
    }
  }, 30_000);

  it('on an allowed origin: a preflighted PUT, a GET and a WebSocket call work; a text/plain POST is still refused (415)', async () => {
    for (const token of [undefined, 'page-token']) {
      const { server, done } = await koru({ allowOrigins: [pageOrigin], ...(token !== undefined ? { token } : {}) });
      try {
        const out = await attempt(server.url, token);
        expect(out, String(token)).toMatchObject({ put: '200 etag', get: '200 {"from":"page"}', ws: 'put ok' });
        expect(await server.db.get('users', 'bob')).toEqual({ from: 'ws' });
        // The no-cors text/plain POST reached the server: refused as not JSON (and, with a token, as unauthorized).
        expect(await server.db.listViews()).toEqual([]);
      } finally {
        await done();
      }
    }
  }, 30_000);
});
