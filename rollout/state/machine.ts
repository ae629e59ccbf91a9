/**
 * The rollout state machine (docs/reference.md#progressive-delivery), pure: given a Rollout, the
 * lane's LaneState as just read from the source, what this controller remembers, the time and
 * (when it asked for one) an analysis, it says what the rollout's status is and what LaneState
 * to write, if any. The controller does the reading, analysing and writing (controller.ts).
 *
 * The document is the state: whoever runs the controller next (a restart, another replica
 * taking the lease) re-derives the step and the time it started from it, so a crash leaves the
 * lane where it was. Only a LaneState written by `rollout/<name>` in phase Progressing is acted
 * on; one written by anyone else is a manual edit, which wins: the rollout is paused (nothing is
 * written) until the document says `updatedBy: rollout/<name>` and `phase: Progressing` again.
 *
 *   no LaneState                start at step 0 (write)
 *   analysis error              status Paused, nothing written (never promotes blind)
 *   analysis inconclusive       wait
 *   analysis failed             failures + 1; at failureLimit within the step: abort
 *                               (write share 0, degraded, phase Aborted, the reasons)
 *   analysis passed             after the step's pause: next step (write), or Promoted after
 *                               the last step (write)
 */
import type { AnalysisSummary, LaneStateChange, LaneStateSpec, RolloutPhase, RolloutSpec } from '../../shared/schema/rollout.ts';
import { type AnalysisResult, summarise } from '../analysis/judge.ts';
import { appendChange } from './history.ts';

/** A Rollout as the machine needs it. */
export interface RolloutRef {
  readonly name: string;
  readonly spec: RolloutSpec;
}

/** What a controller remembers about one rollout between ticks (nothing survives a restart). */
export interface Memory {
  /** Failed analyses in the current step. */
  readonly failures: number;
  /** The step `failures` and `stepStartedAt` belong to. */
  readonly step?: number;
  readonly stepStartedAt?: number;
  readonly lastAnalysis?: AnalysisResult;
  /** The LaneState this controller wrote last, and the one it replaced. */
  readonly written?: LaneStateSpec;
  readonly replaced?: LaneStateSpec | null;
}

export const EMPTY_MEMORY: Memory = { failures: 0 };

/** What a read of the LaneState means for the rollout. */
export type Observation =
  /** No LaneState: the rollout starts. */
  | 'absent'
  /** Still the document this controller replaced: its write is not visible yet; wait. */
  | 'stale'
  /** Written by someone else: paused. */
  | 'manual'
  /** Ours, phase Progressing: analyse and act. */
  | 'progressing'
  /** Ours, phase Paused, Promoted or Aborted: nothing to do. */
  | 'settled';

/** The status of a rollout, as GET /rollouts shows it. */
export interface RolloutStatus {
  readonly name: string;
  readonly lane: string;
  readonly phase: RolloutPhase;
  readonly step: number;
  readonly share: number;
  readonly degraded: boolean;
  readonly reason: string;
  readonly failures: number;
  readonly lastAnalysis: AnalysisSummary | null;
}

/** One tick's inputs. */
export interface Tick {
  readonly rollout: RolloutRef;
  /** The LaneState as read now (undefined: none). */
  readonly doc: LaneStateSpec | undefined;
  readonly memory: Memory;
  /** Milliseconds since the epoch. */
  readonly now: number;
  /** This controller instance (host and process), for the history. */
  readonly controller: string;
  /** The analysis run for this tick; required when observe() said 'progressing'. */
  readonly analysis?: AnalysisResult;
}

/** One tick's outcome. */
export interface Decision {
  readonly status: RolloutStatus;
  readonly memory: Memory;
  /** The LaneState to write, when the lane changes. */
  readonly write?: LaneStateSpec;
}

/** The `updatedBy` of the controller driving `rollout`. */
export function ownerOf(rollout: RolloutRef): string {
  return `rollout/${rollout.name}`;
}

