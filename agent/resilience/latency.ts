/**
 * The observed latency of one (service, lane) — time to the answer head of its successful tries
 * over the last ~30 s — and the timing dyeline derives from it when the Service sets none
 * (docs/resilience.md#defaults): the per-try timeout of a request that can move on to a fallback
 * lane, and the breaker's slow-call threshold, are 2 × the p95 latency, within [250 ms, the
 * service's timeoutMs] (timeoutMs until the lane has answered 8 times). The p95 rather than the
 * p99: a few latency spikes of a busy node do not move it. A log-bucketed histogram (ratio 2^¼,
 * 0.5 ms to ~9 min) in two halves of the window: recording is O(1) and allocation-free, and the
 * percentile is recomputed at most every 250 ms.
 */

/** Answers needed before the lane's own latency is trusted. */
export const MIN_SAMPLES = 8;
/** The percentile the derived timing starts from. */
export const PERCENTILE = 0.95;
/** Derived per-try timeout and slow-call threshold: the percentile × this, within [TIMEOUT_FLOOR_MS, timeoutMs]. */
export const TIMEOUT_FACTOR = 2;
export const TIMEOUT_FLOOR_MS = 250;
/** Length of the window the latency is observed over, ms. */
export const LATENCY_WINDOW_MS = 30_000;

const BUCKETS = 80;
const STEPS_PER_DOUBLING = 4;
const LOWEST_MS = 0.5;
const REFRESH_MS = 250;

function bucketOf(ms: number): number {
  if (!(ms > LOWEST_MS)) return 0;
  const i = Math.ceil(Math.log2(ms / LOWEST_MS) * STEPS_PER_DOUBLING);
  return i >= BUCKETS ? BUCKETS - 1 : i;
}

/** Upper bound of bucket `i`, ms. */
function upperOf(i: number): number {
  return LOWEST_MS * 2 ** (i / STEPS_PER_DOUBLING);
}

/** Latency of one (service, lane). */
export class LatencyProfile {
  readonly #halfMs: number;
  /** Two halves of the window: [current, previous], BUCKETS counts each. */
  readonly #counts = new Float64Array(2 * BUCKETS);
  #totals = [0, 0];
  /** Number of the half-window (floor(now / halfMs)) the current half belongs to. */
  #epoch = -1;
  #value: number | undefined = undefined;
  #computedAt = -Infinity;

  constructor(windowMs: number = LATENCY_WINDOW_MS) {
    this.#halfMs = windowMs / 2;
  }

  #rotate(now: number): void {
    const e = Math.floor(now / this.#halfMs);
    if (e === this.#epoch) return;
    const c = this.#counts;
    if (e === this.#epoch + 1) {
      c.copyWithin(BUCKETS, 0, BUCKETS);
      this.#totals = [0, this.#totals[0]!];
    } else {
      c.fill(0, BUCKETS);
      this.#totals = [0, 0];
    }
    c.fill(0, 0, BUCKETS);
    this.#epoch = e;
    this.#computedAt = -Infinity;
  }

  /** A successful try answered in `ms` at `now` (epoch ms). */
  record(now: number, ms: number): void {
    this.#rotate(now);
    this.#counts[bucketOf(ms)]++;
    this.#totals[0]!++;
  }

  /** Answers in the window at `now`. */
  samples(now: number): number {
    this.#rotate(now);
    return this.#totals[0]! + this.#totals[1]!;
  }

  /** The PERCENTILE latency at `now` (bucket upper bound, ms), or undefined with fewer than MIN_SAMPLES answers. */
  percentile(now: number): number | undefined {
    this.#rotate(now);
    if (now - this.#computedAt < REFRESH_MS) return this.#value;
    const total = this.#totals[0]! + this.#totals[1]!;
    if (total < MIN_SAMPLES) return undefined; // not cached: the next answer may be the one that warms it
    this.#computedAt = now;
    const c = this.#counts;
    let above = 0;
    const allowed = total * (1 - PERCENTILE);
    for (let i = BUCKETS - 1; i >= 0; i--) {
      above += c[i]! + c[BUCKETS + i]!;
      if (above > allowed) return (this.#value = upperOf(i));
    }
    return (this.#value = upperOf(0));
  }

  /**
   * The per-try timeout of a request that can move on to a fallback lane, and the slow-call
   * threshold, when the Service sets none: 2 × p95 within [250 ms, `timeoutMs`]; `timeoutMs`
   * while the lane is cold.
   */
  derivedTimeoutMs(now: number, timeoutMs: number): number {
    const p = this.percentile(now);
    if (p === undefined) return timeoutMs;
    return Math.min(timeoutMs, Math.max(TIMEOUT_FLOOR_MS, Math.round(p * TIMEOUT_FACTOR)));
  }
}
