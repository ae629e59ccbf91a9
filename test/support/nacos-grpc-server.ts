/**
 * A Nacos 2.x/3.x gRPC front-end for tests over a NacosState shared with the v1 HTTP server
 * (nacos-server.ts): a real @grpc/grpc-js server, reached through an in-process TCP relay on the
 * public loopback port so that a test can cut or black-hole each connection. It follows Nacos's
 * server code:
 *
 * - Services `Request/request` (unary) and `BiRequestStream/requestBiStream`, every message a
 *   `Payload {metadata {type, clientIp, headers}, body: Any{value: JSON}}`.
 * - A connection is one TCP connection (id `<ms>_<ip>_<port>`, as Nacos's ConnectionGenerator). The
 *   ServerCheckRequest is answered on any connection (`ServerCheckResponse {connectionId,
 *   supportAbilityNegotiation}`); every other request on a connection not yet registered gets
 *   `ErrorResponse` 301 "Connection is unregistered." (GrpcRequestAcceptor). A connection registers
 *   when its bi-stream carries a ConnectionSetupRequest — after `setupDelayMs` here — and, when the
 *   request has an abilityTable, the server then sends a SetupAckRequest (GrpcBiStreamRequestAcceptor).
 * - Unknown request types: `ErrorResponse` 302 "RequestHandler Not Found".
 * - Auth (state with a user): ConfigBatchListen/ConfigQuery/SubscribeService/ServiceList/Instance
 *   requests need a valid `accessToken` metadata header, else the handler's response type with
 *   resultCode 500, errorCode 403 and the reason (`token expired!`, ...) (RemoteRequestAuthFilter).
 *   HealthCheckRequest needs none.
 * - Config: ConfigBatchListenRequest registers the connection as listener of each config and
 *   answers the ones whose md5 differs (`changedConfigs`); a change pushes ConfigChangeNotifyRequest
 *   {dataId, group, tenant} to each listening connection. ConfigQueryRequest answers the content and
 *   md5, or errorCode 300 "config data not exist". ConfigPublishRequest {dataId, group, tenant,
 *   content, casMd5, additionMap {type}} publishes (ConfigPublishRequestHandler): blank content →
 *   ConfigPublishResponse errorCode 400; with `casMd5` it is a compare-and-swap as Nacos's
 *   insertOrUpdateCas (an absent config is created, a present one replaced only when its md5 is
 *   `casMd5`), else resultCode/errorCode 500 "Cas publish fail, server md5 may have changed.".
 * - Naming: only connections labelled `module: naming` may subscribe or register (else ErrorResponse
 *   -401, as Nacos has no naming client for them). SubscribeServiceRequest answers the ServiceInfo
 *   (enabled hosts; name without group; lastRefTime = now) and a change pushes NotifySubscriberRequest
 *   {namespace, serviceName, groupName, serviceInfo}. ServiceListRequest pages the names of a group.
 *   InstanceRequest registers/deregisters ephemeral instances owned by the connection; they are
 *   removed when it closes (a client disconnect deregisters them).
 * - Pushes carry a requestId; the client's response on the bi-stream with it is counted as an ack.
 * - TLS (option `tls`, Nacos's `nacos.remote.server.rpc.tls.*`): on the same gRPC port; with
 *   `compatibility` (Nacos's default) a connection whose first byte is not a TLS handshake is
 *   served in plaintext on that port too, as Nacos's OptionalTlsProtocolNegotiator does; with
 *   `mutualAuth` a client must present a certificate of the set's CA. useCertificate() swaps the
 *   certificate for new connections and keeps the open ones (Nacos's SSL context refresher).
 *   Not served: push retries on a missing ack, cluster-internal requests, fuzzy watch,
 *   persistent instances, beta/tag configs, the "server is starting" state.
 *
 * Test controls: stop()/start() is a server restart (every connection lost, their instances gone,
 * same port); killConnections() cuts every TCP connection; partition(true) silently drops every
 * byte both ways (existing and new connections) until partition(false); dropRegistrations() makes
 * the server forget its connections while their TCP stays up (the next request gets 301);
 * resetConnections() sends each client a ConnectResetRequest.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { TlsSet } from './certs.ts';
import { decodePayload, encodePayload, type NacosPayload } from '../../daemon/sources/nacos/grpc-payload.ts';
import { NacosTestServer, type NacosTestServerOptions } from './nacos-server.ts';
import { NacosState, NacosStateError, configKey, groupedServiceName, namingNamespace, nacosMd5, normTenant } from './nacos-state.ts';

/** Options of the gRPC front-end. */
export interface NacosGrpcTestServerOptions {
  /** Wait between a ConnectionSetupRequest and registering the connection + SetupAckRequest (ms). Default 0. */
  setupDelayMs?: number;
  /** Offer ability negotiation (SetupAckRequest; Nacos 2.3+). Default true. */
  abilityNegotiation?: boolean;
  /** `cacheMillis` of pushed ServiceInfo (Nacos's push default: 10000). */
  pushCacheMillis?: number;
  /** TLS on the gRPC port (`nacos.remote.server.rpc.tls.enableTls`); default off. */
  tls?: NacosGrpcTestTls;
}

