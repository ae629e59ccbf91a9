/**
 * The daemon's core: sources report into per-source stores; a change schedules one coalesced
 * flush (merge → assemble → atomic write). It starts from the snapshot on disk, so a source
 * that is down or not yet synced keeps its last known content, and it never writes before
 * every source has content (synced, or known from disk) unless the initial sync times out.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from '../shared/log.ts';
import { errorMessage } from '../shared/errors.ts';
import { isoNow } from '../shared/iso-time.ts';
import type { Provenance, Snapshot, SnapshotSource } from '../shared/schema/snapshot.ts';
import { readSnapshotFile, salvageVersion, writeFileAtomic } from '../shared/snapshot-file.ts';
import { assembleSnapshot, orderDocuments, sameDocuments } from './assemble.ts';
import { type Merged, merge } from './merge.ts';
import type { DaemonMetrics } from './metrics.ts';
import type { Source, SourceItem, SourceSink } from './sources/source.ts';
import { type Rejection, SourceStore } from './store.ts';

/** Live state of one source, as /status shows it. */
export interface SourceStatus {
  /** The source kind: its URI scheme. */
  kind: string;
  uri: string;
  connected: boolean;
  /** Content reflects the source at least once (this run). */
  synced: boolean;
  /** Content known from the snapshot on disk. */
  seeded: boolean;
  lastSyncAt: string | null;
  revision: string | null;
  error: string | null;
  rejected: Rejection[];
}

export interface DaemonOptions {
  snapshotPath: string;
  /** Delay that coalesces a burst of changes into one write (default 2 ms). */
  coalesceMs?: number;
  /** Write with what is known when not every source synced by then (default 30 s). */
  initialSyncTimeoutMs?: number;
}

export class Daemon {
  private readonly stores: SourceStore[];
  private readonly statuses: SourceStatus[];
  private readonly opts: Required<DaemonOptions>;
  private version = 0;
  /** The merge last written (documents are compared by reference). */
  private written: Merged | undefined;
  private order: string[] | undefined;
  private lastSourcesKey = '';
  private merged: Merged | undefined;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private initialDeadlinePassed = false;
  private initialTimer: NodeJS.Timeout | undefined;
  private readyFromDisk = false;
  private allSyncedWritten = false;
  private stopped = false;
  /** Text of the snapshot last written or found on disk. */
  snapshotBytes: Buffer | undefined;
  lastWriteAt: string | null = null;

  private readonly sources: readonly Source[];
  private readonly log: Logger;
  private readonly metrics: DaemonMetrics;

  constructor(sources: readonly Source[], opts: DaemonOptions, log: Logger, metrics: DaemonMetrics) {
    this.sources = sources;
    this.log = log;
    this.metrics = metrics;
    this.opts = { coalesceMs: 2, initialSyncTimeoutMs: 30_000, ...opts };
    this.stores = sources.map((s) => new SourceStore(s.uri));
    this.statuses = sources.map((s) => ({
      kind: s.kind,
      uri: s.uri,
      connected: false,
      synced: false,
      seeded: false,
      lastSyncAt: null,
      revision: null,
      error: null,
      rejected: [],
    }));
  }

  /**
   * Loads the snapshot on disk (before the status port opens, so /readyz and /snapshot answer
   * from it at once).
   */
  async init(): Promise<void> {
    await this.loadFromDisk();
  }

  /** Starts every source. */
  async start(): Promise<void> {
    this.initialTimer = setTimeout(() => {
      this.initialDeadlinePassed = true;
      const waiting = this.statuses.filter((s) => !s.synced && !s.seeded).map((s) => s.uri);
      if (waiting.length > 0) {
        this.log.warn({ waiting, timeoutMs: this.opts.initialSyncTimeoutMs }, 'initial sync timed out; writing the snapshot without these sources');
        this.schedule();
      }
    }, this.opts.initialSyncTimeoutMs);
    this.initialTimer.unref();
    for (const i of this.sources.keys()) this.noteConnection(i, false);
    await Promise.all(this.sources.map((s, i) => s.start(this.sinkFor(i))));
  }

  /** Stops sources and finishes the write in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.initialTimer);
    await Promise.allSettled(this.sources.map((s) => s.stop()));
    await this.writing;
  }

  /** 200 on /readyz: a snapshot on disk reflects every source once, or one was found at start. */
  get ready(): boolean {
    return this.readyFromDisk || this.allSyncedWritten;
  }

  get snapshotVersion(): number {
    return this.version;
  }

  status(): { snapshotVersion: number; snapshotPath: string; ready: boolean; lastWriteAt: string | null; sources: SourceStatus[] } {
    return {
      snapshotVersion: this.version,
      snapshotPath: this.opts.snapshotPath,
      ready: this.ready,
      lastWriteAt: this.lastWriteAt,
      sources: this.statuses.map((s, i) => ({
        ...s,
        rejected: [...this.stores[i]!.rejections(), ...(this.merged?.rejected.get(s.uri) ?? [])],
      })),
    };
  }

