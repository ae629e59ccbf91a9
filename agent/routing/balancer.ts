/**
 * Picking one endpoint of a subset: power-of-two-choices on in-flight requests, weighted.
 *
 * Two distinct candidates are sampled in proportion to their weights; the one with the lower
 * load per weight (`inflight / weight`) wins, the first sample on a tie — so an idle subset
 * is spread by weight, and a busy one steers away from slow or overloaded instances, which is
 * what beats round-robin under uneven latency (Mitzenmacher; Envoy's and Finagle's
 * least-request balancers). Ejected endpoints (`state.ejectedUntil > now`) and endpoints in
 * `exclude` (keys already tried by this request) are skipped. The common case allocates
 * nothing. The caller owns the load signal: increment `ep.state.inflight` when a request is
 * sent to the endpoint and decrement it when the response ends (or fails).
 */
import type { Endpoint, Subset } from './types.ts';

/** Picks endpoints from subsets. */
export interface Balancer {
  /** An endpoint of `subset` to send to, or undefined when none is usable. */
  pick(subset: Subset, exclude?: ReadonlySet<string>, now?: number): Endpoint | undefined;
}

/** True when the endpoint is not ejected at `now` (routable membership is decided at compile time). */
export function isAvailable(ep: Endpoint, now: number): boolean {
  return ep.state.ejectedUntil <= now;
}

/** True when the subset has at least one endpoint that is not ejected at `now`. */
export function hasAvailable(subset: Subset, now: number): boolean {
  const eps = subset.endpoints;
  for (let i = 0; i < eps.length; i++) if (eps[i].state.ejectedUntil <= now) return true;
  return false;
}

function usable(ep: Endpoint, now: number, exclude: ReadonlySet<string> | undefined): boolean {
  return ep.state.ejectedUntil <= now && (exclude === undefined || !exclude.has(ep.key));
}

/** True when `a` carries less load per weight than `b` (ties go to `a`). */
function lighter(a: Endpoint, b: Endpoint): boolean {
  return a.state.inflight * b.weight <= b.state.inflight * a.weight;
}

/** Index of a weighted sample: `r` in [0, 1). */
function sample(subset: Subset, r: number): number {
  const n = subset.endpoints.length;
  const cum = subset.cumulativeWeights;
  if (cum === undefined) return Math.min(n - 1, Math.floor(r * n));
  const target = r * subset.totalWeight;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid] > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Power-of-two-choices on in-flight requests per weight. `random` is injectable for tests. */
export class P2CBalancer implements Balancer {
  readonly #random: () => number;

  /** @param random numbers in [0, 1); default Math.random. */
  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  pick(subset: Subset, exclude?: ReadonlySet<string>, now: number = Date.now()): Endpoint | undefined {
    const eps = subset.endpoints;
    const n = eps.length;
    if (n === 0) return undefined;
    if (n === 1) return usable(eps[0], now, exclude) ? eps[0] : undefined;
    const i = sample(subset, this.#random());
    let j = sample(subset, this.#random());
    // A weighted second draw may repeat the first; then take another one uniformly.
    if (j === i) j = (i + 1 + Math.floor(this.#random() * (n - 1))) % n;
    const a = eps[i];
    const b = eps[j];
    const ua = usable(a, now, exclude);
    const ub = usable(b, now, exclude);
    if (ua && ub) return lighter(a, b) ? a : b;
    if (ua) return a;
    if (ub) return b;
    return this.#scan(eps, now, exclude);
  }

  /** Both samples unusable: the lightest usable endpoint, scanning from a random start. */
  #scan(eps: readonly Endpoint[], now: number, exclude: ReadonlySet<string> | undefined): Endpoint | undefined {
    const n = eps.length;
    const start = Math.floor(this.#random() * n) % n;
    let best: Endpoint | undefined;
    for (let k = 0; k < n; k++) {
      const ep = eps[(start + k) % n];
      if (usable(ep, now, exclude) && (best === undefined || !lighter(best, ep))) best = ep;
    }
    return best;
  }
}
