/**
 * Capped exponential backoff with jitter, for sources that retry forever until stopped.
 */

/** Backoff settings. */
export interface BackoffOptions {
  /** Delay before the first retry, ms. Default 100. */
  initialMs?: number;
  /** Largest delay, ms. Default 5,000. */
  maxMs?: number;
  /** Random source in [0, 1), for tests. Default Math.random. */
  random?: () => number;
}

/**
 * Delay before retry number `attempt` (0-based): `initialMs · 2^attempt`, capped at `maxMs`,
 * then jittered down by up to half so many clients do not retry in step.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const initial = opts.initialMs ?? 100;
  const max = opts.maxMs ?? 5_000;
  const base = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  const random = opts.random ?? Math.random;
  return Math.round(base * (0.5 + random() / 2));
}
