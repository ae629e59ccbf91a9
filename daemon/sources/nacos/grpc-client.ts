/**
 * A Nacos gRPC client for one module (config or naming), kept connected the way Nacos's Java
 * RpcClient does it (docs/nacos-grpc.md#staying-connected): servers of the list are tried in turn
 * from a random one, with backoff after each full round; a connection is dropped — and the next
 * server tried — when its bi-stream ends, a health check fails (HealthCheckRequest after
 * `healthCheckIdleMs` without traffic), Nacos answers 301 "Connection is unregistered", or the
 * server sends a ConnectResetRequest. Owners hear `connected` after every (re)connection and must
 * then read everything again: changes made while no connection was up are never pushed.
 * With TLS files, each connection is opened with the files as they are then; a reload of the
 * files keeps the connection up (Nacos ties subscriptions and instances to it) and, while
 * disconnected, ends the wait before the next attempt (docs/nacos-grpc.md#tls).
 */
import { networkInterfaces } from 'node:os';
import { backoffDelay } from '../backoff.ts';
import { NacosGrpcConnection, type RawAnswer } from './grpc-connection.ts';
import type { NacosPayload } from './grpc-payload.ts';
import { NacosCode, type NacosModule, type NacosResponse, NacosRpcError, isSuccess } from './grpc-protocol.ts';
import type { NacosLogin } from './login.ts';
import type { NacosTlsFiles } from './tls.ts';

/** Timing of the client; Nacos's Java client defaults unless said otherwise. */
export interface RpcTiming {
  /** Budget of one request (ms). Default 3000. */
  requestTimeoutMs: number;
  /** Budget of the server check (ms). Default 3000. */
  serverCheckTimeoutMs: number;
  /** Wait for the SetupAckRequest (ms). Default 5000. */
  setupTimeoutMs: number;
  /** A health check is sent after this long without traffic (ms). Default 5000. */
  healthCheckIdleMs: number;
  /** Budget of one health check (ms); two failed in a row drop the connection. Default 3000. */
  healthCheckTimeoutMs: number;
  /** Pause after a round of servers that all failed, doubling (jittered) up to retryMaxMs. Defaults 500 and 5000 (dyeline's). */
  retryMinMs: number;
  retryMaxMs: number;
}

const DEFAULT_TIMING: RpcTiming = {
  requestTimeoutMs: 3000,
  serverCheckTimeoutMs: 3000,
  setupTimeoutMs: 5000,
  healthCheckIdleMs: 5000,
  healthCheckTimeoutMs: 3000,
  retryMinMs: 500,
  retryMaxMs: 5000,
};

/** One Nacos server: host, and the port its gRPC service listens on. */
export interface GrpcServer {
  host: string;
  port: number;
}

/** What the client is created with. */
export interface RpcClientOptions {
  servers: readonly GrpcServer[];
  module: NacosModule;
  /** Namespace id ('' = public), announced in the connection set-up. */
  namespace: string;
  /** Token source when Nacos has auth enabled. */
  login?: NacosLogin;
  /** `tls=true`: connect over TLS with these files. */
  tls?: NacosTlsFiles;
  timing?: Partial<RpcTiming>;
  /** For tests: the first server tried (default: a random one, as Nacos's client). */
  firstServer?: number;
}

/** Answers one type of request the server pushes. */
export type ServerRequestHandler = (body: Record<string, unknown>) => { type: string; body: object } | undefined;

const CLIENT_VERSION = 'dyeline-nacos-grpc:1';

/** The reconnecting client of one module. */
export class NacosRpcClient {
  readonly module: NacosModule;
  readonly #o: RpcClientOptions;
  readonly #timing: RpcTiming;
  readonly #clientIp = localIp();
  readonly #handlers = new Map<string, ServerRequestHandler>();
  readonly #onConnected: ((conn: NacosGrpcConnection) => void)[] = [];
  readonly #onDisconnected: ((reason: string) => void)[] = [];
  readonly #onConnectFailed: ((reason: string) => void)[] = [];
  /** whenConnected() calls waiting for the next connection. */
  readonly #waiters = new Set<() => void>();
  #current: NacosGrpcConnection | undefined;
  #started = false;
  #stopped = false;
  #wake: (() => void) | undefined;
  #wakeHealth: (() => void) | undefined;
  #lastActive = 0;
  /** Server a ConnectResetRequest pointed at: tried next. */
  #recommended: GrpcServer | undefined;
  /** Why the last connection attempt or connection failed. */
  #lastError: string | undefined;
  #offTlsChange: (() => void) | undefined;

