/**
 * The interface every config source implements (file, etcd, Nacos), next to its
 * implementations. A source only mirrors: it reports its raw content to a sink; parsing,
 * validation, merging and the snapshot are the daemon's.
 */
import type { Issue } from '../../shared/errors.ts';

/** One raw item a source holds. */
export interface SourceItem {
  /**
   * Stable key within the source: a file path, an etcd key, `config:<group>/<dataId>` or
   * `naming:<service>` for Nacos. Shown in /status and kept as provenance.
   */
  key: string;
  /** Rule documents as text (YAML or JSON, possibly several `---`-separated documents). */
  text?: string;
  /** Or documents already as objects (instances built from a registry's records). */
  documents?: unknown[];
  /** Problems the source found decoding the item (bad JSON in an instance value, ...): it is rejected. */
  problems?: Issue[];
  /** etcd mod revision, or file mtime in ms. */
  revision?: string;
  /** Nacos content md5. */
  md5?: string;
}

/** Where a source reports; implemented by the daemon. Calls never throw. */
export interface SourceSink {
  /** The source's complete content (first sync, resync after compaction): replaces all items. */
  replaceAll(items: SourceItem[], revision?: string): void;
  /** One item added or changed. */
  put(item: SourceItem, revision?: string): void;
  /** One item removed. */
  delete(key: string, revision?: string): void;
  /** Connection state; `error` is shown in /status and must carry no credentials. */
  setConnected(connected: boolean, error?: string): void;
}

/** A config source. */
export interface Source {
  readonly kind: 'file' | 'etcd' | 'nacos';
  /** The URI without credentials. */
  readonly uri: string;
  /**
   * Starts mirroring. Resolves once started, not once synced; connection problems never reject:
   * they are reported with setConnected(false, why) and retried with backoff until stop().
   */
  start(sink: SourceSink): Promise<void>;
  /** Stops watching and releases connections. */
  stop(): Promise<void>;
}
