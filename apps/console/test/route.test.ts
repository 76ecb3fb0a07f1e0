// The console's addresses: every namespace and key round-trips through the URL fragment.
import { describe, expect, it } from 'vitest';
import { hrefOf, parseRoute, type Route } from '../src/app/route.js';
import { parseJson } from '../src/app/json-input.js';

describe('routes', () => {
  it('round-trips any key, however it is spelled', () => {
    for (const key of ['plain', 'with/slash', 'a?b#c', '100%', 'ünïcode 🔑', ' spaced ', '..', 'k/history']) {
      const r: Route = { page: 'key', ns: 'n-s', key, tab: 'history' };
      expect(parseRoute(hrefOf(r))).toEqual(r);
    }
    const diff: Route = { page: 'key', ns: 'n', key: 'k', tab: 'diff', from: 'a'.repeat(64), to: 'b'.repeat(64) };
    expect(parseRoute(hrefOf(diff))).toEqual(diff);
    expect(parseRoute(hrefOf({ page: 'keys', ns: 'users' }))).toEqual({ page: 'keys', ns: 'users' });
  });

  it('sends anything unknown or malformed to the namespaces page', () => {
    for (const h of ['', '#', '#/', '#/nowhere', '#/ns/', '#/ns/%E0%A4%A', '#/ns/a/x/b']) expect(parseRoute(h)).toEqual({ page: 'namespaces' });
    expect(parseRoute('#/ns/a/k/b/bogus')).toEqual({ page: 'key', ns: 'a', key: 'b', tab: 'value' });
  });
});

describe('parseJson', () => {
  it('gives the value, or the line and column of the first mistake', () => {
    expect(parseJson('{"a": [1, 2]}')).toEqual({ ok: true, value: { a: [1, 2] } });
    expect(parseJson('"text"')).toEqual({ ok: true, value: 'text' });
    const bad = parseJson('{\n  "a": 1,\n}');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.message).toMatch(/line 3, column 1/);
    expect(parseJson('  ').ok).toBe(false);
  });
});
