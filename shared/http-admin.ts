/**
 * The small HTTP servers of the status and admin ports (daemon and agent): GET routes that
 * answer JSON or text. Not on the data path.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from './log.ts';

export type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Answers `body` as JSON. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Answers plain text. */
export function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * How long a client may take to send a whole request to a status or admin port (they take no
 * bodies), ms; a slower one (a slowloris) gets 408 and the connection closed. Checked every
 * second.
 */
export const ADMIN_REQUEST_TIMEOUT_MS = 10_000;

/** A server for `routes` (path → handler, GET/HEAD only); unknown paths 404 with the list of known ones. */
export function createAdminServer(routes: Record<string, Route>, log: Logger): Server {
  const options = { headersTimeout: ADMIN_REQUEST_TIMEOUT_MS, requestTimeout: ADMIN_REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1_000 };
  const server = createServer(options, (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const route = routes[path];
    if (!route) {
      sendJson(res, 404, { error: 'not-found', message: `no ${path}; try ${Object.keys(routes).join(', ')}` });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(res, 405, { error: 'method-not-allowed', message: 'GET only' });
      return;
    }
    Promise.resolve()
      .then(() => route(req, res))
      .catch((err: unknown) => {
        log.error({ err, path }, 'admin route failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: (err as Error).message });
        else res.destroy();
      });
  });
  server.keepAliveTimeout = 5_000;
  return server;
}
