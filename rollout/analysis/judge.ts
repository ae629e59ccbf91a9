/**
 * The verdict of a lane analysis from per-service measurements (docs/reference.md#progressive-delivery):
 * pure, so the controller, `dyeline check` and the tests all judge the same way.
 *
 *   fail          the lane's error rate is above maxErrorRatePercent (over all its services, or on
 *                 one service with at least minRequests requests), or on some service its
 *                 latency quantile is more than maxLatencyRatio × stable's (both sides with at
 *                 least latencySamples requests there), or its circuit opened
 *   inconclusive  otherwise, fewer than minRequests requests reached the lane in the window
 *   pass          otherwise
 *   error         the measurements could not be taken (see analyse.ts)
 */
import type { AnalysisSummary, RolloutAnalysis } from '../../shared/schema/rollout.ts';

/** What the analysis measured on one service over the window. */
export interface ServiceMeasure {
  readonly service: string;
  /** Requests for the lane: answered by it, or failed on it and served elsewhere. */
  readonly laneRequests: number;
  /** Of those, failed: 5xx answers from the lane, and failed-away requests. */
  readonly laneErrors: number;
  readonly stableRequests: number;
  readonly stableErrors: number;
  /** Latency quantile in seconds (NaN or undefined: no data). */
  readonly laneLatency?: number;
  readonly stableLatency?: number;
  /** The lane's circuit was open at some point in the window. */
  readonly circuitOpen: boolean;
}

/** One service's part of a verdict. */
export interface ServiceVerdict {
  readonly service: string;
  readonly requests: number;
  readonly errorRatePercent: number | null;
  readonly stableErrorRatePercent: number | null;
  /** Lane quantile / stable quantile (each at least the floor); null when either has no data. */
  readonly latencyRatio: number | null;
  readonly laneLatencyMs: number | null;
  readonly stableLatencyMs: number | null;
  readonly circuitOpen: boolean;
}

/** The outcome of one analysis. */
export type Outcome = 'pass' | 'fail' | 'inconclusive' | 'error';

/** The result of one analysis. */
export interface AnalysisResult {
  /** When it ran (ISO 8601). */
  readonly at: string;
  readonly outcome: Outcome;
  /** outcome === 'pass'. */
  readonly passed: boolean;
  /** Over every service the lane was asked to serve; null when it was asked nothing. */
  readonly errorRatePercent: number | null;
  /** Stable's error rate on those same services. */
  readonly stableErrorRatePercent: number | null;
  /** The worst service's latency ratio; null when no service was served by both. */
  readonly latencyRatio: number | null;
  readonly requests: number;
  /** Why it did not pass (empty when it passed). */
  readonly reasons: readonly string[];
  readonly services: readonly ServiceVerdict[];
}

/** The thresholds a verdict uses (a Rollout's analysis). */
export type Thresholds = Pick<RolloutAnalysis, 'minRequests' | 'maxErrorRatePercent' | 'maxLatencyRatio' | 'latencyQuantile' | 'latencyFloorMs'>;

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;
const percent = (part: number, whole: number) => (whole > 0 ? round((100 * part) / whole) : null);
const known = (n: number | undefined): n is number => n !== undefined && Number.isFinite(n);

/**
 * Requests each side needs on a service for its latency quantile to count: 2 / (1 − q), so that at
 * least two lie above the quantile and one slow request cannot decide it (p95: 40, p99: 200).
 */
export function latencySamples(quantile: number): number {
  return Math.ceil(2 / (1 - quantile) - 1e-9);
}

