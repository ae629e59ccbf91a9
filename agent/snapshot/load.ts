/**
 * Loading one snapshot file: read → verify (checksum, JSON, schema: decodeSnapshot) →
 * compile. A file whose checksum equals the table in use is not parsed or compiled again.
 * Every failure is a DyelineError (read, checksum, parse, schema); the caller keeps its last
 * good table.
 */
import { decodeSnapshot, readSnapshotBytes, verifySnapshotChecksum } from '../../shared/snapshot-file.ts';
import { type CompiledTable, compileSnapshot } from '../routing/compile.ts';
import type { EndpointStates } from '../routing/endpoint-states.ts';
import type { RoutingTable } from '../routing/types.ts';

/** The outcome of one load. */
export type LoadResult =
  | { kind: 'missing' }
  | { kind: 'unchanged'; checksum: string }
  | { kind: 'loaded'; table: CompiledTable; bytes: number; decodeMs: number; compileMs: number };

/** Verifies and compiles snapshot bytes, unless their checksum is the one of `current`. */
export function loadSnapshotBytes(buf: Buffer, states: EndpointStates, current?: RoutingTable): LoadResult {
  const checksum = verifySnapshotChecksum(buf);
  if (current !== undefined && current.checksum === checksum) return { kind: 'unchanged', checksum };
  const t0 = performance.now();
  const snapshot = decodeSnapshot(buf, { checksumVerified: true });
  const t1 = performance.now();
  const table = compileSnapshot(snapshot, states);
  const t2 = performance.now();
  return { kind: 'loaded', table, bytes: buf.length, decodeMs: t1 - t0, compileMs: t2 - t1 };
}

/** Reads, verifies and compiles the snapshot at `path` (see loadSnapshotBytes). */
export async function loadSnapshot(path: string, states: EndpointStates, current?: RoutingTable): Promise<LoadResult> {
  const buf = await readSnapshotBytes(path);
  if (buf === undefined) return { kind: 'missing' };
  return loadSnapshotBytes(buf, states, current);
}
