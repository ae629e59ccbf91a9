/**
 * One Nacos gRPC connection (docs/nacos-grpc.md#connection-set-up): a channel of its own (one TCP
 * connection, which is what Nacos calls a connection), set up as Nacos's Java client does —
 * ServerCheckRequest, then the bi-stream with a ConnectionSetupRequest, then wait for the server's
 * SetupAckRequest (only then does the server take requests on it; before, it answers 301
 * "Connection is unregistered"). Requests the server pushes on the bi-stream are answered through
 * `onServerRequest`. The connection is over once the bi-stream ends, fails or close() is called.
 * With TLS material the channel speaks TLS (docs/nacos-grpc.md#tls): the server verified with
 * the CA (system roots without one), the client certificate presented when there is one.
 */
import * as grpc from '@grpc/grpc-js';
import type { TlsMaterial } from '../../../shared/tls-files.ts';
import { decodePayload, encodePayload, type NacosPayload } from './grpc-payload.ts';
import { BI_STREAM_METHOD, NacosCode, type NacosModule, NacosRpcError, REQUEST_METHOD } from './grpc-protocol.ts';

/** What a connection is opened with. */
export interface ConnectionOptions {
  /** gRPC `host:port`. */
  address: string;
  /** TLS material (as the connection is opened); undefined: plaintext. */
  tls?: TlsMaterial;
  /** The module label: Nacos only lets `naming` connections subscribe and register. */
  module: NacosModule;
  /** Namespace (tenant) announced in the set-up. */
  namespace: string;
  clientVersion: string;
  clientIp: string;
  /** Budget of the server check (Nacos client: 3000 ms). */
  serverCheckTimeoutMs: number;
  /** How long to wait for the SetupAckRequest (Nacos client: 5000 ms by default). */
  setupTimeoutMs: number;
  /** Answers a request the server pushes; undefined sends no answer. */
  onServerRequest(request: NacosPayload): { type: string; body: object } | undefined;
  /** Called once, when the connection is over. */
  onClose(reason: string): void;
}

/** An answer: the payload type (`ErrorResponse` or the request's response type) and its body. */
export interface RawAnswer {
  type: string;
  body: Record<string, unknown>;
}

const passBuffer = (b: Buffer): Buffer => b;

/** A set-up Nacos gRPC connection. */
export class NacosGrpcConnection {
  readonly address: string;
  /** What the server calls this connection (from ServerCheckResponse). */
  readonly connectionId: string;

  readonly #client: grpc.Client;
  readonly #stream: grpc.ClientDuplexStream<Buffer, Buffer>;
  readonly #clientIp: string;
  readonly #calls = new Set<grpc.ClientUnaryCall>();
  /** Set up; from then on the end of the bi-stream closes the connection. */
  #ready = false;
  #closed: string | undefined;
  #onClose: (reason: string) => void;

  private constructor(address: string, connectionId: string, client: grpc.Client, stream: grpc.ClientDuplexStream<Buffer, Buffer>, clientIp: string, onClose: (reason: string) => void) {
    this.address = address;
    this.connectionId = connectionId;
    this.#client = client;
    this.#stream = stream;
    this.#clientIp = clientIp;
    this.#onClose = onClose;
  }

  /** Connects and sets up; rejects (with everything released) when any step fails. */
  static async open(o: ConnectionOptions): Promise<NacosGrpcConnection> {
    const client = new grpc.Client(o.address, channelCredentials(o.tls), {
      // A channel of its own: two connections to one server must be two TCP connections.
      'grpc.use_local_subchannel_pool': 1,
      // Nacos's default inbound message limit.
      'grpc.max_receive_message_length': 10 * 1024 * 1024,
      'grpc.enable_retries': 0,
    });
    let stream: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
    try {
      const check = await unary(client, o.address, 'ServerCheckRequest', { module: 'internal' }, {}, o.clientIp, o.serverCheckTimeoutMs);
      if (check.type !== 'ServerCheckResponse') {
        throw new NacosRpcError(`server check at ${o.address} answered ${check.type}: ${String(check.body.message ?? '')}`, {
          nacosCode: numberOr(check.body.errorCode, undefined),
        });
      }
      const connectionId = String(check.body.connectionId ?? '');
      const acks = check.body.supportAbilityNegotiation === true;
      stream = client.makeBidiStreamRequest(BI_STREAM_METHOD, passBuffer, passBuffer, new grpc.Metadata(), {});
      const conn = new NacosGrpcConnection(o.address, connectionId, client, stream, o.clientIp, o.onClose);
      await conn.#setUp(o, acks);
      return conn;
    } catch (err) {
      stream?.cancel();
      client.close();
      throw err;
    }
  }