  constructor(o: RpcClientOptions) {
    if (o.servers.length === 0) throw new Error('NacosRpcClient needs at least one server');
    this.module = o.module;
    this.#o = o;
    this.#timing = { ...DEFAULT_TIMING, ...o.timing };
    this.#handlers.set('ClientDetectionRequest', () => ({ type: 'ClientDetectionResponse', body: {} }));
    this.#handlers.set('ConnectResetRequest', (body) => this.#onReset(body));
  }

  /** `fn` runs after every connection set-up (the first and each reconnection). */
  onConnected(fn: (conn: NacosGrpcConnection) => void): void {
    this.#onConnected.push(fn);
  }

  /** `fn` runs when a set-up connection is lost, with the reason. */
  onDisconnected(fn: (reason: string) => void): void {
    this.#onDisconnected.push(fn);
  }

  /** `fn` runs after each failed connection attempt, with the reason. */
  onConnectFailed(fn: (reason: string) => void): void {
    this.#onConnectFailed.push(fn);
  }

  /** Answers pushes of `type` (replacing any earlier handler of it). */
  handle(type: string, handler: ServerRequestHandler): void {
    this.#handlers.set(type, handler);
  }

  /** Whether a set-up connection is up. */
  get connected(): boolean {
    return this.#current !== undefined && !this.#current.closed;
  }

  /** The connection up now, if any. */
  get connection(): NacosGrpcConnection | undefined {
    return this.connected ? this.#current : undefined;
  }

