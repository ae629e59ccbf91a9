/**
 * The agent's view of the snapshot file over time. The daemon replaces the file by rename,
 * so the DIRECTORY is watched (a watch on the file itself would follow the old inode), with a
 * slow stat poll as a safety net for filesystems where fs.watch is silent (network mounts,
 * some container volumes) and to re-arm the watch when the directory appears later. The poll is
 * Node's `watchFile`: libuv stats the file on its thread pool and calls back only when it changed,
 * so an idle agent runs no JavaScript each interval.
 *
 * Each change is loaded (load.ts); a good snapshot is compiled and swapped in as one table,
 * `onChange` listeners are told, and the state of instances that left is pruned. A broken
 * one (truncated, bad checksum, bad JSON, bad schema, unreadable) is rejected with a warning
 * log line and `rejectedCount`, and the last good table stays in use. Loads never overlap;
 * changes that arrive during a load cause one more load after it.
 */
import { type FSWatcher, type StatsListener, unwatchFile, watch, watchFile } from 'node:fs';
import { basename, dirname } from 'node:path';
import { DyelineError, ErrorCode, errorMessage } from '../../shared/errors.ts';
import { stat } from '../../shared/fs-read.ts';
import type { Logger } from '../../shared/log.ts';
import type { CompiledTable } from '../routing/compile.ts';
import { EndpointStates } from '../routing/endpoint-states.ts';
import { loadSnapshot } from './load.ts';

/** Options of a SnapshotWatcher. */
export interface SnapshotWatcherOptions {
  /** The snapshot file. */
  path: string;
  /** Live endpoint state shared by every table (default: a new registry). */
  states?: EndpointStates;
  /** Logger for loads and rejections (default: silent). */
  log?: Logger;
  /** Stat poll interval in ms (default 2000; 0 disables the poll). */
  pollMs?: number;
  /** Delay between a directory event and the load, to coalesce bursts (default 20 ms). */
  debounceMs?: number;
}

/** What one reload did. */
export type ReloadOutcome = 'loaded' | 'unchanged' | 'missing' | 'rejected';

type ChangeListener = (table: CompiledTable, previous: CompiledTable | undefined) => void;
type RejectListener = (err: DyelineError) => void;

/** Watches and loads the snapshot file; `current()` is the table to route with. */
export class SnapshotWatcher {
  readonly path: string;
  readonly states: EndpointStates;
  readonly #log: Logger | undefined;
  readonly #pollMs: number;
  readonly #debounceMs: number;
  #table: CompiledTable | undefined;
  #rejected = 0;
  #lastError: DyelineError | undefined;
  #loadedAt: string | undefined;
  #running: Promise<ReloadOutcome> | undefined;
  #pending = false;
  #closed = false;
  #watcher: FSWatcher | undefined;
  #poll: StatsListener | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #statSig = '';
  /** Stat signature of the last rejected file: the same bytes are not rejected (and counted) twice. */
  #rejectedSig = '';
  #missingLogged = false;
  readonly #onChange = new Set<ChangeListener>();
  readonly #onReject = new Set<RejectListener>();

  constructor(opts: SnapshotWatcherOptions) {
    this.path = opts.path;
    this.states = opts.states ?? new EndpointStates();
    this.#log = opts.log;
    this.#pollMs = opts.pollMs ?? 2000;
    this.#debounceMs = opts.debounceMs ?? 20;
  }

  /** The table in use; undefined until a snapshot has loaded. */
  current(): CompiledTable | undefined {
    return this.#table;
  }

  /** Snapshots rejected so far (for `dyeline_snapshot_rejected_total`). */
  get rejectedCount(): number {
    return this.#rejected;
  }

  /** Why the last load failed (rejected or missing); cleared by the next good load. */
  get lastError(): DyelineError | undefined {
    return this.#lastError;
  }

  /** When the table in use was loaded (ISO), or undefined. */
  get loadedAt(): string | undefined {
    return this.#loadedAt;
  }

  /** Calls `fn` after each new table is swapped in; returns an unsubscribe function. */
  onChange(fn: ChangeListener): () => void {
    this.#onChange.add(fn);
    return () => this.#onChange.delete(fn);
  }

  /** Calls `fn` for each rejected snapshot; returns an unsubscribe function. */
  onReject(fn: RejectListener): () => void {
    this.#onReject.add(fn);
    return () => this.#onReject.delete(fn);
  }

