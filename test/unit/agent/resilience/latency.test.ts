import { describe, expect, it } from 'vitest';
import { HEDGE_CEILING_MS, HEDGE_FLOOR_MS, LatencyProfile, MIN_SAMPLES, TIMEOUT_FLOOR_MS } from '../../../../agent/resilience/latency.ts';

describe('LatencyProfile', () => {
  it('is cold below MIN_SAMPLES answers: hedge at the ceiling, timeouts at the service deadline', () => {
    const l = new LatencyProfile();
    for (let i = 0; i < MIN_SAMPLES - 1; i++) l.record(1000, 5);
    expect(l.p99(1000)).toBeUndefined();
    expect(l.hedgeDelayMs(1000)).toBe(HEDGE_CEILING_MS);
    expect(l.derivedTimeoutMs(1000, 15_000)).toBe(15_000);
  });

  it('p99 within one bucket (~19 %) of the true value; hedge 2× and timeout 5× it, clamped', () => {
    const l = new LatencyProfile();
    // 1,000 answers: 990 at 100 ms, 10 at 400 ms → p99 is 100 ms.
    for (let i = 0; i < 990; i++) l.record(1000, 100);
    for (let i = 0; i < 10; i++) l.record(1000, 400);
    const p = l.p99(1000)!;
    expect(p).toBeGreaterThanOrEqual(100);
    expect(p).toBeLessThan(120);
    expect(l.hedgeDelayMs(1000)).toBe(Math.round(p * 2));
    expect(l.derivedTimeoutMs(2000, 15_000)).toBe(TIMEOUT_FLOOR_MS); // 5 × ~110 ms is under the 1 s floor
    const fast = new LatencyProfile();
    for (let i = 0; i < 100; i++) fast.record(1000, 1);
    expect(fast.hedgeDelayMs(1000)).toBe(HEDGE_FLOOR_MS);
    const slow = new LatencyProfile();
    for (let i = 0; i < 100; i++) slow.record(1000, 2000);
    expect(slow.hedgeDelayMs(1000)).toBe(HEDGE_CEILING_MS);
    expect(slow.derivedTimeoutMs(1000, 15_000)).toBeGreaterThanOrEqual(10_000);
    expect(slow.derivedTimeoutMs(1000, 3000)).toBe(3000);
  });

  it('forgets what is older than the window (two halves), and a later burst dominates', () => {
    const l = new LatencyProfile(10_000);
    for (let i = 0; i < 100; i++) l.record(0, 2000);
    expect(l.samples(4_000)).toBe(100);
    expect(l.samples(6_000)).toBe(100); // in the previous half
    expect(l.samples(10_500)).toBe(0);
    for (let i = 0; i < 100; i++) l.record(11_000, 10);
    expect(l.p99(11_000)).toBeLessThan(15);
  });
});
