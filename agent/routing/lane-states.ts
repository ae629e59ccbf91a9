/**
 * LaneStates as routing applies them (docs/reference.md#progressive-delivery), worked out once
 * per snapshot: per lane, its share of uncoloured entry traffic as dye rules, and whether it is
 * degraded. The share is expressed as the dye rules it is equivalent to, so the dye table
 * matches it like any rule:
 *   with the lane's Rollout `stickyKey` K:  K hashPercent share  |  K absent and percent share
 *   without one:                            percent share
 * `hashPercent` is the sticky FNV-1a bucket (hash.ts): the users in at 5% are in at 25%.
 */
import type { Lane, LaneState, Rollout } from '../../shared/schema/documents.ts';
import type { MatchRule } from '../../shared/schema/fields.ts';

/** A lane's LaneState, compiled. */
export interface LaneRuntime {
  /** Lane document name. */
  readonly lane: string;
  readonly color: string;
  readonly share: number;
  readonly degraded: boolean;
  /** Why (LaneState.reason), for /config. */
  readonly reason: string | undefined;
  /** The share as dye rules (empty when the share is 0). */
  readonly shareRules: readonly MatchRule[];
  /** Services whose inbound applies the share: the Rollout's entry, else the Lane's dye.entry; undefined: every service. */
  readonly entry: readonly string[] | undefined;
}

/** The dye rules equivalent to a share of `share` percent, sticky by `stickyKey` (`header:NAME` | `cookie:NAME`). */
export function shareRules(share: number, stickyKey: string | undefined): MatchRule[] {
  if (share <= 0) return [];
  if (stickyKey === undefined) return [{ percent: share }];
  const colon = stickyKey.indexOf(':');
  const where = stickyKey.slice(0, colon) === 'header' ? 'headers' : 'cookies';
  const name = stickyKey.slice(colon + 1);
  return [{ [where]: { [name]: { hashPercent: share } } }, { [where]: { [name]: { present: false } }, percent: share }];
}

/** The LaneStates of a snapshot by lane colour (lanes without a Lane document are left out). */
export function compileLaneStates(lanes: readonly Lane[], states: readonly LaneState[], rollouts: readonly Rollout[]): Map<string, LaneRuntime> {
  const out = new Map<string, LaneRuntime>();
  if (states.length === 0) return out;
  const laneByName = new Map(lanes.map((l) => [l.metadata.name, l]));
  const rolloutOf = new Map<string, Rollout>();
  for (const r of [...rollouts].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0))) {
    if (!rolloutOf.has(r.spec.lane)) rolloutOf.set(r.spec.lane, r);
  }
  for (const s of states) {
    const lane = laneByName.get(s.metadata.name);
    if (lane === undefined) continue;
    const rollout = rolloutOf.get(lane.metadata.name);
    out.set(lane.spec.color, {
      lane: lane.metadata.name,
      color: lane.spec.color,
      share: s.spec.share,
      degraded: s.spec.degraded,
      reason: s.spec.reason,
      shareRules: shareRules(s.spec.share, rollout?.spec.stickyKey),
      entry: rollout?.spec.entry ?? lane.spec.dye?.entry,
    });
  }
  return out;
}
