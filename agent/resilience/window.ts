/**
 * A rolling window of counters, bucketed in time (Hystrix/opossum style): `windowMs` is split
 * into `buckets` slices; a count lands in the slice of its time and leaves the window when that
 * slice is recycled. Running totals are kept, so adding and reading are O(1) amortised and
 * allocate nothing. Time is handed in by the caller (epoch ms), so tests drive it directly.
 */

/** Default number of buckets a window is split into. */
export const DEFAULT_BUCKETS = 10;

/** Fixed-width counters over a sliding time window. */
export class RollingWindow {
  readonly windowMs: number;
  readonly buckets: number;
  readonly #fields: number;
  readonly #bucketMs: number;
  /** buckets × fields counts, slot-major. */
  readonly #counts: Float64Array;
  readonly #totals: Float64Array;
  /** Bucket number (floor(now / bucketMs)) of the newest slot; -1 before the first add. */
  #head = -1;

  /**
   * @param fields number of counters (indices 0..fields-1).
   * @param windowMs window length in ms.
   * @param buckets slices of the window (default 10); the window moves in steps of windowMs / buckets.
   */
  constructor(fields: number, windowMs: number, buckets: number = DEFAULT_BUCKETS) {
    if (!(windowMs > 0) || !(buckets >= 1) || !(fields >= 1)) throw new RangeError('RollingWindow needs fields ≥ 1, windowMs > 0, buckets ≥ 1');
    this.windowMs = windowMs;
    this.buckets = buckets;
    this.#fields = fields;
    this.#bucketMs = windowMs / buckets;
    this.#counts = new Float64Array(buckets * fields);
    this.#totals = new Float64Array(fields);
  }

  /** Moves the window to `now`, dropping the slices that fell out of it. */
  #advance(now: number): number {
    const b = Math.floor(now / this.#bucketMs);
    const head = this.#head;
    if (head >= 0 && b <= head) return head; // same slice, or a clock step back: count in the newest slice
    const n = this.buckets;
    const f = this.#fields;
    const steps = head < 0 ? n : Math.min(b - head, n);
    for (let s = 1; s <= steps; s++) {
      const base = ((((b - steps + s) % n) + n) % n) * f;
      for (let i = 0; i < f; i++) {
        this.#totals[i] -= this.#counts[base + i];
        this.#counts[base + i] = 0;
      }
    }
    this.#head = b;
    return b;
  }

  /** Adds `amount` (default 1) to counter `field` at time `now`. */
  add(now: number, field: number, amount: number = 1): void {
    const b = this.#advance(now);
    this.#counts[(b % this.buckets) * this.#fields + field] += amount;
    this.#totals[field] += amount;
  }

  /** Counter `field` summed over the window ending at `now`. */
  total(now: number, field: number): number {
    this.#advance(now);
    return this.#totals[field];
  }

  /** Empties the window. */
  clear(): void {
    this.#counts.fill(0);
    this.#totals.fill(0);
  }
}
