// Store URLs in messages: no password, whether in the user part or a query parameter.
import { describe, expect, it } from 'vitest';
import { redactUrl } from '../src/index.js';

describe('redactUrl', () => {
  it('hides the password of the user part', () => {
    expect(redactUrl('postgres://koru:s3cret@db.internal:5432/koru')).toBe('postgres://koru:***@db.internal:5432/koru');
  });

  it('hides password and sslpassword query parameters, which pg reads too', () => {
    const shown = redactUrl('postgresql://koru@db.internal/koru?sslmode=require&password=s3cret&sslpassword=k3y');
    expect(shown).not.toMatch(/s3cret|k3y/);
    expect(shown).toBe('postgresql://koru@db.internal/koru?sslmode=require&password=***&sslpassword=***');
  });

  it('leaves a URL without a password as it is, and never echoes one it cannot parse', () => {
    expect(redactUrl('postgres://koru@127.0.0.1:5432/koru')).toBe('postgres://koru@127.0.0.1:5432/koru');
    expect(redactUrl('postgres://koru:s3cret@[bad')).toBe('postgres://…');
  });
});