/** The server's TLS, as Nacos's `nacos.remote.server.rpc.tls.*` settings. */
export interface NacosGrpcTestTls {
  /** The server certificate and key (`certChainFile`, `certPrivateKey`); the set's CA when `mutualAuth`. */
  set: TlsSet;
  /** `mutualAuthEnable` (with `trustCollectionCertFile` = the set's CA): clients must present a certificate. Default false. */
  mutualAuth?: boolean;
  /** `compatibility`: plaintext clients are served on the same port too. Default true, as Nacos. */
  compatibility?: boolean;
}

/** One logged unary request and how it was answered. */
export interface GrpcRequestLog {
  type: string;
  connectionId: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  answerType: string;
  errorCode: number;
  at: number;
}

/** A connection as the server sees it. */
export interface GrpcConnectionInfo {
  id: string;
  module: string | undefined;
  registered: boolean;
  pushes: number;
  acks: number;
}

interface Conn {
  id: string;
  relay: Relay;
  stream: grpc.ServerDuplexStream<Buffer, Buffer> | undefined;
  labels: Record<string, string>;
  registered: boolean;
  /** config key → md5 the client said it holds. */
  listens: Map<string, string>;
  /** `${namespace}|${grouped}` */
  subscriptions: Set<string>;
  /** Ephemeral instances it registered: [namespace, grouped, ip, port, cluster]. */
  instances: Map<string, [string, string, string, number, string]>;
  pushes: number;
  acks: number;
}

const passBuffer = (b: Buffer): Buffer => b;
/** Nacos ParamUtils: dataId and group of letters, digits and `._:-`. */
const VALID_CONFIG_NAME = /^[a-zA-Z0-9_.:-]+$/;
const SECURED = new Map([
  ['ConfigBatchListenRequest', 'ConfigChangeBatchListenResponse'],
  ['ConfigQueryRequest', 'ConfigQueryResponse'],
  ['ConfigPublishRequest', 'ConfigPublishResponse'],
  ['SubscribeServiceRequest', 'SubscribeServiceResponse'],
  ['ServiceListRequest', 'ServiceListResponse'],
  ['InstanceRequest', 'InstanceResponse'],
]);

/**
 * One client TCP connection relayed to the internal gRPC port, so the test can cut it or drop its
 * bytes; the server knows it by the relay's own port (its peer address).
 */
class Relay {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  constructor(client: net.Socket, upstream: net.Socket, dropping: () => boolean) {
    this.client = client;
    this.upstream = upstream;
    // No Nagle delay in the relay: gRPC frames are small and latency is what the tests measure.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (d: Buffer) => void (dropping() || upstream.write(d)));
    upstream.on('data', (d: Buffer) => void (dropping() || client.write(d)));
    const close = () => this.close();
    for (const s of [client, upstream]) s.on('error', close).on('close', close).on('end', close);
  }

  /** Closes both sides (reset toward the client). */
  close(): void {
    if (!this.client.destroyed) this.client.resetAndDestroy();
    this.upstream.destroy();
  }
}

/** The gRPC front-end of a test Nacos. */
export class NacosGrpcTestServer {
  readonly state: NacosState;
  /** Every unary request, in arrival order. */
  readonly requests: GrpcRequestLog[] = [];

