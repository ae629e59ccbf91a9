/**
 * The checks of the rule documents that a field's type cannot say: across the fields of one
 * object (a lane cannot fall back to itself), or beyond a pattern (a regex must be RE2). Each
 * is a named function from the parsed value to why it is wrong (undefined: it is right). The zod
 * schema attaches them by name (refine.ts) and the validator compiled from the schema
 * (docs/footprint.md#the-snapshot-check) calls the same functions, so this module loads no zod.
 */
import { NO_FALLBACK } from '../color.ts';
import { regexProblem } from './regex.ts';

type Fields = Record<string, unknown>;

export const REFINEMENTS = {
  /** ValueMatcher.regex: RE2 syntax, matched in linear time. */
  regexIsRE2: (s: string | undefined) => {
    const why = s === undefined ? undefined : regexProblem(s);
    return why === undefined ? undefined : `is not an RE2 regular expression (no backreferences or lookaround): ${why}`;
  },
  /** ValueMatcher: one way of matching a value. */
  oneMatcherOp: (m: Fields) =>
    Object.values(m).filter((v) => v !== undefined).length === 1 ? undefined : 'set exactly one of exact, prefix, regex, present, hashPercent',
  /** MatchRule: a condition at least. */
  matchHasCondition: (m: Fields) =>
    m.headers !== undefined || m.cookies !== undefined || m.query !== undefined || m.percent !== undefined
      ? undefined
      : 'a match entry needs at least one of headers, cookies, query, percent',
  /** LaneSpec.color: the word that marks a strict lane is no colour. */
  laneColorNotReserved: (l: { color: unknown }) => (l.color !== NO_FALLBACK ? undefined : `"${NO_FALLBACK}" is reserved and cannot be a lane colour`),
  /** LaneSpec.fallback: another lane. */
  fallbackIsAnotherLane: (l: { color: unknown; fallback: unknown }) => (l.fallback !== l.color ? undefined : 'a lane cannot fall back to itself'),
  /** ServiceSpec.split: weights that add up. */
  splitSumsTo100: (s: { split?: Record<string, number> }) =>
    s.split === undefined || Object.values(s.split).reduce((a, b) => a + b, 0) === 100 ? undefined : 'split weights must sum to 100',
  /** ServiceSpec.splitKey: only with a split to make sticky. */
  splitKeyNeedsSplit: (s: { split?: unknown; splitKey?: unknown }) =>
    s.splitKey === undefined || s.split !== undefined ? undefined : 'splitKey needs a split',
  /** RolloutSpec.steps: each share above the one before. */
  stepsIncrease: (r: { steps: readonly { percent: number }[] }) =>
    r.steps.every((s, i) => i === 0 || s.percent > r.steps[i - 1]!.percent) ? undefined : 'step percentages must increase',
  /** RolloutSpec.steps: the last step promotes the lane. */
  lastStepIs100: (r: { steps: readonly { percent: number }[] }) => (r.steps[r.steps.length - 1]?.percent === 100 ? undefined : 'the last step must be percent 100'),
} as const;

export type RefinementName = keyof typeof REFINEMENTS;
