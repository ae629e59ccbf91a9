/**
 * What the daemon e2e tests wait on, whatever the source: the snapshot file on disk reaching a
 * state, and the daemon's admin /status (its sources) reaching one. Both poll with a deadline.
 *
 *   const s = await snapshotWhere(path, (s) => s.lanes.length === 1, 'first snapshot');
 *   await statusWhere(daemon, (src) => !src.connected, 'disconnected in /status');
 */
import type { Snapshot } from '../../shared/schema/snapshot.ts';
import { readSnapshotFile } from '../../shared/snapshot-file.ts';
import { type DyelineProcess, getJson } from './process.ts';
import { waitFor } from './wait.ts';

/** One source as the daemon's admin /status reports it (the fields the tests read). */
export interface SourceStatus {
  kind: string;
  uri: string;
  connected: boolean;
  /** etcd: the last revision seen; null before the first read (Nacos sources have none). */
  revision?: string | null;
  error: string | null;
  rejected: { key: string; reason: string }[];
}

/** The daemon's admin /status (the fields the tests read). */
export interface DaemonStatus {
  snapshotVersion: number;
  sources: SourceStatus[];
}

/** GET /status of a running daemon's admin listener. */
export async function daemonStatus(d: DyelineProcess): Promise<DaemonStatus> {
  return (await getJson<DaemonStatus>(d.listeners.get('admin')!, '/status')).body;
}

/** Polls /status until `pred` holds for the first source; throws naming `what` after `timeoutMs` (default 15 s). */
export async function statusWhere(d: DyelineProcess, pred: (s: SourceStatus) => boolean, what: string, timeoutMs = 15_000): Promise<DaemonStatus> {
  return waitFor(
    async () => {
      const st = await daemonStatus(d);
      return pred(st.sources[0]!) ? st : undefined;
    },
    { timeoutMs, what },
  );
}

/**
 * Polls the snapshot file at `path` until it exists, verifies and satisfies `pred`; throws naming
 * `what` after `timeoutMs` (default 15 s).
 */
export async function snapshotWhere(path: string, pred: (s: Snapshot) => boolean, what: string, timeoutMs = 15_000): Promise<Snapshot> {
  return waitFor(
    async () => {
      const s = await readSnapshotFile(path).catch(() => undefined);
      return s && pred(s) ? s : undefined;
    },
    { timeoutMs, what },
  );
}

/** What {@link observeSnapshots} saw of a snapshot file over time. */
export interface SnapshotObservation {
  /** Each distinct snapshot read, in the order read. */
  snapshots: Snapshot[];
  /** Reads that found a file failing verification (checksum, JSON, schema): a torn or partial write. */
  torn: string[];
  /** Places where a later read had a version lower than an earlier one. */
  regressions: string[];
  /** Number of reads. */
  reads: number;
}

/**
 * Reads the snapshot file at `path` every `intervalMs` (default 5 ms) until `stop()`, keeping every
 * distinct version read, every read that failed verification, and every version that went backwards.
 * A missing file is not a failure (the daemon may not have written yet).
 */
export function observeSnapshots(path: string, intervalMs = 5): { stop(): Promise<SnapshotObservation> } {
  const seen: SnapshotObservation = { snapshots: [], torn: [], regressions: [], reads: 0 };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      seen.reads++;
      try {
        const s = await readSnapshotFile(path);
        const last = seen.snapshots.at(-1);
        if (s !== undefined && (last === undefined || s.version !== last.version)) {
          if (last !== undefined && s.version < last.version) seen.regressions.push(`version ${last.version} then ${s.version}`);
          seen.snapshots.push(s);
        }
      } catch (err) {
        seen.torn.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return seen;
    },
  };
}

/**
 * Checks that a key → value series never goes back across `snapshots`: for each key `valueOf`
 * gives a number that must never decrease, and a key that was present never disappears.
 * Returns the violations (empty when the series is monotonic).
 */
export function regressionsOf(snapshots: readonly Snapshot[], valuesOf: (s: Snapshot) => Map<string, number>): string[] {
  const out: string[] = [];
  const last = new Map<string, { value: number; version: number }>();
  for (const s of snapshots) {
    const now = valuesOf(s);
    for (const [key, prev] of last) {
      const v = now.get(key);
      if (v === undefined) out.push(`${key}: present at version ${prev.version}, gone at ${s.version}`);
      else if (v < prev.value) out.push(`${key}: ${prev.value} at version ${prev.version}, ${v} at ${s.version}`);
    }
    for (const [key, value] of now) last.set(key, { value, version: s.version });
  }
  return out;
}
