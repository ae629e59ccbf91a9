/**
 * What a config source is to the daemon: a kind (URI scheme → config → source) and a source
 * that mirrors raw content into a sink. Parsing, validation, merging and the snapshot are the
 * daemon's. How each source works: docs/sources.md.
 */
import type { Issue } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { Registrar } from '../registration/server.ts';
import type { Lease } from './lease.ts';

/** One raw item a source holds. */
export interface SourceItem {
  /**
   * Stable key within the source (a file path, an etcd key, `config:<group>/<dataId>`, ...).
   * Shown in /status and kept as provenance.
   */
  key: string;
  /** Rule documents as text (YAML or JSON, possibly several `---`-separated documents). */
  text?: string;
  /** Or documents already as objects (instances built from a registry's records). */
  documents?: unknown[];
  /** Problems the source found decoding the item (bad JSON in an instance value, ...): it is rejected. */
  problems?: Issue[];
  /** The item's revision in the source (etcd mod revision, file mtime in ms). */
  revision?: string;
  /** The content digest the source reports (Nacos md5). */
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
  /** Connection state; `error` is shown in /status and must carry no credentials. Sources report through a Connection. */
  setConnected(connected: boolean, error?: string): void;
}

/** A running config source. */
export interface Source {
  /** Its kind: the URI scheme. */
  readonly kind: string;
  /** The URI without credentials. */
  readonly uri: string;
  /**
   * Starts mirroring. Resolves once started, not once synced; connection problems never reject:
   * they are reported down and retried with backoff until stop() (see connection.ts).
   */
  start(sink: SourceSink): Promise<void>;
  /** Stops watching and releases connections. */
  stop(): Promise<void>;
  /**
   * Optional: the source is a service registry that can hold the instances agents register
   * (docs/reference.md#registration). When several can, the daemon takes the lowest `rank`
   * (etcd 1, Nacos 2), the first of them on the command line. Called after start().
   */
  readonly registration?: { readonly rank: number; registrar(log: Logger): Registrar };
}

/** A `--source` URI split into its parts (uri.ts splits it). */
export interface SourceUri {
  /** As given. */
  raw: string;
  scheme: string;
  /** Between `//` and the path: `host:port[,host:port...]`, or empty. */
  authority: string;
  path: string;
  params: URLSearchParams;
}

/** What every parsed `--source` carries; a kind adds its own fields. */
export interface SourceConfig {
  /** The kind's scheme. */
  kind: string;
  /** The URI as /status, logs and provenance show it: normalised, without credentials. */
  uri: string;
}

/** What the daemon gives a kind when it creates a source. */
export interface SourceContext {
  /** The daemon's logger, bound to `source: <uri>`. */
  log: Logger;
}

/** Where a kind's credentials come from and where its config keeps them. */
export interface SourceCredentials {
  /** Environment variables that carry them (a URI never does), named in `--help` and usage errors. */
  readonly env: readonly string[];
  /** Fields of the kind's config that hold them: the daemon's log censors `<scheme>.<field>` (and the usual secret names there). */
  readonly fields: readonly string[];
}

/**
 * A kind of source, registered by URI scheme in registry.ts. Keep the module's top-level imports
 * light (the CLI loads every kind for `--help`): load a client library in create() or start().
 */
export interface SourceKind<C extends SourceConfig = SourceConfig> {
  /** URI scheme, e.g. `etcd`. */
  readonly scheme: string;
  /** The URI's form, for `--help` and usage errors, e.g. `etcd://host:port[,...]?prefix=/dyeline/`. */
  readonly usage: string;
  /** Its credentials, if it takes any. */
  readonly credentials?: SourceCredentials;
  /** Reads a URI of this scheme (and the environment) into a config; throws a UsageError naming the problem. */
  parseUri(uri: SourceUri, env: NodeJS.ProcessEnv): C;
  /** Creates the source for a config this kind parsed. */
  create(config: C, context: SourceContext): Source | Promise<Source>;
  /**
   * Optional capability: writes runtime documents into the source and holds its lease, for
   * `dyeline rollout` (docs/sources.md#writing-into-a-source). Absent: the kind is read-only.
   */
  writer?(config: C, context: SourceContext): SourceWriter | Promise<SourceWriter>;
}

/** A document a writer writes: what the schema accepts, as a plain object. */
export interface WritableDocument {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string };
  readonly spec: unknown;
}

/** Writes into one source (the `writer` capability of a kind). */
export interface SourceWriter {
  /**
   * Writes `doc` where the source keeps the document `<kind>/<name>` that this writer manages
   * (replacing it); resolves once the source holds it, rejects when it could not be written.
   */
  write(doc: WritableDocument): Promise<void>;
  /** The lease of this source, for the controller `identity`. */
  lease(identity: string, ttlMs: number): Lease;
  /** Releases connections. */
  close(): Promise<void>;
}
