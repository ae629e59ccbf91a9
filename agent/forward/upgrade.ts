/**
 * HTTP/1.1 Upgrade (WebSocket) through the agent: the request head is rewritten like any
 * forwarded request (the entry step: colour, baggage, trace, hop count) plus `Connection:
 * upgrade` and the client's `Upgrade` value, written on a new TCP connection to the chosen
 * instance. Only once the upstream answered 101 do bytes flow both ways untouched; any other
 * answer is relayed to the client and both connections are closed, so nothing the client sends
 * after a refused handshake reaches the upstream unrouted. The hop ends, for telemetry, at the
 * upstream's answer head. `Upgrade: h2c` is not tunnelled: the listeners serve such requests as
 * plain HTTP/1.1 (the upgrade is declined, as RFC 9113 allows).
 */
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { asDyelineError, type DyelineError, ERRORS, ErrorCode } from '../../shared/errors.ts';
import type { AgentContext } from '../context.ts';
import { NO_TRACE, type TraceContext } from '../propagation/trace.ts';
import type { Endpoint, EndpointState, ServiceRoutes } from '../routing/types.ts';
import type { Hop } from '../telemetry/hop.ts';
import { writeSocketError } from './respond.ts';

/** The server's shouldUpgradeCallback: tunnel every upgrade except h2c. */
export function shouldTunnelUpgrade(req: IncomingMessage): boolean {
  const u = req.headers.upgrade;
  return u !== undefined && u.toLowerCase() !== 'h2c';
}

/** Where an upgrade goes and what the upstream sees. */
export interface UpgradeTarget {
  host: string;
  port: number;
  /** Origin-form request target. */
  path: string;
  /** Flat [name, value, ...] list from forwardedHeaders (Connection/Upgrade are added here). */
  headers: string[];
  /** In-flight accounting for the tunnel's life (known endpoints only). */
  state: EndpointState | undefined;
}

/** The request head bytes sent upstream. */
export function upgradeHead(method: string, t: UpgradeTarget, upgrade: string): string {
  let head = `${method} ${t.path} HTTP/1.1\r\n`;
  for (let i = 0; i < t.headers.length; i += 2) head += `${t.headers[i]}: ${t.headers[i + 1]}\r\n`;
  return `${head}connection: upgrade\r\nupgrade: ${upgrade}\r\n\r\n`;
}

/** One upgrade request as a hop (agent/telemetry/hop.ts): it ends when the upstream's answer head arrives. */
export class UpgradeHop implements Hop {
  readonly req: IncomingMessage;
  readonly startedAt: number;
  trace: TraceContext = NO_TRACE;
  color = '';
  leakHealed = false;
  scrubbed = false;
  forwardedHops = 0;
  servedColor = '';
  fallback = '';
  service = '';
  endpointKey = '';
  status = 0;
  error: Error | undefined = undefined;
  clientClosed = false;
  endpoint: Endpoint | undefined = undefined;
  /** The upstream service's routes (outbound; undefined: passed through, or inbound). */
  routes: ServiceRoutes | undefined = undefined;
  #done = false;

  constructor(req: IncomingMessage, startedAt: number) {
    this.req = req;
    this.startedAt = startedAt;
  }

  /** True once the outcome is recorded. */
  get ended(): boolean {
    return this.#done;
  }