  readonly #o: Required<Omit<NacosGrpcTestServerOptions, 'tls'>>;
  readonly #tls: NacosGrpcTestTls | undefined;
  #tlsCredentials: grpc.ServerCredentials | undefined;
  /** Connections that arrived over TLS, and in plaintext. */
  readonly accepted = { tls: 0, plaintext: 0 };
  readonly #conns = new Map<string, Conn>();
  /** peer `ip:port` → connection. */
  readonly #byPeer = new Map<string, Conn>();
  #net: net.Server | undefined;
  #grpc: grpc.Server | undefined;
  /** The gRPC server's own listeners: plaintext, and TLS when on. */
  #internal: net.Server[] = [];
  #port = 0;
  #partitioned = false;
  #nextRequestId = 1;
  /** Pushes and acks of connections already gone. */
  #pastPushes = 0;
  #pastAcks = 0;

  constructor(state: NacosState, opts: NacosGrpcTestServerOptions = {}) {
    this.state = state;
    const { tls, ...rest } = opts;
    this.#o = { setupDelayMs: 0, abilityNegotiation: true, pushCacheMillis: 10_000, ...rest };
    this.#tls = tls;
    state.onConfigChange((key, cfg) => this.#pushConfig(key, cfg));
    state.onServiceChange((ns, grouped) => this.#pushService(ns, grouped));
  }

  /** `127.0.0.1:<port>` once started. */
  get address(): string {
    return `127.0.0.1:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  get running(): boolean {
    return this.#net !== undefined;
  }

  /** The connections open now. */
  get connections(): GrpcConnectionInfo[] {
    return [...this.#conns.values()].map((c) => ({ id: c.id, module: c.labels.module, registered: c.registered, pushes: c.pushes, acks: c.acks }));
  }

  /** Pushes sent and acknowledged, over every connection so far. */
  get pushTotals(): { pushes: number; acks: number } {
    let pushes = this.#pastPushes;
    let acks = this.#pastAcks;
    for (const c of this.#conns.values()) {
      pushes += c.pushes;
      acks += c.acks;
    }
    return { pushes, acks };
  }

  /** Unary requests of one type. */
  requestsOf(type: string): GrpcRequestLog[] {
    return this.requests.filter((r) => r.type === type);
  }

  /** Listens on 127.0.0.1:`port` (default a free port the first time, the same port after stop()). */
  async start(port?: number): Promise<this> {
    if (this.#net) return this;
    if (port !== undefined) this.#port = port;
    const server = new grpc.Server();
    server.addService(
      {
        request: { path: '/Request/request', requestStream: false, responseStream: false, requestSerialize: passBuffer, requestDeserialize: passBuffer, responseSerialize: passBuffer, responseDeserialize: passBuffer },
        requestBiStream: { path: '/BiRequestStream/requestBiStream', requestStream: true, responseStream: true, requestSerialize: passBuffer, requestDeserialize: passBuffer, responseSerialize: passBuffer, responseDeserialize: passBuffer },
      },
      {
        request: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, this.#unary(call)),
        requestBiStream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => this.#biStream(call),
      },
    );
    // The gRPC server's own side of each relayed connection, without Nagle's delay (as Netty, under
    // Nacos, sets TCP_NODELAY; a server socket with it waits for delayed ACKs, 40 ms at a time).
    const inject = async (credentials: grpc.ServerCredentials): Promise<net.Server> => {
      const injector = server.createConnectionInjector(credentials);
      const internal = net.createServer((socket) => {
        socket.setNoDelay(true);
        injector.injectConnection(socket);
      });
      await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
      return internal;
    };
    const internal = [await inject(grpc.ServerCredentials.createInsecure())];
    if (this.#tls) {
      const { set, mutualAuth = false } = this.#tls;
      this.#tlsCredentials ??= grpc.ServerCredentials.createSsl(
        mutualAuth ? readFileSync(set.caFile) : null,
        [{ cert_chain: readFileSync(set.serverCertFile), private_key: readFileSync(set.serverKeyFile) }],
        mutualAuth,
      );
      internal.push(await inject(this.#tlsCredentials));
    }
    const [plainPort, tlsPort] = internal.map((i) => (i.address() as net.AddressInfo).port);
    const listener = net.createServer((socket) => this.#accept(socket, plainPort!, tlsPort));
    try {
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(this.#port, '127.0.0.1', () => {
          listener.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      for (const i of internal) i.close();
      server.forceShutdown();
      throw err;
    }
    this.#port = (listener.address() as net.AddressInfo).port;
    this.#grpc = server;
    this.#internal = internal;
    this.#net = listener;
    return this;
  }

  /**
   * New TLS connections get this set's server certificate (and, with mutualAuth, must present one
   * of its CA); open connections keep theirs, as with Nacos's SSL context refresher.
   */
  useCertificate(set: TlsSet): void {
    if (!this.#tls || !this.#tlsCredentials) throw new Error('useCertificate: the server was started without tls');
    this.#tls.set = set;
    // What grpc-js's own certificate providers call to swap a running server's certificate.
    const creds = this.#tlsCredentials as unknown as { updateSecureContextOptions(o: import('node:tls').SecureContextOptions): void };
    creds.updateSecureContextOptions({
      ...(this.#tls.mutualAuth && { ca: readFileSync(set.caFile) }),
      cert: readFileSync(set.serverCertFile),
      key: readFileSync(set.serverKeyFile),
    });
  }

  /** Relays a client connection to the plaintext or the TLS listener, by its first bytes when TLS is on. */
  #accept(client: net.Socket, plainPort: number, tlsPort: number | undefined): void {
    if (tlsPort === undefined) return this.#relay(client, plainPort, undefined);
    client.on('error', () => {});
    client.once('data', (first: Buffer) => {
      // A TLS record starts with 0x16 (handshake); without compatibility, everything goes to TLS.
      const tls = first[0] === 0x16 || this.#tls?.compatibility === false;
      this.accepted[tls ? 'tls' : 'plaintext']++;
      this.#relay(client, tls ? tlsPort : plainPort, first);
    });
  }

  #relay(client: net.Socket, internalPort: number, first: Buffer | undefined): void {
    client.pause();
    const upstream = net.connect(internalPort, '127.0.0.1');
    if (first) upstream.write(first);
    const relay = new Relay(client, upstream, () => this.#partitioned);
    upstream.once('connect', () => {
      const peer = `127.0.0.1:${upstream.localPort}`;
      const conn: Conn = {
        id: `${Date.now()}_${client.remoteAddress}_${client.remotePort}`,
        relay,
        stream: undefined,
        labels: {},
        registered: false,
        listens: new Map(),
        subscriptions: new Set(),
        instances: new Map(),
        pushes: 0,
        acks: 0,
      };
      this.#conns.set(conn.id, conn);
      this.#byPeer.set(peer, conn);
      client.once('close', () => this.#gone(conn, peer));
      client.resume();
    });
  }

  /** The server goes down: every connection is lost (their ephemeral instances with them); start() brings it back on the same port. */
  async stop(): Promise<void> {
    const listener = this.#net;
    if (!listener) return;
    this.#net = undefined;
    const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
    this.killConnections();
    this.#grpc?.forceShutdown();
    this.#grpc = undefined;
    for (const i of this.#internal) i.close();
    this.#internal = [];
    await closed;
  }

  /** Cuts every TCP connection at once (reset), as a network failure would; the server stays up. */
  killConnections(): void {
    for (const c of [...this.#conns.values()]) c.relay.close();
  }

  /** While on, every byte of every connection (existing and new) is dropped, both ways. */
  partition(on: boolean): void {
    this.#partitioned = on;
  }

  /** Forgets every connection's registration while its TCP stays up: the next request on it gets 301. */
  dropRegistrations(): void {
    for (const c of this.#conns.values()) {
      c.registered = false;
      c.listens.clear();
      c.subscriptions.clear();
    }
  }

  /** Sends every registered connection a ConnectResetRequest (optionally naming a server to move to). */
  resetConnections(serverIp = '', serverPort = ''): void {
    for (const c of this.#conns.values()) if (c.registered) this.#send(c, 'ConnectResetRequest', { serverIp, serverPort, connectionId: c.id, module: 'internal' });
  }

  // ------------------------------------------------------------------ unary

  #unary(call: grpc.ServerUnaryCall<Buffer, Buffer>): Buffer {
    const conn = this.#byPeer.get(call.getPeer());
    let req: NacosPayload;
    try {
      req = decodePayload(call.request);
    } catch (err) {
      return this.#answer(undefined, undefined, 'ErrorResponse', error(502, err instanceof Error ? err.message : String(err)));
    }
    const [type, body] = this.#handle(conn, req);
    return this.#answer(conn, req, type, body);
  }

  #answer(conn: Conn | undefined, req: NacosPayload | undefined, type: string, body: Record<string, unknown>): Buffer {
    const full: Record<string, unknown> = { resultCode: 200, errorCode: 0, ...body };
    full.success = full.resultCode === 200;
    if (req) {
      this.requests.push({
        type: req.type,
        connectionId: conn?.id ?? '',
        headers: req.headers,
        body: req.body,
        answerType: type,
        errorCode: Number(full.errorCode),
        at: Date.now(),
      });
    }
    return encodePayload(type, full);
  }

  #handle(conn: Conn | undefined, req: NacosPayload): [string, Record<string, unknown>] {
    if (req.type === 'ServerCheckRequest') {
      return ['ServerCheckResponse', { connectionId: conn?.id ?? '', supportAbilityNegotiation: this.#o.abilityNegotiation }];
    }
    const handlers: Record<string, (c: Conn, b: Record<string, unknown>) => [string, Record<string, unknown>]> = {
      HealthCheckRequest: () => ['HealthCheckResponse', {}],
      ConfigBatchListenRequest: (c, b) => this.#listen(c, b),
      ConfigQueryRequest: (c, b) => this.#query(b),
      ConfigPublishRequest: (c, b) => this.#publish(b),
      SubscribeServiceRequest: (c, b) => this.#subscribe(c, b),
      ServiceListRequest: (c, b) => this.#serviceList(b),
      InstanceRequest: (c, b) => this.#instance(c, b),
    };
    const handler = handlers[req.type];
    if (!handler) return ['ErrorResponse', error(302, 'RequestHandler Not Found')];
    if (!conn || !conn.registered) return ['ErrorResponse', error(301, 'Connection is unregistered.')];
    const secured = SECURED.get(req.type);
    if (secured && this.state.authEnabled) {
      const token = req.headers.accessToken;
      try {
        if (!token) throw new NacosStateError(403, 'user not found!');
        this.state.checkToken(token);
      } catch (err) {
        return [secured, { resultCode: 500, errorCode: 403, message: err instanceof Error ? err.message : String(err) }];
      }
    }
    try {
      return handler(conn, req.body);
    } catch (err) {
      const code = err instanceof NacosStateError ? err.status : 500;
      return ['ErrorResponse', error(code, err instanceof Error ? err.message : String(err), true)];
    }
  }

  #listen(conn: Conn, body: Record<string, unknown>): [string, Record<string, unknown>] {
    const contexts = Array.isArray(body.configListenContexts) ? (body.configListenContexts as Record<string, string>[]) : [];
    const changedConfigs: { dataId: string; group: string; tenant: string }[] = [];
    for (const ctx of contexts) {
      const key = configKey(ctx.dataId ?? '', ctx.group ?? '', ctx.tenant ?? '');
      if (body.listen === false) {
        conn.listens.delete(key);
        continue;
      }
      conn.listens.set(key, ctx.md5 ?? '');
      if (this.state.md5Of(key) !== (ctx.md5 ?? '')) changedConfigs.push({ dataId: ctx.dataId ?? '', group: ctx.group ?? '', tenant: ctx.tenant ?? '' });
    }
    return ['ConfigChangeBatchListenResponse', { changedConfigs }];
  }

  #query(body: Record<string, unknown>): [string, Record<string, unknown>] {
    const cfg = this.state.config(String(body.dataId ?? ''), String(body.group ?? ''), String(body.tenant ?? ''));
    if (!cfg) return ['ConfigQueryResponse', { resultCode: 500, errorCode: 300, message: 'config data not exist' }];
    return ['ConfigQueryResponse', { content: cfg.content, md5: cfg.md5, contentType: cfg.type, lastModified: cfg.lastModified, encryptedDataKey: '', isBeta: false }];
  }

  #publish(body: Record<string, unknown>): [string, Record<string, unknown>] {
    const fail = (code: number, message: string): [string, Record<string, unknown>] => ['ConfigPublishResponse', { resultCode: 500, errorCode: code, message }];
    const dataId = String(body.dataId ?? '');
    const group = String(body.group ?? '');
    const content = typeof body.content === 'string' ? body.content : '';
    if (!VALID_CONFIG_NAME.test(dataId) || !VALID_CONFIG_NAME.test(group)) return fail(400, 'invalid dataId or group');
    if (content.trim() === '') return fail(400, 'invalid content');
    const tenant = String(body.tenant ?? '');
    const addition = (body.additionMap ?? {}) as Record<string, unknown>;
    const type = typeof addition.type === 'string' && addition.type ? addition.type : 'text';
    const casMd5 = typeof body.casMd5 === 'string' ? body.casMd5.trim() : '';
    if (!casMd5) this.state.publishConfig(dataId, group, content, tenant, type);
    else if (!this.state.publishConfigCas(dataId, group, content, casMd5, tenant, type)) return fail(500, 'Cas publish fail, server md5 may have changed.');
    return ['ConfigPublishResponse', {}];
  }

  #namingClient(conn: Conn): void {
    if (conn.labels.module !== 'naming') {
      throw new NacosStateError(-401, `Client [${conn.id}] connection already disconnect, can't register ephemeral instance.`);
    }
  }

  #serviceInfo(ns: string, grouped: string): Record<string, unknown> {
    const [groupName, name] = grouped.split('@@') as [string, string];
    const hosts = this.state.hosts(ns, grouped, '', false);
    return { name, groupName, clusters: '', cacheMillis: this.#o.pushCacheMillis, hosts, lastRefTime: Date.now(), checksum: nacosMd5(JSON.stringify(hosts)), allIPs: false, reachProtectionThreshold: false, valid: true };
  }

  #subscribe(conn: Conn, body: Record<string, unknown>): [string, Record<string, unknown>] {
    this.#namingClient(conn);
    const ns = namingNamespace(String(body.namespace ?? ''));
    const grouped = groupedServiceName(String(body.serviceName ?? ''), String(body.groupName ?? ''));
    if (body.subscribe === false) conn.subscriptions.delete(`${ns}|${grouped}`);
    else conn.subscriptions.add(`${ns}|${grouped}`);
    return ['SubscribeServiceResponse', { message: 'success', serviceInfo: this.#serviceInfo(ns, grouped) }];
  }

  #serviceList(body: Record<string, unknown>): [string, Record<string, unknown>] {
    const pageNo = Number(body.pageNo);
    const pageSize = Number(body.pageSize);
    const names = this.state.serviceNames(namingNamespace(String(body.namespace ?? '')), String(body.groupName ?? '') || 'DEFAULT_GROUP');
    const start = (Math.max(1, pageNo) - 1) * Math.max(1, pageSize);
    return ['ServiceListResponse', { count: names.length, serviceNames: names.slice(start, start + Math.max(1, pageSize)) }];
  }

  #instance(conn: Conn, body: Record<string, unknown>): [string, Record<string, unknown>] {
    this.#namingClient(conn);
    const ns = namingNamespace(String(body.namespace ?? ''));
    const grouped = groupedServiceName(String(body.serviceName ?? ''), String(body.groupName ?? ''));
    const i = (body.instance ?? {}) as { ip?: string; port?: number; weight?: number; clusterName?: string; metadata?: Record<string, string>; ephemeral?: boolean };
    if (typeof i.ip !== 'string' || typeof i.port !== 'number') throw new NacosStateError(400, 'instance format invalid');
    const cluster = i.clusterName || 'DEFAULT';
    const key = `${ns}|${grouped}|${i.ip}#${i.port}#${cluster}`;
    if (body.type === 'registerInstance') {
      this.state.putInstance(ns, grouped, { ip: i.ip, port: i.port, weight: i.weight, clusterName: cluster, metadata: i.metadata, ephemeral: true }, true);
      conn.instances.set(key, [ns, grouped, i.ip, i.port, cluster]);
    } else if (body.type === 'deregisterInstance') {
      this.state.removeInstance(ns, grouped, i.ip, i.port, cluster);
      conn.instances.delete(key);
    } else {
      throw new NacosStateError(400, `Unsupported request type ${String(body.type)}`);
    }
    return ['InstanceResponse', { type: body.type }];
  }

