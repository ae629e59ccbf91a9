/**
 * The audit trail of a lane (docs/reference.md#progressive-delivery): every LaneState the
 * controller writes carries, in `history`, the change it makes — who, why, the analysis — after
 * the changes before it, newest last, at most HISTORY_LIMIT. A change someone else made in
 * between (a manual edit, which writes no history of its own) is recorded from the document's
 * updatedBy/updatedAt/reason the next time the controller writes, so the trail has no gaps.
 */
import { HISTORY_LIMIT, type LaneStateChange, type LaneStateSpec } from '../../shared/schema/rollout.ts';

/** The change a LaneState document describes (its current state and who wrote it). */
export function changeOf(doc: LaneStateSpec): LaneStateChange | undefined {
  if (doc.updatedAt === undefined) return undefined;
  const change: LaneStateChange = {
    at: doc.updatedAt,
    by: doc.updatedBy ?? 'unknown',
    share: doc.share,
    degraded: doc.degraded,
    reason: doc.reason ?? 'edited without a reason',
  };
  if (doc.phase !== undefined) change.phase = doc.phase;
  if (doc.step !== undefined) change.step = doc.step;
  if (doc.analysis !== undefined) change.analysis = doc.analysis;
  return change;
}

/** The history after `next`: the previous document's own change first when its history lacks it. */
export function appendChange(previous: LaneStateSpec | undefined, next: LaneStateChange): LaneStateChange[] {
  const history = previous === undefined ? [] : [...previous.history];
  const own = previous === undefined ? undefined : changeOf(previous);
  const last = history[history.length - 1];
  if (own !== undefined && (last === undefined || last.at !== own.at || last.by !== own.by)) history.push(own);
  history.push(next);
  return history.slice(-HISTORY_LIMIT);
}
