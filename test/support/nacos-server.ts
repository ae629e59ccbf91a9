/**
 * A small Nacos server for tests: node:http on a loopback port, speaking the Nacos 1.x HTTP
 * OpenAPI (https://nacos.io/docs/v1/open-api/) closely enough that the `nacos` npm client
 * (nacos-config's DataClient/ClientWorker, nacos-naming's NamingProxy/HostReactor) works unchanged.
 *
 * Documented Nacos behaviours it follows:
 * - Config (`/nacos/v1/cs/configs`): GET by dataId + group (+ tenant) → the raw content as
 *   text/plain with `Content-MD5` (hex md5 of the UTF-8 content) and `Config-Type` headers, 404
 *   "config data not exist" when absent; POST publishes (blank content → 400), DELETE removes,
 *   both answer `true`. A POST with a `casMd5` header is a compare-and-swap (Nacos 2.3+,
 *   ConfigOperationService): an absent config is created, a present one replaced only when its
 *   md5 is `casMd5`, else 500 with the v2 Result `{code: 20005, message: "resource conflict",
 *   data: "Cas publish fail, server md5 may have changed."}` (NacosApiExceptionHandler, 2.3–2.5);
 *   `v1Cas: false` ignores the header as Nacos before 2.3 does. dataId/group must be non-blank and of letters, digits and `._:-`
 *   (Nacos ParamUtils); missing → 400. Tenant `public` is the same as `` (Nacos 2.x).
 * - Long polling (`POST /nacos/v1/cs/configs/listener`, Nacos LongPollingService):
 *   `Listening-Configs` = `dataId^2group^2md5[^2tenant]^1...` (^1/^2 = \x01/\x02), URL-decoded once
 *   more after form decoding (Nacos ConfigController); an absent config's md5 is ``. Any md5 that
 *   differs → answered at once; else, with `Long-Pulling-Timeout-No-Hangup: true`, answered at once
 *   and empty; else held for max(10000, Long-Pulling-Timeout − 500) ms (FIXED_DELAY_TIME = 500),
 *   answered early with the changed key when a held key is published or removed (DataChangeTask
 *   answers any held client listening to that key), or empty at the deadline. The body is Java
 *   `URLEncoder.encode("dataId^2group[^2tenant]^1...")` plus a newline (`println`). Without
 *   `Long-Pulling-Timeout` it answers at once (short polling).
 * - Naming (`/nacos/v1/ns/...`): a serviceName without `@@` is prefixed with `groupName`
 *   (default DEFAULT_GROUP) as Nacos's ServiceNameFilter does; namespaceId blank → `public`.
 *   POST/PUT/DELETE `instance` (ip, port, clusterName=DEFAULT, weight=1.0 in [0, 10000],
 *   `enabled` or the legacy `enable`, healthy, ephemeral, metadata as JSON or `k=v,k=v`) answer `ok`.
 *   GET `instance/list` (clusters comma list, healthyOnly) answers the ServiceInfo JSON
 *   (name, groupName, clusters, cacheMillis, hosts[], lastRefTime, checksum, allIPs, valid);
 *   disabled instances are left out, as Nacos's InstanceController does; an unknown service answers
 *   an empty `hosts`. GET `service/list` (pageNo, pageSize required; groupName) → `{count, doms}`.
 *   PUT `instance/beat` → `{clientBeatInterval, code: 10200, lightBeatEnabled}`, re-registering an
 *   unknown instance from the beat (Nacos 1.4). GET `operator/metrics` → `{status: "UP", ...}`.
 * - UDP push: a list query with `udpPort` > 0 subscribes the caller for 10 s (Nacos PushClient
 *   zombie time); instance changes push `{"type":"dom","data":<list JSON>,"lastRefTime":n}` and the
 *   client's `push-ack` is counted. Differs from Nacos: pushes go to the request's remote address,
 *   not the `clientIP` parameter, so tests stay on loopback.
 * - Auth (when started with username/password, nacos.core.auth.enabled): POST
 *   `/nacos/v1/auth/login` (or `/auth/users/login`) with username/password → `{accessToken,
 *   tokenTtl, globalAdmin}`, 403 `unknown user!` otherwise. Every cs/ns call needs a token from
 *   `Authorization: Bearer`, the `accessToken` parameter, or — as Nacos's resolveToken does, and as
 *   the node client relies on — `username`/`password` parameters; 403 otherwise.
 *   `operator/metrics` is open.
 * - Nacos 3: `v3Login: true` serves `POST /nacos/v3/auth/user/login` (username in the query,
 *   password in the form) besides the v1 login; `v1Api: false` (Nacos 3.2+ without the legacy
 *   adapter plugin) answers 404 on every `/nacos/v1/` path.
 * - Beat expiry (Nacos ClientBeatCheckTask), only when `heartbeatTimeoutMs` is given: an
 *   ephemeral instance with no beat (or registration) for `heartbeatTimeoutMs` (Nacos: 15 s) turns
 *   unhealthy, for `deleteTimeoutMs` (Nacos: 30 s) is removed; a beat makes it healthy again.
 *   Beats are answered with `clientBeatInterval` = `clientBeatIntervalMs` (Nacos: 5 s). Instances
 *   a gRPC connection registered are not beat-checked (they leave with their connection).
 * Not served: the address server (endpoint mode), v2 APIs, beta/tag configs, beat expiry unless
 * asked for (instances stay until deregistered), empty-service cleanup (a service stays listed).
 *
 * The data lives in a NacosState (nacos-state.ts), which a gRPC front-end (nacos-grpc-server.ts)
 * can share, so one test Nacos is served over both protocols.
 *
 * Test controls: publishConfig/removeConfig/registerInstance/deregisterInstance/setHealthy act as
 * the API would (waking long polls, pushing); stop() drops the listener and every open connection
 * (held long polls included) to simulate Nacos going down; start() binds the same port again with
 * the data kept; `requests` logs every call.
 */
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  DEFAULT_CLUSTER,
  DEFAULT_GROUP,
  type InstanceInput,
  type NacosInstance,
  NacosState,
  NacosStateError as HttpError,
  type NamingScope,
  configKey,
  groupedServiceName as grouped,
  nacosMd5,
  namingNamespace,
  normTenant,
} from './nacos-state.ts';

