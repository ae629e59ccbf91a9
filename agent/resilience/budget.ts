/**
 * The retry budget of one upstream service (Finagle's RetryBudget, Linkerd's retry budget):
 * retries may add at most `budgetPercent` % on top of the first tries sent over the last
 * `windowMs` (default 10 s), plus a floor of ONE retry per window, so a quiet service can still
 * retry a sporadic failure. The floor is fleet-aware: across N agents calling a service that is
 * down, the floors add at most N retries per window — never a multiple of the traffic (a
 * per-agent floor of 10 retries/s, as Finagle and Linkerd have, adds up to 10 × N per second).
 * `budgetPercent: 0` disables the retries it governs, floor included.
 *
 * What it governs is the resilience loop's to say (docs/resilience.md#retry-budget): retries
 * that send a request again to a lane that already received it. A retry after a connect failure
 * (the request reached no one) and the one try a lane request makes on its fallback lane add no
 * second copy to any lane, so they do not draw on it.
 */
import { RollingWindow } from './window.ts';

/** Default length of the budget window, in ms. */
export const BUDGET_WINDOW_MS = 10_000;
/** Retries allowed per window whatever the ratio (per agent and service). */
export const MIN_RETRIES_PER_WINDOW = 1;

const FIRST = 0;
const RETRY = 1;

/** Budget options; every field has a default. */
export interface BudgetOptions {
  /** Window over which first tries and retries are counted, ms (default 10000). */
  windowMs?: number;
  /** Retries allowed per window whatever the ratio (default 1). */
  minRetries?: number;
}

/** The retry budget of one service. */
export class RetryBudget {
  #percent: number;
  readonly #floor: number;
  readonly #window: RollingWindow;

  /** @param budgetPercent the Service's `retry.budgetPercent`. */
  constructor(budgetPercent: number, options: BudgetOptions = {}) {
    this.#percent = budgetPercent;
    this.#floor = options.minRetries ?? MIN_RETRIES_PER_WINDOW;
    this.#window = new RollingWindow(2, options.windowMs ?? BUDGET_WINDOW_MS);
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
    if ((w.total(now, RETRY) + 1) * 100 > w.total(now, FIRST) * this.#percent + this.#floor * 100) return false;
    w.add(now, RETRY);
    return true;
  }

  /** First tries and retries in the window at `now`. */
  counts(now: number): { firstTries: number; retries: number } {
    return { firstTries: this.#window.total(now, FIRST), retries: this.#window.total(now, RETRY) };
  }
}
