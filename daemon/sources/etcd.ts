/**
 * The etcd source (`etcd://host:port[,host:port...]?prefix=/dyeline/`): a full read of the
 * prefix, then a prefix watch from the next revision, forever until stop().
 *
 * The life of the source:
 *   full read (paged, at one revision) → sink.replaceAll → watch from revision+1 → events →
 *   sink.put / sink.delete → (disconnect) → backoff, next endpoint → watch from the last
 *   revision seen + 1 → ... → (compaction: that revision is gone) → full read again.
 *
 * It speaks the raw etcd watch stream through the `etcd3` client's WatchClient rather than
 * etcd3's Watcher, because the Watcher (1.1.2) moves its resume revision to the header of the
 * watch-created response before the missed events have arrived, and reports a compaction only
 * as an opaque "Watcher canceled" error after dropping the watcher. Here the resume revision
 * only advances past events delivered to the sink (or a progress notification), and a
 * compaction is recognised by its `compact_revision` and answered with a full re-read.
 */
import { Etcd3, type IDuplexStream, type IKeyValue, type IOptions, type IWatchRequest, type IWatchResponse, Range } from 'etcd3';
import { errorMessage } from '../../shared/errors.ts';
import { createLogger, type Logger } from '../../shared/log.ts';
import type { SourceConfig } from '../config.ts';
import type { BackoffOptions } from './backoff.ts';
import { Connection } from './connection.ts';
import { classifyKey, decodeEntry } from './etcd-layout.ts';
import type { Source, SourceItem, SourceSink } from './source.ts';

/** The `--source etcd://...` config this source reads. */
export type EtcdSourceConfig = Extract<SourceConfig, { kind: 'etcd' }>;

/** Tuning of the etcd source; the defaults suit production. */
export interface EtcdSourceOptions {
  /** Logger (lines get a `source` binding); default a new one from shared/log.ts. */
  log?: Logger;
  /** Retry backoff after a failure. Default 100 ms doubling to 5 s, jittered. */
  backoff?: BackoffOptions;
  /** Deadline of each unary call (a page of the full read), ms. Default 5,000. */
  callTimeoutMs?: number;
  /** A watch not confirmed by etcd within this many ms counts as a failed connection. Default 5,000. */
  watchCreateTimeoutMs?: number;
  /** Keys per page in the full read. Default 1,000. */
  pageSize?: number;
  /**
   * gRPC keepalive ping interval on an open watch, ms. Default 6,000 (etcd refuses pings more
   * often than every 5 s). With the 3 s ping timeout a silent, hung etcd is noticed within ~10 s;
   * a stopped or killed one at once (the connection closes).
   */
  keepaliveMs?: number;
}

/** How etcd refuses an expired or unknown auth token (simple tokens expire after --auth-token-ttl). */
const AUTH_TOKEN_REJECTED = /invalid auth token|Unauthenticated|UNAUTHENTICATED/;

/** Why a watch ended without an error. */
type WatchEnd = 'resync' | 'stopped';

/** A policy for etcd3's fault handling that just runs the call: this source retries by itself. */
const passThrough = {
  execute: <T>(fn: (ctx: { signal: AbortSignal }) => PromiseLike<T> | T) => Promise.resolve().then(() => fn({ signal: new AbortController().signal })),
  onSuccess: () => ({ dispose() {} }),
  onFailure: () => ({ dispose() {} }),
} as unknown as NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/** Mirrors the rules and instances under an etcd prefix into a SourceSink. */
export class EtcdSource implements Source {
  readonly kind = 'etcd' as const;
  readonly uri: string;
  private readonly config: EtcdSourceConfig;
  private readonly log: Logger;
  private readonly opts: Required<Omit<EtcdSourceOptions, 'log' | 'backoff'>> & { backoff: BackoffOptions };
  private readonly range: Range;
  private clients: Etcd3[] = [];
  private host = 0;
  private sink: SourceSink | undefined;
  private connection: Connection | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined;
  /** Every change up to this revision has been given to the sink. */
  private revision = 0n;
  private needFullRead = true;

