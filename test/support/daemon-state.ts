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
