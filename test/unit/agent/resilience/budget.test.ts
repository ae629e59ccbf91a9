import { describe, expect, it } from 'vitest';
import { RetryBudget } from '../../../../agent/resilience/budget.ts';
import { seededRandom } from '../../../support/snapshot-builder.ts';

describe('RetryBudget', () => {
  it('allows retries up to budgetPercent of first tries in the window, plus the floor', () => {
    const b = new RetryBudget(20, { windowMs: 1000, minRetries: 0 });
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

  it('a quiet service can still retry one sporadic failure per window (the floor)', () => {
    const b = new RetryBudget(20);
    b.firstTry(0);
    expect(b.tryRetry(0)).toBe(true);
    expect(b.tryRetry(1)).toBe(false);
    b.firstTry(10_500);
    expect(b.tryRetry(10_500)).toBe(true);
  });

  it('at its defaults keeps each agent within budgetPercent plus one retry per window, at any rate (the old 10/s floor did not)', () => {
    // Outages at 0.5, 2, 20 and 200 requests/s, every try failing and wanting 3 retries.
    for (const rps of [0.5, 2, 20, 200]) {
      const b = new RetryBudget(20);
      const random = seededRandom(rps * 100);
      let now = 0;
      for (let i = 0; i < 2000; i++) {
        now += (1000 / rps) * (0.5 + random());
        b.firstTry(now);
        for (let r = 0; r < 3 && b.tryRetry(now); r++) {
          const c = b.counts(now);
          expect({ rps, ok: c.retries * 100 <= c.firstTries * 20 + 100 }).toEqual({ rps, ok: true });
        }
      }
    }
  });

  it('a fleet of agents in an outage adds at most budgetPercent plus one retry per agent per window', () => {
    const agents = Array.from({ length: 50 }, () => new RetryBudget(20));
    let first = 0;
    let retries = 0;
    // 2 requests/s per agent for 60 s (six windows), all failing.
    for (let t = 0; t < 60_000; t += 500) {
      for (const b of agents) {
        b.firstTry(t);
        first++;
        while (b.tryRetry(t)) retries++;
      }
    }
    expect(retries).toBeLessThanOrEqual(first * 0.2 + agents.length * 6);
    // The floor is a floor, not a multiple: a 10/s floor would have allowed every request 3 retries.
    expect(retries).toBeLessThan(first * 0.3);
  });

  it('0 % disables retries, floor included; configure changes the share and keeps the counts', () => {
    const off = new RetryBudget(0);
    for (let i = 0; i < 100; i++) off.firstTry(0);
    expect(off.tryRetry(0)).toBe(false);
    off.configure(50);
    expect(off.percent).toBe(50);
    expect(off.tryRetry(0)).toBe(true);
  });
});