  private async loadFromDisk(): Promise<void> {
    let snap: Snapshot | undefined;
    try {
      snap = await readSnapshotFile(this.opts.snapshotPath);
    } catch (err) {
      const salvaged = await salvageVersion(this.opts.snapshotPath);
      this.version = salvaged ?? 0;
      this.log.warn({ err: errorMessage(err), path: this.opts.snapshotPath, continueFromVersion: this.version }, 'snapshot on disk is unusable; starting empty');
      return;
    }
    if (!snap) {
      this.log.info({ path: this.opts.snapshotPath }, 'no snapshot on disk yet');
      return;
    }
    this.version = snap.version;
    this.readyFromDisk = true;
    const known = new Set(snap.sources.map((s) => s.uri));
    for (const [i, store] of this.stores.entries()) {
      const mine = <E extends { provenance: Provenance }>(list: E[]) => list.filter((e) => e.provenance.source === store.uri);
      store.seed([...mine(snap.lanes), ...mine(snap.services), ...mine(snap.instances), ...mine(snap.rollouts), ...mine(snap.laneStates)]);
      if (known.has(store.uri)) this.statuses[i]!.seeded = true;
    }
    this.snapshotBytes = await readFile(this.opts.snapshotPath);
    this.metrics.snapshotVersion(this.version);
    this.log.info(
      { path: this.opts.snapshotPath, version: snap.version, documents: snap.lanes.length + snap.services.length + snap.instances.length + snap.rollouts.length + snap.laneStates.length },
      'serving the snapshot found on disk',
    );
  }

  private sinkFor(i: number): SourceSink {
    const store = this.stores[i]!;
    const st = this.statuses[i]!;
    const synced = (revision: string | undefined) => {
      st.lastSyncAt = isoNow();
      if (revision !== undefined) st.revision = revision;
    };
    return {
      replaceAll: (items: SourceItem[], revision?: string) => {
        this.reportRejected(st.uri, store.replaceAll(items));
        if (!st.synced) this.log.info({ source: st.uri, items: items.length, revision }, 'source synced');
        st.synced = true;
        synced(revision);
        this.schedule();
      },
      put: (item: SourceItem, revision?: string) => {
        this.reportRejected(st.uri, store.put(item));
        synced(revision ?? item.revision);
        this.schedule();
      },
      delete: (key: string, revision?: string) => {
        store.delete(key);
        synced(revision);
        this.schedule();
      },
      setConnected: (connected: boolean, error?: string) => this.noteConnection(i, connected, error),
    };
  }

  /** A source's connection state into /status and dyeline_source_up (the source's Connection logged the change). */
  private noteConnection(i: number, connected: boolean, error?: string): void {
    const st = this.statuses[i]!;
    st.connected = connected;
    st.error = connected ? null : (error ?? null);
    this.metrics.sourceUp(st.uri, connected);
  }

  /** Coalesces changes: one flush a few ms after the first change of a burst. */
  private schedule(): void {
    if (this.stopped) return;
    this.dirty = true;
    if (this.timer || this.writing) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writing = this.flush().finally(() => {
        this.writing = undefined;
        if (this.dirty) this.schedule();
      });
    }, this.opts.coalesceMs);
  }

  private async flush(): Promise<void> {
    this.dirty = false;
    const waiting = this.statuses.some((s) => !s.synced && !s.seeded);
    if (waiting && !this.initialDeadlinePassed) return; // never write a snapshot that misses a source
    const previous = this.merged;
    const merged = merge(this.stores, previous);
    this.merged = merged;
    this.noteCrossCheck(previous, merged);
    const sources: SnapshotSource[] = this.statuses.map((s) => ({
      uri: s.uri,
      kind: s.kind,
      synced: s.synced,
      revision: s.revision,
      syncedAt: s.lastSyncAt,
    }));
    const sourcesKey = JSON.stringify(sources.map((s) => [s.uri, s.synced, s.revision]));
    const allSynced = this.statuses.every((s) => s.synced);
    if (sameDocuments(this.written, merged) && sourcesKey === this.lastSourcesKey) {
      if (allSynced) this.allSyncedWritten = true;
      return;
    }
    const version = this.version + 1;
    const started = performance.now();
    const order = orderDocuments(merged, this.order);
    const bytes = assembleSnapshot(merged, order, { version, generatedAt: isoNow(), sources });
    try {
      await writeFileAtomic(this.opts.snapshotPath, bytes);
    } catch (err) {
      this.log.error({ err: errorMessage(err), path: this.opts.snapshotPath }, 'snapshot write failed; will retry');
      this.metrics.writeFailed();
      setTimeout(() => this.schedule(), 1000).unref();
      return;
    }
    this.version = version;
    this.written = merged;
    this.order = order;
    this.lastSourcesKey = sourcesKey;
    this.snapshotBytes = bytes;
    this.lastWriteAt = isoNow();
    if (allSynced) this.allSyncedWritten = true;
    const ms = performance.now() - started;
    this.metrics.written(version, ms / 1000);
    this.log.info({ version, documents: merged.docs.size, bytes: bytes.length, ms: Math.round(ms * 10) / 10 }, 'snapshot written');
  }

  /** Reports the merge's rejections that the previous merge did not make. */
  private noteCrossCheck(previous: Merged | undefined, merged: Merged): void {
    const seen = new Set<string>();
    for (const [src, list] of previous?.rejected ?? []) for (const r of list) seen.add(`${src}\n${r.key}\n${r.reason}`);
    for (const [src, list] of merged.rejected) {
      this.reportRejected(src, list.filter((r) => !seen.has(`${src}\n${r.key}\n${r.reason}`)));
    }
  }

  /** The one place a rejection is logged and counted. */
  private reportRejected(source: string, rejections: readonly Rejection[]): void {
    for (const r of rejections) {
      this.log.warn({ source, key: r.key, reason: r.reason }, 'document rejected');
      this.metrics.rejected(source);
    }
  }
}
