/**
 * The node:http server both data-plane listeners run on, with proxy-minded limits: no overall
 * request deadline (bodies may stream for long), a bound on the time to send headers, and
 * malformed or oversized requests answered by respond.ts (400 / 431) before they reach a handler.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { DyelineError, ErrorCode } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { writeSocketError } from './respond.ts';
import { shouldTunnelUpgrade } from './upgrade.ts';

/** Largest request head accepted (bytes); beyond it the answer is 431. Node's default, 16 KiB. */
export const MAX_HEADER_BYTES = 16 * 1024;

/**
 * Longest a client may take to send a request head, ms; a slower one (a slowloris) gets 408 and
 * the connection is closed. Checked every second. Bodies have no deadline (they may stream).
 */
export const HEAD_TIMEOUT_MS = 10_000;

/**
 * A data-plane server calling `handler` for each request and `upgrade` for Upgrade requests
 * other than h2c (those are served as plain HTTP/1.1 requests, the upgrade declined).
 */
export function createProxyServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void,
  log: Logger,
  name: string,
): Server {
  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      requestTimeout: 0,
      headersTimeout: HEAD_TIMEOUT_MS,
      connectionsCheckingInterval: 1_000,
      keepAliveTimeout: 5_000,
      noDelay: true,
      shouldUpgradeCallback: shouldTunnelUpgrade,
    },
    handler,
  );
  server.on('upgrade', upgrade);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const code = err.code ?? '';
    if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = code === 'HPE_HEADER_OVERFLOW';
    log.debug({ listener: name, code }, 'malformed request');
    writeSocketError(
      socket,
      tooLarge
        ? new DyelineError(ErrorCode.HeadersTooLarge, `request headers exceed ${MAX_HEADER_BYTES} bytes`)
        : new DyelineError(ErrorCode.BadRequest, `malformed HTTP request (${code || err.message})`),
    );
    // The answer is on its way: release the connection then, whether or not the client ever
    // reads it or closes its side (a slowloris does neither).
    if (!socket.destroyed) socket.once('finish', () => socket.destroy());
  });
  return server;
}
