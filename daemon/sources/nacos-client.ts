/**
 * The parts of the `nacos` npm client the Nacos source drives — nacos-config's DataClient without
 * its disk cache, nacos-naming's NamingProxy — and the one HTTP channel they share, which pauses
 * before a failure and can be closed. Which parts and why: docs/sources.md#nacos.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import type { TlsMaterial } from '../../shared/tls-files.ts';

/** What the source uses of nacos-config's DataClient. */
export interface ConfigClient {
  /** Content, or null when Nacos answers 404 (absent). Throws when Nacos cannot be read. */
  getConfig(dataId: string, group: string): Promise<string | null>;
  /** Long-polls the config; `listener` gets the content (null when absent) on every change. */
  subscribe(info: { dataId: string; group: string }, listener: (content: string | null) => void): void;
  on(event: 'error', listener: (err: unknown) => void): unknown;
  close(): void;
}

/** What the source uses of nacos-naming's NamingProxy. */
export interface NamingProxy {
  /** GET /nacos/v1/ns/instance/list; the raw JSON. Throws when no server answers 200. */
  queryList(groupedService: string, clusters: string, udpPort: number, healthyOnly: boolean): Promise<string>;
  /** GET /nacos/v1/ns/service/list → `{count, data: names}`. */
  getServiceList(pageNo: number, pageSize: number, groupName: string): Promise<{ count: number; data: string[] | null }>;
  /** POST /nacos/v1/ns/instance (self-registration). Throws when no server answers 200. */
  registerService(groupedService: string, groupName: string, instance: NacosNamingInstance): Promise<string>;
  /** DELETE /nacos/v1/ns/instance. */
  deregisterService(groupedService: string, instance: NacosNamingInstance): Promise<string>;
  /** Any naming API call (the beat, whose answer `sendBeat` does not return); the raw body. */
  _reqAPI(api: string, params: Record<string, string>, method: string): Promise<string>;
}

/** An instance as NamingProxy's register/deregister take it. */
export interface NacosNamingInstance {
  ip: string;
  port: number;
  weight: number;
  clusterName: string;
  enabled: boolean;
  healthy: boolean;
  ephemeral: boolean;
  metadata: Record<string, string>;
}

/** The logger shape nacos-naming expects. */
export interface NamingLogger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  debug(...args: unknown[]): void;
}

interface UrllibResponse {
  status: number;
  data: unknown;
  headers: Record<string, unknown>;
}
type Urllib = { request(url: string, opts: Record<string, unknown>): Promise<UrllibResponse> };
/** DataClient keeps one ClientWorker (an EventEmitter) per unit in `clients`. */
type DataClientCtor = new (opts: Record<string, unknown>) => ConfigClient & { clients: Map<string, EventEmitter> };
type NamingProxyCtor = new (opts: Record<string, unknown>) => NamingProxy;

interface Loaded {
  urllib: Urllib;
  DataClient: DataClientCtor;
  NamingProxy: NamingProxyCtor;
}
let loaded: Loaded | undefined;

/**
 * nacos-config, nacos-naming and urllib (the packages the installed `nacos` client is made of),
 * required on first use: a daemon without Nacos never loads them. Each is one
 * `createRequire(import.meta.url)(name)` call, which the production build bundles (scripts/build.ts).
 */
function load(): Loaded {
  if (loaded) return loaded;
  loaded = {
    urllib: createRequire(import.meta.url)('urllib') as Urllib,
    DataClient: (createRequire(import.meta.url)('nacos-config') as { DataClient: DataClientCtor }).DataClient,
    NamingProxy: createRequire(import.meta.url)('nacos-naming/lib/naming/proxy.js') as NamingProxyCtor,
  };
  return loaded;
}

/** A snapshot store that remembers nothing (nacos-config's ISnapshot). */
class NoSnapshot extends EventEmitter {
  async get(): Promise<null> {
    return null;
  }
  async save(): Promise<void> {}
  async delete(): Promise<void> {}
  async batchSave(): Promise<void> {}
}

const never = <T>(): Promise<T> => new Promise<T>(() => {});

/** The HTTP channel of both clients: pauses before a failure, and once closed leaves requests unsettled (docs/sources.md#nacos). */
export class NacosHttp {
  readonly #agent = new http.Agent({ keepAlive: false });
  readonly #httpsAgent = new https.Agent({ keepAlive: false });
  readonly #pauseMs: number;
  readonly #tls: (() => TlsMaterial | undefined) | undefined;
  #closed = false;

  /**
   * `pauseMs`: pause before a failure is returned (default 200 ms). `tls`: the CA bundle that
   * verifies an https server (undefined: the system's roots) and the client certificate and key
   * presented when set, read at each request (rotated files apply to the next one).
   */
  constructor(pauseMs = 200, tls?: () => TlsMaterial | undefined) {
    this.#pauseMs = pauseMs;
    this.#tls = tls;
  }

