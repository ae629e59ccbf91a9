/**
 * Outlier ejection per instance — `Service.spec.outlierDetection`: consecutive failures eject an
 * instance for a time that grows with each ejection, within the hard `maxEjectionPercent` cap
 * (docs/resilience.md#outlier-ejection).
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