  constructor(config: EtcdSourceConfig, options: EtcdSourceOptions = {}) {
    this.config = config;
    this.uri = config.uri;
    this.log = options.log ? options.log.child({ source: config.uri }) : createLogger({ source: config.uri });
    this.opts = {
      backoff: options.backoff ?? {},
      callTimeoutMs: options.callTimeoutMs ?? 5_000,
      watchCreateTimeoutMs: options.watchCreateTimeoutMs ?? 5_000,
      pageSize: options.pageSize ?? 1_000,
      keepaliveMs: options.keepaliveMs ?? 6_000,
    };
    this.range = Range.prefix(config.prefix);
  }

  /** Starts mirroring in the background; never rejects for connection problems. */
  async start(sink: SourceSink): Promise<void> {
    if (this.sink) throw new Error('etcd source already started');
    this.sink = sink;
    this.connection = new Connection({ name: 'etcd', sink, log: this.log, backoff: this.opts.backoff });
    this.clients = this.config.hosts.map((host) => this.createClient(host));
    this.loop = this.connection.run(
      () => this.round(),
      (err) => this.failed(err),
    );
  }

  /** Stops watching, waits for the loop to end, and closes the connections. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.connection?.stop();
    this.stream?.cancel();
    // Closing the clients fails any call in flight, so the loop ends at once.
    for (const c of this.clients) c.close();
    await this.loop;
  }

  /** One client per endpoint: the source picks the endpoint, sticking to one until it fails. */
  private createClient(host: string): Etcd3 {
    const { username, password } = this.config;
    const timeout = this.opts.callTimeoutMs;
    return new Etcd3({
      hosts: host,
      auth: username ? { username, password: password ?? '', callOptions: () => ({ deadline: Date.now() + timeout }) } : undefined,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
      faultHandling: { host: () => passThrough, global: passThrough },
      grpcOptions: {
        'grpc.keepalive_time_ms': this.opts.keepaliveMs,
        'grpc.keepalive_timeout_ms': 3_000,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 2_000,
        'grpc.max_receive_message_length': 256 * 1024 * 1024,
      },
    });
  }

  private get endpoint(): string {
    return this.config.hosts[this.host] ?? '?';
  }

  /** A full read when needed, then a watch until it fails or asks for a full read. */
  private async round(): Promise<undefined> {
    const client = this.clients[this.host]!;
    if (this.needFullRead) await this.fullRead(client);
    const end = await this.watch(client);
    if (end === 'resync') this.needFullRead = true;
    return undefined;
  }

  /** After a failed round: why (for /status), and the next endpoint with a fresh client if the token was refused. */
  private failed(err: unknown): string {
    // gRPC messages carry a timestamp; drop it so repeated failures read the same.
    const why = `${this.endpoint}: ${errorMessage(err).replace(/\s*\(\d{4}-\d\d-\d\dT[^)]*\)/g, '').replace(/\s*Resolution note:\s*$/, '')}`;
    if (AUTH_TOKEN_REJECTED.test(errorMessage(err))) {
      // etcd3 renews an expired token for unary calls only; a watch keeps sending the old
      // one. A new client authenticates afresh.
      this.clients[this.host]!.close();
      this.clients[this.host] = this.createClient(this.config.hosts[this.host]!);
    }
    this.host = (this.host + 1) % this.clients.length;
    return why;
  }

