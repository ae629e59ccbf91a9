/**
 * The etcd source: a full read of the prefix, then a prefix watch that resumes from the last
 * revision it delivered, until stop(). How and why: docs/sources.md#etcd; the key layout is
 * etcd-layout.ts. The `etcd3` client is loaded when a source starts.
 */
import type { Etcd3, IDuplexStream, IKeyValue, IOptions, IWatchRequest, IWatchResponse, Range } from 'etcd3';
import { errorMessage, UsageError } from '../../shared/errors.ts';
import { createLogger, type Logger } from '../../shared/log.ts';
import { type TlsFileNames, type TlsMaterial, tlsFileNames, type WatchedTls, watchTls } from '../../shared/tls-files.ts';
import { EtcdRegistrar } from '../registration/etcd.ts';
import type { Registrar } from '../registration/server.ts';
import type { BackoffOptions } from './backoff.ts';
import { Connection } from './connection.ts';
import { classifyKey, decodeEntry } from './etcd-layout.ts';
import type { Source, SourceConfig, SourceItem, SourceKind, SourceSink } from './source.ts';
import { serverUri, tlsParam, userCredentials } from './uri.ts';

/** A parsed `etcd://` URI. */
export interface EtcdSourceConfig extends SourceConfig {
  kind: 'etcd';
  /** `host:port` of each endpoint. */
  hosts: string[];
  /** Key prefix, ending in `/`. */
  prefix: string;
  username?: string;
  password?: string;
  /** `tls=true`: the TLS files (CA, client certificate and key) named by DYELINE_ETCD_*_FILE. */
  tls?: TlsFileNames;
}

const CREDENTIALS = userCredentials('DYELINE_ETCD');


/**
 * The `etcd` kind: `etcd://host:port[,host:port...]?prefix=/dyeline/&tls=false`, credentials from
 * DYELINE_ETCD_USERNAME / _PASSWORD; with `tls=true`, DYELINE_ETCD_CA_FILE (else the system's
 * roots) and DYELINE_ETCD_CERT_FILE / _KEY_FILE (a client certificate).
 */
export const etcdSource: SourceKind<EtcdSourceConfig> = {
  scheme: 'etcd',
  usage: 'etcd://host:port[,host:port...]?prefix=/dyeline/&tls=false',
  credentials: CREDENTIALS,
  parseUri(uri, env) {
    const { params, ...server } = serverUri(uri, env, ['prefix', 'tls'], CREDENTIALS);
    const given = params.get('prefix') ?? '/dyeline/';
    const prefix = given.endsWith('/') ? given : `${given}/`;
    const tls = tlsParam(uri);
    let files: TlsFileNames | undefined;
    try {
      files = tls ? tlsFileNames(env, 'DYELINE_ETCD', true) : undefined;
    } catch (err) {
      throw new UsageError(`--source: ${errorMessage(err)}`);
    }
    return { kind: 'etcd', uri: `etcd://${uri.authority}?prefix=${prefix}${tls ? '&tls=true' : ''}`, prefix, ...server, ...(files && { tls: files }) };
  },
  create: (config, { log }) => new EtcdSource(config, { log }),
  writer: async (config) => new (await import('./etcd-writer.ts')).EtcdWriter(config),
};

/** Tuning of the etcd source; the defaults suit production. */
export interface EtcdSourceOptions {
  /** Logger; default a new one from shared/log.ts bound to the source URI. */
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
  readonly kind = 'etcd';
  readonly uri: string;
  private readonly config: EtcdSourceConfig;
  private readonly log: Logger;
  private readonly opts: Required<Omit<EtcdSourceOptions, 'log' | 'backoff'>> & { backoff: BackoffOptions };
  private etcd3: typeof import('./etcd-client.ts') | undefined;
  private range: Range | undefined;
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
  /** The TLS files, once read (`tls=true`). */
  private tls: WatchedTls | undefined;
  /** The client registrations go through (all endpoints), made when first needed. */
  private registryClient: Etcd3 | undefined;

