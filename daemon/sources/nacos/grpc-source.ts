/**
 * The `nacos://` source over gRPC (Nacos 2.x and 3.x; docs/nacos-grpc.md): the same items as over
 * HTTP (see mirror.ts), kept current by server push instead of polling.
 *
 * - Two connections, as Nacos's own client has: one labelled `config`, one `naming` (only when
 *   services are mirrored); each reconnects on its own (grpc-client.ts).
 * - After every (re)connection, everything is read again — the config is listened to and queried,
 *   the `*` service lists re-read, every service subscribed again — because changes made while no
 *   connection was up are never pushed. Until that read is complete the source is not connected.
 * - Pushes: a ConfigChangeNotifyRequest is acknowledged, then the config is queried; a
 *   NotifySubscriberRequest carries the service's instances and is acknowledged. Each is put at once.
 * - With `services=*`, the service lists are re-read every `serviceListMs` (10 s): Nacos does not
 *   push new service names. The config is re-listened and re-read every `configResyncMs` (3 min),
 *   as Nacos's client re-checks every listened config.
 * - Any failure → the source is down with the reason, nothing removed (mirror.ts), retried with
 *   backoff on its Connection; a lost connection is reported down at once.
 * - `tls=true`: every connection (and the login) over TLS with the source's files (tls.ts).
 */
import { pino } from 'pino';
import type { Logger } from '../../../shared/log.ts';
import { Connection } from '../connection.ts';
import { describeNacosError } from '../nacos-client.ts';
import { type NacosServiceRef, type NacosServiceSelection, instanceDocuments, namingKey, selectServices } from '../nacos-instances.ts';
import type { NacosSourceConfig } from './config.ts';
import type { Source, SourceSink } from '../source.ts';
import { NacosRegistrar, type NamingWriter } from '../../registration/nacos.ts';
import { createGrpcNamingWriter } from '../../registration/nacos-grpc.ts';
import type { Registrar } from '../../registration/server.ts';
import { type GrpcServer, NacosRpcClient, type RpcTiming } from './grpc-client.ts';
import { type ConfigRef, isAbout, listenConfig, queryConfig } from './grpc-config.ts';
import { listServices, subscribeService } from './grpc-naming.ts';
import type { NacosServiceInfo } from './grpc-protocol.ts';
import { NacosLogin } from './login.ts';
import { NacosMirror, ReadFailed, roundFailure } from './mirror.ts';
import { NacosTlsFiles } from './tls.ts';
import { grpcServers } from './transport.ts';

/** Tuning; every field has a default. */
export interface NacosGrpcSourceOptions {
  log?: Logger;
  /** With `services=*`, how often the service lists are re-read (ms). Default 10000. */
  serviceListMs?: number;
  /** How often the config is listened to and read again without a push (ms). Default 180000. */
  configResyncMs?: number;
  /** Retry delay after a failed round, doubling (jittered) up to retryMaxMs. Defaults 500 and 5000 ms. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Subscriptions sent at once. Default 8. */
  concurrency?: number;
  /** Connection timing (grpc-client.ts). */
  rpc?: Partial<RpcTiming>;
  /** For tests: index of the first server tried. */
  firstServer?: number;
  /** The TLS files when shared with another part of the source (`transport=auto`); default: read here when `tls=true`. */
  tls?: NacosTlsFiles;
}

/** Effectively "until woken". */
const IDLE_MS = 3_600_000;

/** The Nacos source over gRPC. */
export class NacosGrpcSource implements Source {
  readonly kind = 'nacos' as const;
  readonly uri: string;

  readonly #t: NacosSourceConfig;
  readonly #log: Logger;
  readonly #o: Required<Omit<NacosGrpcSourceOptions, 'log' | 'rpc' | 'firstServer' | 'tls'>> & Pick<NacosGrpcSourceOptions, 'rpc' | 'firstServer'>;
  readonly #selection: NacosServiceSelection;
  readonly #ref: ConfigRef;
  readonly #secrets: (string | undefined)[];
  readonly #servers: GrpcServer[];
  readonly #login: NacosLogin | undefined;
  readonly #tls: NacosTlsFiles | undefined;

