/**
 * Outlier ejection per instance — `Service.spec.outlierDetection` (defaults in the schema).
 *
 * `consecutiveFailures` failures in a row (5xx answers, connect failures, resets, timeouts) eject
 * an instance for `baseEjectionMs` × (times it has been ejected, this one included), capped at
 * `maxEjectionMs`. A success resets the run. The live fields are the instance's EndpointState
 * (`consecutiveFailures`, `ejectedUntil`, `ejections`), shared across snapshot recompiles, and
 * the balancer and router already skip an instance while `ejectedUntil > now`.
 *
 * `maxEjectionPercent` is a hard cap: before ejecting, the instances of the service that are
 * ejected right now are counted, and the ejection happens only if the count after it stays
 * within the cap — `(ejected + 1) × 100 ≤ maxEjectionPercent × instances`. Envoy's "at least one
 * host may be ejected whatever the percentage" does not apply: with 50 % and one instance,
 * nothing is ever ejected (a lone instance is better than none). An instance kept in for the
 * cap keeps its failure run, so it is ejected as soon as room frees up.
 *
 * The ejection multiplier decays: an instance that has been back for `maxEjectionMs` without
 * being ejected again starts from × 1 next time.
 */
import type { Service } from '../../shared/schema/documents.ts';
import { isRoutable } from '../routing/subsets.ts';
import type { Endpoint, EndpointState } from '../routing/types.ts';

/** The outlier settings of a Service spec (defaults applied by the schema). */
export type OutlierSettings = Service['spec']['outlierDetection'];

/** What a recorded failure did. */
export const NOT_EJECTED = 0;
/** The instance was ejected by this failure. */
export const EJECTED = 1;
/** The run reached the threshold but the cap (`maxEjectionPercent`) kept the instance in. */
export const CAPPED = 2;
export type FailureVerdict = typeof NOT_EJECTED | typeof EJECTED | typeof CAPPED;

/** A success: the failure run ends (and an old ejection multiplier decays). */
export function outlierSuccess(state: EndpointState, settings: OutlierSettings, now: number): void {
  state.consecutiveFailures = 0;
  if (state.ejections > 0 && state.ejectedUntil > 0 && now - state.ejectedUntil >= settings.maxEjectionMs) state.ejections = 0;
}

/** Number of the service's routable instances, and how many of them are ejected at `now`. */
export function ejectionCount(instances: readonly Endpoint[], now: number): { total: number; ejected: number } {
  let total = 0;
  let ejected = 0;
  const seen = new Set<EndpointState>(); // two Instance documents may name one address:port
  for (const ep of instances) {
    if (!isRoutable(ep) || seen.has(ep.state)) continue;
    seen.add(ep.state);
    total++;
    if (ep.state.ejectedUntil > now) ejected++;
  }
  return { total, ejected };
}

/**
 * A failure of `ep`, one of `instances` (every instance of its service). Ejects it when its
 * failure run reaches the threshold and the cap allows. Failures seen while the instance is
 * already ejected (requests sent before) do not count.
 */
export function outlierFailure(ep: Endpoint, instances: readonly Endpoint[], settings: OutlierSettings, now: number): FailureVerdict {
  const st = ep.state;
  if (st.ejectedUntil > now) return NOT_EJECTED;
  st.consecutiveFailures++;
  if (st.consecutiveFailures < settings.consecutiveFailures) return NOT_EJECTED;
  const { total, ejected } = ejectionCount(instances, now);
  if ((ejected + 1) * 100 > settings.maxEjectionPercent * total) return CAPPED;
  if (st.ejections > 0 && st.ejectedUntil > 0 && now - st.ejectedUntil >= settings.maxEjectionMs) st.ejections = 0;
  st.ejections++;
  st.ejectedUntil = now + Math.min(settings.baseEjectionMs * st.ejections, settings.maxEjectionMs);
  st.consecutiveFailures = 0;
  return EJECTED;
}
