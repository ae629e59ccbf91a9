/**
 * A route plan: for one service and one requested lane, the subsets to try in order, worked
 * out once (requested lane, then its fallback chain, keeping only lanes the service has
 * instances in). At request time the router only checks which of them can serve right now;
 * when the first one can, the plan's precomputed decision is returned as is (no allocation).
 */
import type { FallbackReason, RouteDecision, Subset } from './types.ts';

const REASONS: readonly FallbackReason[] = ['no-instance', 'circuit-open', 'error', 'degraded'];

/** The static route of one (service, requested lane). */
export class RoutePlan {
  readonly requested: string;
  /** Subsets in try order (the requested lane's first when the service has it and it is not degraded). */
  readonly subsets: readonly Subset[];
  /** Why the requested lane is not first: `degraded` (its LaneState), else `no-instance`. */
  readonly absentReason: FallbackReason;
  /** The decision when `subsets[0]` can serve. */
  readonly decision: RouteDecision;
  /** The decision when no subset can serve (503). */
  readonly none: RouteDecision;
  /** Decisions starting at subsets[k], by reason, made on first use. */
  readonly #shifted: (RouteDecision | undefined)[] = [];

  constructor(requested: string, subsets: readonly Subset[], absentReason: FallbackReason = 'no-instance') {
    this.requested = requested;
    this.subsets = subsets;
    this.absentReason = absentReason;
    this.decision =
      subsets.length > 0 && subsets[0].lane !== requested
        ? { requested, candidates: subsets, fallback: absentReason }
        : { requested, candidates: subsets };
    this.none = { requested, candidates: [] };
  }

  /**
   * The decision when the first subset that can serve is `subsets[k]` (k ≥ 1), served outside
   * the requested lane for `reason` (memoised: one object per (k, reason) per table).
   */
  from(k: number, reason: FallbackReason): RouteDecision {
    const slot = k * REASONS.length + REASONS.indexOf(reason);
    let d = this.#shifted[slot];
    if (d === undefined) {
      d = { requested: this.requested, candidates: this.subsets.slice(k), fallback: reason };
      this.#shifted[slot] = d;
    }
    return d;
  }
}

/** Subsets of `lanes` that exist in `subsets`, in order, each once; lanes `skip` says are left out (degraded). */
export function subsetsInOrder(lanes: readonly string[], subsets: ReadonlyMap<string, Subset>, skip?: (lane: string) => boolean): Subset[] {
  const out: Subset[] = [];
  for (const lane of lanes) {
    if (skip !== undefined && skip(lane)) continue;
    const s = subsets.get(lane);
    if (s !== undefined && !out.includes(s)) out.push(s);
  }
  return out;
}