  /** Whether the connection is over. */
  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /**
   * Sends a request on the Request service and returns the answer as it came (an `ErrorResponse`
   * or a response whose resultCode may say failure). Rejects only when no answer came.
   */
  request(type: string, body: object, headers: Record<string, string>, timeoutMs: number): Promise<RawAnswer> {
    if (this.#closed !== undefined) return Promise.reject(new NacosRpcError(`connection to ${this.address} is closed (${this.#closed})`));
    return unary(this.#client, this.address, type, body, headers, this.#clientIp, timeoutMs, this.#calls);
  }

  /** Ends the connection (idempotent); pending requests fail. */
  close(reason = 'closed by the client'): void {
    if (this.#closed !== undefined) return;
    this.#closed = reason;
    for (const call of this.#calls) call.cancel();
    this.#calls.clear();
    this.#stream.cancel();
    this.#client.close();
    const onClose = this.#onClose;
    this.#onClose = () => {};
    onClose(reason);
  }

  /** Writes the ConnectionSetupRequest and waits for the SetupAckRequest (or 100 ms when the server negotiates none). */
  #setUp(o: ConnectionOptions, acks: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) return reject(err);
        this.#ready = true;
        resolve();
      };
      const timer = setTimeout(
        () => (acks ? settle(new NacosRpcError(`no SetupAckRequest from ${o.address} within ${o.setupTimeoutMs} ms`)) : settle()),
        acks ? o.setupTimeoutMs : 100,
      );
      this.#stream.on('data', (bytes: Buffer) => {
        let req: NacosPayload;
        try {
          req = decodePayload(bytes);
        } catch {
          return; // Nacos's client drops a payload it cannot parse
        }
        if (req.type === 'SetupAckRequest') return settle();
        this.#answer(req, o);
      });
      const end = (why: string) => {
        if (this.#ready) this.close(why);
        else settle(new NacosRpcError(`bi-stream to ${o.address} ended during set-up: ${why}`));
      };
      this.#stream.on('error', (err: grpc.ServiceError) => end(`bi-stream failed: ${grpcMessage(err)}`));
      this.#stream.on('end', () => end('bi-stream ended by the server'));
      this.#stream.write(
        encodePayload(
          'ConnectionSetupRequest',
          // A non-null abilityTable asks the server for a SetupAckRequest (Nacos 2.3+).
          { clientVersion: o.clientVersion, tenant: o.namespace, labels: { source: 'sdk', module: o.module }, abilityTable: {}, headers: {}, module: 'internal' },
          {},
          o.clientIp,
        ),
      );
    });
  }

  #answer(req: NacosPayload, o: ConnectionOptions): void {
    let answer: { type: string; body: object } | undefined;
    try {
      answer = o.onServerRequest(req);
    } catch (err) {
      answer = { type: 'ErrorResponse', body: { resultCode: 500, errorCode: -500, message: `Handle server request error: ${String(err)}` } };
    }
    if (!answer || this.#closed !== undefined) return;
    const body = { resultCode: NacosCode.Success, errorCode: 0, ...answer.body, requestId: req.body.requestId };
    this.#stream.write(encodePayload(answer.type, body, {}, this.#clientIp));
  }
}

/**
 * Whether a Nacos gRPC service answers at `address` (over TLS with `tls`): a ServerCheckRequest on
 * a channel of its own, closed after. Any Nacos payload in answer counts (a starting server
 * answers an ErrorResponse).
 */
export async function answersGrpc(address: string, timeoutMs: number, tls?: TlsMaterial): Promise<boolean> {
  const client = new grpc.Client(address, channelCredentials(tls), { 'grpc.use_local_subchannel_pool': 1, 'grpc.enable_retries': 0 });
  try {
    await unary(client, address, 'ServerCheckRequest', { module: 'internal' }, {}, '', timeoutMs);
    return true;
  } finally {
    client.close();
  }
}

/** One call of Request/request; tracked in `calls` while pending so close() can cancel it. */
function unary(
  client: grpc.Client,
  address: string,
  type: string,
  body: object,
  headers: Record<string, string>,
  clientIp: string,
  timeoutMs: number,
  calls?: Set<grpc.ClientUnaryCall>,
): Promise<RawAnswer> {
  return new Promise<RawAnswer>((resolve, reject) => {
    const payload = encodePayload(type, { headers: {}, ...body }, headers, clientIp);
    const call = client.makeUnaryRequest(REQUEST_METHOD, passBuffer, passBuffer, payload, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, bytes) => {
      calls?.delete(call);
      if (err) return reject(new NacosRpcError(`${type} to ${address}: ${grpcMessage(err)}`, { grpcCode: err.code, cause: err }));
      try {
        const answer = decodePayload(bytes!);
        resolve({ type: answer.type, body: answer.body });
      } catch (e) {
        reject(new NacosRpcError(`${type} to ${address}: unreadable answer (${e instanceof Error ? e.message : String(e)})`));
      }
    });
    calls?.add(call);
  });
}

/** TLS when there is material: its CA (else the system's roots), its client certificate when set. */
function channelCredentials(tls: TlsMaterial | undefined): grpc.ChannelCredentials {
  return tls ? grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null) : grpc.credentials.createInsecure();
}

/**
 * A failed call in one stable line: grpc-js's timestamps and empty resolution note dropped (so a
 * repeated failure reads the same), an OpenSSL error string cut to its reason.
 */
function grpcMessage(err: grpc.ServiceError): string {
  const details = (err.details || err.message)
    .replace(/\s*\(\d{4}-\d\d-\d\dT[^)]*\)/g, '')
    .replace(/[0-9A-F]+:error:[0-9A-F]+:SSL routines:[^:]*:([^:]+):[^\n]*/g, '$1')
    .replace(/\s*Resolution note:\s*$/, '')
    .trim();
  return `${grpc.status[err.code] ?? err.code}: ${details}`;
}

function numberOr<T>(v: unknown, dflt: T): number | T {
  return typeof v === 'number' ? v : dflt;
}