  constructor(config: EtcdSourceConfig, options: EtcdSourceOptions = {}) {
    this.config = config;
    this.uri = config.uri;
    this.log = options.log ?? createLogger({ source: config.uri });
    this.opts = {
      backoff: options.backoff ?? {},
      callTimeoutMs: options.callTimeoutMs ?? 5_000,
      watchCreateTimeoutMs: options.watchCreateTimeoutMs ?? 5_000,
      pageSize: options.pageSize ?? 1_000,
      keepaliveMs: options.keepaliveMs ?? 6_000,
    };
  }

  /** Starts mirroring in the background; never rejects for connection problems. */
  async start(sink: SourceSink): Promise<void> {
    if (this.sink) throw new Error('etcd source already started');
    this.sink = sink;
    this.connection = new Connection({ name: 'etcd', sink, log: this.log, backoff: this.opts.backoff });
    this.etcd3 = await import('./etcd-client.ts');
    if (this.stopped) return;
    this.range = this.etcd3.Range.prefix(this.config.prefix);
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
    this.registryClient?.close();
    this.tls?.close();
    await this.loop;
  }

  /**
   * Registered instances go to this etcd: a lease each under `P instances/<service>/<id>`
   * (daemon/registration/etcd.ts), over a client of its own with the same endpoints, credentials
   * and TLS files.
   */
  readonly registration = {
    rank: 1,
    registrar: (log: Logger): Registrar =>
      new EtcdRegistrar({
        target: this.uri,
        prefix: this.config.prefix,
        log,
        client: () => (this.registryClient ??= this.createClient(this.config.hosts, true)),
      }),
  };

  /** TLS files read (when `tls=true`) and one client per endpoint; on a TLS change, new clients. */
  private async ensureClients(): Promise<void> {
    if (this.config.tls !== undefined && this.tls === undefined) {
      this.tls = await watchTls(this.config.tls, this.log, () => {
        // New files: new connections. The watch in progress fails and the loop reconnects.
        for (const c of this.clients) c.close();
        this.clients = [];
        this.registryClient?.close();
        this.registryClient = undefined;
        this.stream?.cancel();
      });
    }
    if (this.clients.length === 0) this.clients = this.config.hosts.map((host) => this.createClient([host], false));
  }

  /**
   * A client of `hosts`: the source makes one per endpoint and picks the endpoint itself,
   * sticking to one until it fails; registrations use one over all of them (`failover`: etcd3
   * moves to the next endpoint when one fails).
   */
  private createClient(hosts: string[], failover: boolean): Etcd3 {
    const { username, password } = this.config;
    const timeout = this.opts.callTimeoutMs;
    const tls: TlsMaterial | undefined = this.tls?.current();
    return new this.etcd3!.Etcd3({
      hosts: hosts.map((h) => (tls ? `https://${h}` : h)),
      // Without a CA file gRPC verifies the server with the system's roots.
      ...(tls && { credentials: { rootCertificate: tls.ca as Buffer, certChain: tls.cert, privateKey: tls.key } }),
      auth: username ? { username, password: password ?? '', callOptions: () => ({ deadline: Date.now() + timeout }) } : undefined,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
      ...(!failover && { faultHandling: { host: () => passThrough, global: passThrough } }),
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
    await this.ensureClients();
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
      this.clients[this.host]?.close();
      if (this.clients.length > 0) this.clients[this.host] = this.createClient([this.config.hosts[this.host]!], false);
    }
    this.host = (this.host + 1) % this.config.hosts.length;
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
    let key = this.range!.start;
    let revision: string | undefined; // the first page's; later pages are read at it
    for (;;) {
      const res = await client.kv.range({ key, range_end: this.range!.end, limit: this.opts.pageSize, revision });
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
            // A response without events (a progress notification) never moves the resume
            // revision: before etcd 3.4.26 / 3.5.8 (etcd issue 15220) its revision may be ahead of
            // events not delivered yet, and resuming from it would skip them (docs/sources.md#etcd).
            if (res.events.length === 0) return;
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
            key: this.range!.start,
            range_end: this.range!.end,
            start_revision: (this.revision + 1n).toString(),
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