  // ------------------------------------------------------------------ bi-stream and pushes

  #biStream(call: grpc.ServerDuplexStream<Buffer, Buffer>): void {
    const conn = this.#byPeer.get(call.getPeer());
    if (!conn) return void call.end();
    conn.stream = call;
    call.on('data', (bytes: Buffer) => {
      let msg: NacosPayload;
      try {
        msg = decodePayload(bytes);
      } catch {
        return; // Nacos logs and drops it
      }
      if (msg.type === 'ConnectionSetupRequest') return this.#setUp(conn, msg.body);
      if (msg.type.endsWith('Response') && typeof msg.body.requestId === 'string') conn.acks++;
    });
    call.on('error', () => {});
    call.on('end', () => call.end());
  }

  #setUp(conn: Conn, body: Record<string, unknown>): void {
    conn.labels = body.labels && typeof body.labels === 'object' ? (body.labels as Record<string, string>) : {};
    const register = () => {
      if (conn.relay.client.destroyed) return;
      conn.registered = true;
      if (body.abilityTable !== undefined && body.abilityTable !== null) {
        this.#send(conn, 'SetupAckRequest', { abilityTable: { supportPersistentInstanceByGrpc: true }, module: 'internal' }, false);
      }
    };
    if (this.#o.setupDelayMs > 0) setTimeout(register, this.#o.setupDelayMs);
    else register();
  }

  #send(conn: Conn, type: string, body: Record<string, unknown>, counted = true): void {
    if (!conn.stream || conn.stream.destroyed) return;
    if (counted) conn.pushes++;
    conn.stream.write(encodePayload(type, { headers: {}, requestId: String(this.#nextRequestId++), ...body }));
  }

  #pushConfig(key: string, cfg: { dataId: string; group: string; tenant: string }): void {
    for (const c of this.#conns.values()) {
      if (c.registered && c.listens.has(key)) this.#send(c, 'ConfigChangeNotifyRequest', { dataId: cfg.dataId, group: cfg.group, tenant: normTenant(cfg.tenant), module: 'config' });
    }
  }

  #pushService(ns: string, grouped: string): void {
    let info: Record<string, unknown> | undefined;
    for (const c of this.#conns.values()) {
      if (!c.registered || !c.subscriptions.has(`${ns}|${grouped}`)) continue;
      info ??= this.#serviceInfo(ns, grouped);
      this.#send(c, 'NotifySubscriberRequest', { namespace: ns, serviceName: info.name, groupName: info.groupName, serviceInfo: info, module: 'naming' });
    }
  }

  #gone(conn: Conn, peer: string): void {
    if (!this.#conns.delete(conn.id)) return;
    this.#byPeer.delete(peer);
    this.#pastPushes += conn.pushes;
    this.#pastAcks += conn.acks;
    conn.registered = false;
    // A client disconnect deregisters its ephemeral instances.
    for (const [ns, grouped, ip, port, cluster] of conn.instances.values()) this.state.removeInstance(ns, grouped, ip, port, cluster);
  }
}

