/**
 * Progressive delivery documents (docs/reference.md#progressive-delivery): the rule kind
 * `Rollout` (the lane it widens, its steps, its analysis) and the runtime kind `LaneState`
 * (the lane's share of entry traffic and whether it is degraded, written by `dyeline rollout`
 * or by hand), with the bounded history of who changed it, why, and on which analysis.
 */
import { z } from 'zod';
import { DocumentName, ServiceName } from './fields.ts';
import { refinement } from './refine.ts';

/** `header:NAME` or `cookie:NAME`: the value that keeps a request's answer sticky. */
export const StickyKey = z
  .string()
  .regex(/^(header|cookie):[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: 'must be header:NAME or cookie:NAME' });

const Percent = z.number().min(0).max(100);

export const RolloutStep = z.strictObject({
  percent: Percent.describe('Share of uncoloured entry traffic dyed into the lane at this step.'),
  pauseMs: z
    .int()
    .min(0)
    .max(86_400_000)
    .default(0)
    .describe('Time the lane stays at this step before it may advance (an analysis must pass after it).'),
});
export type RolloutStep = z.infer<typeof RolloutStep>;

export const RolloutAnalysis = z.strictObject({
  intervalMs: z.int().min(500).max(3_600_000).default(10_000).describe('How often the lane is analysed.'),
  windowMs: z
    .int()
    .min(500)
    .max(86_400_000)
    .optional()
    .describe('How far back each analysis looks (PromQL range). Absent: intervalMs. Keep it at least two scrape intervals.'),
  failureLimit: z.int().min(1).max(100).default(2).describe('Failed analyses within one step that abort the rollout.'),
  minRequests: z
    .int()
    .min(1)
    .default(20)
    .describe('Requests to the lane within the window below which an analysis is inconclusive (neither passes nor fails).'),
  maxErrorRatePercent: Percent.default(1).describe(
    'Highest error rate of the lane: 5xx answers from its instances, and requests that failed on it and were served elsewhere (fallback error or circuit-open).',
  ),
  maxLatencyRatio: z
    .number()
    .min(1)
    .max(1000)
    .default(1.5)
    .describe('Highest ratio of the lane\'s latency quantile to stable\'s, per service where each served at least 2 / (1 − latencyQuantile) requests in the window (the worst service counts).'),
  latencyQuantile: z.number().min(0.5).max(0.999).default(0.95).describe('The latency quantile compared (0.95: p95, 0.99: p99).'),
  latencyFloorMs: z
    .number()
    .min(0)
    .max(60_000)
    .default(5)
    .describe('Latencies below this count as this in the ratio, so that sub-millisecond differences never fail a lane.'),
});
export type RolloutAnalysis = z.infer<typeof RolloutAnalysis>;

export const RolloutSpec = z
  .strictObject({
    lane: DocumentName.describe('Name of the Lane document this rollout widens.'),
    stickyKey: StickyKey.optional().describe(
      'Keeps users in the lane as its share grows: requests with the same value of this header or cookie get the same answer at every step (absent: random).',
    ),
    entry: z
      .array(ServiceName)
      .min(1)
      .optional()
      .describe('Services whose inbound listener dyes the share. Absent: the lane\'s dye.entry, else every service.'),
    steps: z
      .array(RolloutStep)
      .min(1)
      .max(50)
      .describe('Shares the lane goes through, increasing, ending at 100 (promotion).'),
    analysis: RolloutAnalysis.default(RolloutAnalysis.parse({})).describe('How the lane is judged against stable.'),
  })
  .check(refinement('stepsIncrease', ['steps']), refinement('lastStepIs100', ['steps']));
export type RolloutSpec = z.infer<typeof RolloutSpec>;

/** Where a rollout stands. */
export const RolloutPhase = z.enum(['Progressing', 'Paused', 'Promoted', 'Aborted']);
export type RolloutPhase = z.infer<typeof RolloutPhase>;

/** The analysis behind a LaneState write (what the status API shows as lastAnalysis). */
export const AnalysisSummary = z.strictObject({
  at: z.iso.datetime().describe('When the analysis ran.'),
  errorRatePercent: Percent.nullable().describe('Error rate of the lane over the window (null: no lane request).'),
  latencyRatio: z.number().min(0).nullable().describe('Worst lane/stable latency ratio (null: no service served by both).'),
  requests: z.number().min(0).describe('Requests to the lane over the window.'),
  passed: z.boolean().describe('Whether the analysis passed.'),
});
export type AnalysisSummary = z.infer<typeof AnalysisSummary>;

/** One change of a LaneState. */
export const LaneStateChange = z.strictObject({
  at: z.iso.datetime().describe('When the change was written.'),
  by: z.string().min(1).max(253).describe('Who wrote it: rollout/<name> for the controller, or what a manual edit put in updatedBy.'),
  controller: z.string().max(253).optional().describe('The controller instance that wrote it (host and process).'),
  phase: RolloutPhase.optional().describe('Phase after the change.'),
  share: Percent.describe('Share after the change.'),
  degraded: z.boolean().describe('degraded after the change.'),
  step: z.int().min(0).optional().describe('Rollout step index after the change.'),
  reason: z.string().max(1024).describe('Why.'),
  analysis: AnalysisSummary.optional().describe('The analysis that caused it.'),
});
export type LaneStateChange = z.infer<typeof LaneStateChange>;

/** Changes kept in a LaneState: the newest ones, oldest first. */
export const HISTORY_LIMIT = 20;

export const LaneStateSpec = z.strictObject({
  share: Percent.default(0).describe('Percentage of uncoloured entry traffic dyed into the lane, in addition to its dye rules.'),
  degraded: z
    .boolean()
    .default(false)
    .describe('true: every agent sends the lane\'s traffic to its fallback (x-dyeline-fallback: degraded).'),
  phase: RolloutPhase.optional().describe('Phase of the rollout that drives the lane.'),
  step: z.int().min(0).optional().describe('Index of the rollout step the share belongs to.'),
  reason: z.string().max(1024).optional().describe('Why the lane is in this state.'),
  updatedBy: z.string().min(1).max(253).optional().describe('Who wrote it last: rollout/<name> for the controller; anything else is a manual edit, which pauses the rollout.'),
  updatedAt: z.iso.datetime().optional().describe('When it was written.'),
  analysis: AnalysisSummary.optional().describe('The analysis behind the last write.'),
  history: z
    .array(LaneStateChange)
    .max(50)
    .default([])
    .describe(`The last changes (the controller keeps ${HISTORY_LIMIT}), oldest first: the audit trail read by dyeline rollout history.`),
});
export type LaneStateSpec = z.infer<typeof LaneStateSpec>;
