import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ADMITTED, Breaker, type BreakerSettings, HALF_OPEN_PROBES, REJECTED, type Transition } from '../../../../agent/resilience/breaker.ts';
import { CircuitBreakerSpec } from '../../../../shared/schema/documents.ts';

const settings = (over: Partial<BreakerSettings> = {}): BreakerSettings => CircuitBreakerSpec.parse({ volumeThreshold: 10, windowMs: 1000, resetTimeoutMs: 500, slowCallMs: 100, slowCallPercentage: 50, ...over });

/** A breaker whose transitions are recorded. */
function breaker(over: Partial<BreakerSettings> = {}): { b: Breaker; seen: Transition[] } {
  const seen: Transition[] = [];
  const b = new Breaker('orders', 'canary', settings(over), (t) => seen.push(t));
  return { b, seen };
}

/** One admitted call ending at `now`, slow when it took over the breaker's slow-call threshold. */
function call(b: Breaker, now: number, failed: boolean, ms = 5): void {
  const t = b.admit();
  expect(t).toBe(ADMITTED);
  b.record(t, now, failed, ms > b.settings.slowCallMs!);
}

describe('Breaker', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('does not open below the minimum volume, however many fail', () => {
    const { b } = breaker();
    for (let i = 0; i < 9; i++) call(b, Date.now(), true);
    expect(b.state).toBe('closed');
    expect(b.isOpen()).toBe(false);
    call(b, Date.now(), true);
    expect(b.state).toBe('open');
  });

  it('opens when the error percentage over the window reaches the threshold', () => {
    const { b, seen } = breaker({ errorThresholdPercentage: 50 });
    const now = Date.now();
    for (let i = 0; i < 10; i++) call(b, now, false);
    for (let i = 0; i < 9; i++) call(b, now, true);
    expect(b.state).toBe('closed'); // 9/19 < 50 %
    call(b, now, true); // 10/20 = 50 %
    expect(b.state).toBe('open');
    expect(b.isOpen()).toBe(true);
    expect(b.admit()).toBe(REJECTED);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ from: 'closed', to: 'open', cause: 'error-rate', calls: 20, failures: 10 });
  });

  it('forgets failures that slid out of the window', () => {
    const { b } = breaker({ errorThresholdPercentage: 50 });
    const t0 = Date.now();
    for (let i = 0; i < 9; i++) call(b, t0, true);
    // Over a second later those nine are gone: ten successes and one failure do not open it.
    for (let i = 0; i < 10; i++) call(b, t0 + 1500, false);
    call(b, t0 + 1500, true);
    expect(b.state).toBe('closed');
    expect(b.counts(t0 + 1500)).toEqual({ calls: 11, failures: 1, slow: 0 });
  });

  it('opens on slow calls even when every call succeeds', () => {
    const { b, seen } = breaker({ slowCallMs: 100, slowCallPercentage: 50 });
    const now = Date.now();
    for (let i = 0; i < 5; i++) call(b, now, false, 10);
    for (let i = 0; i < 4; i++) call(b, now, false, 150);
    expect(b.state).toBe('closed');
    call(b, now, false, 100); // exactly slowCallMs is not slower than it
    expect(b.state).toBe('closed');
    call(b, now, false, 101); // 5 slow of 11 < 50 %
    expect(b.state).toBe('closed');
    call(b, now, false, 500); // 6 of 12 = 50 %
    expect(b.state).toBe('open');
    expect(seen[0]).toMatchObject({ cause: 'slow-calls', calls: 12, failures: 0, slow: 6 });
  });

  it('goes half-open after resetTimeoutMs and closes after every probe succeeds', () => {
    const { b, seen } = breaker();
    for (let i = 0; i < 10; i++) call(b, Date.now(), true);
    expect(b.state).toBe('open');
    vi.advanceTimersByTime(499);
    expect(b.state).toBe('open');
    vi.advanceTimersByTime(1);
    expect(b.state).toBe('half-open');
    expect(b.isOpen()).toBe(false);
    const probes: number[] = [];
    for (let i = 0; i < HALF_OPEN_PROBES; i++) {
      const t = b.admit();
      expect(t).toBeGreaterThan(ADMITTED);
      probes.push(t);
    }
    // Every probe handed out: no more traffic until they answer.
    expect(b.isOpen()).toBe(true);
    expect(b.admit()).toBe(REJECTED);
    for (const t of probes) b.record(t, Date.now(), false, false);
    expect(b.state).toBe('closed');
    expect(seen.map((t) => `${t.from}>${t.to}:${t.cause}`)).toEqual(['closed>open:error-rate', 'open>half-open:reset-timeout', 'half-open>closed:probes-succeeded']);
    // Closed with an empty window: one failure does not reopen it.
    expect(b.counts(Date.now()).calls).toBe(0);
    call(b, Date.now(), true);
    expect(b.state).toBe('closed');
  });

  it('opens again when a probe fails or is slow, and re-arms the reset timer', () => {
    const { b, seen } = breaker();
    for (let i = 0; i < 10; i++) call(b, Date.now(), true);
    vi.advanceTimersByTime(500);
    const p1 = b.admit();
    const p2 = b.admit();
    b.record(p1, Date.now(), false, false);
    b.record(p2, Date.now(), false, true); // slow probe
    expect(b.state).toBe('open');
    vi.advanceTimersByTime(500);
    expect(b.state).toBe('half-open');
    const p3 = b.admit();
    b.record(p3, Date.now(), true, false);
    expect(b.state).toBe('open');
    expect(seen.filter((t) => t.cause === 'probe-failed')).toHaveLength(2);
    // A late answer of a probe of the earlier half-open phase changes nothing.
    vi.advanceTimersByTime(500);
    b.record(p1, Date.now(), false, false);
    expect(b.state).toBe('half-open');
  });

  it('gives a released probe slot back', () => {
    const { b } = breaker();
    for (let i = 0; i < 10; i++) call(b, Date.now(), true);
    vi.advanceTimersByTime(500);
    const tokens = Array.from({ length: HALF_OPEN_PROBES }, () => b.admit());
    expect(b.isOpen()).toBe(true);
    b.release(tokens[0]);
    expect(b.isOpen()).toBe(false);
    const again = b.admit();
    for (const t of [again, ...tokens.slice(1)]) b.record(t, Date.now(), false, false);
    expect(b.state).toBe('closed');
  });

  it('ignores outcomes of calls admitted before the circuit opened', () => {
    const { b } = breaker();
    const late = b.admit();
    for (let i = 0; i < 10; i++) call(b, Date.now(), true);
    expect(b.state).toBe('open');
    vi.advanceTimersByTime(500);
    expect(b.state).toBe('half-open');
    b.record(late, Date.now(), false, false); // not a probe: cannot close it
    expect(b.state).toBe('half-open');
  });

  it('takes new settings without losing its state, and the new reset timeout applies', () => {
    const { b } = breaker({ resetTimeoutMs: 500 });
    b.configure(settings({ resetTimeoutMs: 2000, volumeThreshold: 3 }));
    expect(b.settings.volumeThreshold).toBe(3);
    for (let i = 0; i < 3; i++) call(b, Date.now(), true);
    expect(b.state).toBe('open');
    vi.advanceTimersByTime(1999);
    expect(b.state).toBe('open');
    vi.advanceTimersByTime(1);
    expect(b.state).toBe('half-open');
    // Same values in a new object: nothing changes.
    b.configure(settings({ resetTimeoutMs: 2000, volumeThreshold: 3 }));
    expect(b.state).toBe('half-open');
  });

  it('after shutdown ignores outcomes and never fires its reset timer', () => {
    const { b, seen } = breaker();
    for (let i = 0; i < 10; i++) call(b, Date.now(), true);
    b.shutdown();
    vi.advanceTimersByTime(10_000);
    expect(seen).toHaveLength(1);
    b.record(ADMITTED, Date.now(), true, false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('starts no timer while closed (no rotation timer per breaker)', () => {
    const before = vi.getTimerCount();
    const { b } = breaker();
    for (let i = 0; i < 100; i++) call(b, Date.now() + i, false);
    expect(vi.getTimerCount()).toBe(before);
    b.shutdown();
  });

  it('survives a throwing listener', () => {
    const b = new Breaker('orders', 'canary', settings(), () => {
      throw new Error('boom');
    });
    for (let i = 0; i < 10; i++) call(b, Date.now(), true);
    expect(b.state).toBe('open');
    b.reset();
    expect(b.state).toBe('closed');
    b.shutdown();
  });
});