export { type InstanceInput, type NacosInstance, type NamingScope, nacosMd5 } from './nacos-state.ts';

const WORD = '\x02';
const LINE = '\x01';
const VALID_NAME = /^[a-zA-Z0-9_.:-]+$/;
const PUSH_CLIENT_TTL_MS = 10_000;

/** Options of the test server; every default is Nacos's own. */
export interface NacosTestServerOptions {
  /** The data to serve (shared with other front-ends); default a new one from the options below. */
  state?: NacosState;
  /** Serve the v1 API (default true); false answers 404 on `/nacos/v1/`, as Nacos 3.2+ without the legacy adapter. */
  v1Api?: boolean;
  /** Honour the `casMd5` header of a config POST (default true, Nacos 2.3+); false ignores it, as Nacos 1.x–2.2. */
  v1Cas?: boolean;
  /** Serve Nacos 3's login path `/nacos/v3/auth/user/login` (default false, as Nacos 2). */
  v3Login?: boolean;
  /** Enables auth with this one user (when no `state` is given). Default: auth off. */
  username?: string;
  password?: string;
  /** Lower bound of a held long poll (Nacos: 10000 ms). */
  minLongPollMs?: number;
  /** A held long poll is answered this long before the client's timeout (Nacos FIXED_DELAY_TIME: 500 ms). */
  longPollMarginMs?: number;
  /** `cacheMillis` in instance lists: how often clients should re-query (Nacos pull default: 3000 ms). */
  cacheMillis?: number;
  /** Access token lifetime (Nacos: 18000 s). */
  tokenTtlSeconds?: number;
  /** `clientBeatInterval` answered to beats (Nacos: 5000 ms). */
  clientBeatIntervalMs?: number;
  /** Turns on beat expiry: an ephemeral instance without a beat this long is unhealthy (Nacos: 15000 ms). */
  heartbeatTimeoutMs?: number;
  /** With beat expiry, an ephemeral instance without a beat this long is removed (Nacos: 30000 ms). */
  deleteTimeoutMs?: number;
}

