/**
 * The `nacos://` source over HTTP v1 (`transport=http`; Nacos 1.x, and Nacos 2.x/3.x while they
 * serve the v1 API): one config, read through the `nacos` npm client's long polling, plus the
 * instances of the listed services, polled (nacos-client.ts). Items, sync and outages:
 * docs/sources.md#nacos. Credentials go to Nacos only: every message that leaves this file is
 * scrubbed of them.
 */
import { pino } from 'pino';
import type { Logger } from '../../../shared/log.ts';
import { NacosRegistrar, type NamingWriter } from '../../registration/nacos.ts';
import { createV1NamingWriter } from '../../registration/nacos-v1.ts';
import type { Registrar } from '../../registration/server.ts';
import { Connection } from '../connection.ts';
import {
  type ConfigClient,
  type NamingProxy,
  NacosHttp,
  createConfigClient,
  createNamingProxy,
  describeNacosError,
} from '../nacos-client.ts';
import { type NacosServiceRef, type NacosServiceSelection, instanceDocuments, namingKey, selectServices } from '../nacos-instances.ts';
import type { NacosSourceConfig } from './config.ts';
import type { Source, SourceSink } from '../source.ts';
import { NacosMirror, ReadFailed, roundFailure } from './mirror.ts';
import { NacosTlsFiles } from './tls.ts';

/** Tuning of the HTTP source; every field has a default. */
export interface NacosHttpSourceOptions {
  /** Logger; default silent. */
  log?: Logger;
  /** Instance lists are re-read this often (ms). Default: the `cacheMillis` Nacos answers, else 3000; at least 100. */
  pollMs?: number;
  /** With `services=*`, the service list is re-read this often (ms). Default 10000. */
  serviceListMs?: number;
  /** Budget of one config request, the client's retries across servers included (ms). Default 5000. */
  requestTimeoutMs?: number;
  /** Retry delay after a failed round, doubling (jittered) up to `retryMaxMs`. Defaults 500 and 5000 ms. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Instance lists read at once. Default 8. */
  concurrency?: number;
  /** The TLS files when shared with another part of the source (`transport=auto`); default: read here when `tls=true`. */
  tls?: NacosTlsFiles;
}

const DEFAULT_POLL_MS = 3000;
const SERVICE_PAGE_SIZE = 500;

/** The Nacos source over HTTP v1. */
export class NacosHttpSource implements Source {
  readonly kind = 'nacos';
  readonly uri: string;

  readonly #cfg: NacosSourceConfig;
  readonly #log: Logger;
  readonly #opts: Required<Omit<NacosHttpSourceOptions, 'log' | 'pollMs' | 'tls'>> & { pollMs?: number };
  readonly #selection: NacosServiceSelection;
  readonly #configKey: string;
  readonly #secrets: (string | undefined)[];

  #mirror: NacosMirror | undefined;
  #connection: Connection | undefined;
  #http: NacosHttp | undefined;
  #config: ConfigClient | undefined;
  #naming: NamingProxy | undefined;
  #stopped = false;
  /** The TLS files (`tls=true`). */
  readonly #tls: NacosTlsFiles | undefined;

  /** Bumped on every config value taken, so a slower direct read never overwrites a newer push. */
  #configGen = 0;
  /** The config must be read directly next round (first sync, or a failure was seen). */
  #configDirty = true;
  /** Services found by the last successful service listing (services=*). */
  #listed: NacosServiceRef[] | undefined;
  #listedAt = 0;
  #cacheMillis: number | undefined;
  /** Last failure the naming client logged (it throws a generic error after trying every server). */
  #namingWarning: string | undefined;

