/**
 * Assembles the snapshot file from the merged documents. Each document's bytes were
 * serialised once when it was accepted, so a write is a (usually cached) sort, one buffer
 * concatenation and one hash — not a re-serialisation of every document.
 */
import { API_VERSION } from '../shared/schema/kinds.ts';
import type { SnapshotSource } from '../shared/schema/snapshot.ts';
import { frameSnapshot } from '../shared/snapshot-file.ts';
import type { Accepted } from './store.ts';
import type { Merged } from './merge.ts';

const LANES = Buffer.from('"lanes":[');
const SERVICES = Buffer.from('],"services":[');
const INSTANCES = Buffer.from('],"instances":[');
const ROLLOUTS = Buffer.from('],"rollouts":[');
const LANE_STATES = Buffer.from('],"laneStates":[');
const END = Buffer.from(']}');

/** Documents in snapshot order (by kind, then identity); reuses `previous` when membership is unchanged. */
export function orderDocuments(merged: Merged, previous: readonly string[] | undefined): string[] {
  if (previous && previous.length === merged.docs.size && previous.every((id) => merged.docs.has(id))) return previous as string[];
  return [...merged.docs.keys()].sort();
}

/** True when `a` and `b` hold the very same accepted documents. */
export function sameDocuments(a: Merged | undefined, b: Merged): boolean {
  if (!a || a.docs.size !== b.docs.size) return false;
  for (const [id, doc] of b.docs) if (a.docs.get(id) !== doc) return false;
  return true;
}

/** The snapshot file bytes: the body (`version`, `generatedAt`, `sources`, `lanes`, `services`, `instances`, `rollouts`, `laneStates`) framed by shared/snapshot-file.ts. */
export function assembleSnapshot(
  merged: Merged,
  order: readonly string[],
  head: { version: number; generatedAt: string; sources: readonly SnapshotSource[] },
): Buffer {
  const byKind: Record<Accepted['doc']['kind'], Buffer[]> = { Lane: [], Service: [], Instance: [], Rollout: [], LaneState: [] };
  for (const id of order) {
    const a = merged.docs.get(id)!;
    const list = byKind[a.doc.kind];
    list.push(list.length === 0 ? a.bytes.subarray(1) : a.bytes);
  }
  return frameSnapshot([
    Buffer.from(
      `"apiVersion":"${API_VERSION}","kind":"Snapshot","version":${head.version},"generatedAt":${JSON.stringify(head.generatedAt)},"sources":${JSON.stringify(head.sources)},`,
    ),
    LANES,
    ...byKind.Lane,
    SERVICES,
    ...byKind.Service,
    INSTANCES,
    ...byKind.Instance,
    ROLLOUTS,
    ...byKind.Rollout,
    LANE_STATES,
    ...byKind.LaneState,
    END,
  ]);
}
