/**
 * `file:///abs/dir`: every *.yaml, *.yml, *.json below the directory (the embedded default
 * source), watched with fs.watch and rescanned as a safety net. See docs/sources.md#file.
 */
import { type FSWatcher, watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from '../../shared/log.ts';
import { errorMessage } from '../../shared/errors.ts';
import { ruleFiles } from '../../shared/schema/rule-files.ts';
import { Connection } from './connection.ts';
import type { Source, SourceConfig, SourceItem, SourceKind, SourceSink } from './source.ts';
import { badSourceUri } from './uri.ts';

/** A parsed `file://` URI. */
export interface FileSourceConfig extends SourceConfig {
  kind: 'file';
  /** The directory, absolute, without a trailing slash. */
  dir: string;
}

/** The `file` kind: `file:///abs/dir` (or `file://localhost/abs/dir`). */
export const fileSource: SourceKind<FileSourceConfig> = {
  scheme: 'file',
  usage: 'file:///abs/dir',
  parseUri(uri) {
    if (uri.authority !== '' && uri.authority !== 'localhost') throw badSourceUri(uri, 'file URIs name a local absolute dir: file:///abs/dir');
    if (!uri.path.startsWith('/')) throw badSourceUri(uri, 'file URIs need an absolute path');
    const dir = decodeURIComponent(uri.path).replace(/\/+$/, '') || '/';
    return { kind: 'file', uri: `file://${dir}`, dir };
  },
  create: (config, { log }) => new FileSource(config, log),
  writer: async (config) => new (await import('./file-writer.ts')).FileWriter(config),
};

interface Seen {
  mtimeMs: number;
  size: number;
  text: string;
  /** Why the file could not be read at the last scan (its last content stays in effect). */
  unreadable?: string;
}

/** The item reporting a file that exists but cannot be read: the store keeps what it held. */
function unreadableItem(key: string, why: string): SourceItem {
  return { key, problems: [{ path: '', message: `${why} (last content kept)` }] };
}

/** Tuning of the file source; the defaults suit production. */
export interface FileSourceOptions {
  /** Safety-net rescan period (default 2000 ms). */
  pollMs?: number;
  /** Delay that groups the events of one save (default 10 ms). */
  debounceMs?: number;
}

/** Mirrors the rule files below a directory into a SourceSink. */
export class FileSource implements Source {
  readonly kind = 'file';
  readonly uri: string;
  private readonly dir: string;
  private readonly log: Logger;
  private readonly pollMs: number;
  private readonly debounceMs: number;
  private sink: SourceSink | undefined;
  private connection: Connection | undefined;
  private loop: Promise<void> | undefined;
  private seen = new Map<string, Seen>();
  private synced = false;
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;

  constructor(config: FileSourceConfig, log: Logger, opts: FileSourceOptions = {}) {
    this.uri = config.uri;
    this.dir = config.dir;
    this.log = log;
    this.pollMs = opts.pollMs ?? 2000;
    this.debounceMs = opts.debounceMs ?? 10;
  }

  async start(sink: SourceSink): Promise<void> {
    this.sink = sink;
    // A failed scan is retried at the rescan period too (jittered down by up to half).
    this.connection = new Connection({ name: 'file', sink, log: this.log, backoff: { initialMs: this.pollMs, maxMs: this.pollMs } });
    this.loop = this.connection.run(async () => {
      await this.scan();
      return this.pollMs;
    });
  }

  async stop(): Promise<void> {
    this.connection?.stop();
    clearTimeout(this.debounce);
    this.watcher?.close();
    await this.loop;
  }

  private ensureWatcher(): void {
    if (this.watcher || this.connection!.stopped) return;
    try {
      this.watcher = watch(this.dir, { recursive: true, persistent: false }, () => this.onEvent());
      this.watcher.on('error', (err) => {
        this.log.warn({ err: errorMessage(err) }, 'file watch failed; relying on rescans');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'cannot watch directory; relying on rescans');
    }
  }

  /** A save fires several events: one rescan shortly after the last. */
  private onEvent(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.connection!.wake(), this.debounceMs);
  }

  /** Reads what changed since the last scan and reports it. */
  private async scan(): Promise<void> {
    const sink = this.sink!;
    let files: string[];
    try {
      if (!(await stat(this.dir)).isDirectory()) throw new Error('not a directory');
      files = await ruleFiles(this.dir);
    } catch (err) {
      // Missing or unreadable directory: the last content stays; the connection reports and retries.
      this.watcher?.close();
      this.watcher = undefined;
      throw new Error(`cannot read ${this.dir}: ${errorMessage(err)}`, { cause: err });
    }
    this.ensureWatcher();
    const next = new Map<string, Seen>();
    const changed: SourceItem[] = [];
    for (const path of files) {
      let st;
      try {
        st = await stat(path);
      } catch {
        continue; // removed between listing and stat
      }
      const prev = this.seen.get(path);
      if (prev && prev.mtimeMs === st.mtimeMs && prev.size === st.size) {
        next.set(path, prev);
        continue;
      }
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed between stat and read
        // Unreadable (EACCES, EIO, ...) is not deleted: its last content stays in effect and the
        // problem is reported, until it reads again (tried at every scan: no mtime to compare).
        const unreadable = `cannot read ${path}: ${errorMessage(err)}`;
        next.set(path, { mtimeMs: NaN, size: -1, text: prev?.text ?? '', unreadable });
        if (prev?.unreadable !== unreadable) changed.push(unreadableItem(path, unreadable));
        continue;
      }
      next.set(path, { mtimeMs: st.mtimeMs, size: st.size, text });
      if (prev?.text === text && prev.unreadable === undefined) continue;
      changed.push({ key: path, text, revision: String(Math.trunc(st.mtimeMs)) });
    }
    const removed = [...this.seen.keys()].filter((k) => !next.has(k));
    this.seen = next;
    if (!this.synced) {
      this.synced = true;
      sink.replaceAll([...next].map(([key, s]) => (s.unreadable !== undefined ? unreadableItem(key, s.unreadable) : { key, text: s.text, revision: String(Math.trunc(s.mtimeMs)) })));
    } else {
      for (const item of changed) sink.put(item);
      for (const key of removed) sink.delete(key);
    }
    this.connection!.up();
  }
}
