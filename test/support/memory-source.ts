/**
 * A source kind for tests only, `memory://<name>`: its content is the MemoryBackend of that name
 * in this process, which a test changes (put, delete, fail, recover). The test suite registers it
 * (registerMemorySource); no production file knows it — a new kind is one module plus one
 * registration.
 */
import { Connection } from '../../daemon/sources/connection.ts';
import { registerSourceKind, sourceKind } from '../../daemon/sources/registry.ts';
import type { Source, SourceConfig, SourceItem, SourceKind, SourceSink } from '../../daemon/sources/source.ts';
import { badSourceUri, onlyParams } from '../../daemon/sources/uri.ts';
import type { Logger } from '../../shared/log.ts';

/** What a memory source mirrors: items, a revision, and whether reading it fails. */
export class MemoryBackend {
  readonly items = new Map<string, SourceItem>();
  revision = 0;
  /** Why reads fail, while they do. */
  failing: string | undefined;
  /** Reads attempted by sources (failed ones included). */
  reads = 0;
  readonly #listeners = new Set<() => void>();

  put(item: SourceItem): void {
    this.items.set(item.key, item);
    this.#changed();
  }

  delete(key: string): void {
    this.items.delete(key);
    this.#changed();
  }

  /** Reads fail with `why` until recover(). */
  fail(why: string): void {
    this.failing = why;
    this.#changed();
  }

  recover(): void {
    this.failing = undefined;
    this.#changed();
  }

  /** Calls `listener` after every change; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    this.revision++;
    for (const l of this.#listeners) l();
  }
}

const backends = new Map<string, MemoryBackend>();

/** The backend of `name`, created on first use. */
export function memoryBackend(name: string): MemoryBackend {
  let b = backends.get(name);
  if (!b) backends.set(name, (b = new MemoryBackend()));
  return b;
}

/** A parsed `memory://` URI. */
export interface MemorySourceConfig extends SourceConfig {
  kind: 'memory';
  name: string;
  /** Stands for a credential (unused), to show a kind declaring where its secrets come from and live. */
  apiKey?: string;
}

/** The `memory` kind. */
export const memorySource: SourceKind<MemorySourceConfig> = {
  scheme: 'memory',
  usage: 'memory://<name>',
  credentials: { env: ['DYELINE_TEST_MEMORY_API_KEY'], fields: ['apiKey'] },
  parseUri(uri, env) {
    onlyParams(uri, []);
    if (!/^[a-z0-9-]+$/.test(uri.authority) || uri.path !== '') throw badSourceUri(uri, 'memory URIs name a backend: memory://<name>');
    return { kind: 'memory', uri: `memory://${uri.authority}`, name: uri.authority, apiKey: env.DYELINE_TEST_MEMORY_API_KEY || undefined };
  },
  create: (config, { log }) => new MemorySource(config, log),
};

/** Registers `memory://` (once per process). */
export function registerMemorySource(): void {
  if (!sourceKind(memorySource.scheme)) registerSourceKind(memorySource);
}

/** Mirrors its backend: a full read first, then what changed, on every change; retried with backoff while the backend fails. */
class MemorySource implements Source {
  readonly kind = 'memory';
  readonly uri: string;
  readonly #backend: MemoryBackend;
  readonly #log: Logger;
  #connection: Connection | undefined;
  #loop: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  /** What the sink holds: key → item. */
  #reported: Map<string, SourceItem> | undefined;

  constructor(config: MemorySourceConfig, log: Logger) {
    this.uri = config.uri;
    this.#backend = memoryBackend(config.name);
    this.#log = log;
  }

  async start(sink: SourceSink): Promise<void> {
    const connection = new Connection({ name: 'memory', sink, log: this.#log, backoff: { initialMs: 20, maxMs: 100 } });
    this.#connection = connection;
    this.#unsubscribe = this.#backend.onChange(() => connection.wake());
    this.#loop = connection.run(async () => {
      this.#read(sink);
      connection.up({ revision: this.#backend.revision });
      return 60_000; // until the next change wakes it
    });
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#connection?.stop();
    await this.#loop;
  }

  #read(sink: SourceSink): void {
    const backend = this.#backend;
    backend.reads++;
    if (backend.failing !== undefined) throw new Error(backend.failing);
    const revision = String(backend.revision);
    if (!this.#reported) {
      this.#reported = new Map(backend.items);
      sink.replaceAll([...backend.items.values()], revision);
      return;
    }
    for (const [key, item] of backend.items) {
      if (this.#reported.get(key) !== item) sink.put(item, revision);
    }
    for (const key of this.#reported.keys()) if (!backend.items.has(key)) sink.delete(key, revision);
    this.#reported = new Map(backend.items);
  }
}
