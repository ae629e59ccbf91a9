/**
 * The retry budget of one upstream service (Finagle's RetryBudget, Linkerd's retry budget):
 * retries may add at most `budgetPercent` % on top of the first tries sent over the last
 * `windowMs` (default 10 s), plus a small floor of `minRetriesPerSecond` (default 10 per second,
 * Finagle's and Linkerd's default) so a quiet service can still retry at all. During an outage,
 * when every first try fails, the load on the upstream therefore grows by at most that share
 * instead of multiplying by the number of attempts. `budgetPercent: 0` disables retries
 * (floor included).
 */
import { RollingWindow } from './window.ts';

/** Default length of the budget window, in ms. */
export const BUDGET_WINDOW_MS = 10_000;
/** Default floor of retries allowed whatever the ratio, per second of the window. */
export const MIN_RETRIES_PER_SECOND = 10;

const FIRST = 0;
const RETRY = 1;

/** Budget options; every field has a default. */
export interface BudgetOptions {
  /** Window over which first tries and retries are counted, ms (default 10000). */
  windowMs?: number;
  /** Retries allowed per second whatever the ratio (default 10). */
  minRetriesPerSecond?: number;
}

/** The retry budget of one service. */
export class RetryBudget {
  #percent: number;
  readonly #floor: number;
  readonly #window: RollingWindow;

  /** @param budgetPercent the Service's `retry.budgetPercent`. */
  constructor(budgetPercent: number, options: BudgetOptions = {}) {
    const windowMs = options.windowMs ?? BUDGET_WINDOW_MS;
    this.#percent = budgetPercent;
    this.#floor = ((options.minRetriesPerSecond ?? MIN_RETRIES_PER_SECOND) * windowMs) / 1000;
    this.#window = new RollingWindow(2, windowMs);
  }

  /** The percentage in use. */
  get percent(): number {
    return this.#percent;
  }

  /** Applies a new `budgetPercent` (a snapshot changed the spec); the counts are kept. */
  configure(budgetPercent: number): void {
    this.#percent = budgetPercent;
  }

  /** A first try was sent at `now`. */
  firstTry(now: number): void {
    this.#window.add(now, FIRST);
  }

  /** Takes one retry from the budget at `now`: true when allowed (and counted), false when spent. */
  tryRetry(now: number): boolean {
    if (this.#percent <= 0) return false;
    const w = this.#window;
    const allowed = this.#floor + (w.total(now, FIRST) * this.#percent) / 100;
    if (w.total(now, RETRY) + 1 > allowed) return false;
    w.add(now, RETRY);
    return true;
  }

  /** First tries and retries in the window at `now`. */
  counts(now: number): { firstTries: number; retries: number } {
    return { firstTries: this.#window.total(now, FIRST), retries: this.#window.total(now, RETRY) };
  }
}