/** One logged request. */
export interface NacosRequestLog {
  method: string;
  path: string;
  /** Query and form parameters, query first (as a servlet's getParameter). */
  params: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  /** Set once answered. */
  status?: number;
  at: number;
}

interface HeldPoll {
  keys: Set<string>;
  res: http.ServerResponse;
  timer: NodeJS.Timeout;
}

interface PushTarget {
  address: string;
  port: number;
  namespaceId: string;
  service: string;
  clusters: string;
  refreshedAt: number;
}

/** Java's URLEncoder.encode(s, "UTF-8"): space → `+`, and `!'()~` escaped too. */
export function javaUrlEncode(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Java's URLDecoder.decode(s, "UTF-8"): `+` → space, then %XX. */
function javaUrlDecode(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}

/** Nacos MD5Util.getClientMd5Map: `dataId^2group^2md5[^2tenant]^1...` → key → md5. */
export function parseListeningConfigs(probe: string): Map<string, string> {
  const out = new Map<string, string>();
  let start = 0;
  let words: string[] = [];
  for (let i = 0; i < probe.length; i++) {
    const c = probe[i];
    if (c === WORD) {
      words.push(probe.slice(start, i));
      start = i + 1;
      if (words.length > 3) throw new HttpError(400, 'invalid probeModify');
    } else if (c === LINE) {
      const end = probe.slice(start, i);
      start = i + 1;
      if (words.length === 2) out.set(configKey(words[0]!, words[1]!, ''), end);
      else if (words.length === 3) out.set(configKey(words[0]!, words[1]!, normTenant(end)), words[2]!);
      else throw new HttpError(400, 'invalid probeModify');
      words = [];
      if (out.size > 10_000) throw new HttpError(400, 'invalid probeModify');
    }
  }
  return out;
}

/** Nacos MD5Util.compareMd5ResultString: the changed keys, URL-encoded, for a listener answer. */
function changedKeysBody(keys: string[]): string {
  let s = '';
  for (const k of keys) {
    const [dataId, group, tenant] = k.split(WORD);
    s += dataId + WORD + group + (tenant ? WORD + tenant : '') + LINE;
  }
  return javaUrlEncode(s);
}

function groupedServiceName(params: Record<string, string>): string {
  return grouped(params.serviceName, params.groupName);
}

function namespaceOf(params: Record<string, string>): string {
  return namingNamespace(params.namespaceId);
}

function bool(value: string | undefined, dflt: boolean): boolean {
  if (value === undefined || value === '') return dflt;
  return value.toLowerCase() === 'true';
}

/** Nacos UtilsAndCommons.parseMetadata: JSON object or `k=v,k=v`. */
function parseMetadata(raw: string | undefined): Record<string, string> {
  if (!raw) return {};
  try {
    const v = JSON.parse(raw) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, String(x)]));
    }
  } catch {
    /* not JSON: k=v,k=v */
  }
  const out: Record<string, string> = {};
  for (const pair of raw.split(',')) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new HttpError(400, `metadata format incorrect: ${raw}`);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

function requireParam(params: Record<string, string>, name: string): string {
  const v = params[name];
  if (v === undefined || v.trim() === '') throw new HttpError(400, `Required String parameter '${name}' is not present`);
  return v;
}

/** The test Nacos server. */
export class NacosTestServer {
  /** Every request, in arrival order. */
  readonly requests: NacosRequestLog[] = [];
  /** `push-ack` packets received from naming clients. */
  pushAcks = 0;
  /** The data served. */
  readonly state: NacosState;

