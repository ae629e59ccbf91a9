/**
 * The controller's metrics on its status port (docs/reference.md#metrics), read at scrape time:
 *   dyeline_rollout_leader                                   1 while this controller holds the lease
 *   dyeline_rollout_share{rollout,lane}                      the lane's share as last seen
 *   dyeline_rollout_step{rollout,lane}                       index of the current step
 *   dyeline_rollout_phase{rollout,lane,phase}                1 for the current phase, 0 for the others
 *   dyeline_rollout_error_rate_percent{rollout,lane}         of the last analysis (absent without one)
 *   dyeline_rollout_latency_ratio{rollout,lane}              of the last analysis (absent when null)
 *   dyeline_rollout_analyses_total{rollout,lane,outcome}     pass | fail | inconclusive | error
 *   dyeline_rollout_writes_total{rollout,lane}               LaneState writes
 *   dyeline_rollout_write_failures_total{rollout,lane}       LaneState writes that failed
 */
import type { Metrics } from '../../shared/metrics.ts';
import { CurrentGauge } from '../../shared/telemetry/current-gauge.ts';
import { RolloutPhase } from '../../shared/schema/rollout.ts';
import type { AnalysisResult } from '../analysis/judge.ts';
import type { RolloutRef, RolloutStatus } from '../state/machine.ts';

/** What the controller reports. */
export interface ControllerMetrics {
  leader(holds: boolean): void;
  status(s: RolloutStatus): void;
  analysed(rollout: RolloutRef, r: AnalysisResult): void;
  written(rollout: RolloutRef): void;
  writeFailed(rollout: RolloutRef): void;
  /** The rollout is gone: its series end. */
  forget(name: string): void;
}

interface Series {
  lane: string;
  status?: RolloutStatus;
  last?: AnalysisResult;
  analyses: Map<string, number>;
  writes: number;
  writeFailures: number;
}

/** Registers the controller's instruments on `m`. */
export function createControllerMetrics(m: Metrics): ControllerMetrics {
  const meter = m.meter;
  const byRollout = new Map<string, Series>();
  let leader = 0;
  const series = (r: { name: string; lane: string }) => {
    let s = byRollout.get(r.name);
    if (s === undefined) {
      s = { lane: r.lane, analyses: new Map(), writes: 0, writeFailures: 0 };
      byRollout.set(r.name, s);
    }
    return s;
  };
  /** Calls `fn` with each rollout's series and its labels. */
  const each = (fn: (s: Series, attrs: { rollout: string; lane: string }) => unknown) => {
    for (const [rollout, s] of byRollout) fn(s, { rollout, lane: s.lane });
  };
  meter.createObservableGauge('dyeline_rollout_leader', { description: '1 while this controller holds the rollout lease (only the holder analyses and writes).' })
    .addCallback((r) => r.observe(leader));
  // The per-rollout gauges show current state only: a rollout that is gone is gone from them
  // (an observable gauge would keep its last values forever: shared/telemetry/current-gauge.ts).
  const gauge = (name: string, description: string, read: (s: Series, emit: (v: number, a: Record<string, string>) => void, a: { rollout: string; lane: string }) => void) =>
    m.addProducer(new CurrentGauge(name, description, (emit) => each((s, a) => read(s, emit, a))));
  gauge('dyeline_rollout_share', 'Share of uncoloured entry traffic dyed into the lane, as last seen, by rollout and lane.', (s, emit, a) => {
    if (s.status) emit(s.status.share, a);
  });
  gauge('dyeline_rollout_step', 'Index of the rollout step the lane is at.', (s, emit, a) => {
    if (s.status) emit(s.status.step, a);
  });
  gauge('dyeline_rollout_phase', '1 for the phase the rollout is in (Progressing, Paused, Promoted, Aborted), 0 for the others.', (s, emit, a) => {
    if (s.status) for (const phase of RolloutPhase.options) emit(s.status.phase === phase ? 1 : 0, { ...a, phase });
  });
  gauge('dyeline_rollout_error_rate_percent', 'Error rate of the lane in the last analysis.', (s, emit, a) => {
    if (s.last?.errorRatePercent != null) emit(s.last.errorRatePercent, a);
  });
  gauge('dyeline_rollout_latency_ratio', 'Worst per-service ratio of the lane latency quantile to stable in the last analysis.', (s, emit, a) => {
    if (s.last?.latencyRatio != null) emit(s.last.latencyRatio, a);
  });
  meter.createObservableCounter('dyeline_rollout_analyses_total', { description: 'Analyses run, by outcome (pass, fail, inconclusive, error).' })
    .addCallback((r) =>
      each((s, a) => {
        for (const [outcome, v] of s.analyses) r.observe(v, { ...a, outcome });
      }),
    );
  meter.createObservableCounter('dyeline_rollout_writes_total', { description: 'LaneState documents written.' })
    .addCallback((r) => each((s, a) => r.observe(s.writes, a)));
  meter.createObservableCounter('dyeline_rollout_write_failures_total', { description: 'LaneState writes that failed (decided again at the next pass).' })
    .addCallback((r) => each((s, a) => r.observe(s.writeFailures, a)));

  const ref = (r: RolloutRef) => ({ name: r.name, lane: r.spec.lane });
  return {
    leader: (holds) => void (leader = holds ? 1 : 0),
    status: (st) => void (series(st).status = st),
    analysed: (r, result) => {
      const s = series(ref(r));
      s.last = result;
      s.analyses.set(result.outcome, (s.analyses.get(result.outcome) ?? 0) + 1);
    },
    written: (r) => void series(ref(r)).writes++,
    writeFailed: (r) => void series(ref(r)).writeFailures++,
    forget: (name) => void byRollout.delete(name),
  };
}
