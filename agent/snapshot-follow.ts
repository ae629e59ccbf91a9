/**
 * Interim snapshot follower used by main.ts until agent/snapshot/watch.ts lands: loads the
 * file at start, then re-checks it on fs.watch events of its directory and every `pollMs`.
 * A rejected file is logged and counted once per distinct failure; the last good table stays.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { errorMessage } from '../shared/errors.ts';
import type { Logger } from '../shared/log.ts';
import type { EndpointStates } from './routing/endpoint-states.ts';
import type { RoutingTable } from './routing/types.ts';
import { loadSnapshot } from './snapshot/load.ts';

/** A running follower. */
export interface SnapshotFollower {
  stop(): Promise<void>;
}

/** Follows `path`; `onTable` gets every newly compiled table, `onReject` every new rejection. */
export function followSnapshot(
  path: string,
  states: EndpointStates,
  current: () => RoutingTable | undefined,
  onTable: (t: RoutingTable) => void,
  onReject: (err: unknown) => void,
  log: Logger,
  pollMs = 500,
): SnapshotFollower {
  let running = false;
  let again = false;
  let lastError = '';
  let stopped = false;
  const check = async (): Promise<void> => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        try {
          const r = await loadSnapshot(path, states, current());
          if (r.kind === 'loaded') {
            lastError = '';
            onTable(r.table);
            log.info({ version: r.table.version, checksum: r.table.checksum, bytes: r.bytes, compileMs: Math.round(r.compileMs * 10) / 10 }, 'snapshot loaded');
          } else if (r.kind === 'unchanged') {
            lastError = '';
          }
        } catch (err) {
          const msg = errorMessage(err);
          if (msg !== lastError) {
            lastError = msg;
            onReject(err);
            log.warn({ path, err: msg, keptVersion: current()?.version ?? null }, 'snapshot rejected; keeping the last good one');
          }
        }
      } while (again && !stopped);
    } finally {
      running = false;
    }
  };
  let watcher: FSWatcher | undefined;
  try {
    const name = basename(path);
    watcher = watch(dirname(path), (_e, f) => {
      if (f === null || f === name) void check();
    });
    watcher.on('error', () => {});
  } catch {
    watcher = undefined; // directory missing: polling finds the file once it appears
  }
  const timer = setInterval(() => void check(), pollMs);
  timer.unref();
  void check();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      watcher?.close();
    },
  };
}
