/**
 * The Node limit, as a benchmark peer: a bare HTTP/1.1 pass-through proxy — node:http server,
 * one undici Pool (keep-alive, as the agent's) to one upstream, request and response streamed
 * through `dispatch` with hop-by-hop headers dropped. No routing, no telemetry, no error
 * handling beyond a 502: what any Node proxy pays before doing anything of its own.
 *
 *   node test/bench/undici-proxy.ts LISTEN_PORT UPSTREAM_PORT
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { pipelining: 1, keepAliveTimeout: 4000 });
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function requestHeaders(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

class Relay implements Dispatcher.DispatchHandler {
  readonly res: ServerResponse;
  constructor(res: ServerResponse) {
    this.res = res;
  }
  onRequestStart(): void {}
  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[]>): void {
    for (const h of HOP) delete headers[h];
    this.res.writeHead(status, headers);
  }
  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) {
      c.pause();
      this.res.once('drain', () => c.resume());
    }
  }
  onResponseEnd(): void {
    this.res.end();
  }
  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (this.res.headersSent) this.res.destroy(err);
    else this.res.writeHead(502).end();
  }
}

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool.dispatch({ path: req.url!, method: req.method as Dispatcher.HttpMethod, headers: requestHeaders(req.rawHeaders), body: hasBody ? req : null }, new Relay(res));
});
server.keepAliveTimeout = 30_000;
server.listen(listenPort, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ msg: 'listening', port: listenPort })}\n`));
process.on('SIGTERM', () => process.exit(0));
