/**
 * `dyeline check` (docs/reference.md#progressive-delivery): probe a lane hop by hop through an
 * agent, and with Prometheus assert its SLOs with the analysis `dyeline rollout` uses. The
 * verdict: pass (exit 0), fail (1: a hop served outside the lane where it has instances, a probe
 * answered 5xx, or an SLO broken — each named), could not check (2: the agent unreachable, no
 * path on the answers, Prometheus unreadable, too few requests to judge).
 */
import { analyseLane } from '../rollout/analysis/analyse.ts';
import type { AnalysisResult, Thresholds } from '../rollout/analysis/judge.ts';
import { PrometheusApi } from '../rollout/analysis/prometheus-api.ts';
import { entryProblem, type HopReport, hopReports } from './hops.ts';
import { type Probe, type ProbePlan, sendProbes } from './probe.ts';

/** The SLO part of a check. */
export interface SloPlan {
  readonly prometheus: string;
  readonly windowMs: number;
  readonly thresholds: Thresholds;
  readonly matchers?: string;
}

export type Verdict = 'pass' | 'fail' | 'could-not-check';

/** What a check found. */
export interface CheckReport {
  readonly service: string;
  readonly color: string;
  readonly via: string;
  readonly verdict: Verdict;
  /** Why it did not pass: each names the hop, the probe or the SLO. */
  readonly reasons: string[];
  readonly requests: number;
  /** Status → count over the probes (0: no answer). */
  readonly statuses: Record<string, number>;
  readonly hops: HopReport[];
  /** Trace ids of probes that failed, to look up. */
  readonly failedTraces: string[];
  readonly slo?: AnalysisResult;
}

/** Exit status of a verdict. */
export function exitCode(v: Verdict): number {
  return v === 'pass' ? 0 : v === 'fail' ? 1 : 2;
}

/** Runs a check. */
export async function runCheck(plan: ProbePlan, slo: SloPlan | undefined, now: () => Date = () => new Date()): Promise<CheckReport> {
  const probes = await sendProbes(plan);
  return judgeCheck(plan, probes, slo === undefined ? undefined : await analyseLane(new PrometheusApi(slo.prometheus), { color: plan.color, windowMs: slo.windowMs, thresholds: slo.thresholds, matchers: slo.matchers }, now()));
}

/** The verdict over probes already sent (and an SLO analysis, if any). */
export function judgeCheck(plan: ProbePlan, probes: readonly Probe[], slo: AnalysisResult | undefined): CheckReport {
  const fails: string[] = [];
  const cannot: string[] = [];
  const statuses: Record<string, number> = {};
  for (const p of probes) statuses[String(p.status)] = (statuses[String(p.status)] ?? 0) + 1;
  const answered = probes.filter((p) => p.status !== 0);
  const hops = hopReports(answered, plan.color);
  if (answered.length === 0) {
    cannot.push(`no probe was answered by ${plan.via}: ${probes[0]?.error ?? 'no probe sent'}`);
  } else if (answered.every((p) => p.entries.length === 0)) {
    cannot.push(`no answer carried x-dyeline-path: is ${plan.via} an agent's outbound listener, and ${plan.service} a service of its snapshot?`);
  }
  const failed = probes.filter((p) => p.status === 0 || p.status >= 500);
  if (failed.length > 0 && answered.length > 0) {
    const why = failed[0]!.status === 0 ? `no answer (${failed[0]!.error})` : `status ${failed[0]!.status}`;
    fails.push(`${failed.length} of ${probes.length} probes failed, e.g. ${why}`);
  }
  for (const h of hops) for (const p of h.problems) fails.push(`hop ${h.caller} → ${h.service}: ${p}`);
  if (slo !== undefined) {
    if (slo.outcome === 'fail') fails.push(...slo.reasons.map((r) => `SLO: ${r}`));
    else if (slo.outcome !== 'pass') cannot.push(...slo.reasons.map((r) => `SLO: ${r}`));
  }
  const verdict: Verdict = fails.length > 0 ? 'fail' : cannot.length > 0 ? 'could-not-check' : 'pass';
  const report: CheckReport = {
    service: plan.service,
    color: plan.color,
    via: plan.via,
    verdict,
    reasons: [...fails, ...cannot],
    requests: probes.length,
    statuses,
    hops,
    failedTraces: probes.filter((p) => p.status === 0 || p.status >= 500 || p.entries.some((e) => entryProblem(e, plan.color) !== undefined)).map((p) => p.traceId).slice(0, 5),
  };
  return slo === undefined ? report : { ...report, slo };
}
