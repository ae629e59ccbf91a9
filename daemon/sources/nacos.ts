/**
 * The `nacos://` source: one config (a multi-document YAML of rule documents) plus the instances
 * of the listed services, read through the `nacos` npm client (nacos-client.ts). Items, sync and
 * outages: docs/sources.md#nacos. Credentials go to Nacos only: every message that leaves this
 * file is scrubbed of them.
 */
import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { errorMessage, UsageError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { type TlsFileNames, tlsFileNames, type WatchedTls, watchTls } from '../../shared/tls-files.ts';
import { NacosRegistrar } from '../registration/nacos.ts';
import { createV1NamingWriter } from '../registration/nacos-v1.ts';
import type { Registrar } from '../registration/server.ts';
import { Connection } from './connection.ts';
import type { Source, SourceConfig, SourceItem, SourceKind, SourceSink } from './source.ts';
import {
  type ConfigClient,
  type NamingProxy,
  NacosHttp,
  createConfigClient,
  createNamingProxy,
  describeNacosError,
} from './nacos-client.ts';
import { type NacosServiceRef, type NacosServiceSelection, instanceDocuments, namingKey, selectServices } from './nacos-instances.ts';
import { badSourceUri, serverUri, tlsParam, userCredentials } from './uri.ts';

/** A parsed `nacos://` URI. */
export interface NacosSourceConfig extends SourceConfig {
  kind: 'nacos';
  /** `host:port` of each server. */
  servers: string[];
  /** Namespace id; '' is the public namespace. */
  namespace: string;
  group: string;
  dataId: string;
  /** Service names whose instances are mirrored; `['*']` for all; empty for none. */
  services: string[];
  username?: string;
  password?: string;
  /** `tls=true`: https, verified with the CA file named by DYELINE_NACOS_CA_FILE (else the system's roots). */
  tls?: TlsFileNames;
}

const CREDENTIALS = userCredentials('DYELINE_NACOS');
/** nacos-config's rule for dataId and group (ParamUtils.isValid). */
const VALID_CONFIG_NAME = /^[a-zA-Z0-9_.:-]+$/;

/**
 * The `nacos` kind: `nacos://host:port[,...]?namespace=&group=DYELINE&dataId=dyeline-rules.yaml&services=*&tls=false`;
 * with `tls=true`, https verified with DYELINE_NACOS_CA_FILE (else the system's roots).
 */
export const nacosSource: SourceKind<NacosSourceConfig> = {
  scheme: 'nacos',
  usage: 'nacos://host:port[,host:port...]?namespace=&group=DYELINE&dataId=dyeline-rules.yaml&services=*&tls=false',
  credentials: CREDENTIALS,
  parseUri(uri, env) {
    const { hosts: servers, params, username, password } = serverUri(uri, env, ['namespace', 'group', 'dataId', 'services', 'tls'], CREDENTIALS);
    const tls = tlsParam(uri);
    const namespace = params.get('namespace') ?? '';
    const group = params.get('group') || 'DYELINE';
    const dataId = params.get('dataId') || 'dyeline-rules.yaml';
    const servicesRaw = params.get('services') ?? '*';
    for (const [k, v] of [['dataId', dataId], ['group', group]] as const) {
      if (!VALID_CONFIG_NAME.test(v)) throw badSourceUri(uri, `nacos ${k} "${v}" may hold only letters, digits and _ - . :`);
    }
    const services = servicesRaw.split(',').map((s) => s.trim()).filter(Boolean);
    const q = new URLSearchParams({ namespace, group, dataId, services: servicesRaw, ...(tls && { tls: 'true' }) });
    let files: TlsFileNames | undefined;
    try {
      files = tls ? tlsFileNames(env, 'DYELINE_NACOS', false) : undefined;
    } catch (err) {
      throw new UsageError(`--source: ${errorMessage(err)}`);
    }
    return {
      kind: 'nacos',
      uri: `nacos://${uri.authority}?${q.toString().replace(/%2C/g, ',').replace(/%2A/g, '*')}`,
      servers,
      namespace,
      group,
      dataId,
      services,
      username,
      password,
      ...(files && { tls: files }),
    };
  },
  create: (config, { log }) => new NacosSource(config, { log }),
};

/** Tuning of the Nacos source; every field has a default. */
export interface NacosSourceOptions {
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
}

const DEFAULT_POLL_MS = 3000;
const SERVICE_PAGE_SIZE = 500;

const md5 = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');

/** The Nacos source. */
export class NacosSource implements Source {
  readonly kind = 'nacos';
  readonly uri: string;

  readonly #cfg: NacosSourceConfig;
  readonly #log: Logger;
  readonly #opts: Required<Omit<NacosSourceOptions, 'log' | 'pollMs'>> & { pollMs?: number };
  readonly #selection: NacosServiceSelection;
  readonly #configKey: string;
  readonly #secrets: (string | undefined)[];

  #sink: SourceSink | undefined;
  #connection: Connection | undefined;
  #http: NacosHttp | undefined;
  #config: ConfigClient | undefined;
  #naming: NamingProxy | undefined;
  #stopped = false;
  /** The TLS files, once read (`tls=true`). */
  #tls: WatchedTls | undefined;

  /** Last config Nacos answered (content null: absent); undefined until first read. */
  #configState: { content: string | null; md5: string } | undefined;
  /** Bumped on every config value taken, so a slower direct read never overwrites a newer push. */
  #configGen = 0;
  /** The config must be read directly next round (first sync, or a failure was seen). */
  #configDirty = true;
  /** Services found by the last successful service listing (services=*). */
  #listed: NacosServiceRef[] | undefined;
  #listedAt = 0;
  /** Latest instance items per key. */
  readonly #instances = new Map<string, SourceItem>();
  #cacheMillis: number | undefined;
  /** Last failure the naming client logged (it throws a generic error after trying every server). */
  #namingWarning: string | undefined;

  /** What the sink holds: key → fingerprint. */
  readonly #reported = new Map<string, string>();
  #synced = false;

  constructor(cfg: NacosSourceConfig, opts: NacosSourceOptions = {}) {
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
  }

  async start(sink: SourceSink): Promise<void> {
    if (this.#sink) throw new Error('NacosSource already started');
    this.#sink = sink;
    const retry = { initialMs: this.#opts.retryMinMs, maxMs: this.#opts.retryMaxMs };
    this.#connection = new Connection({ name: 'nacos', sink, log: this.#log, backoff: retry });
    const { dataId, group } = this.#cfg;
    if (!VALID_CONFIG_NAME.test(dataId) || !VALID_CONFIG_NAME.test(group)) {
      // The client refuses such names outright; nothing to retry.
      this.#connection.down(`dataId "${dataId}" and group "${group}" may hold only letters, digits and _ . : -`);
      return;
    }
    this.#http = new NacosHttp(undefined, () => this.#tls?.current().ca);
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
      // A ReadFailed says what Nacos did not answer; anything else is a bug, reported the same way.
      (err) => (err instanceof ReadFailed ? err.message : `nacos source error: ${describeNacosError(err, this.#secrets)}`),
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
      tls: this.#cfg.tls !== undefined,
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
    registrar: (log: Logger): Registrar =>
      new NacosRegistrar({
        target: this.uri,
        log,
        writer: createV1NamingWriter(this.#clientOptions(new NacosHttp(undefined, () => this.#tls?.current().ca))),
      }),
  };

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#tls?.close();
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
    if (this.#cfg.tls !== undefined && this.#tls === undefined) {
      // The CA is read at each request, so a changed file applies to the next one.
      this.#tls = await watchTls(this.#cfg.tls, this.#log, () => {});
    }
    const errors: string[] = [];
    const services = await this.#services(errors);
    // With no service to poll, the config read is also the liveness probe.
    const readConfig = this.#configDirty || this.#configState === undefined || services.length === 0;
    await Promise.all([readConfig ? this.#readConfig(errors) : undefined, this.#readInstances(services, errors)]);
    if (this.#stopped) return undefined;

    if (errors.length > 0) {
      this.#flush();
      this.#configDirty = true;
      throw new ReadFailed(errors.slice(0, 3).join('; ') + (errors.length > 3 ? `; and ${errors.length - 3} more` : ''));
    }
    if (!this.#synced) {
      const items = [...this.#desired().values()];
      this.#sink!.replaceAll(items);
      for (const item of items) this.#reported.set(item.key, fingerprint(item));
      this.#synced = true;
      this.#log.debug({ items: items.length }, 'nacos source synced');
    } else {
      this.#flush();
    }
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
    for (const key of this.#instances.keys()) if (!keep.has(key)) this.#instances.delete(key);
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
          const key = namingKey(ref);
          this.#instances.set(key, { key, documents: instanceDocuments(ref.name, body.hosts) });
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
    this.#flush();
  }

  #takeConfig(content: string | null): void {
    this.#configGen++;
    this.#configState = { content, md5: content === null ? '' : md5(content) };
  }

  // ------------------------------------------------------------------ reporting

  /** Everything the source currently knows Nacos holds. */
  #desired(): Map<string, SourceItem> {
    const items = new Map<string, SourceItem>();
    const cfg = this.#configState;
    if (cfg && cfg.content !== null) items.set(this.#configKey, { key: this.#configKey, text: cfg.content, md5: cfg.md5 });
    for (const [key, item] of this.#instances) items.set(key, item);
    return items;
  }

  /** After the first sync: puts what changed, deletes what Nacos no longer has. */
  #flush(): void {
    if (!this.#synced || this.#stopped) return;
    const desired = this.#desired();
    for (const [key, item] of desired) {
      const fp = fingerprint(item);
      if (this.#reported.get(key) === fp) continue;
      this.#reported.set(key, fp);
      this.#sink!.put(item);
    }
    for (const key of [...this.#reported.keys()]) {
      if (desired.has(key)) continue;
      this.#reported.delete(key);
      this.#sink!.delete(key);
    }
  }

}

/** Some read of a round failed; the message lists what Nacos did not answer. */
class ReadFailed extends Error {}

function fingerprint(item: SourceItem): string {
  return item.md5 ?? JSON.stringify(item.documents ?? item.text ?? null);
}
