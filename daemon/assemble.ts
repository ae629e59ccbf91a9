/**
 * Assembles the snapshot file from the merged documents. Each document's bytes were
 * serialised once when it was accepted, so a write is a (usually cached) sort, one buffer
 * concatenation and one hash — not a re-serialisation of every document.
 */
import { createHash } from 'node:crypto';
import type { SnapshotSource } from '../shared/schema/snapshot.ts';
import type { Accepted } from './store.ts';
import type { Merged } from './merge.ts';

const LANES = Buffer.from('"lanes":[');
const SERVICES = Buffer.from('],"services":[');
const INSTANCES = Buffer.from('],"instances":[');
const END = Buffer.from(']}');
const PREFIX = Buffer.from('{"checksum":"sha256:');

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

/**
 * The snapshot file bytes: checksum header, then the body (`version`, `generatedAt`, `sources`,
 * `lanes`, `services`, `instances`) — same layout as shared/snapshot-file.ts encodeSnapshot.
 */
export function assembleSnapshot(
  merged: Merged,
  order: readonly string[],
  head: { version: number; generatedAt: string; sources: readonly SnapshotSource[] },
): Buffer {
  const byKind: Record<Accepted['doc']['kind'], Buffer[]> = { Lane: [], Service: [], Instance: [] };
  for (const id of order) {
    const a = merged.docs.get(id)!;
    const list = byKind[a.doc.kind];
    list.push(list.length === 0 ? a.bytes.subarray(1) : a.bytes);
  }
  const body = [
    Buffer.from(
      `"apiVersion":"dyeline.io/v1","kind":"Snapshot","version":${head.version},"generatedAt":${JSON.stringify(head.generatedAt)},"sources":${JSON.stringify(head.sources)},`,
    ),
    LANES,
    ...byKind.Lane,
    SERVICES,
    ...byKind.Service,
    INSTANCES,
    ...byKind.Instance,
    END,
  ];
  // One copy into the final buffer, then one hash over everything after the header.
  const headerLength = PREFIX.length + 64 + 2;
  const out = Buffer.concat([Buffer.alloc(headerLength), ...body]);
  const digest = createHash('sha256').update(out.subarray(headerLength)).digest('hex');
  out.write(`${PREFIX.toString()}${digest}",`, 0, 'latin1');
  return out;
}
