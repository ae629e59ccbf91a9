/**
 * dyeline check's verdict: hops served by the lane pass, a fallback passes only where the lane
 * has no instance, a lost colour fails, 5xx probes fail, no path / no answer / an unreadable SLO
 * cannot check, a broken SLO fails; the readable report names each.
 */
import { describe, expect, it } from 'vitest';
import { exitCode, judgeCheck } from '../../../check/check.ts';
import type { Probe, ProbePlan } from '../../../check/probe.ts';
import { formatReport } from '../../../check/report.ts';
import { couldNotAnalyse, judge } from '../../../rollout/analysis/judge.ts';
import type { PathEntry } from '../../../shared/probe-path.ts';
import { RolloutAnalysis } from '../../../shared/schema/rollout.ts';

const plan: ProbePlan = { via: '127.0.0.1:15001', service: 'frontend', color: 'canary', path: '/', headers: {}, requests: 4, timeoutMs: 1000 };
const hop = (depth: number, caller: string, service: string, over: Partial<PathEntry> = {}): PathEntry => ({ depth, caller, service, requested: 'canary', served: 'canary', fallback: '', laneInstances: 1, status: 200, ...over });
const healthyPath = () => [
  hop(0, 'gw', 'frontend', { served: 'stable', fallback: 'no-instance', laneInstances: 0 }),
  hop(1, 'frontend', 'orders'),
  hop(2, 'orders', 'inventory', { served: 'stable', fallback: 'no-instance', laneInstances: 0 }),
  hop(3, 'inventory', 'pricing'),
];
const probe = (entries: PathEntry[], status = 200, i = 0): Probe => ({ traceId: `t${i}`, status, entries, dropped: 0, servedColor: entries[0]?.served ?? '', fallback: '' });
const t = RolloutAnalysis.parse({});

describe('dyeline check verdict', () => {
  it('passes when every hop was served by the lane wherever it has instances', () => {
    const r = judgeCheck(plan, [0, 1, 2, 3].map((i) => probe(healthyPath(), 200, i)), undefined);
    expect(r.verdict).toBe('pass');
    expect(exitCode(r.verdict)).toBe(0);
    expect(r.hops.map((h) => [h.depth, `${h.caller}>${h.service}`, h.served, h.passed])).toEqual([
      [0, 'gw>frontend', { stable: 4 }, true],
      [1, 'frontend>orders', { canary: 4 }, true],
      [2, 'orders>inventory', { stable: 4 }, true],
      [3, 'inventory>pricing', { canary: 4 }, true],
    ]);
    expect(formatReport(r)).toMatch(/PASS\n {2}probes: 4 \(status 200 ×4\)/);
  });

  it('fails naming the hop where stable served though the lane has instances', () => {
    const bad = healthyPath();
    bad[3] = hop(3, 'inventory', 'pricing', { served: 'stable', fallback: 'circuit-open' });
    const r = judgeCheck(plan, [probe(healthyPath(), 200, 0), probe(bad, 200, 1)], undefined);
    expect(r.verdict).toBe('fail');
    expect(exitCode(r.verdict)).toBe(1);
    expect(r.reasons).toEqual(['hop inventory → pricing: served by stable (fallback circuit-open) though lane canary has 1 instance(s) there (1 of 2)']);
    expect(r.failedTraces).toEqual(['t1']);
    const text = formatReport(r);
    expect(text).toMatch(/inventory → pricing: canary ×1, stable ×1; fallback circuit-open ×1; 1 lane instance\(s\) — FAIL/);
    // A no-instance fallback where the caller knew lane instances (all unhealthy) fails too.
    const ejected = healthyPath();
    ejected[1] = hop(1, 'frontend', 'orders', { served: 'stable', fallback: 'no-instance', laneInstances: 2 });
    expect(judgeCheck(plan, [probe(ejected)], undefined).reasons[0]).toMatch(/^hop frontend → orders: served by stable \(fallback no-instance\) though lane canary has 2 instance/);
  });

  it('fails a hop that lost the colour, and probes answered 5xx', () => {
    const lost = healthyPath();
    lost[2] = hop(2, 'orders', 'inventory', { requested: '', served: 'stable', laneInstances: 0 });
    const r = judgeCheck(plan, [probe(lost), probe(healthyPath(), 503, 1)], undefined);
    expect(r.verdict).toBe('fail');
    expect(r.reasons).toEqual(['1 of 2 probes failed, e.g. status 503', 'hop orders → inventory: arrived without colour canary: orders did not forward it (1 of 2)']);
  });

  it('cannot check without answers or without paths', () => {
    const none = judgeCheck(plan, [{ traceId: 'x', status: 0, error: 'connect ECONNREFUSED 127.0.0.1:15001', entries: [], dropped: 0, servedColor: '', fallback: '' }], undefined);
    expect(none.verdict).toBe('could-not-check');
    expect(exitCode(none.verdict)).toBe(2);
    expect(none.reasons).toEqual(['no probe was answered by 127.0.0.1:15001: connect ECONNREFUSED 127.0.0.1:15001']);
    const pathless = judgeCheck(plan, [probe([])], undefined);
    expect(pathless.verdict).toBe('could-not-check');
    expect(pathless.reasons[0]).toMatch(/no answer carried x-dyeline-path/);
  });

  it('fails on a broken SLO, cannot check on an unreadable or inconclusive one', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    const broken = judge([{ service: 'orders', laneRequests: 100, laneErrors: 20, stableRequests: 100, stableErrors: 0, circuitOpen: false }], t, at);
    const r = judgeCheck(plan, [probe(healthyPath())], broken);
    expect(r.verdict).toBe('fail');
    expect(r.reasons).toEqual(['SLO: error rate above 1%: orders 20% of 100 (lane 20%)']);
    expect(formatReport(r)).toMatch(/SLO: fail — error rate 20% \(stable 0%\)/);
    expect(judgeCheck(plan, [probe(healthyPath())], couldNotAnalyse('Prometheus at http://p did not answer', at)).verdict).toBe('could-not-check');
    const few = judge([{ service: 'orders', laneRequests: 3, laneErrors: 0, stableRequests: 100, stableErrors: 0, circuitOpen: false }], t, at);
    expect(judgeCheck(plan, [probe(healthyPath())], few).verdict).toBe('could-not-check');
  });
});