  /** Reads the whole prefix at one revision, page by page, and replaces the sink's content. */
  private async fullRead(client: Etcd3): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const { items, revision } = await this.readPrefix(client);
        if (this.stopped) return;
        this.markConnected();
        this.sink!.replaceAll(items, revision.toString());
        this.revision = revision;
        this.needFullRead = false;
        this.log.info({ endpoint: this.endpoint, revision: revision.toString(), items: items.length }, 'etcd prefix read in full');
        return;
      } catch (err) {
        // A compaction between two pages: start over at the new revision.
        if (attempt < 3 && /compacted/.test(errorMessage(err))) continue;
        throw err;
      }
    }
  }

  private async readPrefix(client: Etcd3): Promise<{ items: SourceItem[]; revision: bigint }> {
    const items: SourceItem[] = [];
    let key = this.range.start;
    let revision: string | undefined; // the first page's; later pages are read at it
    for (;;) {
      const res = await client.kv.range({ key, range_end: this.range.end, limit: this.opts.pageSize, revision });
      revision ??= res.header.revision;
      for (const kv of res.kvs) {
        const item = this.decode(kv);
        if (item) items.push(item);
      }
      const last = res.kvs.at(-1);
      if (!res.more || !last) return { items, revision: BigInt(revision) };
      key = Buffer.concat([last.key, Buffer.from([0])]);
    }
  }

  private decode(kv: IKeyValue): SourceItem | undefined {
    const key = kv.key.toString('utf8');
    const item = decodeEntry(this.config.prefix, key, kv.value, kv.mod_revision);
    if (!item) this.log.debug({ key }, 'etcd key outside the rules/ and instances/ layout, ignored');
    return item;
  }

  /**
   * Watches the prefix from `revision + 1` until the stream fails (rejects), a full read is
   * needed (compaction, or etcd's history went backwards) or the source stops.
   */
  private async watch(client: Etcd3): Promise<WatchEnd> {
    const stream = await client.watchClient.watch();
    if (this.stopped) {
      stream.cancel();
      return 'stopped';
    }
    this.stream = stream;
    try {
      return await new Promise<WatchEnd>((resolve, reject) => {
        let created = false;
        let finished = false;
        const done = (fn: () => void) => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          fn();
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`watch not confirmed by etcd within ${this.opts.watchCreateTimeoutMs} ms`))),
          this.opts.watchCreateTimeoutMs,
        );
        stream.on('data', (res: IWatchResponse) => {
          if (finished) return;
          try {
            if (res.compact_revision && res.compact_revision !== '0') {
              this.log.warn(
                { endpoint: this.endpoint, revision: this.revision.toString(), compactRevision: res.compact_revision },
                'etcd history compacted past the last revision seen; reading the prefix in full',
              );
              return done(() => resolve('resync'));
            }
            if (res.canceled) {
              return done(() => reject(new Error(`watch canceled by etcd: ${res.cancel_reason || 'no reason given'}`)));
            }
            if (res.created) {
              created = true;
              if (BigInt(res.header.revision) < this.revision) {
                // A new cluster (or restored backup) behind our revision: resuming would miss everything.
                this.log.warn(
                  { endpoint: this.endpoint, revision: this.revision.toString(), etcdRevision: res.header.revision },
                  'etcd revision went backwards; reading the prefix in full',
                );
                return done(() => resolve('resync'));
              }
              clearTimeout(timer);
              this.markConnected();
              return;
            }
            if (!created) return;
            if (res.events.length === 0) {
              // Progress notification: every change up to the header revision has been sent.
              const rev = BigInt(res.header.revision);
              if (rev > this.revision) this.revision = rev;
              return;
            }
            for (const ev of res.events) {
              const key = ev.kv.key.toString('utf8');
              if (ev.type === 'Delete') {
                if (classifyKey(this.config.prefix, key) !== 'ignored') this.sink!.delete(key, ev.kv.mod_revision);
              } else {
                const item = this.decode(ev.kv);
                if (item) this.sink!.put(item, ev.kv.mod_revision);
              }
            }
            const rev = BigInt(res.events.at(-1)!.kv.mod_revision);
            if (rev > this.revision) this.revision = rev;
          } catch (err) {
            // The sink's state is unknown now: start again from a full read.
            this.needFullRead = true;
            done(() => reject(err));
          }
        });
        stream.on('error', (err: Error) => done(() => (this.stopped ? resolve('stopped') : reject(err))));
        stream.on('end', () => done(() => (this.stopped ? resolve('stopped') : reject(new Error('watch stream ended by etcd')))));
        stream.write({
          create_request: {
            key: this.range.start,
            range_end: this.range.end,
            start_revision: (this.revision + 1n).toString(),
            progress_notify: true,
          },
        });
      });
    } finally {
      this.stream = undefined;
      stream.on('error', () => {}); // the cancel below surfaces as a CANCELLED error
      stream.cancel();
    }
  }

  private markConnected(): void {
    this.connection!.up({ endpoint: this.endpoint, revision: this.revision.toString() });
  }
}
