import { describe, expect, it } from 'vitest';
import { RetryBudget } from '../../../../agent/resilience/budget.ts';

describe('RetryBudget', () => {
  it('allows retries up to budgetPercent of first tries in the window (no floor)', () => {
    const b = new RetryBudget(20, { windowMs: 1000, minRetriesPerSecond: 0 });
    for (let i = 0; i < 100; i++) b.firstTry(0);
    let allowed = 0;
    for (let i = 0; i < 100; i++) if (b.tryRetry(10)) allowed++;
    expect(allowed).toBe(20);
    expect(b.counts(10)).toEqual({ firstTries: 100, retries: 20 });
    // Once the window has slid past, the budget refills with new first tries only.
    expect(b.tryRetry(1500)).toBe(false);
    for (let i = 0; i < 10; i++) b.firstTry(1500);
    expect(b.tryRetry(1500)).toBe(true);
    expect(b.tryRetry(1500)).toBe(true);
    expect(b.tryRetry(1500)).toBe(false);
  });

  it('in an outage where every try fails, tries stay within (1 + percent) × first tries + floor', () => {
    const b = new RetryBudget(20, { windowMs: 10_000, minRetriesPerSecond: 1 });
    let tries = 0;
    let first = 0;
    // 2,000 requests over 10 s, each wanting 3 retries.
    for (let i = 0; i < 2000; i++) {
      const now = i * 5;
      b.firstTry(now);
      first++;
      tries++;
      for (let r = 0; r < 3 && b.tryRetry(now); r++) tries++;
    }
    expect(tries).toBeLessThanOrEqual(first * 1.2 + 10);
    expect(tries).toBeGreaterThan(first * 1.15);
  });

  it('has a floor so a quiet service can still retry, and 0 % disables retries', () => {
    const b = new RetryBudget(20, { windowMs: 10_000, minRetriesPerSecond: 1 });
    let allowed = 0;
    for (let i = 0; i < 20; i++) if (b.tryRetry(0)) allowed++;
    expect(allowed).toBe(10);
    const off = new RetryBudget(0);
    for (let i = 0; i < 100; i++) off.firstTry(0);
    expect(off.tryRetry(0)).toBe(false);
    off.configure(50);
    expect(off.percent).toBe(50);
    expect(off.tryRetry(0)).toBe(true);
  });
});