  /** Why the last attempt or connection failed. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Resolves once connected (true), or false after `timeoutMs` or once stopped. */
  whenConnected(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    if (this.#stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve(this.connected);
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiters.add(done);
    });
  }

  /** Starts connecting; returns at once. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    // New files may be what the failed attempts lacked: try again now.
    this.#offTlsChange = this.#o.tls?.onChange(() => {
      if (!this.connected) this.#wake?.();
    });
    void this.#run();
  }

  /** Stops for good and closes the connection. */
  stop(): void {
    this.#stopped = true;
    this.#offTlsChange?.();
    for (const done of [...this.#waiters]) done();
    this.#wake?.();
    this.#wakeHealth?.();
    this.#current?.close('client stopped');
  }

  /** Drops the current connection; the client connects again (to the next server). */
  reconnect(reason: string): void {
    this.#current?.close(reason);
  }

  /**
   * Sends a request over the current connection with the access token, and returns the answer's
   * body when it is a success. A refused token is renewed and the request sent once more; a 301
   * drops the connection; a transport failure checks the connection's health at once.
   */
  async request<T extends NacosResponse>(type: string, body: object, opts: { timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const conn = this.#current;
      if (!conn || conn.closed) throw new NacosRpcError(`not connected to Nacos${this.#lastError ? ` (${this.#lastError})` : ''}`);
      const headers = { ...opts.headers };
      let token: string | undefined;
      if (this.#o.login) headers.accessToken = token = await this.#o.login.token();
      let answer: RawAnswer;
      try {
        answer = await conn.request(type, body, headers, opts.timeoutMs ?? this.#timing.requestTimeoutMs);
      } catch (err) {
        if (conn === this.#current) this.#checkHealthNow();
        throw err;
      }
      const res = answer.body as T;
      if (answer.type === 'ErrorResponse') {
        if (res.errorCode === NacosCode.Unregistered) conn.close(`Nacos answered ${type} with 301 (${res.message ?? 'Connection is unregistered.'})`);
        throw new NacosRpcError(`${type} to ${conn.address}: ${res.message ?? 'error'} (${res.errorCode})`, { nacosCode: res.errorCode, responseType: answer.type });
      }
      if (!isSuccess(res)) {
        if (res.errorCode === NacosCode.NoRight && token !== undefined && attempt === 0) {
          this.#o.login!.invalidate(token);
          continue;
        }
        throw new NacosRpcError(`${type} to ${conn.address}: ${res.message ?? 'failed'} (${res.errorCode ?? res.resultCode})`, {
          nacosCode: res.errorCode,
          responseType: answer.type,
        });
      }
      this.#lastActive = Date.now();
      return res;
    }
  }

  // ------------------------------------------------------------------ connecting

  async #run(): Promise<void> {
    const servers = this.#o.servers;
    let next = this.#o.firstServer ?? Math.floor(Math.random() * servers.length);
    let failures = 0;
    while (!this.#stopped) {
      const server = this.#recommended ?? servers[next++ % servers.length]!;
      this.#recommended = undefined;
      const address = `${server.host}:${server.port}`;
      let lost!: (reason: string) => void;
      const over = new Promise<string>((resolve) => (lost = resolve));
      let conn: NacosGrpcConnection;
      try {
        const tls = await this.#o.tls?.material();
        conn = await NacosGrpcConnection.open({
          address,
          tls,
          module: this.module,
          namespace: this.#o.namespace,
          clientVersion: CLIENT_VERSION,
          clientIp: this.#clientIp,
          serverCheckTimeoutMs: this.#timing.serverCheckTimeoutMs,
          setupTimeoutMs: this.#timing.setupTimeoutMs,
          onServerRequest: (req) => this.#onServerRequest(req),
          onClose: lost,
        });
      } catch (err) {
        this.#lastError = err instanceof Error ? err.message : String(err);
        for (const fn of this.#onConnectFailed) fn(this.#lastError);
        failures++;
        if (failures % servers.length === 0) {
          await this.#sleep(backoffDelay(failures / servers.length - 1, { initialMs: this.#timing.retryMinMs, maxMs: this.#timing.retryMaxMs }));
        }
        continue;
      }
      if (this.#stopped) return conn.close('client stopped');
      failures = 0;
      this.#current = conn;
      this.#lastActive = Date.now();
      void this.#watchHealth(conn);
      if (!conn.closed) for (const fn of this.#onConnected) fn(conn);
      for (const done of [...this.#waiters]) done();
      const reason = await over;
      this.#current = undefined;
      this.#wakeHealth?.();
      if (this.#stopped) return;
      this.#lastError = `connection to ${address} lost: ${reason}`;
      for (const fn of this.#onDisconnected) fn(this.#lastError);
    }
  }

  #onServerRequest(req: NacosPayload): { type: string; body: object } | undefined {
    this.#lastActive = Date.now();
    return this.#handlers.get(req.type)?.(req.body);
  }

  /** ConnectResetRequest: answer, then move to the server it names (when it is one of ours) or the next. */
  #onReset(body: Record<string, unknown>): { type: string; body: object } {
    const ip = typeof body.serverIp === 'string' ? body.serverIp : '';
    // As Nacos's client: only a server of the list, on the port the list has for it.
    this.#recommended = ip ? this.#o.servers.find((s) => s.host === ip) : undefined;
    const conn = this.#current;
    setImmediate(() => conn?.close('Nacos asked the client to reconnect (ConnectResetRequest)'));
    return { type: 'ConnectResetResponse', body: {} };
  }

  // ------------------------------------------------------------------ health

  async #watchHealth(conn: NacosGrpcConnection): Promise<void> {
    const idle = this.#timing.healthCheckIdleMs;
    while (!conn.closed && !this.#stopped) {
      const quiet = Date.now() - this.#lastActive;
      if (quiet < idle) {
        await this.#sleepHealth(idle - quiet);
        continue;
      }
      const failure = (await this.#healthCheck(conn)) ?? (await this.#healthCheck(conn));
      if (failure === undefined) this.#lastActive = Date.now();
      else if (!conn.closed) conn.close(`health check failed: ${failure}`);
    }
  }

  /** undefined when healthy, else why not. */
  async #healthCheck(conn: NacosGrpcConnection): Promise<string | undefined> {
    if (conn.closed) return undefined;
    try {
      const answer = await conn.request('HealthCheckRequest', { module: 'internal' }, {}, this.#timing.healthCheckTimeoutMs);
      const body = answer.body as NacosResponse;
      // Not only the server: also that it still knows this connection.
      if (answer.type === 'ErrorResponse' || !isSuccess(body)) return `${body.message ?? answer.type} (${body.errorCode})`;
      return undefined;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }

  #checkHealthNow(): void {
    this.#lastActive = 0;
    this.#wakeHealth?.();
  }

  #sleep(ms: number): Promise<void> {
    return wakeableSleep(ms, (wake) => (this.#wake = wake));
  }

  #sleepHealth(ms: number): Promise<void> {
    return wakeableSleep(ms, (wake) => (this.#wakeHealth = wake));
  }
}

/** A sleep that the function handed to `setWake` ends early. */
function wakeableSleep(ms: number, setWake: (wake: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      resolve();
    }
    setWake(done);
  });
}

/** The first non-internal IPv4 address (Nacos's client reports its IP in every payload). */
function localIp(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