/** The fields that make a LaneState what it is (history and analysis left out). */
function sameState(a: LaneStateSpec | undefined | null, b: LaneStateSpec | undefined | null): boolean {
  if (a == null || b == null) return a == null && b == null;
  return a.share === b.share && a.degraded === b.degraded && a.phase === b.phase && a.step === b.step && a.updatedBy === b.updatedBy && a.updatedAt === b.updatedAt;
}

/** What `doc` means for `rollout`, given what this controller wrote last. */
export function observe(rollout: RolloutRef, doc: LaneStateSpec | undefined, memory: Memory): Observation {
  if (memory.written !== undefined && !sameState(doc, memory.written) && memory.replaced !== undefined && sameState(doc, memory.replaced)) return 'stale';
  if (doc === undefined) return 'absent';
  if (doc.updatedBy !== ownerOf(rollout)) return 'manual';
  return doc.phase === 'Progressing' ? 'progressing' : 'settled';
}

/** The step a LaneState is at: its own `step` when it matches the share, else the last step at or below the share. */
export function stepOf(spec: RolloutSpec, doc: LaneStateSpec): number {
  const steps = spec.steps;
  if (doc.step !== undefined && doc.step < steps.length && steps[doc.step]!.percent === doc.share) return doc.step;
  let i = 0;
  for (let k = 0; k < steps.length; k++) if (steps[k]!.percent <= doc.share) i = k;
  return i;
}

function status(rollout: RolloutRef, phase: RolloutPhase, doc: LaneStateSpec | undefined, step: number, reason: string, memory: Memory): RolloutStatus {
  return {
    name: rollout.name,
    lane: rollout.spec.lane,
    phase,
    step,
    share: doc?.share ?? 0,
    degraded: doc?.degraded ?? false,
    reason,
    failures: memory.failures,
    lastAnalysis: memory.lastAnalysis === undefined ? null : summarise(memory.lastAnalysis),
  };
}

/** Builds the LaneState to write after `doc`, with its change appended to the history. */
function next(
  t: Tick,
  change: { phase: RolloutPhase; share: number; degraded: boolean; step: number; reason: string; analysis?: AnalysisResult },
): LaneStateSpec {
  const at = new Date(t.now).toISOString();
  const by = ownerOf(t.rollout);
  const analysis = change.analysis === undefined ? undefined : summarise(change.analysis);
  const entry: LaneStateChange = { at, by, controller: t.controller, phase: change.phase, share: change.share, degraded: change.degraded, step: change.step, reason: change.reason };
  if (analysis !== undefined) entry.analysis = analysis;
  const spec: LaneStateSpec = {
    share: change.share,
    degraded: change.degraded,
    phase: change.phase,
    step: change.step,
    reason: change.reason,
    updatedBy: by,
    updatedAt: at,
    history: appendChange(t.doc, entry),
  };
  if (analysis !== undefined) spec.analysis = analysis;
  return spec;
}

const stepName = (spec: RolloutSpec, i: number) => `step ${i + 1}/${spec.steps.length} (${spec.steps[i]!.percent}%)`;

