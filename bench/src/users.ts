/**
 * The query workload: user documents `{ name, age, city, email, tags }`, seeded and
 * deterministic like workload.ts. Document `i` is the same in every collection size,
 * so the 100,000-document collection is the first 100,000 of the 1,000,000 one.
 */
import { SEED, prng } from './workload.js';

/** Namespace (KoruDelta), table (sqlite) or collection (LokiJS) the query rows use. */
export const USERS = 'users';

/** One user document. Names are random (collisions are possible but rare), emails unique. */
export interface UserDoc {
  readonly name: string;
  readonly age: number;
  readonly city: string;
  readonly email: string;
  readonly tags: readonly string[];
}

/** A user and its key. */
export interface User {
  readonly key: string;
  readonly doc: UserDoc;
}

/** 50 cities: `city == X` matches ~2% of the documents. */
export const USER_CITIES: readonly string[] = [
  'Amsterdam', 'Athens', 'Auckland', 'Bangkok', 'Barcelona', 'Berlin', 'Bogota', 'Boston', 'Brussels', 'Budapest',
  'Cairo', 'Cape Town', 'Chicago', 'Copenhagen', 'Dakar', 'Delhi', 'Dublin', 'Edinburgh', 'Helsinki', 'Hanoi',
  'Istanbul', 'Jakarta', 'Kyoto', 'Lagos', 'Lima', 'Lisbon', 'London', 'Madrid', 'Manila', 'Melbourne',
  'Mexico City', 'Montreal', 'Mumbai', 'Nairobi', 'Osaka', 'Oslo', 'Paris', 'Porto', 'Prague', 'Quito',
  'Reykjavik', 'Rome', 'Santiago', 'Seoul', 'Stockholm', 'Tallinn', 'Taipei', 'Tokyo', 'Vienna', 'Wellington',
];

const TAGS = ['admin', 'beta', 'churned', 'developer', 'enterprise', 'free', 'mobile', 'newsletter', 'partner', 'pro', 'student', 'trial'];
const SYLLABLES = ['ka', 'lo', 'mi', 'ra', 'te', 'su', 'no', 'vi', 'da', 'ne', 'po', 'li', 'ma', 'ro', 'ze', 'fa', 'gu', 'hi', 'ba', 'yo'];

function word(rnd: () => number, syllables: number): string {
  let s = '';
  for (let i = 0; i < syllables; i++) s += SYLLABLES[Math.floor(rnd() * SYLLABLES.length)]!;
  return s;
}

/** Key of user `i`: `u0000042`. */
export function userKey(i: number): string {
  return `u${String(i).padStart(7, '0')}`;
}

/** Users `0 ..< count`; about 1 s per million. Stores must not mutate the documents. */
export function makeUsers(count: number): User[] {
  const rnd = prng(SEED ^ 0x75736572);
  const out = new Array<User>(count);
  for (let i = 0; i < count; i++) {
    const first = word(rnd, 2 + Math.floor(rnd() * 2));
    const last = word(rnd, 2 + Math.floor(rnd() * 3));
    const tags: string[] = [];
    const n = 1 + Math.floor(rnd() * 3);
    for (let t = 0; t < n; t++) tags.push(TAGS[Math.floor(rnd() * TAGS.length)]!);
    out[i] = {
      key: userKey(i),
      doc: {
        name: `${first[0]!.toUpperCase()}${first.slice(1)} ${last[0]!.toUpperCase()}${last.slice(1)}`,
        age: Math.floor(rnd() * 100),
        city: USER_CITIES[Math.floor(rnd() * USER_CITIES.length)]!,
        email: `${first}.${last}.${i.toString(36)}@example.com`,
        tags,
      },
    };
  }
  return out;
}

/** The reference answer of the sort-and-limit query, by plain JS: names of the first `limit` users with age > `minAge` by name. */
export function expectedTopNames(users: readonly User[], minAge: number, limit: number): string[] {
  const names: string[] = [];
  for (const u of users) if (u.doc.age > minAge) names.push(u.doc.name);
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return names.slice(0, limit);
}

/** How many users live in `city` (reference answer). */
export function expectedCityCount(users: readonly User[], city: string): number {
  let n = 0;
  for (const u of users) if (u.doc.city === city) n++;
  return n;
}
