/**
 * A Node app with no forwarding code, run under `node --import propagate/propagate.mjs` by the
 * preload's tests: each route makes outbound calls in one style to `http://<to>/<route>/<id>…`
 * (`?to=host:port&id=…`, `?tls=host:port` for https) and answers once they are done; the test's
 * sink records what each call carried. Environment: STARTUP_TO=host:port makes one fetch and one
 * http.get there at start, outside any inbound request.
 *
 *   fetch         timer, then await fetch           http          EventEmitter fired from setImmediate, http.get
 *   undici        promise chain, undici.request     undici-fetch  the undici package's fetch
 *   undici-pool   one shared Pool with 1 connection (calls queue behind each other)
 *   https         https.get (self-signed sink)      nested        http.get, then fetch from its response's 'end'
 *   body          reads a request body (POST) through 'data'/'end', then fetch
 *   own           the app sets x-traffic-color and traceparent itself (fetch, http, undici)
 *   garbage       malformed messages published on the preload's channels; answers what happened
 */
import dc from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { fetch as undiciFetch, Pool, request as undiciRequest } from 'undici';

const OWN_TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const pools = new Map<string, Pool>();
let uncaught = 0;
process.on('uncaughtException', () => uncaught++);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const drain = (res: IncomingMessage) => new Promise<void>((resolve, reject) => res.resume().on('end', resolve).on('error', reject));
const httpGet = (url: string, headers: Record<string, string> = {}) =>
  new Promise<void>((resolve, reject) => {
    http.get(url, { headers }, (res) => void drain(res).then(resolve, reject)).on('error', reject);
  });

/** The outbound calls of one route; `url` is http://<to>/<route>/<id>. */
const routes: Record<string, (url: string, q: URLSearchParams, req: IncomingMessage) => Promise<unknown>> = {
  async fetch(url) {
    await sleep(2);
    await (await fetch(url)).text();
  },
  http(url) {
    const ee = new EventEmitter();
    const done = new Promise<void>((resolve, reject) => ee.once('go', () => void httpGet(url).then(resolve, reject)));
    setImmediate(() => ee.emit('go'));
    return done;
  },
  undici(url) {
    return Promise.resolve()
      .then(() => undiciRequest(url))
      .then((r) => r.body.text());
  },
  async 'undici-fetch'(url) {
    await (await undiciFetch(url)).text();
  },
  async 'undici-pool'(url) {
    const u = new URL(url);
    let pool = pools.get(u.origin);
    if (pool === undefined) pools.set(u.origin, (pool = new Pool(u.origin, { connections: 1 })));
    await (await pool.request({ path: u.pathname, method: 'GET' })).body.text();
  },
  https(url, q) {
    const target = `https://${q.get('tls')}${new URL(url).pathname}`;
    return new Promise<void>((resolve, reject) => {
      https.get(target, { rejectUnauthorized: false }, (res) => void drain(res).then(resolve, reject)).on('error', reject);
    });
  },
  nested(url) {
    return new Promise<void>((resolve, reject) => {
      http
        .get(`${url}/1`, (res) => {
          res.resume();
          res.on('end', () => void fetch(`${url}/2`).then((r) => r.text()).then(() => resolve(), reject));
        })
        .on('error', reject);
    });
  },
  body(url, _q, req) {
    return new Promise<void>((resolve, reject) => {
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => void fetch(`${url}/${bytes}`).then((r) => r.text()).then(() => resolve(), reject));
    });
  },
  async own(url) {
    const headers = { 'x-traffic-color': 'mine', traceparent: OWN_TRACEPARENT };
    await (await fetch(`${url}/fetch`, { headers })).text();
    await httpGet(`${url}/http`, headers);
    await (await undiciRequest(`${url}/undici`, { headers })).body.text();
  },
  async garbage() {
    const created = dc.channel('http.client.request.created');
    const undici = dc.channel('undici:request:create');
    const start = dc.channel('http.server.request.start');
    for (const message of [null, undefined, 1, {}, { request: null }, { request: {} }]) {
      created.publish(message);
      undici.publish(message);
      start.publish(message);
    }
    // A request that fails half-way through: the preload must take back what it added.
    const h: Record<string, string> = {};
    created.publish({
      request: {
        headersSent: false,
        method: 'GET',
        getHeader: (n: string) => h[n],
        setHeader: (n: string, v: string) => {
          if (n === 'baggage') throw new Error('boom');
          h[n] = v;
        },
        removeHeader: (n: string) => delete h[n],
      },
    });
    const u = { method: 'GET', headers: ['accept', '*/*'], addHeader(k: string, v: string) {
      if (k === 'baggage') throw new Error('boom');
      this.headers.push(k, v);
    } };
    undici.publish({ request: u });
    await sleep(10);
    return { uncaught, httpHeaders: h, undiciHeaders: u.headers };
  },
};

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://app');
  const route = routes[url.pathname.slice(1)];
  if (route === undefined) {
    res.writeHead(404).end();
    return;
  }
  try {
    const result = await route(`http://${url.searchParams.get('to')}${url.pathname}/${url.searchParams.get('id')}`, url.searchParams, req);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result ?? 'done'));
  } catch (err) {
    res.writeHead(500).end(String(err));
  }
}

const server = http.createServer((req, res) => void handle(req, res));
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', address: `127.0.0.1:${port}` })}\n`);
  const startup = process.env.STARTUP_TO;
  if (startup) {
    setTimeout(() => {
      void fetch(`http://${startup}/startup/fetch`).then((r) => r.text());
      void httpGet(`http://${startup}/startup/http`);
    }, 5);
  }
});
process.on('SIGTERM', () => process.exit(0));
