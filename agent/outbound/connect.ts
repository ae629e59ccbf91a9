/**
 * CONNECT on the outbound listener (docs/reference.md#agent). The agent answers 200 and looks at the first
 * bytes the client sends through the tunnel:
 * - plain HTTP/1.x (a request line starting with an upper-case method): the socket is handed
 *   back to the outbound HTTP server, so every request on it is routed exactly like an
 *   origin-form request to the CONNECT host (Node's fetch with NODE_USE_ENV_PROXY=1 tunnels
 *   even http:// URLs this way);
 * - anything else (TLS): a plain TCP tunnel to host:port.
 */
import type { IncomingMessage, Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { DyelineError, ErrorCode } from '../../shared/errors.ts';
import type { AgentContext } from '../context.ts';
import { writeSocketError } from '../forward/respond.ts';
import { parseAuthority, type Target } from './target.ts';

const kTunnel = Symbol('dyeline.tunnel');
type TunnelSocket = Duplex & { [kTunnel]?: string };

/** The CONNECT authority (`host:port`) of a socket that carries tunnelled HTTP, else undefined. */
export function tunnelOf(socket: Duplex): string | undefined {
  return (socket as TunnelSocket)[kTunnel];
}

/** True when `first` looks like the start of an HTTP/1.x request line (an upper-case method token). */
export function looksLikeHttp(first: Buffer): boolean {
  const c = first[0];
  return c !== undefined && c >= 65 && c <= 90;
}

function ignore(): void {}

/** Handles one CONNECT request (the server's 'connect' event). */
export function handleConnect(server: Server, ctx: AgentContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', ignore);
  const authority = req.url ?? '';
  const target = authority.includes(':') ? parseAuthority(authority, 443, '/') : new DyelineError(ErrorCode.BadRequest, `CONNECT needs host:port, got "${authority.slice(0, 100)}"`);
  if (target instanceof DyelineError) {
    writeSocketError(socket, target);
    return;
  }
  if (ctx.draining) {
    writeSocketError(socket, new DyelineError(ErrorCode.Draining, 'the agent is shutting down'));
    return;
  }
  socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  const decide = (first: Buffer): void => {
    if (looksLikeHttp(first)) {
      (socket as TunnelSocket)[kTunnel] = target.authority;
      socket.unshift(first);
      server.emit('connection', socket);
      socket.resume();
    } else {
      tunnelTcp(ctx, target, socket, first);
    }
  };
  if (head.length > 0) {
    decide(head);
    return;
  }
  socket.once('data', (first: Buffer) => {
    socket.pause();
    decide(first);
  });
}

/** Pipes the client socket to host:port as plain TCP, starting with the bytes already read. */
function tunnelTcp(ctx: AgentContext, target: Target, client: Duplex, first: Buffer): void {
  const remote: Socket = connect({ host: target.host, port: target.port, noDelay: true });
  ctx.tunnels.add(client);
  remote.setTimeout(ctx.config.connectTimeoutMs);
  const fail = (err?: Error): void => {
    if (err !== undefined) ctx.log.debug({ target: target.key, err: err.message }, 'CONNECT tunnel closed with an error');
    remote.destroy();
    client.destroy();
  };
  remote.once('timeout', () => fail(new Error('connect timeout')));
  remote.on('error', fail);
  client.on('error', fail);
  remote.once('connect', () => {
    remote.setTimeout(0);
    remote.write(first);
    client.pipe(remote);
    remote.pipe(client);
    client.resume();
  });
  client.once('close', () => {
    ctx.tunnels.delete(client);
    remote.destroy();
  });
  remote.once('close', () => client.destroy());
}
