/**
 * Routing one request to one service (docs/reference.md#routing):
 * 1. No colour: the service's `split` picks a lane (sticky by `splitKey`), else `stable`;
 *    that lane's subset, then stable's. The request stays uncoloured downstream.
 * 2. Colour C: lane C's subset; when it has no healthy, non-ejected instance, or its circuit
 *    is open, the lane's fallback chain (default `stable`); a strict lane (`fallback: none`)
 *    yields no candidate (503). A colour with no Lane document routes to its own subset when
 *    instances carry it, else to stable (see CompiledService.planFor).
 * The first candidate is usable at decision time; later ones are the rest of the chain, for
 * retries (the balancer skips what is not usable then). Decisions are precomputed per table,
 * so the common case allocates nothing.
 */
import { hasAvailable } from './balancer.ts';
import type { RoutePlan } from './plan.ts';
import type { CompiledService } from './service.ts';
import type { RequestView, RouteDecision, RoutingTable, Subset } from './types.ts';

/**
 * Circuit hook (issue 4 plugs the breakers in here): true when `subset`'s circuit is open and
 * it must not get traffic now. A half-open circuit admitting a probe should answer false.
 */
export type CircuitOpen = (subset: Subset) => boolean;

/**
 * The first subset of `plan` that can serve at `now`, as a decision. The requested lane's
 * subset skipped because of its circuit gives `circuit-open`; skipped (or absent) for want of
 * an instance gives `no-instance`; left out of the plan because the lane is degraded, `degraded`.
 */
export function resolvePlan(plan: RoutePlan, isOpen: CircuitOpen | undefined, now: number): RouteDecision {
  const subsets = plan.subsets;
  let reason = plan.absentReason;
  for (let k = 0; k < subsets.length; k++) {
    const s = subsets[k];
    const available = hasAvailable(s, now);
    const open = available && isOpen !== undefined && isOpen(s);
    if (available && !open) return k === 0 ? plan.decision : plan.from(k, reason);
    if (k === 0 && s.lane === plan.requested && open) reason = 'circuit-open';
  }
  return plan.none;
}

/**
 * Routes a request for `serviceName` carrying `color` (undefined: uncoloured). Returns
 * undefined when the table does not know the service (the caller passes it through as given).
 *
 * @param random numbers in [0, 1) for split; default Math.random in callers.
 * @param isOpen circuit hook; absent: every circuit is closed.
 * @param now epoch ms for ejection checks; default Date.now().
 */
export function route(
  table: RoutingTable,
  serviceName: string,
  color: string | undefined,
  req: RequestView,
  random: () => number,
  isOpen?: CircuitOpen,
  now: number = Date.now(),
): RouteDecision | undefined {
  const svc = table.service(serviceName) as CompiledService | undefined;
  if (svc === undefined) return undefined;
  const plan = color === undefined ? svc.uncoloredPlan(svc.pickUncolored(req, random)) : svc.planFor(color);
  return resolvePlan(plan, isOpen, now);
}
