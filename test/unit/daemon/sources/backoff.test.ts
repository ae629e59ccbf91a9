import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../../daemon/sources/backoff.ts';

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap', () => {
    const top = { initialMs: 100, maxMs: 1_000, random: () => 0.999999 };
    expect([0, 1, 2, 3, 4, 5, 100].map((a) => backoffDelay(a, top))).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it('jitters down by at most half', () => {
    expect(backoffDelay(3, { initialMs: 100, maxMs: 10_000, random: () => 0 })).toBe(400);
  });

  it('defaults to 100 ms capped at 5 s', () => {
    expect(backoffDelay(0, { random: () => 0.999999 })).toBe(100);
    expect(backoffDelay(50, { random: () => 0.999999 })).toBe(5_000);
  });
});
