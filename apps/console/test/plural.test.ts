// Counts read as a person would write them: one key, two keys.
import { describe, expect, it } from 'vitest';
import { plural } from '../src/app/ui.js';

describe('plural', () => {
  it('is singular for one only, with thousands separated', () => {
    expect(plural(1, 'key')).toBe('1 key');
    expect(plural(0, 'key')).toBe('0 keys');
    expect(plural(1234, 'matching document')).toBe('1,234 matching documents');
    expect(plural(2, 'entry', 'entries')).toBe('2 entries');
  });
});