/** One tick of the machine. */
export function decide(t: Tick): Decision {
  const { rollout, doc, now } = t;
  const spec = rollout.spec;
  let memory = t.memory;
  const seen = observe(rollout, doc, memory);
  // Once the source shows anything but the replaced document, the last write is settled.
  if (seen !== 'stale' && memory.replaced !== undefined) memory = { ...memory, replaced: undefined };

  if (seen === 'stale') {
    const step = memory.written?.step ?? 0;
    return { status: status(rollout, memory.written?.phase ?? 'Progressing', memory.written, step, 'waiting for the last write to show in the source', memory), memory };
  }
  if (seen === 'absent') {
    const write = next(t, { phase: 'Progressing', share: spec.steps[0]!.percent, degraded: false, step: 0, reason: `rollout started at ${stepName(spec, 0)}` });
    memory = { failures: 0, step: 0, stepStartedAt: now, written: write, replaced: null };
    return { status: status(rollout, 'Progressing', write, 0, write.reason!, memory), memory, write };
  }
  const d = doc!;
  const step = stepOf(spec, d);
  if (seen === 'manual') {
    memory = { failures: 0, lastAnalysis: memory.lastAnalysis };
    const phase = d.phase === 'Aborted' || d.phase === 'Promoted' ? d.phase : 'Paused';
    const reason = `LaneState edited by ${d.updatedBy ?? 'someone (no updatedBy)'}${d.reason ? `: ${d.reason}` : ''}; paused until updatedBy is ${ownerOf(rollout)} and phase Progressing`;
    return { status: status(rollout, phase, d, step, reason, memory), memory };
  }
  if (seen === 'settled') {
    return { status: status(rollout, d.phase ?? 'Paused', d, step, d.reason ?? '', memory), memory };
  }

  // Ours and progressing. A document this controller did not write (a restart, another replica,
  // a hand-back) is adopted: its step started when it was written.
  if (!sameState(d, memory.written) || memory.step !== step) {
    const started = d.updatedAt === undefined ? now : Date.parse(d.updatedAt);
    memory = { failures: 0, step, stepStartedAt: Number.isFinite(started) ? started : now, lastAnalysis: memory.lastAnalysis, written: d };
  }
  const a = t.analysis;
  if (a === undefined) return { status: status(rollout, 'Progressing', d, step, 'waiting for an analysis', memory), memory };
  memory = { ...memory, lastAnalysis: a };
  const pauseMs = spec.steps[step]!.pauseMs;
  const elapsed = now - (memory.stepStartedAt ?? now);

  switch (a.outcome) {
    case 'error':
      return { status: status(rollout, 'Paused', d, step, a.reasons.join('; '), memory), memory };
    case 'inconclusive':
      return { status: status(rollout, 'Progressing', d, step, `waiting: ${a.reasons.join('; ')}`, memory), memory };
    case 'fail': {
      const failures = memory.failures + 1;
      memory = { ...memory, failures };
      const limit = spec.analysis.failureLimit;
      if (failures < limit) {
        return { status: status(rollout, 'Progressing', d, step, `analysis failed (${failures}/${limit}): ${a.reasons.join('; ')}`, memory), memory };
      }
      const reason = `aborted at ${stepName(spec, step)} after ${failures} failed analyses: ${a.reasons.join('; ')}`;
      const write = next(t, { phase: 'Aborted', share: 0, degraded: true, step, reason, analysis: a });
      memory = { ...memory, written: write, replaced: d };
      return { status: status(rollout, 'Aborted', write, step, reason, memory), memory, write };
    }
    case 'pass': {
      if (elapsed < pauseMs) {
        return { status: status(rollout, 'Progressing', d, step, `analysis passed; ${stepName(spec, step)} for ${Math.ceil((pauseMs - elapsed) / 1000)} s more`, memory), memory };
      }
      if (step === spec.steps.length - 1) {
        const reason = `promoted: ${stepName(spec, step)} passed its analysis`;
        const write = next(t, { phase: 'Promoted', share: d.share, degraded: false, step, reason, analysis: a });
        memory = { ...memory, written: write, replaced: d };
        return { status: status(rollout, 'Promoted', write, step, reason, memory), memory, write };
      }
      const to = step + 1;
      const reason = `advanced to ${stepName(spec, to)}: ${stepName(spec, step)} passed its analysis`;
      const write = next(t, { phase: 'Progressing', share: spec.steps[to]!.percent, degraded: false, step: to, reason, analysis: a });
      memory = { failures: 0, step: to, stepStartedAt: now, lastAnalysis: a, written: write, replaced: d };
      return { status: status(rollout, 'Progressing', write, to, reason, memory), memory, write };
    }
  }
}
