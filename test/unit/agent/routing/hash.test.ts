import { describe, expect, it } from 'vitest';
import { fnv1a32, hashBucket } from '../../../../agent/routing/hash.ts';

describe('fnv1a32', () => {
  it('matches the published FNV-1a 32-bit test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('hashes the UTF-8 bytes, as other languages would', () => {
    for (const s of ['é', '日本', 'a😀b', 'x\u{10ffff}']) {
      let h = 0x811c9dc5;
      for (const byte of Buffer.from(s, 'utf8')) h = Math.imul(h ^ byte, 0x01000193);
      expect(fnv1a32(s)).toBe(h >>> 0);
    }
  });

  it('buckets into 0..99, the same value always in the same bucket', () => {
    for (let i = 0; i < 1000; i++) {
      const b = hashBucket(`user-${i}`);
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThan(100);
      expect(hashBucket(`user-${i}`)).toBe(b);
    }
  });
});