  /** The urllib-shaped `httpclient` option both clients accept. */
  readonly httpclient = {
    request: (url: string, opts: Record<string, unknown>): Promise<UrllibResponse> => this.#request(url, opts),
  };

  async #request(url: string, opts: Record<string, unknown>): Promise<UrllibResponse> {
    if (this.#closed) return never();
    let res: UrllibResponse;
    try {
      const m = this.#tls?.();
      // nacos-config asks for `rejectUnauthorized: false` (and TLS 1.2 only): an https server
      // is verified here whatever the client asks.
      const tls = { rejectUnauthorized: true, secureProtocol: undefined, ...(m?.ca && { ca: m.ca }), ...(m?.cert && { cert: m.cert, key: m.key }) };
      res = await load().urllib.request(url, { ...opts, agent: this.#agent, httpsAgent: this.#httpsAgent, ...tls });
    } catch (err) {
      await this.#pause();
      if (this.#closed) return never();
      throw err;
    }
    if (res.status >= 400 && res.status !== 404) await this.#pause();
    if (this.#closed) return never();
    return res;
  }

  #pause(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.#pauseMs).unref());
  }

  /** Drops every connection; pending and later requests never settle. */
  close(): void {
    this.#closed = true;
    this.#agent.destroy();
    this.#httpsAgent.destroy();
  }
}

/** Where and as whom the clients talk to Nacos. */
export interface NacosClientOptions {
  servers: string[];
  /** Namespace id; '' is the public namespace. */
  namespace: string;
  username?: string;
  password?: string;
  /** Budget of one config request including the client's own retries across servers (ms). */
  requestTimeoutMs: number;
  http: NacosHttp;
  namingLogger: NamingLogger;
  /** Speak https (the CA and client certificate are the http channel's). */
  tls?: boolean;
}

/** nacos-config's DataClient without a disk cache. */
export function createConfigClient(o: NacosClientOptions): ConfigClient {
  const { DataClient } = load();
  class NoCacheDataClient extends DataClient {
    // Called by DataClient's constructor in place of its disk snapshot.
    getSnapshot(): NoSnapshot {
      return new NoSnapshot();
    }
    // A worker's read still in flight reports its failure after close() removed every listener
    // of the worker, and an 'error' event nobody listens to is thrown out of a timer: the worker
    // keeps a listener that drops what a closed client reports.
    override close(): void {
      const workers = [...this.clients.values()];
      super.close();
      for (const worker of workers) worker.on('error', () => {});
    }
  }
  return new NoCacheDataClient({
    serverAddr: o.servers,
    namespace: o.namespace,
    username: o.username,
    password: o.password,
    requestTimeout: o.requestTimeoutMs,
    httpclient: o.http.httpclient,
    ssl: o.tls === true,
  });
}

/** nacos-naming's NamingProxy. */
export function createNamingProxy(o: NacosClientOptions): NamingProxy {
  const { NamingProxy } = load();
  return new NamingProxy({
    logger: o.namingLogger,
    serverList: o.servers,
    // Nacos naming treats a blank namespaceId as `public`; the client sends it as given.
    namespace: o.namespace || 'public',
    username: o.username,
    password: o.password,
    httpclient: o.http.httpclient,
    ssl: o.tls === true,
  });
}

/**
 * A failure of either client as one short line with no credentials: drops urllib's
 * `, GET http://...?...password=...` suffix and nacos-config's `, url: ..., data: {...}` suffix,
 * adds the server's answer when there is one, and redacts the secrets wherever they remain.
 */
export function describeNacosError(err: unknown, secrets: readonly (string | undefined)[]): string {
  let msg = err instanceof Error ? err.message : String(err);
  msg = msg.replace(/, (?:GET|POST|PUT|DELETE|HEAD) https?:\/\/[\s\S]*$/, '');
  msg = msg.replace(/, url: [\s\S]*$/, '').replace(/, data: [\s\S]*$/, '');
  const body = (err as { body?: unknown } | null)?.body;
  if (typeof body === 'string' && body.trim() && !msg.includes(body.trim())) msg += ` (${body.trim().slice(0, 200)})`;
  return redactSecrets(msg, secrets).slice(0, 400);
}

/** Replaces each secret (raw, URL- or form-encoded, JSON-escaped) and any `password=`/`username=`/`accessToken=` value. */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text.replace(/\b(password|username|accessToken)(=|":\s*"|%3D)[^&\s",]*/gi, '$1$2[redacted]');
  for (const s of secrets) {
    if (!s) continue;
    const forms = new Set([s, encodeURIComponent(s), new URLSearchParams({ s }).toString().slice(2), JSON.stringify(s).slice(1, -1)]);
    for (const form of forms) out = out.split(form).join('[redacted]');
  }
  return out;
}
