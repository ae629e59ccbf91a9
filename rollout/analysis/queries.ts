/**
 * The PromQL of a lane analysis (docs/reference.md#progressive-delivery), over the agents' own
 * series as their callers see them (direction="outbound"): each query is summed by `upstream`,
 * so the lane and stable are compared service by service. Counts are increases over the window
 * of a subquery (step: the window / 40, at least 50 ms).
 *
 *   laneServed      requests answered by the lane's instances
 *   laneErrors      of those, the 5xx answers
 *   laneFailedAway  requests for the lane that failed on it and were served elsewhere (fallback
 *                   error) or could not try it (fallback circuit-open)
 *   stableServed / stableErrors   the same for stable
 *   laneLatency / stableLatency   the latency quantile of each (histogram_quantile)
 *   circuitOpen     the highest circuit state of the lane's subset in the window (2: open)
 */
import { STABLE } from '../../shared/color.ts';

/** What a set of queries is about. */
export interface LaneQueryScope {
  /** The lane's colour. */
  readonly color: string;
  /** Range of each query. */
  readonly windowMs: number;
  /** The latency quantile compared, e.g. 0.95. */
  readonly quantile: number;
  /**
   * More label matchers for every selector, e.g. `namespace="shop"` when one Prometheus scrapes
   * several meshes. Empty: none.
   */
  readonly matchers?: string;
}

/** The named queries of one analysis. */
export type LaneQueries = Readonly<Record<QueryName, string>>;
export type QueryName =
  | 'laneServed'
  | 'laneErrors'
  | 'laneFailedAway'
  | 'stableServed'
  | 'stableErrors'
  | 'laneLatency'
  | 'stableLatency'
  | 'circuitOpen';

/** A PromQL string literal. */
export function promString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** Points of the counting subqueries at most (their step is the window / this, at least 50 ms). */
const MAX_POINTS = 40;

/** The queries of one analysis of `scope`. */
export function laneQueries(scope: LaneQueryScope): LaneQueries {
  const lane = promString(scope.color);
  const stable = promString(STABLE);
  const extra = scope.matchers !== undefined && scope.matchers.trim() !== '' ? `,${scope.matchers.trim()}` : '';
  const windowMs = Math.max(1, Math.round(scope.windowMs));
  const range = `[${windowMs}ms]`;
  const step = `${Math.max(50, Math.ceil(windowMs / MAX_POINTS))}ms`;
  const sum = (m: string) => `sum by (upstream) (dyeline_requests_total{direction="outbound",${m}${extra}})`;
  // Requests matching `m`, counted on a series that exists before the first of them: their sum by
  // service, or 0 wherever the service has had any traffic. A counter series is born with its
  // first request and increase() needs two samples of a series, so a lane that starts failing
  // would otherwise be seen a scrape late, its first errors lost.
  const zero = `${sum('code=~".+"')} * 0`;
  const counted = (m: string) => `increase((${sum(m)} or ${zero})[${windowMs}ms:${step}])`;
  const quantile = (served: string) =>
    `histogram_quantile(${scope.quantile}, sum by (upstream, le) (rate(dyeline_request_duration_seconds_bucket{direction="outbound",served_color=${served}${extra}}${range})))`;
  return {
    laneServed: counted(`served_color=${lane}`),
    laneErrors: counted(`served_color=${lane},code=~"5.."`),
    laneFailedAway: counted(`color=${lane},served_color!=${lane},fallback=~"error|circuit-open"`),
    stableServed: counted(`served_color=${stable}`),
    stableErrors: counted(`served_color=${stable},code=~"5.."`),
    laneLatency: quantile(lane),
    stableLatency: quantile(stable),
    circuitOpen: `max by (upstream) (max_over_time(dyeline_circuit_state{subset=${lane}${extra}}${range}))`,
  };
}