/** Judges `measures` against `t`; `at` is when they were taken. */
export function judge(measures: readonly ServiceMeasure[], t: Thresholds, at: Date): AnalysisResult {
  const q = `p${round(t.latencyQuantile * 100, 1)}`;
  const floor = t.latencyFloorMs / 1000;
  const minSamples = latencySamples(t.latencyQuantile);
  const reasons: string[] = [];
  const services: ServiceVerdict[] = [];
  let requests = 0;
  let errors = 0;
  let stableRequests = 0;
  let stableErrors = 0;
  let worstRatio: number | null = null;
  for (const m of [...measures].sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0))) {
    if (m.laneRequests <= 0 && !m.circuitOpen) continue;
    requests += m.laneRequests;
    errors += m.laneErrors;
    stableRequests += m.stableRequests;
    stableErrors += m.stableErrors;
    // A quantile of fewer than 2 / (1 − q) requests is decided by a single slow one.
    const comparable = known(m.laneLatency) && known(m.stableLatency) && m.laneRequests >= minSamples && m.stableRequests >= minSamples;
    const ratio = comparable ? round(Math.max(m.laneLatency!, floor) / Math.max(m.stableLatency!, floor)) : null;
    if (ratio !== null && (worstRatio === null || ratio > worstRatio)) worstRatio = ratio;
    const v: ServiceVerdict = {
      service: m.service,
      requests: round(m.laneRequests),
      errorRatePercent: percent(m.laneErrors, m.laneRequests),
      stableErrorRatePercent: percent(m.stableErrors, m.stableRequests),
      latencyRatio: ratio,
      laneLatencyMs: known(m.laneLatency) ? round(m.laneLatency * 1000) : null,
      stableLatencyMs: known(m.stableLatency) ? round(m.stableLatency * 1000) : null,
      circuitOpen: m.circuitOpen,
    };
    services.push(v);
    if (ratio !== null && ratio > t.maxLatencyRatio) {
      reasons.push(`${m.service}: ${q} latency ${v.laneLatencyMs} ms is ${ratio}× stable's ${v.stableLatencyMs} ms (max ${t.maxLatencyRatio}×)`);
    }
    if (m.circuitOpen) reasons.push(`${m.service}: the lane's circuit opened`);
  }
  // The lane as a whole, and each service with enough requests to judge on its own (a lane that
  // fails on one of many services must not hide behind the others).
  const errorRatePercent = percent(errors, requests);
  const over = services.filter((s) => s.errorRatePercent !== null && s.errorRatePercent > t.maxErrorRatePercent);
  const alone = over.filter((s) => s.requests >= t.minRequests);
  if ((errorRatePercent !== null && errorRatePercent > t.maxErrorRatePercent) || alone.length > 0) {
    const where = over.map((s) => `${s.service} ${s.errorRatePercent}% of ${s.requests}`).join(', ');
    reasons.unshift(`error rate above ${t.maxErrorRatePercent}%: ${where} (lane ${errorRatePercent}%)`);
  }
  let outcome: Outcome = reasons.length > 0 ? 'fail' : 'pass';
  // Too few requests make a rate meaningless either way; an open circuit is a fact.
  if (requests < t.minRequests && !services.some((s) => s.circuitOpen)) {
    outcome = 'inconclusive';
    reasons.length = 0;
    reasons.push(`${round(requests)} requests to the lane in the window, fewer than minRequests ${t.minRequests}`);
  }
  return {
    at: at.toISOString(),
    outcome,
    passed: outcome === 'pass',
    errorRatePercent,
    stableErrorRatePercent: percent(stableErrors, stableRequests),
    latencyRatio: worstRatio,
    requests: round(requests),
    reasons,
    services,
  };
}

/** The result of an analysis that could not run (Prometheus down, a query refused). */
export function couldNotAnalyse(why: string, at: Date): AnalysisResult {
  return {
    at: at.toISOString(),
    outcome: 'error',
    passed: false,
    errorRatePercent: null,
    stableErrorRatePercent: null,
    latencyRatio: null,
    requests: 0,
    reasons: [`could not analyse: ${why}`],
    services: [],
  };
}

/** The part of a result that LaneState and the status API carry. */
export function summarise(r: AnalysisResult): AnalysisSummary {
  return { at: r.at, errorRatePercent: r.errorRatePercent, latencyRatio: r.latencyRatio, requests: r.requests, passed: r.passed };
}