  readonly #opts: {
    minLongPollMs: number;
    longPollMarginMs: number;
    v1Api: boolean;
    v3Login: boolean;
    v1Cas: boolean;
    clientBeatIntervalMs: number;
    heartbeatTimeoutMs?: number;
    deleteTimeoutMs: number;
  };
  /** `namespace|grouped|ip#port#cluster` of an ephemeral instance → its last beat (or registration). */
  readonly #lastBeat = new Map<string, number>();
  #expiry: NodeJS.Timeout | undefined;
  readonly #held = new Set<HeldPoll>();
  readonly #sockets = new Set<Socket>();
  readonly #pushTargets = new Map<string, PushTarget>();
  #server: http.Server | undefined;
  #udp: dgram.Socket | undefined;
  #port = 0;
  #host = '127.0.0.1';

  constructor(opts: NacosTestServerOptions = {}) {
    this.state =
      opts.state ?? new NacosState({ username: opts.username, password: opts.password, tokenTtlSeconds: opts.tokenTtlSeconds, cacheMillis: opts.cacheMillis });
    if (opts.state && opts.cacheMillis !== undefined) this.state.cacheMillis = opts.cacheMillis;
    this.#opts = {
      minLongPollMs: opts.minLongPollMs ?? 10_000,
      longPollMarginMs: opts.longPollMarginMs ?? 500,
      v1Api: opts.v1Api ?? true,
      v3Login: opts.v3Login ?? false,
      v1Cas: opts.v1Cas ?? true,
      clientBeatIntervalMs: opts.clientBeatIntervalMs ?? 5000,
      heartbeatTimeoutMs: opts.heartbeatTimeoutMs,
      deleteTimeoutMs: opts.deleteTimeoutMs ?? 30_000,
    };
    this.state.onConfigChange((key) => this.#configChanged(key));
    this.state.onServiceChange((ns, grouped) => this.#push(ns, grouped));
  }

  /** `127.0.0.1:<port>` once started. */
  get address(): string {
    return `${this.#host}:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  /** Whether it is listening. */
  get running(): boolean {
    return this.#server !== undefined;
  }

  /** Listens on 127.0.0.1 — on `port` (default: a free one) the first time, the same port after stop(). */
  async start(port?: number): Promise<this> {
    if (this.#server) return this;
    if (port !== undefined) this.#port = port;
    const server = http.createServer((req, res) => void this.#handle(req, res));
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, this.#host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
    const udp = dgram.createSocket('udp4');
    udp.on('message', (msg) => {
      try {
        const ack = JSON.parse(msg.toString('utf8')) as { type?: string };
        if (ack.type === 'push-ack') this.pushAcks++;
      } catch {
        /* not an ack */
      }
    });
    udp.on('error', () => udp.close());
    await new Promise<void>((resolve) => udp.bind(0, this.#host, resolve));
    this.#udp = udp;
    const timeout = this.#opts.heartbeatTimeoutMs;
    if (timeout !== undefined) {
      this.#expiry = setInterval(() => this.#expire(timeout), Math.min(500, timeout / 3));
      this.#expiry.unref();
    }
    return this;
  }

  /** Nacos's beat check: unhealthy past `timeout` without a beat, removed past deleteTimeoutMs. */
  #expire(timeout: number): void {
    const now = Date.now();
    for (const { namespaceId: ns, grouped, instance: inst, connectionBound } of this.state.everyInstance()) {
      if (!inst.ephemeral || connectionBound) continue;
      const at = `${ns}|${grouped}|${inst.ip}#${inst.port}#${inst.clusterName}`;
      const last = this.#lastBeat.get(at) ?? now;
      this.#lastBeat.set(at, last);
      if (now - last > this.#opts.deleteTimeoutMs) {
        this.#lastBeat.delete(at);
        this.state.removeInstance(ns, grouped, inst.ip, inst.port, inst.clusterName);
      } else if (now - last > timeout && inst.healthy) {
        this.state.setHealthy(ns, grouped, inst.ip, inst.port, false, inst.clusterName);
      }
    }
  }

  /** Registers an instance as a client's registration or beat does: its beat clock starts now. */
  #put(namespaceId: string, grouped: string, input: InstanceInput): NacosInstance {
    const inst = this.state.putInstance(namespaceId, grouped, input);
    this.#lastBeat.set(`${namespaceId}|${grouped}|${inst.ip}#${inst.port}#${inst.clusterName}`, Date.now());
    return inst;
  }

  /** Nacos goes down: stops listening and drops every connection, held long polls included. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    clearInterval(this.#expiry);
    // While Nacos is down no beat can arrive; its restart starts the clocks again.
    this.#lastBeat.clear();
    for (const h of this.#held) clearTimeout(h.timer);
    this.#held.clear();
    this.#pushTargets.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    await closed;
    const udp = this.#udp;
    this.#udp = undefined;
    if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()));
  }

  // ------------------------------------------------------------------ test controls: config

  /** Publishes a config as POST /cs/configs would; wakes long polls on it. */
  publishConfig(dataId: string, group: string, content: string, tenant = '', type = 'yaml'): void {
    this.state.publishConfig(dataId, group, content, tenant, type);
  }

  /** Removes a config as DELETE /cs/configs would; wakes long polls on it. */
  removeConfig(dataId: string, group: string, tenant = ''): void {
    this.state.removeConfig(dataId, group, tenant);
  }

  /** The stored content, or undefined. */
  getConfig(dataId: string, group: string, tenant = ''): string | undefined {
    return this.state.config(dataId, group, tenant)?.content;
  }

  /** Long polls currently held. */
  get heldPolls(): number {
    return this.#held.size;
  }

  // ------------------------------------------------------------------ test controls: naming

  /** Registers (or replaces) an instance as POST /ns/instance would. */
  registerInstance(service: string, input: InstanceInput, scope: NamingScope = {}): NacosInstance {
    return this.#put(namingNamespace(scope.namespaceId), grouped(service, scope.groupName), input);
  }

  /** Deregisters an instance as DELETE /ns/instance would. */
  deregisterInstance(service: string, ip: string, port: number, scope: NamingScope & { clusterName?: string } = {}): void {
    this.state.removeInstance(namingNamespace(scope.namespaceId), grouped(service, scope.groupName), ip, port, scope.clusterName || DEFAULT_CLUSTER);
  }

  /** Marks an instance healthy or not (what Nacos's health checks do). */
  setHealthy(service: string, ip: string, port: number, healthy: boolean, scope: NamingScope & { clusterName?: string } = {}): void {
    this.state.setHealthy(namingNamespace(scope.namespaceId), grouped(service, scope.groupName), ip, port, healthy, scope.clusterName || DEFAULT_CLUSTER);
  }

  /** The instances of a service (all, enabled or not). */
  instances(service: string, scope: NamingScope = {}): NacosInstance[] {
    return this.state.instances(namingNamespace(scope.namespaceId), grouped(service, scope.groupName));
  }

  /** Requests whose path is `path` (e.g. `/nacos/v1/ns/instance/list`). */
  requestsTo(path: string): NacosRequestLog[] {
    return this.requests.filter((r) => r.path === path);
  }

  // ------------------------------------------------------------------ HTTP

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://nacos');
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) if (!(k in params)) params[k] = v;
    const log: NacosRequestLog = { method: req.method ?? 'GET', path: url.pathname, params, headers: req.headers, at: Date.now() };
    this.requests.push(log);
    res.once('finish', () => (log.status = res.statusCode));
    try {
      const body = await readBody(req);
      if (/application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '') && body) {
        for (const [k, v] of new URLSearchParams(body)) if (!(k in params)) params[k] = v;
      }
      this.#route(req, res, url.pathname, params);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      if (!res.headersSent) send(res, status, err instanceof Error ? err.message : String(err));
    }
  }

  #route(req: http.IncomingMessage, res: http.ServerResponse, path: string, params: Record<string, string>): void {
    const method = req.method ?? 'GET';
    if (path === '/nacos/v3/auth/user/login' && method === 'POST' && this.#opts.v3Login) return this.#login(res, params);
    if (path.startsWith('/nacos/v1/') && !this.#opts.v1Api) throw new HttpError(404, `no handler for ${method} ${path}`);
    if ((path === '/nacos/v1/auth/login' || path === '/nacos/v1/auth/users/login') && method === 'POST') return this.#login(res, params);
    if (path === '/nacos/v1/ns/operator/metrics' && method === 'GET') return this.#metrics(res);
    if (path.startsWith('/nacos/v1/cs/') || path.startsWith('/nacos/v1/ns/')) this.#authorize(req, params);
    switch (`${method} ${path}`) {
      case 'GET /nacos/v1/cs/configs':
        return this.#getConfig(res, params);
      case 'POST /nacos/v1/cs/configs':
        return this.#publishConfig(req, res, params);
      case 'DELETE /nacos/v1/cs/configs':
        return this.#deleteConfig(res, params);
      case 'POST /nacos/v1/cs/configs/listener':
        return this.#listen(req, res, params);
      case 'POST /nacos/v1/ns/instance':
        this.#put(namespaceOf(params), groupedServiceName(params), instanceFromParams(params));
        return send(res, 200, 'ok');
      case 'PUT /nacos/v1/ns/instance':
        return this.#updateInstance(res, params);
      case 'DELETE /nacos/v1/ns/instance':
        this.state.removeInstance(
          namespaceOf(params),
          groupedServiceName(params),
          requireParam(params, 'ip'),
          portOf(params.port),
          params.clusterName?.trim() || params.cluster?.trim() || DEFAULT_CLUSTER,
        );
        return send(res, 200, 'ok');
      case 'GET /nacos/v1/ns/instance/list':
        return this.#list(req, res, params);
      case 'PUT /nacos/v1/ns/instance/beat':
        return this.#beat(res, params);
      case 'GET /nacos/v1/ns/service/list':
        return this.#serviceList(res, params);
      default:
        throw new HttpError(404, `no handler for ${method} ${path}`);
    }
  }

  #authorize(req: http.IncomingMessage, params: Record<string, string>): void {
    if (!this.state.authEnabled) return;
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer || params.accessToken;
    if (token) return this.state.checkToken(token);
    if (params.username === this.state.username && params.password === this.state.password) return;
    throw new HttpError(403, params.username ? 'unknown user!' : 'user not found!');
  }

  #login(res: http.ServerResponse, params: Record<string, string>): void {
    const { accessToken, tokenTtl } = this.state.login(params.username, params.password);
    sendJson(res, 200, { accessToken, tokenTtl, globalAdmin: true, username: params.username });
  }

  #metrics(res: http.ServerResponse): void {
    sendJson(res, 200, { status: 'UP', ...this.state.counts(), load: 0, mem: 0, cpu: 0 });
  }

  // ------------------------------------------------------------------ config

  #configParams(params: Record<string, string>): { dataId: string; group: string; tenant: string } {
    const dataId = requireParam(params, 'dataId');
    const group = requireParam(params, 'group');
    if (!VALID_NAME.test(dataId) || dataId.length > 256) throw new HttpError(400, 'invalid dataId');
    if (!VALID_NAME.test(group) || group.length > 128) throw new HttpError(400, 'invalid group');
    return { dataId, group, tenant: normTenant(params.tenant) };
  }

  #getConfig(res: http.ServerResponse, params: Record<string, string>): void {
    const { dataId, group, tenant } = this.#configParams(params);
    const cfg = this.state.config(dataId, group, tenant);
    if (!cfg) return send(res, 404, 'config data not exist\n');
    res.writeHead(200, {
      'Content-Type': 'text/plain;charset=UTF-8',
      'Content-MD5': cfg.md5,
      'Config-Type': cfg.type,
      'Last-Modified': new Date(cfg.lastModified).toUTCString(),
      Pragma: 'no-cache',
      'Cache-Control': 'no-cache,no-store',
    });
    res.end(cfg.content);
  }

  #publishConfig(req: http.IncomingMessage, res: http.ServerResponse, params: Record<string, string>): void {
    const { dataId, group, tenant } = this.#configParams(params);
    const content = params.content;
    if (content === undefined || content.trim() === '') throw new HttpError(400, 'invalid content');
    const casMd5 = String(req.headers.casmd5 ?? '').trim();
    if (casMd5 && this.#opts.v1Cas) {
      if (!this.state.publishConfigCas(dataId, group, content, casMd5, tenant, params.type || 'text')) {
        return sendJson(res, 500, { code: 20005, message: 'resource conflict', data: 'Cas publish fail, server md5 may have changed.' });
      }
      return send(res, 200, 'true');
    }
    this.publishConfig(dataId, group, content, tenant, params.type || 'text');
    send(res, 200, 'true');
  }

  #deleteConfig(res: http.ServerResponse, params: Record<string, string>): void {
    const { dataId, group, tenant } = this.#configParams(params);
    this.removeConfig(dataId, group, tenant);
    send(res, 200, 'true');
  }

  #changedKeys(clientMd5: Map<string, string>): string[] {
    const out: string[] = [];
    for (const [key, md5] of clientMd5) if (this.state.md5Of(key) !== md5) out.push(key);
    return out;
  }

  #listen(req: http.IncomingMessage, res: http.ServerResponse, params: Record<string, string>): void {
    const probe = params['Listening-Configs'];
    if (!probe || probe.trim() === '') throw new HttpError(400, 'invalid probeModify');
    const clientMd5 = parseListeningConfigs(javaUrlDecode(probe));
    const changed = this.#changedKeys(clientMd5);
    const timeoutHeader = req.headers['long-pulling-timeout'];
    if (changed.length > 0 || timeoutHeader === undefined) return this.#answerPoll(res, changed);
    if (String(req.headers['long-pulling-timeout-no-hangup']).toLowerCase() === 'true') return this.#answerPoll(res, []);
    const requested = Number(timeoutHeader);
    if (!Number.isFinite(requested)) throw new HttpError(500, `For input string: "${String(timeoutHeader)}"`);
    const holdMs = Math.max(this.#opts.minLongPollMs, requested - this.#opts.longPollMarginMs);
    const held: HeldPoll = {
      keys: new Set(clientMd5.keys()),
      res,
      timer: setTimeout(() => {
        this.#held.delete(held);
        this.#answerPoll(res, []);
      }, holdMs),
    };
    this.#held.add(held);
    res.once('close', () => {
      clearTimeout(held.timer);
      this.#held.delete(held);
    });
  }

  #answerPoll(res: http.ServerResponse, changed: string[]): void {
    if (res.writableEnded || res.destroyed) return;
    res.writeHead(200, { 'Content-Type': 'text/html;charset=UTF-8', Pragma: 'no-cache', Expires: '0', 'Cache-Control': 'no-cache,no-store' });
    res.end(changed.length > 0 ? `${changedKeysBody(changed)}\n` : '');
  }

  #configChanged(key: string): void {
    for (const held of this.#held) {
      if (!held.keys.has(key)) continue;
      clearTimeout(held.timer);
      this.#held.delete(held);
      this.#answerPoll(held.res, [key]);
    }
  }

  // ------------------------------------------------------------------ naming

  #updateInstance(res: http.ServerResponse, params: Record<string, string>): void {
    const ns = namespaceOf(params);
    const grouped = groupedServiceName(params);
    const input = instanceFromParams(params);
    const existing = this.state.instance(ns, grouped, input.ip, input.port, input.clusterName);
    if (!existing) throw new HttpError(400, `instance not exist: ${input.ip}:${input.port}`);
    this.#put(ns, grouped, { ...input, healthy: existing.healthy });
    send(res, 200, 'ok');
  }

  #listBody(namespaceId: string, grouped: string, clusters: string, healthyOnly: boolean): Record<string, unknown> {
    const base = { name: grouped, groupName: grouped.split('@@')[0], clusters, cacheMillis: this.state.cacheMillis };
    if (!this.state.hasService(namespaceId, grouped)) return { ...base, hosts: [] };
    const hosts = this.state.hosts(namespaceId, grouped, clusters, healthyOnly);
    return {
      ...base,
      hosts,
      lastRefTime: this.state.refTime(namespaceId, grouped),
      checksum: nacosMd5(JSON.stringify(hosts)),
      allIPs: false,
      reachProtectionThreshold: false,
      valid: true,
    };
  }

  #list(req: http.IncomingMessage, res: http.ServerResponse, params: Record<string, string>): void {
    const ns = namespaceOf(params);
    const grouped = groupedServiceName(params);
    const clusters = params.clusters ?? '';
    const udpPort = Number(params.udpPort ?? 0);
    if (udpPort > 0 && udpPort <= 65535 && req.socket.remoteAddress) {
      const address = req.socket.remoteAddress.replace(/^::ffff:/, '');
      this.#pushTargets.set(`${ns}|${grouped}|${clusters}|${address}:${udpPort}`, {
        address,
        port: udpPort,
        namespaceId: ns,
        service: grouped,
        clusters,
        refreshedAt: Date.now(),
      });
    }
    sendJson(res, 200, this.#listBody(ns, grouped, clusters, bool(params.healthyOnly, false)));
  }

  #push(namespaceId: string, grouped: string): void {
    const udp = this.#udp;
    if (!udp) return;
    const now = Date.now();
    for (const [key, t] of this.#pushTargets) {
      if (now - t.refreshedAt > PUSH_CLIENT_TTL_MS) {
        this.#pushTargets.delete(key);
        continue;
      }
      if (t.namespaceId !== namespaceId || t.service !== grouped) continue;
      const packet = JSON.stringify({
        type: 'dom',
        data: JSON.stringify(this.#listBody(namespaceId, grouped, t.clusters, false)),
        lastRefTime: process.hrtime.bigint().toString(),
      });
      udp.send(packet, t.port, t.address, () => {});
    }
  }

  #beat(res: http.ServerResponse, params: Record<string, string>): void {
    const ns = namespaceOf(params);
    const grouped = groupedServiceName(params);
    let beat: { ip?: string; port?: number; cluster?: string; weight?: number; metadata?: Record<string, string> } = {};
    if (params.beat) {
      try {
        beat = JSON.parse(params.beat) as typeof beat;
      } catch {
        throw new HttpError(400, 'beat is not JSON');
      }
    }
    const ip = beat.ip ?? requireParam(params, 'ip');
    const port = beat.port ?? portOf(params.port);
    const clusterName = beat.cluster || params.clusterName || DEFAULT_CLUSTER;
    const interval = this.#opts.clientBeatIntervalMs;
    const existing = this.state.instance(ns, grouped, ip, port, clusterName);
    if (!existing) {
      if (!params.beat) return sendJson(res, 200, { clientBeatInterval: interval, code: 20404, lightBeatEnabled: true });
      this.#put(ns, grouped, { ip, port, clusterName, weight: beat.weight, metadata: beat.metadata });
    } else {
      this.#lastBeat.set(`${ns}|${grouped}|${ip}#${port}#${clusterName}`, Date.now());
      if (!existing.healthy) this.state.setHealthy(ns, grouped, ip, port, true, clusterName);
    }
    sendJson(res, 200, { clientBeatInterval: interval, code: 10200, lightBeatEnabled: true });
  }

  #serviceList(res: http.ServerResponse, params: Record<string, string>): void {
    const pageNo = Number(requireParam(params, 'pageNo'));
    const pageSize = Number(requireParam(params, 'pageSize'));
    if (!(pageNo >= 1) || !(pageSize >= 1)) throw new HttpError(400, 'pageNo and pageSize must be positive');
    const group = params.groupName?.trim() || DEFAULT_GROUP;
    const names = this.state.serviceNames(namespaceOf(params), group);
    const start = (pageNo - 1) * pageSize;
    sendJson(res, 200, { count: names.length, doms: names.slice(start, start + pageSize) });
  }
}

function portOf(raw: string | undefined): number {
  const port = Number(raw);
  if (raw === undefined || !Number.isInteger(port)) throw new HttpError(400, "Required String parameter 'port' is not present");
  return port;
}

function instanceFromParams(params: Record<string, string>): InstanceInput & { clusterName: string } {
  const enabledRaw = params.enabled !== undefined && params.enabled !== '' ? params.enabled : params.enable;
  const weight = params.weight === undefined || params.weight === '' ? 1 : Number(params.weight);
  if (!Number.isFinite(weight)) throw new HttpError(400, `instance format invalid: weight ${params.weight}`);
  return {
    ip: requireParam(params, 'ip'),
    port: portOf(params.port),
    weight,
    healthy: bool(params.healthy, true),
    enabled: bool(enabledRaw, true),
    ephemeral: bool(params.ephemeral, true),
    clusterName: params.clusterName?.trim() || DEFAULT_CLUSTER,
    metadata: parseMetadata(params.metadata),
  };
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
      if (body.length > 10 * 1024 * 1024) reject(new HttpError(413, 'body too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain;charset=UTF-8' });
  res.end(text);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json;charset=UTF-8' });
  res.end(JSON.stringify(body));
}