  #mirror: NacosMirror | undefined;
  #connection: Connection | undefined;
  #config: NacosRpcClient | undefined;
  #naming: NacosRpcClient | undefined;
  #stopped = false;
  /** Set in a round when a client is still making its first connection attempt. */
  #waiting = false;

  /** Bumped on every config connection; the config is in sync when #configSynced equals it. */
  #configEpoch = 0;
  #configSynced = -1;
  #configSyncedAt = 0;
  /** Config reads: a read's result is taken only when it started after the last one taken. */
  #readSeq = 0;
  #takenSeq = 0;

  /** Bumped on every naming connection; subscriptions made on older connections are gone. */
  #namingEpoch = 0;
  /** Service key → epoch of its subscription. */
  readonly #subscribed = new Map<string, number>();
  /** Service key → lastRefTime of the ServiceInfo taken (older ones are ignored). */
  readonly #refTime = new Map<string, number>();
  /** Services currently mirrored, by key. */
  #wanted = new Map<string, NacosServiceRef>();
  #listed: NacosServiceRef[] | undefined;
  #listedAt = 0;
  #listedEpoch = -1;

  constructor(t: NacosSourceConfig, opts: NacosGrpcSourceOptions = {}) {
    this.#t = t;
    this.uri = t.uri;
    this.#log = opts.log ?? pino({ level: 'silent' });
    this.#o = {
      serviceListMs: opts.serviceListMs ?? 10_000,
      configResyncMs: opts.configResyncMs ?? 180_000,
      retryMinMs: opts.retryMinMs ?? 500,
      retryMaxMs: opts.retryMaxMs ?? 5000,
      concurrency: Math.max(1, opts.concurrency ?? 8),
      rpc: opts.rpc,
      firstServer: opts.firstServer,
    };
    this.#selection = selectServices(t.services);
    this.#ref = { dataId: t.dataId, group: t.group, tenant: t.namespace };
    this.#secrets = [t.password, t.username];
    this.#servers = grpcServers(t.servers, t.grpcPort);
    this.#tls = opts.tls ?? (t.tls ? new NacosTlsFiles(t.tls, this.#log) : undefined);
    // One token for every connection of this source, its registrations' included.
    this.#login =
      t.username !== undefined
        ? new NacosLogin({ servers: t.servers, username: t.username, password: t.password ?? '', timeoutMs: opts.rpc?.requestTimeoutMs ?? 3000, tls: this.#tls })
        : undefined;
  }

  /**
   * Registered instances go to this Nacos as ephemeral instances over gRPC, on a naming
   * connection of their own (daemon/registration/nacos-grpc.ts).
   */
  readonly registration = {
    rank: 2,
    registrar: (log: Logger): Registrar => new NacosRegistrar({ target: this.uri, log, writer: this.namingWriter() }),
  };

  /** The registrar's calls over gRPC, with this source's servers and login. */
  namingWriter(): NamingWriter {
    return createGrpcNamingWriter({ servers: this.#servers, namespace: this.#t.namespace, login: this.#login, tls: this.#tls, timing: this.#o.rpc });
  }

  async start(sink: SourceSink): Promise<void> {
    if (this.#mirror) throw new Error('NacosGrpcSource already started');
    this.#mirror = new NacosMirror(`config:${this.#t.group}/${this.#t.dataId}`, sink, this.#log);
    const connection = (this.#connection = new Connection({
      name: 'nacos',
      sink,
      log: this.#log,
      backoff: { initialMs: this.#o.retryMinMs, maxMs: this.#o.retryMaxMs },
    }));
    const client = (module: 'config' | 'naming') => {
      const rpc = new NacosRpcClient({
        servers: this.#servers,
        module,
        namespace: this.#t.namespace,
        login: this.#login,
        tls: this.#tls,
        timing: this.#o.rpc,
        firstServer: this.#o.firstServer,
      });
      rpc.onDisconnected((why) => connection.down(this.#describe(why)));
      rpc.onConnectFailed((why) => {
        connection.down(this.#describe(why));
        connection.wake();
      });
      return rpc;
    };

    const config = (this.#config = client('config'));
    config.handle('ConfigChangeNotifyRequest', (body) => {
      if (isAbout(body, this.#ref)) void this.#onConfigPush();
      return { type: 'ConfigChangeNotifyResponse', body: {} };
    });
    config.onConnected(() => {
      this.#configEpoch++;
      connection.wake();
    });

    if (this.#selection.named.length > 0 || this.#selection.allOf.length > 0) {
      const naming = (this.#naming = client('naming'));
      naming.handle('NotifySubscriberRequest', (body) => {
        this.#onServicePush(body);
        return { type: 'NotifySubscriberResponse', body: {} };
      });
      naming.onConnected(() => {
        this.#namingEpoch++;
        connection.wake();
      });
    }
    config.start();
    this.#naming?.start();
    void connection.run(
      () => this.#round(),
      (err) => roundFailure(err, this.#secrets),
    );
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#mirror?.stop();
    this.#connection?.stop();
    this.#config?.stop();
    this.#naming?.stop();
    this.#tls?.close();
  }

  // ------------------------------------------------------------------ the rounds

  /** Reads what is due; resolves with the wait before the next round, throws ReadFailed when a read failed. */
  async #round(): Promise<number | undefined> {
    const mirror = this.#mirror!;
    const errors: string[] = [];
    this.#waiting = false;
    await Promise.all([this.#syncConfig(errors), this.#syncNaming(errors)]);
    if (this.#stopped) return undefined;
    if (errors.length > 0) {
      mirror.flush();
      throw new ReadFailed(errors);
    }
    // A first connection attempt still under way: nothing to report until it succeeds or fails.
    if (this.#waiting) return IDLE_MS;
    // A reconnection during the round: read again before calling it complete.
    if (!this.#inSync()) return undefined;
    mirror.commit();
    this.#connection!.up();
    return this.#untilDue();
  }

  #inSync(): boolean {
    if (this.#configSynced !== this.#configEpoch) return false;
    if (!this.#naming) return true;
    for (const key of this.#wanted.keys()) if (this.#subscribed.get(key) !== this.#namingEpoch) return false;
    return true;
  }

  /** Time until the next scheduled re-read (config resync, service lists). */
  #untilDue(): number {
    const now = Date.now();
    let due = this.#configSyncedAt + this.#o.configResyncMs;
    if (this.#naming && this.#selection.allOf.length > 0) due = Math.min(due, this.#listedAt + this.#o.serviceListMs);
    return Math.min(IDLE_MS, Math.max(0, due - now));
  }

  // ------------------------------------------------------------------ config

  async #syncConfig(errors: string[]): Promise<void> {
    const rpc = this.#config!;
    const epoch = this.#configEpoch;
    if (this.#configSynced === epoch && Date.now() - this.#configSyncedAt < this.#o.configResyncMs) return;
    const { dataId, group } = this.#t;
    if (!rpc.connected) {
      if (rpc.lastError === undefined) this.#waiting = true;
      else errors.push(`config ${group}/${dataId}: ${this.#describe(rpc.lastError)}`);
      return;
    }
    try {
      // Listen first, then read: a change after the read is pushed.
      await listenConfig(rpc, this.#ref, this.#mirror!.configMd5);
      await this.#readConfig(false);
      this.#configSynced = epoch;
      this.#configSyncedAt = Date.now();
    } catch (err) {
      errors.push(`config ${group}/${dataId}: ${this.#describe(err)}`);
    }
  }

  async #readConfig(notify: boolean): Promise<void> {
    const seq = ++this.#readSeq;
    const content = await queryConfig(this.#config!, this.#ref, notify);
    if (seq <= this.#takenSeq || this.#stopped) return;
    this.#takenSeq = seq;
    this.#mirror!.setConfig(content);
  }

  async #onConfigPush(): Promise<void> {
    try {
      await this.#readConfig(true);
      this.#mirror!.flush();
    } catch (err) {
      // Read it in the loop, which reports the failure and retries.
      this.#log.debug({ error: this.#describe(err) }, 'nacos config read after a push failed');
      this.#configSynced = -1;
      this.#connection!.wake();
    }
  }

  // ------------------------------------------------------------------ naming

  async #syncNaming(errors: string[]): Promise<void> {
    const rpc = this.#naming;
    if (!rpc) return;
    const epoch = this.#namingEpoch;
    if (!rpc.connected) {
      if (rpc.lastError === undefined) this.#waiting = true;
      else errors.push(`naming: ${this.#describe(rpc.lastError)}`);
      return;
    }
    const services = await this.#services(rpc, epoch, errors);
    const wanted = new Map(services.map((ref) => [namingKey(ref), ref]));
    // Only a service list Nacos answered drops a service (named services are always kept).
    for (const [key, ref] of this.#wanted) {
      if (wanted.has(key)) continue;
      this.#mirror!.dropInstances(key);
      this.#refTime.delete(key);
      if (this.#subscribed.get(key) === epoch) void subscribeService(rpc, this.#t.namespace, ref.group, ref.name, false).catch(() => {});
      this.#subscribed.delete(key);
    }
    this.#wanted = wanted;
    const todo = [...wanted].filter(([key]) => this.#subscribed.get(key) !== epoch);
    let next = 0;
    const worker = async () => {
      while (next < todo.length && !this.#stopped) {
        const [key, ref] = todo[next++]!;
        try {
          const info = await subscribeService(rpc, this.#t.namespace, ref.group, ref.name);
          this.#takeService(key, ref, info);
          if (epoch === this.#namingEpoch) this.#subscribed.set(key, epoch);
        } catch (err) {
          errors.push(`instances of ${ref.group}@@${ref.name}: ${this.#describe(err)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#o.concurrency, todo.length) }, worker));
  }

  /** The services to mirror; re-lists `*` groups after a reconnection or when due. */
  async #services(rpc: NacosRpcClient, epoch: number, errors: string[]): Promise<NacosServiceRef[]> {
    const { named, allOf } = this.#selection;
    const due = this.#listed === undefined || this.#listedEpoch !== epoch || Date.now() - this.#listedAt >= this.#o.serviceListMs;
    if (allOf.length > 0 && due) {
      try {
        const listed: NacosServiceRef[] = [];
        for (const group of allOf) for (const name of await listServices(rpc, this.#t.namespace, group)) listed.push({ group, name });
        this.#listed = listed;
        this.#listedAt = Date.now();
        this.#listedEpoch = epoch;
      } catch (err) {
        errors.push(`service list: ${this.#describe(err)}`);
      }
    }
    const all = new Map<string, NacosServiceRef>();
    for (const ref of [...named, ...(this.#listed ?? [])]) all.set(namingKey(ref), ref);
    return [...all.values()];
  }

  /** Takes a ServiceInfo unless a newer one was taken; true when taken. */
  #takeService(key: string, ref: NacosServiceRef, info: NacosServiceInfo): boolean {
    const at = typeof info.lastRefTime === 'number' ? info.lastRefTime : 0;
    if (at < (this.#refTime.get(key) ?? 0) || this.#stopped) return false;
    this.#refTime.set(key, at);
    this.#mirror!.setInstances(key, instanceDocuments(ref.name, Array.isArray(info.hosts) ? info.hosts : []));
    return true;
  }

  #onServicePush(body: Record<string, unknown>): void {
    const info = body.serviceInfo as NacosServiceInfo | undefined;
    if (!info || !Array.isArray(info.hosts)) return;
    let name = typeof body.serviceName === 'string' && body.serviceName ? body.serviceName : (info.name ?? '');
    let group = typeof body.groupName === 'string' && body.groupName ? body.groupName : (info.groupName ?? '');
    // Older servers send the grouped name (`GROUP@@name`).
    const at = name.indexOf('@@');
    if (at >= 0) [group, name] = [group || name.slice(0, at), name.slice(at + 2)];
    const key = namingKey({ group, name });
    const ref = this.#wanted.get(key);
    if (ref && this.#takeService(key, ref, info)) this.#mirror!.flush();
  }

  #describe(err: unknown): string {
    return describeNacosError(err, this.#secrets);
  }
}
