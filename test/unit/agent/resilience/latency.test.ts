import { describe, expect, it } from 'vitest';
import { LatencyProfile, MIN_SAMPLES, TIMEOUT_FLOOR_MS } from '../../../../agent/resilience/latency.ts';

describe('LatencyProfile', () => {
  it('is cold below MIN_SAMPLES answers: the derived timeout is the service deadline', () => {
    const l = new LatencyProfile();
    for (let i = 0; i < MIN_SAMPLES - 1; i++) l.record(1000, 5);
    expect(l.percentile(1000)).toBeUndefined();
    expect(l.derivedTimeoutMs(1000, 15_000)).toBe(15_000);
    // Warm with the next answer, without waiting for a refresh.
    l.record(1001, 5);
    expect(l.percentile(1001)).toBeGreaterThanOrEqual(5);
  });

  it('p95 within one bucket (~19 %) of the true value, unmoved by a few spikes; timeout 2× it, clamped', () => {
    const l = new LatencyProfile();
    // 1,000 answers: 970 at 100 ms, 30 spikes at 900 ms → p95 is 100 ms.
    for (let i = 0; i < 970; i++) l.record(1000, 100);
    for (let i = 0; i < 30; i++) l.record(1000, 900);
    const p = l.percentile(1000)!;
    expect(p).toBeGreaterThanOrEqual(100);
    expect(p).toBeLessThan(120);
    expect(l.derivedTimeoutMs(2000, 15_000)).toBe(Math.max(TIMEOUT_FLOOR_MS, Math.round(p * 2)));
    const slower = new LatencyProfile();
    for (let i = 0; i < 100; i++) slower.record(1000, 400);
    expect(slower.derivedTimeoutMs(1000, 15_000)).toBe(Math.round(slower.percentile(1000)! * 2));
    const quick = new LatencyProfile();
    for (let i = 0; i < 100; i++) quick.record(1000, 10);
    expect(quick.derivedTimeoutMs(1000, 15_000)).toBe(TIMEOUT_FLOOR_MS); // 2 × ~10 ms is under the floor
    const slow = new LatencyProfile();
    for (let i = 0; i < 100; i++) slow.record(1000, 4000);
    expect(slow.derivedTimeoutMs(1000, 15_000)).toBeGreaterThanOrEqual(8_000);
    expect(slow.derivedTimeoutMs(1000, 3000)).toBe(3000);
  });

  it('forgets what is older than the window (two halves), and a later burst dominates', () => {
    const l = new LatencyProfile(10_000);
    for (let i = 0; i < 100; i++) l.record(0, 2000);
    expect(l.samples(4_000)).toBe(100);
    expect(l.samples(6_000)).toBe(100); // in the previous half
    expect(l.samples(10_500)).toBe(0);
    for (let i = 0; i < 100; i++) l.record(11_000, 10);
    expect(l.percentile(11_000)).toBeLessThan(15);
  });
});
