/**
 * An app of the zero-code propagation e2e (test/e2e/zero-code-propagation.test.ts), run as its own
 * process under `node --import propagate/propagate.mjs`, written in one of three common styles
 * (APP_STYLE: `http` | `express` | `fastify`) and with NO forwarding code: it reads its inbound
 * headers only to report them. `GET /chain?via=b,c` calls `http://b/chain?via=c` three times,
 * each with another client and across another kind of asynchronous boundary — fetch after a timer,
 * http.request from an EventEmitter fired by setImmediate, undici.request in a promise chain —
 * through HTTP_PROXY (its agent's outbound listener, NODE_USE_ENV_PROXY=1), and answers with who
 * it is, what it received and the three answers. Environment: APP_SERVICE, APP_COLOR, APP_STYLE,
 * APP_PORT; prints {"msg":"listening","address":…} once bound.
 */
import { EventEmitter } from 'node:events';
import http, { type IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import Fastify from 'fastify';
import { request as undiciRequest } from 'undici';

const service = process.env.APP_SERVICE ?? 'app';
const color = process.env.APP_COLOR ?? 'stable';
const style = process.env.APP_STYLE ?? 'http';
const port = Number(process.env.APP_PORT ?? '0');

/** One hop's answer. */
export interface ZeroCodeHop {
  service: string;
  color: string;
  style: string;
  received: { color?: string; baggage?: string; traceparent?: string };
  calls?: Record<'fetch' | 'http' | 'undici', ZeroCodeHop | { status: number; error: string }>;
}

async function viaFetch(url: string): Promise<unknown> {
  await sleep(1);
  const res = await fetch(url);
  return res.status === 200 ? res.json() : { status: res.status, error: await res.text() };
}

function viaHttp(url: string): Promise<unknown> {
  const events = new EventEmitter();
  const answer = new Promise((resolve, reject) => {
    events.once('call', () => {
      http
        .get(url, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c));
          res.on('end', () => resolve(res.statusCode === 200 ? JSON.parse(text) : { status: res.statusCode, error: text }));
        })
        .on('error', reject);
    });
  });
  setImmediate(() => events.emit('call'));
  return answer;
}

function viaUndici(url: string): Promise<unknown> {
  return Promise.resolve(url)
    .then((u) => undiciRequest(u))
    .then(async (res) => (res.statusCode === 200 ? res.body.json() : { status: res.statusCode, error: await res.body.text() }));
}

const failed = (err: unknown) => ({ status: 0, error: String(err) });

/** What this hop answers: itself, what it received, and the next hop as each client saw it. */
async function chain(via: string, headers: IncomingHttpHeaders): Promise<ZeroCodeHop> {
  const hop: ZeroCodeHop = {
    service,
    color,
    style,
    received: { color: headers['x-traffic-color'] as string | undefined, baggage: headers.baggage as string | undefined, traceparent: headers.traceparent as string | undefined },
  };
  const [next, ...rest] = via.split(',').filter(Boolean);
  if (next === undefined) return hop;
  const url = `http://${next}/chain?via=${rest.join(',')}`;
  const [f, h, u] = await Promise.all([viaFetch(url).catch(failed), viaHttp(url).catch(failed), viaUndici(url).catch(failed)]);
  hop.calls = { fetch: f, http: h, undici: u } as ZeroCodeHop['calls'];
  return hop;
}

function listening(address: string): void {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', listener: 'app', address })}\n`);
}

if (style === 'express') {
  const app = express();
  app.get('/chain', async (req, res) => {
    res.json(await chain(String(req.query.via ?? ''), req.headers));
  });
  const server = app.listen(port, '127.0.0.1', () => listening(`127.0.0.1:${(server.address() as { port: number }).port}`));
} else if (style === 'fastify') {
  const app = Fastify();
  app.get<{ Querystring: { via?: string } }>('/chain', async (request) => chain(request.query.via ?? '', request.headers));
  const address = await app.listen({ port, host: '127.0.0.1' });
  listening(address.replace('http://', ''));
} else {
  const server = http.createServer((req, res) => {
    const via = new URL(req.url ?? '/', 'http://app').searchParams.get('via') ?? '';
    void chain(via, req.headers).then((hop) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(hop));
    });
  });
  server.listen(port, '127.0.0.1', () => listening(`127.0.0.1:${(server.address() as { port: number }).port}`));
}
process.on('SIGTERM', () => process.exit(0));
