/**
 * The snapshot file's bytes. The checksum is the first field, of fixed length, and covers
 * every byte after it, so a reader verifies integrity before parsing and a truncated or
 * hand-edited file is caught without any canonical-JSON step:
 *
 *   {"checksum":"sha256:<64 hex>",<rest of the JSON object>
 */
import { createHash } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DyelineError, ErrorCode, ValidationError } from './errors.ts';
import { readFile } from './fs-read.ts';
import { formatIssues } from './schema/issues.ts';
import type { Snapshot, SnapshotBody } from './schema/snapshot.ts';
import { checkSnapshot } from './schema/validators/generated.ts';

const PREFIX = '{"checksum":"sha256:';
const HEADER_LENGTH = PREFIX.length + 64 + 2; // hex digits, closing quote, comma

/** Serialises a snapshot body with its checksum. */
export function encodeSnapshot(body: SnapshotBody): string {
  // Drop the opening brace: the checksum header supplies it.
  return frameSnapshot([Buffer.from(JSON.stringify(body).slice(1))]).toString('utf8');
}

/**
 * The file bytes for a body given as JSON parts that follow its opening brace (the daemon passes
 * each document's cached bytes): the checksum header, then the parts — one copy, one hash.
 */
export function frameSnapshot(rest: readonly Uint8Array[]): Buffer {
  const out = Buffer.concat([Buffer.alloc(HEADER_LENGTH), ...rest]);
  const digest = createHash('sha256').update(out.subarray(HEADER_LENGTH)).digest('hex');
  out.write(`${PREFIX}${digest}",`, 0, 'latin1');
  return out;
}

/**
 * The checksum of snapshot bytes (`sha256:<hex>`) after verifying that it covers the content;
 * a DyelineError (SnapshotChecksum) when the file is empty, truncated or edited.
 */
export function verifySnapshotChecksum(buf: Buffer): string {
  if (buf.length < HEADER_LENGTH + 2 || buf.toString('latin1', 0, PREFIX.length) !== PREFIX) {
    throw new DyelineError(ErrorCode.SnapshotChecksum, 'snapshot does not start with its checksum (empty, truncated or not a snapshot)');
  }
  const expected = buf.toString('latin1', PREFIX.length, PREFIX.length + 64);
  const actual = createHash('sha256').update(buf.subarray(HEADER_LENGTH)).digest('hex');
  if (expected !== actual) {
    throw new DyelineError(ErrorCode.SnapshotChecksum, `snapshot checksum mismatch: file says ${expected.slice(0, 12)}…, content is ${actual.slice(0, 12)}…`);
  }
  return `sha256:${expected}`;
}

/**
 * Verifies and parses snapshot bytes. Throws a DyelineError (checksum, parse or schema).
 * `checksumVerified` skips the hash when the caller already ran verifySnapshotChecksum.
 */
export function decodeSnapshot(bytes: Buffer | string, opts: { checksumVerified?: boolean } = {}): Snapshot {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  if (!opts.checksumVerified) verifySnapshotChecksum(buf);
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new DyelineError(ErrorCode.Parse, `snapshot is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const result = checkSnapshot(raw);
  if (!result.ok) throw new ValidationError(ErrorCode.Schema, formatIssues(result.issues, 'snapshot'));
  return result.value;
}

/** Reads a snapshot file's bytes; `undefined` when it does not exist, a SnapshotRead error when unreadable. */
export async function readSnapshotBytes(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DyelineError(ErrorCode.SnapshotRead, `cannot read snapshot ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads and verifies a snapshot file; `undefined` when it does not exist. */
export async function readSnapshotFile(path: string): Promise<Snapshot | undefined> {
  const bytes = await readSnapshotBytes(path);
  return bytes === undefined ? undefined : decodeSnapshot(bytes);
}

/**
 * Best-effort version of a snapshot that fails verification, so a daemon restarting next to
 * a damaged file still continues the version sequence.
 */
export async function salvageVersion(path: string): Promise<number | undefined> {
  try {
    const head = (await readFile(path)).toString('utf8', 0, 4096);
    const m = /"version":(\d+)/.exec(head);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Replaces `path` atomically: temp file in the same dir, fsync, rename, fsync the dir. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
