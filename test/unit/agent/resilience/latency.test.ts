import { describe, expect, it } from 'vitest';
import { derivedTimeoutMs, FALLBACK_SLACK, LatencyProfile, MIN_SAMPLES, TIMEOUT_FLOOR_MS } from '../../../../agent/resilience/latency.ts';

/** A profile that answered `n` times in `ms` at `now`. */
function profile(ms: number, n = 100, now = 1000): LatencyProfile {
  return mixed([[ms, n]], now);
}

/** A profile that answered, at `now`, n times in ms for each [ms, n]. */
function mixed(answers: readonly [ms: number, n: number][], now = 1000): LatencyProfile {
  const l = new LatencyProfile();
  for (const [ms, n] of answers) for (let i = 0; i < n; i++) l.record(now, ms);
  return l;
}

describe('LatencyProfile', () => {
  it('is cold below MIN_SAMPLES answers: the derived timeout is the service deadline', () => {
    const l = new LatencyProfile();
    for (let i = 0; i < MIN_SAMPLES - 1; i++) l.record(1000, 5);
    expect(l.latencyMs(1000)).toBeUndefined();
    expect(l.learnedMs).toBeUndefined();
    expect(derivedTimeoutMs(l, undefined, 1000, 15_000)).toBe(15_000);
    // Warm with the next answer, without waiting for a refresh.
    l.record(1001, 5);
    expect(l.latencyMs(1001)).toBeGreaterThanOrEqual(5);
  });

  it('latency = p95 within one bucket (~19 %) of the true value, unmoved by a few spikes; timeout 2× it, clamped', () => {
    // 1,000 answers: 970 at 100 ms, 30 spikes at 900 ms → p95 is 100 ms.
    const l = mixed([
      [100, 970],
      [900, 30],
    ]);
    const p = l.latencyMs(1000)!;
    expect(p).toBeGreaterThanOrEqual(100);
    expect(p).toBeLessThan(120);
    expect(derivedTimeoutMs(l, undefined, 2000, 15_000)).toBe(Math.max(TIMEOUT_FLOOR_MS, Math.round(p * 2)));
    const slower = profile(400);
    expect(derivedTimeoutMs(slower, undefined, 1000, 15_000)).toBe(Math.round(slower.latencyMs(1000)! * 2));
    expect(derivedTimeoutMs(profile(10), undefined, 1000, 15_000)).toBe(TIMEOUT_FLOOR_MS); // 2 × ~10 ms is under the floor
    const slow = profile(4000);
    expect(derivedTimeoutMs(slow, undefined, 1000, 15_000)).toBeGreaterThanOrEqual(8_000);
    expect(derivedTimeoutMs(slow, undefined, 1000, 3000)).toBe(3000);
  });

  it('counts the p95 at most 2 × the p75: a tail of busy-node spikes does not stretch the threshold', () => {
    // 85 % at 100 ms, 15 % stretched to 900 ms: the p95 is 900, the p75 100.
    const p = mixed([
      [100, 850],
      [900, 150],
    ]).latencyMs(1000)!;
    expect(p).toBeGreaterThanOrEqual(200);
    expect(p).toBeLessThan(240);
    // A tail that is the lane's bulk (30 % at 900 ms) is its latency.
    const heavy = mixed([
      [100, 700],
      [900, 300],
    ]);
    expect(heavy.latencyMs(1000)).toBeGreaterThanOrEqual(900);
  });

  it('forgets what is older than the window (two halves), and a later burst dominates; the learned latency stays', () => {
    const l = new LatencyProfile(10_000);
    for (let i = 0; i < 100; i++) l.record(0, 2000);
    expect(l.samples(4_000)).toBe(100);
    expect(l.samples(6_000)).toBe(100); // in the previous half
    const learned = l.latencyMs(6_000)!;
    expect(learned).toBeGreaterThanOrEqual(2000);
    expect(l.samples(10_500)).toBe(0);
    expect(l.latencyMs(10_500)).toBeUndefined();
    expect(l.learnedMs).toBe(learned);
    for (let i = 0; i < 100; i++) l.record(11_000, 10);
    expect(l.latencyMs(11_000)).toBeLessThan(15);
    expect(l.learnedMs).toBeLessThan(15);
  });
});

describe('derivedTimeoutMs of a lane that can fall back', () => {
  const now = 1000;

  it('a lane much slower than its fallback lane is judged at FALLBACK_SLACK × the fallback lane, whatever it learned', () => {
    const stable = profile(100);
    const ref = stable.latencyMs(now)!;
    // A canary slow (1 s) since its first answer has learned 1 s as its own latency.
    const canary = profile(1000);
    expect(derivedTimeoutMs(canary, undefined, now, 15_000)).toBeGreaterThanOrEqual(2000);
    expect(derivedTimeoutMs(canary, stable, now, 15_000)).toBe(Math.round(2 * FALLBACK_SLACK * ref));
    // One somewhat slower than stable keeps its own.
    const close = profile(150);
    expect(derivedTimeoutMs(close, stable, now, 15_000)).toBe(Math.round(2 * close.latencyMs(now)!));
  });

  it('a slowdown of both lanes (machine load, a shared dependency) moves the threshold with the fallback lane', () => {
    // The canary learned 100 ms before the slowdown; stable now answers in 600 ms.
    const canary = profile(100);
    const stable = profile(600);
    expect(derivedTimeoutMs(canary, stable, now, 15_000)).toBe(Math.round(2 * stable.latencyMs(now)!));
  });

  it('a lane with no latency yet is judged by its fallback lane from its first answer; with neither known, the deadline', () => {
    const stable = profile(100);
    const cold = new LatencyProfile();
    expect(derivedTimeoutMs(cold, stable, now, 15_000)).toBe(TIMEOUT_FLOOR_MS);
    expect(derivedTimeoutMs(cold, new LatencyProfile(), now, 15_000)).toBe(15_000);
    // A fallback lane with too few answers is not used: the lane's own latency is.
    const fewStable = profile(5000, MIN_SAMPLES - 1);
    const canary = profile(400);
    expect(derivedTimeoutMs(canary, fewStable, now, 15_000)).toBe(Math.round(2 * canary.latencyMs(now)!));
  });

  it('keeps the latency it learned once its window empties (a slowdown that outlives the window is still slow)', () => {
    const canary = new LatencyProfile(10_000);
    for (let i = 0; i < 100; i++) canary.record(0, 100);
    const learned = derivedTimeoutMs(canary, new LatencyProfile(), 0, 15_000);
    expect(learned).toBe(TIMEOUT_FLOOR_MS);
    // 20 s later nothing taught it (its answers were all slow): still judged by what it learned…
    expect(derivedTimeoutMs(canary, new LatencyProfile(), 20_000, 15_000)).toBe(learned);
    // …while a lane with nothing to fall back to is cold again: the deadline.
    expect(derivedTimeoutMs(canary, undefined, 20_000, 15_000)).toBe(15_000);
  });
});