/** ErrorResponse.build(code, message): resultCode 500 — except for exceptions, whose code is both (build(Throwable)). */
function error(code: number, message: string, fromException = false): Record<string, unknown> {
  return { resultCode: fromException ? code : 500, errorCode: code, message };
}

/** A Nacos 2.x/3.x node: the HTTP front-end on port P and the gRPC one on P + 1000, over one state. */
export interface TestNacosNode {
  state: NacosState;
  http: NacosTestServer;
  grpc: NacosGrpcTestServer;
  /** HTTP `127.0.0.1:P`. */
  address: string;
  /** Both front-ends down (every connection dropped); the data stays. */
  stop(): Promise<void>;
  /** Both back up, on the same ports. */
  start(): Promise<void>;
}

/**
 * Starts a node on two free loopback ports P and P + 1000 (Nacos's gRPC offset), over `state`
 * (default a new one from `http`'s options). Bounded: 40 tries to find such a pair.
 */
export async function startNacosNode(
  opts: { state?: NacosState; http?: NacosTestServerOptions; grpc?: NacosGrpcTestServerOptions } = {},
): Promise<TestNacosNode> {
  const http = new NacosTestServer({ ...opts.http, state: opts.state });
  const grpcServer = new NacosGrpcTestServer(http.state, opts.grpc);
  for (let attempt = 0; attempt < 40; attempt++) {
    await http.start(attempt === 0 ? undefined : 0);
    try {
      await grpcServer.start(http.port + 1000);
    } catch {
      await http.stop();
      continue;
    }
    return {
      state: http.state,
      http,
      grpc: grpcServer,
      address: http.address,
      stop: async () => {
        await grpcServer.stop();
        await http.stop();
      },
      start: async () => {
        await http.start();
        await grpcServer.start();
      },
    };
  }
  throw new Error('no two free loopback ports P and P+1000 found in 40 tries');
}