  /** Records the outcome once: `status`, and the failure when there is one; true the first time. */
  end(status: number, err?: Error): boolean {
    if (this.#done) return false;
    this.#done = true;
    this.status = status;
    this.error = err;
    return true;
  }
}

/** What receives an upgrade hop once it ended (the listener's hop telemetry). */
export type UpgradeFinished = (hop: UpgradeHop) => void;

/** Status of an upstream's answer head (`HTTP/1.1 101 …`) from its first bytes; 0 when they are no HTTP status line. */
export function answerStatus(first: Buffer): number {
  if (first.length < 12 || first.toString('latin1', 0, 5) !== 'HTTP/') return 0;
  const status = Number(first.toString('latin1', 9, 12));
  return Number.isInteger(status) ? status : 0;
}

/** Longest upstream answer head to an upgrade, bytes. */
const MAX_ANSWER_HEAD_BYTES = 64 * 1024;

/**
 * Relays an upstream's refusal of an upgrade (`answer`: the bytes read so far, the body starting
 * at `bodyAt`) to the client, then closes both connections: the body as long as its
 * Content-Length says, else until the upstream closes. The client's side is never read again.
 */
function relayRefusal(socket: Duplex, remote: Duplex, answer: Buffer, bodyAt: number): void {
  socket.pause();
  const m = /\r\ncontent-length:[ \t]*(\d+)/i.exec(answer.toString('latin1', 0, bodyAt));
  const length = m === null ? -1 : Number(m[1]);
  const close = (): void => {
    socket.end();
    remote.destroy();
  };
  if (length >= 0 && answer.length >= bodyAt + length) {
    socket.write(answer.subarray(0, bodyAt + length));
    close();
    return;
  }
  socket.write(answer);
  let left = length < 0 ? Infinity : bodyAt + length - answer.length;
  remote.on('data', (c: Buffer) => {
    if (left <= 0) return;
    const part = c.length > left ? c.subarray(0, left) : c;
    left -= part.length;
    socket.write(part);
    if (left <= 0) close();
  });
  remote.once('end', close);
}

/** Answers an upgrade the agent refuses (loop, bad request, no instance) on the raw socket. */
export function refuseUpgrade(socket: Duplex, hop: UpgradeHop, err: DyelineError, finished: UpgradeFinished): void {
  socket.on('error', ignore);
  writeSocketError(socket, err);
  if (hop.end(ERRORS[err.code].status, err)) finished(hop);
}

function ignore(): void {}

/** Opens the tunnel for `hop` (its socket and already-read `head`) to `t`; `finished` hears of the hop when the upstream answered or the tunnel failed. */
export function tunnelUpgrade(ctx: AgentContext, hop: UpgradeHop, socket: Duplex, head: Buffer, t: UpgradeTarget, finished: UpgradeFinished): void {
  const req = hop.req;
  hop.endpointKey = `${t.host}:${t.port}`;
  const remote = connect({ host: t.host, port: t.port, noDelay: true });
  ctx.tunnels.add(socket);
  let connected = false;
  let released = false;
  if (t.state !== undefined) t.state.inflight++;
  const release = (): void => {
    if (released) return;
    released = true;
    if (t.state !== undefined) t.state.inflight--;
  };
  const end = (status: number, err?: Error): void => {
    if (hop.end(status, err)) finished(hop);
  };
  remote.setTimeout(ctx.config.connectTimeoutMs);
  const fail = (err: Error): void => {
    release();
    if (!connected) {
      const e = asDyelineError(err, hop.endpointKey);
      writeSocketError(socket, e);
      ctx.log.debug({ endpoint: hop.endpointKey, err: err.message }, 'upgrade connect failed');
      end(ERRORS[e.code].status, e);
    } else {
      socket.destroy();
      end(ERRORS[ErrorCode.Reset].status, asDyelineError(err, hop.endpointKey));
    }
    remote.destroy();
  };
  remote.once('timeout', () => fail(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' })));
  remote.on('error', fail);
  socket.on('error', () => {
    release();
    remote.destroy();
  });
  remote.once('connect', () => {
    connected = true;
    remote.setTimeout(0);
    remote.write(upgradeHead(req.method ?? 'GET', t, String(req.headers.upgrade)));
  });
  // The answer head decides: 101 opens the tunnel; anything else is relayed and both sides close.
  let answer: Buffer = Buffer.alloc(0);
  const onAnswer = (chunk: Buffer): void => {
    answer = answer.length === 0 ? chunk : Buffer.concat([answer, chunk]);
    const headEnd = answer.indexOf('\r\n\r\n');
    if (headEnd < 0) {
      if (answer.length > MAX_ANSWER_HEAD_BYTES) fail(new Error('upgrade answer head too large'));
      return;
    }
    remote.off('data', onAnswer);
    const status = answerStatus(answer);
    end(status);
    if (status === 101) {
      socket.write(answer);
      if (head.length > 0) remote.write(head);
      socket.pipe(remote);
      remote.pipe(socket);
      return;
    }
    relayRefusal(socket, remote, answer, headEnd + 4);
  };
  remote.on('data', onAnswer);
  socket.once('close', () => {
    ctx.tunnels.delete(socket);
    release();
    remote.destroy();
    if (hop.ended) return;
    hop.clientClosed = true;
    end(ERRORS[ErrorCode.ClientClosed].status);
  });
  remote.once('close', () => {
    release();
    socket.destroy();
    end(ERRORS[ErrorCode.Reset].status, asDyelineError(new Error('closed without answering the upgrade'), hop.endpointKey));
  });
}