  constructor(cfg: NacosSourceConfig, opts: NacosHttpSourceOptions = {}) {
    this.#cfg = cfg;
    this.uri = cfg.uri;
    this.#log = opts.log ?? pino({ level: 'silent' });
    this.#opts = {
      pollMs: opts.pollMs,
      serviceListMs: opts.serviceListMs ?? 10_000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 5000,
      retryMinMs: opts.retryMinMs ?? 500,
      retryMaxMs: opts.retryMaxMs ?? 5000,
      concurrency: Math.max(1, opts.concurrency ?? 8),
    };
    this.#selection = selectServices(cfg.services);
    this.#configKey = `config:${cfg.group}/${cfg.dataId}`;
    this.#secrets = [cfg.password, cfg.username];
    this.#tls = opts.tls ?? (cfg.tls ? new NacosTlsFiles(cfg.tls, this.#log) : undefined);
  }

  async start(sink: SourceSink): Promise<void> {
    if (this.#mirror) throw new Error('NacosHttpSource already started');
    this.#mirror = new NacosMirror(this.#configKey, sink, this.#log);
    const retry = { initialMs: this.#opts.retryMinMs, maxMs: this.#opts.retryMaxMs };
    this.#connection = new Connection({ name: 'nacos', sink, log: this.#log, backoff: retry });
    // dataId and group passed parseUri's check (the client would refuse other names outright).
    const { dataId, group } = this.#cfg;
    this.#http = new NacosHttp(undefined, () => this.#tls?.current());
    const clientOpts = this.#clientOptions(this.#http);
    this.#config = createConfigClient(clientOpts);
    this.#naming = createNamingProxy(clientOpts);
    this.#config.on('error', (err) => {
      // Long-poll and background-read failures: read directly next round.
      this.#configDirty = true;
      this.#log.debug({ error: describeNacosError(err, this.#secrets) }, 'nacos config client error');
    });
    this.#config.subscribe({ dataId, group }, (content) => this.#onConfig(content));
    void this.#connection.run(
      () => this.#round(),
      (err) => roundFailure(err, this.#secrets),
    );
  }

  /** What both clients (and the registrar's) are made with. */
  #clientOptions(http: NacosHttp) {
    return {
      servers: this.#cfg.servers,
      namespace: this.#cfg.namespace,
      username: this.#cfg.username,
      password: this.#cfg.password,
      requestTimeoutMs: this.#opts.requestTimeoutMs,
      http,
      tls: this.#tls !== undefined,
      namingLogger: {
        info: () => {},
        debug: () => {},
        warn: (err: unknown) => (this.#namingWarning = describeNacosError(err, this.#secrets)),
        error: (err: unknown) => (this.#namingWarning = describeNacosError(err, this.#secrets)),
      },
    };
  }

  /**
   * Registered instances go to this Nacos: ephemeral instances kept by beats
   * (daemon/registration/nacos.ts), through the HTTP v1 API with this source's servers,
   * credentials and TLS files.
   */
  readonly registration = {
    rank: 2,
    registrar: (log: Logger): Registrar => new NacosRegistrar({ target: this.uri, log, writer: this.namingWriter() }),
  };

  /** The registrar's calls over HTTP v1, on an HTTP channel of their own. */
  namingWriter(): NamingWriter {
    return createV1NamingWriter(this.#clientOptions(new NacosHttp(undefined, () => this.#tls?.current())));
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#tls?.close();
    this.#mirror?.stop();
    this.#connection?.stop();
    // Closing the channel first leaves the clients' pending requests unsettled (see NacosHttp),
    // so their loops stop; the round in progress is dropped with them.
    this.#http?.close();
    this.#config?.close();
  }

  // ------------------------------------------------------------------ the loop

  #pollMs(): number {
    return Math.max(100, this.#opts.pollMs ?? this.#cacheMillis ?? DEFAULT_POLL_MS);
  }

  /** One read of everything due; resolves with the wait before the next, throws ReadFailed when a read failed. */
  async #round(): Promise<number | undefined> {
    // Read before the first request; the files are then taken at each request, so a change applies to the next one.
    await this.#tls?.material();
    const errors: string[] = [];
    const services = await this.#services(errors);
    // With no service to poll, the config read is also the liveness probe.
    const readConfig = this.#configDirty || !this.#mirror!.hasConfig || services.length === 0;
    await Promise.all([readConfig ? this.#readConfig(errors) : undefined, this.#readInstances(services, errors)]);
    if (this.#stopped) return undefined;

    if (errors.length > 0) {
      this.#mirror!.flush();
      this.#configDirty = true;
      throw new ReadFailed(errors);
    }
    this.#mirror!.commit();
    this.#connection!.up();
    return this.#pollMs();
  }

  async #readConfig(errors: string[]): Promise<void> {
    const { dataId, group } = this.#cfg;
    const gen = this.#configGen;
    this.#configDirty = false;
    try {
      const content = await this.#config!.getConfig(dataId, group);
      if (gen === this.#configGen) this.#takeConfig(content);
    } catch (err) {
      this.#configDirty = true;
      errors.push(`config ${group}/${dataId}: ${describeNacosError(err, this.#secrets)}`);
    }
  }

  /** The services to poll this round; re-lists `*` groups when due. */
  async #services(errors: string[]): Promise<NacosServiceRef[]> {
    const { named, allOf } = this.#selection;
    if (allOf.length > 0 && (this.#listed === undefined || Date.now() - this.#listedAt >= this.#opts.serviceListMs)) {
      try {
        const listed: NacosServiceRef[] = [];
        for (const group of allOf) listed.push(...(await this.#listGroup(group)));
        this.#listed = listed;
        this.#listedAt = Date.now();
      } catch (err) {
        errors.push(`service list: ${this.#namingError(err)}`);
      }
    }
    const all = new Map<string, NacosServiceRef>();
    for (const ref of [...named, ...(this.#listed ?? [])]) all.set(namingKey(ref), ref);
    return [...all.values()];
  }

  async #listGroup(group: string): Promise<NacosServiceRef[]> {
    const out: NacosServiceRef[] = [];
    // Bounded: a page more than the count Nacos reported on the first page.
    let pages = 1;
    for (let pageNo = 1; pageNo <= pages; pageNo++) {
      const page = await this.#naming!.getServiceList(pageNo, SERVICE_PAGE_SIZE, group);
      const names = page.data ?? [];
      for (const name of names) out.push({ group, name });
      if (pageNo === 1) pages = Math.ceil((Number(page.count) || 0) / SERVICE_PAGE_SIZE) + 1;
      if (names.length < SERVICE_PAGE_SIZE) break;
    }
    return out;
  }

  async #readInstances(services: NacosServiceRef[], errors: string[]): Promise<void> {
    const keep = new Set(services.map(namingKey));
    // Only a service list Nacos answered drops a service (named services are always kept).
    for (const key of this.#mirror!.instanceKeys()) if (!keep.has(key)) this.#mirror!.dropInstances(key);
    let next = 0;
    let minCache: number | undefined;
    const worker = async () => {
      while (next < services.length && !this.#stopped) {
        const ref = services[next++]!;
        try {
          const raw = await this.#naming!.queryList(`${ref.group}@@${ref.name}`, '', 0, false);
          const body = JSON.parse(raw) as { hosts?: unknown; cacheMillis?: unknown };
          if (!Array.isArray(body.hosts)) throw new Error('Nacos answered an instance list without "hosts"');
          if (typeof body.cacheMillis === 'number' && body.cacheMillis > 0) minCache = Math.min(minCache ?? Infinity, body.cacheMillis);
          this.#mirror!.setInstances(namingKey(ref), instanceDocuments(ref.name, body.hosts));
        } catch (err) {
          errors.push(`instances of ${ref.group}@@${ref.name}: ${this.#namingError(err)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#opts.concurrency, services.length) }, worker));
    if (minCache !== undefined) this.#cacheMillis = minCache;
  }

  #namingError(err: unknown): string {
    const why = describeNacosError(err, this.#secrets);
    const last = this.#namingWarning;
    this.#namingWarning = undefined;
    return last && !why.includes(last) ? `${why} (last error: ${last})` : why;
  }

  // ------------------------------------------------------------------ config pushes

  #onConfig(content: string | null): void {
    if (this.#stopped) return;
    this.#takeConfig(content);
    this.#mirror!.flush();
  }

  #takeConfig(content: string | null): void {
    this.#configGen++;
    this.#mirror!.setConfig(content);
  }
}