  /** Loads the file once, then watches it. Resolves with the first load's outcome. */
  async start(): Promise<ReloadOutcome> {
    const outcome = await this.reload();
    this.#arm();
    if (this.#pollMs > 0 && !this.#closed) {
      this.#poll = () => void this.#checkStat();
      watchFile(this.path, { interval: this.#pollMs, persistent: false }, this.#poll);
    }
    return outcome;
  }

  /** Stops watching. The current table stays readable. */
  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#poll) unwatchFile(this.path, this.#poll);
    if (this.#debounce) clearTimeout(this.#debounce);
  }

  /** Loads the file now (after any load in progress). */
  reload(): Promise<ReloadOutcome> {
    if (this.#running !== undefined) {
      this.#pending = true;
      return this.#running;
    }
    const run = async (): Promise<ReloadOutcome> => {
      let outcome: ReloadOutcome;
      do {
        this.#pending = false;
        outcome = await this.#loadOnce();
      } while (this.#pending && !this.#closed);
      return outcome;
    };
    this.#running = run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Watches the directory; on failure (e.g. it does not exist yet) the poll retries. */
  #arm(): void {
    if (this.#watcher !== undefined || this.#closed) return;
    const file = basename(this.path);
    try {
      this.#watcher = watch(dirname(this.path), { persistent: false }, (_event, name) => {
        if (name === null || name === file) this.#schedule();
      });
      this.#watcher.on('error', (err) => {
        this.#log?.warn({ path: this.path, err: errorMessage(err) }, 'snapshot directory watch failed; polling');
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch (err) {
      this.#log?.debug({ path: this.path, err: errorMessage(err) }, 'cannot watch snapshot directory yet; polling');
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => void this.reload(), this.#debounceMs);
    this.#debounce.unref();
  }

  async #signature(): Promise<string> {
    try {
      const st = await stat(this.path);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return 'absent';
    }
  }

  async #checkStat(): Promise<void> {
    this.#arm();
    if ((await this.#signature()) !== this.#statSig) await this.reload();
  }

  async #loadOnce(): Promise<ReloadOutcome> {
    const sig = await this.#signature();
    this.#statSig = sig;
    if (sig !== 'absent' && sig === this.#rejectedSig) return 'rejected';
    try {
      const result = await loadSnapshot(this.path, this.states, this.#table);
      if (result.kind === 'missing') {
        this.#lastError = new DyelineError(ErrorCode.SnapshotRead, `snapshot ${this.path} does not exist`);
        if (!this.#missingLogged) this.#log?.warn({ path: this.path, kept: this.#table?.version ?? null }, 'snapshot file not found');
        this.#missingLogged = true;
        return 'missing';
      }
      this.#missingLogged = false;
      this.#rejectedSig = '';
      if (result.kind === 'unchanged') return 'unchanged';
      const previous = this.#table;
      const table = result.table;
      this.#table = table;
      this.#loadedAt = table.loadedAt;
      this.#lastError = undefined;
      const pruned = this.states.prune(table);
      this.#log?.info(
        { path: this.path, version: table.version, checksum: table.checksum.slice(0, 19), bytes: result.bytes, decodeMs: Math.round(result.decodeMs), compileMs: Math.round(result.compileMs), pruned },
        'snapshot loaded',
      );
      for (const fn of this.#onChange) {
        try {
          fn(table, previous);
        } catch (err) {
          this.#log?.error({ err: errorMessage(err) }, 'snapshot change listener failed');
        }
      }
      return 'loaded';
    } catch (err) {
      const e = err instanceof DyelineError ? err : new DyelineError(ErrorCode.Schema, `snapshot cannot be compiled: ${errorMessage(err)}`, { cause: err });
      this.#rejected++;
      this.#rejectedSig = sig;
      this.#lastError = e;
      this.#log?.warn({ path: this.path, code: e.code, err: e.message, kept: this.#table?.version ?? null }, 'snapshot rejected');
      for (const fn of this.#onReject) {
        try {
          fn(e);
        } catch (listenerErr) {
          this.#log?.error({ err: errorMessage(listenerErr) }, 'snapshot reject listener failed');
        }
      }
      return 'rejected';
    }
  }
}
