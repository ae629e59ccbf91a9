/**
 * The observed latency of one (service, lane) — time to the answer head of its successful tries
 * over the last ~30 s — and the timing dyeline derives from it when the Service sets none
 * (docs/resilience.md#defaults): the per-try timeout of a request that can move on to a fallback
 * lane, and the breaker's slow-call threshold, are 2 × the lane's latency, within [250 ms, the
 * service's timeoutMs]. The lane's latency is its p95, counted at most 2 × its p75: latency
 * spikes of a busy node (which stretch the tail, not the bulk) do not stretch the threshold. A
 * lane that can fall back is judged against the lane it falls back to once that one is known
 * (`derivedTimeoutMs`). A log-bucketed histogram (ratio 2^¼, 0.5 ms to ~9 min) in two halves of
 * the window: recording is O(1) and allocation-free, the percentiles are recomputed at most
 * every 250 ms.
 */

/** Answers needed before a lane's own latency is trusted. */
export const MIN_SAMPLES = 8;
/** Derived per-try timeout and slow-call threshold: the latency × this, within [TIMEOUT_FLOOR_MS, timeoutMs]. */
export const TIMEOUT_FACTOR = 2;
export const TIMEOUT_FLOOR_MS = 250;
/** The lane's latency is its p95, at most this × its p75. */
export const TAIL_OVER_P75 = 2;
/** A lane that can fall back is judged as no slower than this × its fallback lane's latency. */
export const FALLBACK_SLACK = 2;
/**
 * While a lane that can fall back and its fallback lane are both cold, an idempotent try still
 * unanswered after this long is hedged: sent to the fallback lane as well, the first answer wins
 * (docs/resilience.md#hedging-while-cold).
 */
export const HEDGE_AFTER_MS = 800;
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
  #current = 0;
  #previous = 0;
  /** Number of the half-window (floor(now / halfMs)) the current half belongs to. */
  #epoch = -1;
  #value: number | undefined = undefined;
  #computedAt = -Infinity;
  #learned: number | undefined = undefined;

  constructor(windowMs: number = LATENCY_WINDOW_MS) {
    this.#halfMs = windowMs / 2;
  }

  #rotate(now: number): void {
    const e = Math.floor(now / this.#halfMs);
    if (e === this.#epoch) return;
    const c = this.#counts;
    if (e === this.#epoch + 1) {
      c.copyWithin(BUCKETS, 0, BUCKETS);
      this.#previous = this.#current;
    } else {
      c.fill(0, BUCKETS);
      this.#previous = 0;
    }
    c.fill(0, 0, BUCKETS);
    this.#current = 0;
    this.#epoch = e;
    this.#computedAt = -Infinity;
  }

  /** A successful try answered in `ms` at `now` (epoch ms). */
  record(now: number, ms: number): void {
    this.#rotate(now);
    this.#counts[bucketOf(ms)]++;
    this.#current++;
  }

  /** Answers in the window at `now`. */
  samples(now: number): number {
    this.#rotate(now);
    return this.#current + this.#previous;
  }

  /**
   * The lane's latency at `now`, ms: the p95 of the window (a bucket's upper bound), at most
   * TAIL_OVER_P75 × its p75; undefined with fewer than MIN_SAMPLES answers in the window.
   */
  latencyMs(now: number): number | undefined {
    this.#rotate(now);
    if (now - this.#computedAt < REFRESH_MS) return this.#value;
    const total = this.#current + this.#previous;
    if (total < MIN_SAMPLES) return (this.#value = undefined); // not cached: the next answer may be the one that warms it
    this.#computedAt = now;
    const c = this.#counts;
    const over95 = total * 0.05;
    const over75 = total * 0.25;
    let above = 0;
    let p95 = 0;
    let i = BUCKETS - 1;
    for (; i > 0; i--) {
      above += c[i]! + c[BUCKETS + i]!;
      if (p95 === 0 && above > over95) p95 = upperOf(i);
      if (above > over75) break;
    }
    const p75 = upperOf(i);
    if (p95 === 0) p95 = p75;
    const v = Math.min(p95, TAIL_OVER_P75 * p75);
    this.#learned = v;
    return (this.#value = v);
  }

  /** The latency last computed from a window with enough answers (kept when the window empties). */
  get learnedMs(): number | undefined {
    return this.#learned;
  }
}

/** The latency of a lane that has had no try yet (no breaker): never recorded into. */
export const NO_LATENCY: LatencyProfile = new LatencyProfile();

/**
 * True when a try on a lane that can fall back has nothing to derive its timings from: neither
 * the lane (now or before) nor its fallback lane is known — `derivedTimeoutMs` gives the service
 * `timeoutMs` — so the try is hedged instead (docs/resilience.md#hedging-while-cold).
 */
export function isCold(own: LatencyProfile, fallback: LatencyProfile, now: number): boolean {
  return own.learnedMs === undefined && own.latencyMs(now) === undefined && fallback.latencyMs(now) === undefined;
}

/**
 * The per-try timeout of a request that can move on to a fallback lane, and the slow-call
 * threshold, when the Service sets none: 2 × a latency, within [250 ms, `timeoutMs`]
 * (docs/resilience.md#defaults).
 *
 * - A lane with nothing to fall back to (`fallback` undefined) is judged against its own latency
 *   (`timeoutMs` while it has fewer than MIN_SAMPLES answers): what it does is what the service does.
 * - A lane that can fall back is judged against its own latency — the last learned one when its
 *   window has emptied — kept within [1, FALLBACK_SLACK] × the fallback lane's once that one has
 *   MIN_SAMPLES answers: a lane much slower than the one it falls back to is slow whatever the
 *   machine load (load slows both), and a slowdown of both (load, a shared dependency) moves the
 *   threshold with them. With neither known, `timeoutMs`.
 *
 * @param own the profile of the lane of the try.
 * @param fallback the profile of the lane a timed-out try would move on to (NO_LATENCY when that
 *   lane has had no try yet); undefined when there is no such lane.
 */
export function derivedTimeoutMs(own: LatencyProfile, fallback: LatencyProfile | undefined, now: number, timeoutMs: number): number {
  let ms: number | undefined;
  if (fallback === undefined) ms = own.latencyMs(now);
  else {
    const mine = own.latencyMs(now) ?? own.learnedMs;
    const ref = fallback.latencyMs(now);
    if (ref === undefined) ms = mine;
    else if (mine === undefined) ms = ref;
    else ms = Math.min(Math.max(mine, ref), FALLBACK_SLACK * ref);
  }
  if (ms === undefined) return timeoutMs;
  return Math.min(timeoutMs, Math.max(TIMEOUT_FLOOR_MS, Math.round(ms * TIMEOUT_FACTOR)));
}
