// checkSubscription (the light check a browser page runs before a spec crosses to the
// worker) gives the verdict `subscribe` gives, for every spec but a filter's contents:
// the same error class and code (and message, but for a bad `since`), or none.
import fc from 'fast-check';
import { fcSeed } from '@koru/vitest-preset/helpers';
import { describe, expect, it } from 'vitest';
import { checkSubscription, subscribe, type ChangeSource, type SubscriptionSpec } from '../src/index.js';

/** A source with a head far past every `since` below, never read. */
const HEAD = 1_000_000;
const source: ChangeSource = {
  seq: HEAD,
  changeAt: () => {
    throw new Error('never read');
  },
  onCommit: () => () => undefined,
};

/** What a call threw (class name, code, message), or 'ok'. */
function verdict(f: () => unknown): unknown {
  try {
    const r = f() as { unsubscribe?: () => void } | undefined;
    r?.unsubscribe?.();
    return 'ok';
  } catch (e) {
    const k = e as { name: string; code?: string; message: string };
    return { name: k.name, code: k.code, message: k.message };
  }
}

const handler = (): void => undefined;
// `...h`: a handler given as undefined stays undefined (a default parameter would replace it).
const subscribed = (spec: unknown, ...h: unknown[]): unknown => verdict(() => subscribe(source, spec as SubscriptionSpec, (h.length > 0 ? h[0] : handler) as typeof handler));
const checked = (spec: unknown, ...h: unknown[]): unknown => verdict(() => checkSubscription(spec as SubscriptionSpec, h.length > 0 ? h[0] : handler));

describe('checkSubscription', () => {
  const cases: Array<[string, unknown]> = [
    ['empty', {}],
    ['a namespace', { namespace: 'users' }],
    ['a key', { namespace: 'users', key: 'u1' }],
    ['a key without namespace', { key: 'u1' }],
    ['a bad namespace', { namespace: '_koru' }],
    ['a namespace not a string', { namespace: 7 }],
    ['an empty key', { namespace: 'users', key: '' }],
    ['types', { types: ['insert', 'delete'] }],
    ['a bad type', { types: ['upsert'] }],
    ['types not a list', { types: 'insert' }],
    ['an unknown option', { namespace: 'users', nmespace: 'x' }],
    ['bufferSize 0', { bufferSize: 0 }],
    ['bufferSize fractional', { bufferSize: 1.5 }],
    ['bufferSize', { bufferSize: 16 }],
    ['since', { since: 5 }],
    ['until after since', { since: 5, until: 9 }],
    ['until before since', { since: 5, until: 4 }],
    ['until not a seq', { since: 5, until: 'x' }],
    ['null', null],
    ['an array', []],
    ['a string', 'users'],
  ];
  it.each(cases)('%s: the verdict subscribe gives', (_name, spec) => {
    expect(checked(spec)).toEqual(subscribed(spec));
  });

  it('refuses a missing handler as subscribe does', () => {
    expect(checked({}, undefined)).toEqual(subscribed({}, undefined));
    expect(checked({}, undefined)).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('refuses a negative or fractional since (the head is checked where the feed runs)', () => {
    expect(checked({ since: -1 })).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'since must be a seq of at least 0, not -1' });
    expect(checked({ since: 1.5 })).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(subscribed({ since: -1 })).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('leaves the filter to the feed: a bad one passes here, subscribe refuses it', () => {
    const spec = { filter: { age: { $nope: 1 } } };
    expect(checked(spec)).toBe('ok');
    expect(subscribed(spec)).toMatchObject({ code: 'INVALID_QUERY' });
  });

  it('agrees with subscribe on generated specs without a filter', () => {
    const spec = fc.record(
      {
        namespace: fc.oneof(fc.constantFrom('users', 'a.b', '_koru', '', 'x y'), fc.integer()),
        key: fc.oneof(fc.constantFrom('k', '', 'a\u0000b'), fc.integer()),
        types: fc.oneof(fc.subarray(['insert', 'update', 'delete'] as const), fc.constant(['nope']), fc.constant('insert')),
        since: fc.oneof(fc.integer({ min: -2, max: 50 }), fc.double({ noNaN: true, min: 0, max: 50 })),
        until: fc.integer({ min: -2, max: 60 }),
        bufferSize: fc.integer({ min: -1, max: 4 }),
        surprise: fc.constant(1),
      },
      { requiredKeys: [] },
    );
    // `until` without `since` depends on the source's head, which only the feed knows.
    const comparable = spec.filter((s) => !('until' in s) || 'since' in s);
    // Class and code (the messages of a bad `since` differ: only the feed knows its head).
    const kind = (v: unknown): unknown => (v === 'ok' ? v : { name: (v as { name: string }).name, code: (v as { code: string }).code });
    fc.assert(
      fc.property(comparable, (s) => {
        expect(kind(checked(s))).toEqual(kind(subscribed(s)));
      }),
      { seed: fcSeed() },
    );
  });
});
