/**
 * HTTP/1.1 Upgrade (WebSocket) through the agent: the request head is rewritten like any
 * forwarded request (colour, baggage, trace, hop count; hop-by-hop headers dropped) plus
 * `Connection: upgrade` and the client's `Upgrade` value, written on a new TCP connection to
 * the chosen instance, and from there bytes flow both ways untouched (the 101 answer
 * included). `Upgrade: h2c` is not tunnelled: the listeners serve such requests as plain
 * HTTP/1.1 (the upgrade is declined, as RFC 9113 allows).
 */
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { asDyelineError, type DyelineError } from '../../shared/errors.ts';
import type { AgentContext } from '../context.ts';
import type { EndpointState } from '../routing/types.ts';
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

/** Answers an upgrade the agent refuses (routing error) on the raw socket. */
export function refuseUpgrade(socket: Duplex, err: DyelineError): void {
  socket.on('error', () => {});
  writeSocketError(socket, err);
}

/** Opens the tunnel for `req` (its socket and already-read `head`) to `t`. */
export function tunnelUpgrade(ctx: AgentContext, req: IncomingMessage, socket: Duplex, head: Buffer, t: UpgradeTarget): void {
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
  remote.setTimeout(ctx.config.connectTimeoutMs);
  const fail = (err: Error): void => {
    release();
    if (!connected) {
      writeSocketError(socket, asDyelineError(err, `${t.host}:${t.port}`));
      ctx.log.debug({ endpoint: `${t.host}:${t.port}`, err: err.message }, 'upgrade connect failed');
    } else {
      socket.destroy();
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
    if (head.length > 0) remote.write(head);
    socket.pipe(remote);
    remote.pipe(socket);
  });
  socket.once('close', () => {
    ctx.tunnels.delete(socket);
    release();
    remote.destroy();
  });
  remote.once('close', () => {
    release();
    socket.destroy();
  });
}
