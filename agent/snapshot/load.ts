/**
 * Loading one snapshot file: read → verify (checksum, JSON, schema: decodeSnapshot) →
 * compile. A file whose checksum equals the table in use is not parsed or compiled again.
 * Every failure is a DyelineError (read, checksum, parse, schema); the caller keeps its last
 * good table.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DyelineError, ErrorCode } from '../../shared/errors.ts';
import { decodeSnapshot } from '../../shared/snapshot-file.ts';
import { type CompiledTable, compileSnapshot } from '../routing/compile.ts';
import type { EndpointStates } from '../routing/endpoint-states.ts';
import type { RoutingTable } from '../routing/types.ts';

/** `{"checksum":"sha256:` — the fixed start of every snapshot file (shared/snapshot-file.ts). */
const PREFIX = '{"checksum":"sha256:';
const HEADER_LENGTH = PREFIX.length + 64 + 2;

/** The outcome of one load. */
export type LoadResult =
  | { kind: 'missing' }
  | { kind: 'unchanged'; checksum: string }
  | { kind: 'loaded'; table: CompiledTable; bytes: number; decodeMs: number; compileMs: number };

/**
 * The checksum of snapshot bytes (`sha256:<hex>`) after verifying it covers the content, or
 * a DyelineError (SnapshotChecksum) when the file is empty, truncated or edited.
 */
export function verifiedChecksum(buf: Buffer): string {
  if (buf.length < HEADER_LENGTH + 2 || buf.toString('latin1', 0, PREFIX.length) !== PREFIX) {
    throw new DyelineError(ErrorCode.SnapshotChecksum, 'snapshot does not start with its checksum (empty, truncated or not a snapshot)');
  }
  const declared = buf.toString('latin1', PREFIX.length, PREFIX.length + 64);
  const actual = createHash('sha256').update(buf.subarray(HEADER_LENGTH)).digest('hex');
  if (declared !== actual) {
    throw new DyelineError(ErrorCode.SnapshotChecksum, `snapshot checksum mismatch: file says ${declared.slice(0, 12)}…, content is ${actual.slice(0, 12)}…`);
  }
  return `sha256:${declared}`;
}

/** Reads a snapshot file; undefined when it does not exist, a SnapshotRead error when unreadable. */
export async function readSnapshotBytes(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DyelineError(ErrorCode.SnapshotRead, `cannot read snapshot ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Verifies and compiles snapshot bytes, unless their checksum is the one of `current`. */
export function loadSnapshotBytes(buf: Buffer, states: EndpointStates, current?: RoutingTable): LoadResult {
  const checksum = verifiedChecksum(buf);
  if (current !== undefined && current.checksum === checksum) return { kind: 'unchanged', checksum };
  const t0 = performance.now();
  const snapshot = decodeSnapshot(buf);
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
