/**
 * One lane analysis (docs/reference.md#progressive-delivery): the queries of queries.ts run
 * against Prometheus at once, gathered per service, judged by judge.ts. Any query failing makes
 * the whole analysis "could not analyse" (outcome error): half an answer is never judged.
 * Used by `dyeline rollout` and `dyeline check`.
 */
import { errorMessage } from '../../shared/errors.ts';
import { type AnalysisResult, couldNotAnalyse, judge, type ServiceMeasure, type Thresholds } from './judge.ts';
import type { PrometheusApi, VectorSample } from './prometheus-api.ts';
import { laneQueries, type QueryName } from './queries.ts';

/** What to analyse. */
export interface LaneAnalysisRequest {
  /** The lane's colour. */
  readonly color: string;
  /** Range of each query. */
  readonly windowMs: number;
  readonly thresholds: Thresholds;
  /** More label matchers for every selector (see queries.ts). */
  readonly matchers?: string;
}

/** upstream → value. */
function byService(samples: readonly VectorSample[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    const service = s.labels.upstream;
    if (service !== undefined) out.set(service, s.value);
  }
  return out;
}

/** Analyses a lane as of `now` (the clock of the caller, for the result's `at`). */
export async function analyseLane(api: PrometheusApi, req: LaneAnalysisRequest, now: Date): Promise<AnalysisResult> {
  const queries = laneQueries({ color: req.color, windowMs: req.windowMs, quantile: req.thresholds.latencyQuantile, matchers: req.matchers });
  const names = Object.keys(queries) as QueryName[];
  let answers: Map<string, number>[];
  try {
    answers = await Promise.all(names.map(async (n) => byService(await api.vector(queries[n]))));
  } catch (err) {
    return couldNotAnalyse(errorMessage(err), now);
  }
  const v = Object.fromEntries(names.map((n, i) => [n, answers[i]!])) as Record<QueryName, Map<string, number>>;
  const services = new Set<string>([...v.laneServed.keys(), ...v.laneFailedAway.keys(), ...v.circuitOpen.keys()]);
  const n = (m: Map<string, number>, s: string) => {
    const x = m.get(s);
    return x !== undefined && Number.isFinite(x) ? x : 0;
  };
  const measures: ServiceMeasure[] = [...services].map((s) => ({
    service: s,
    laneRequests: n(v.laneServed, s) + n(v.laneFailedAway, s),
    laneErrors: n(v.laneErrors, s) + n(v.laneFailedAway, s),
    stableRequests: n(v.stableServed, s),
    stableErrors: n(v.stableErrors, s),
    laneLatency: v.laneLatency.get(s),
    stableLatency: v.stableLatency.get(s),
    circuitOpen: n(v.circuitOpen, s) >= 2,
  }));
  return judge(measures, req.thresholds, now);
}
