/**
 * dyeline/propagate (propagate/propagate.mjs) in a real Node process: an app with no forwarding
 * code (test/support/propagate-scenarios.ts) run under `node --import`, its outbound calls
 * recorded by a sink in this process. See docs/reference.md#zero-code-propagation.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LineProcess, spawnLines } from '../support/line-process.ts';
import { waitFor } from '../support/wait.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PRELOAD = join(ROOT, 'propagate/propagate.mjs');
const SCENARIOS = join(ROOT, 'test/support/propagate-scenarios.ts');
const OTEL_SETUP = join(ROOT, 'test/support/otel-setup.ts');
const NAMES = ['x-traffic-color', 'baggage', 'traceparent', 'tracestate'] as const;
const NO_PROXY_ENV = { NODE_USE_ENV_PROXY: '', HTTP_PROXY: '', http_proxy: '', HTTPS_PROXY: '', https_proxy: '' };

/** What one outbound call carried: header name (lower case) → every value sent under it. */
type Carried = Map<string, string[]>;
const calls = new Map<string, Carried>();

function record(req: IncomingMessage, res: ServerResponse): void {
  const carried: Carried = new Map();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    carried.set(name, [...(carried.get(name) ?? []), req.rawHeaders[i + 1]!]);
  }
  calls.set(req.url ?? '', carried);
  req.resume();
  req.on('end', () => res.end('ok'));
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

interface App {
  proc: LineProcess;
  pool: Pool;
  address: string;
}

async function startApp(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<App> {
  const proc = spawnLines(process.execPath, [...args, SCENARIOS], { env: { ...NO_PROXY_ENV, ...env }, ...(cwd && { cwd }) });
  const listening = await proc.waitForLine((l) => l.msg === 'listening', { timeoutMs: 15_000, what: 'scenario app listening' });
  const address = String(listening.address);
  return { proc, address, pool: new Pool(`http://${address}`, { connections: 4 }) };
}

async function stopApp(app: App | undefined): Promise<void> {
  await app?.pool.close();
  await app?.proc.stop();
}

let dir: string;
let sink: Server;
let tlsSink: Server;
let to: string;
let tls: string;
let app: App;
let nextId = 0;

/** Inbound propagation headers of request `id` with colour `color`. */
function inbound(id: number, color: string): Record<string, string> {
  const trace = id.toString(16).padStart(32, 'a');
  return { 'x-traffic-color': color, baggage: `traffic_color=${color},user=u${id}`, traceparent: `00-${trace}-00f067aa0ba902b7-01`, tracestate: `dy=${id}` };
}

async function call(target: App, route: string, headers: Record<string, string>, id = ++nextId, opts: { method?: string; body?: string } = {}) {
  const res = await target.pool.request({ path: `/${route}?to=${to}&tls=${tls}&id=${id}`, method: opts.method ?? 'GET', headers, body: opts.body });
  const text = await res.body.text();
  expect(res.statusCode, text).toBe(200);
  return { id, text };
}

/** Every call the sink saw under /<route>/<id>, by path. */
function callsOf(route: string, id: number): [string, Carried][] {
  const prefix = `/${route}/${id}`;
  return [...calls].filter(([path]) => path === prefix || path.startsWith(`${prefix}/`));
}

/** Expects every call under /<route>/<id> to carry exactly `headers` (one value each) of the propagation headers. */
function expectCarried(route: string, id: number, headers: Record<string, string>, count = 1): void {
  const seen = callsOf(route, id);
  expect(seen.map(([p]) => p), `${route} ${id}`).toHaveLength(count);
  for (const [path, carried] of seen) {
    const got = Object.fromEntries(NAMES.filter((n) => carried.has(n)).map((n) => [n, carried.get(n)!]));
    expect(got, path).toEqual(Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-propagate-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], {
    stdio: 'ignore',
  });
  sink = createServer(record);
  tlsSink = createTlsServer({ key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) }, record);
  to = await listen(sink);
  tls = await listen(tlsSink);
  app = await startApp(['--import', PRELOAD], { STARTUP_TO: to });
});

afterAll(async () => {
  await stopApp(app);
  sink?.closeAllConnections();
  sink?.close();
  (tlsSink as Server & { closeAllConnections?: () => void })?.closeAllConnections?.();
  tlsSink?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('dyeline/propagate', () => {
  it('carries the four headers of the inbound request to fetch, http, https and undici calls, across timers, emitters and promise chains', async () => {
    for (const route of ['fetch', 'http', 'https', 'undici', 'undici-fetch', 'undici-pool']) {
      const id = ++nextId;
      await call(app, route, inbound(id, 'canary'), id);
      expectCarried(route, id, inbound(id, 'canary'));
    }
    const id = ++nextId;
    await call(app, 'nested', inbound(id, 'blue'), id);
    expectCarried('nested', id, inbound(id, 'blue'), 2);
  });

  it('keeps the context for a handler that runs from a request body arriving in pieces', async () => {
    const id = ++nextId;
    const h = inbound(id, 'canary');
    const head = `POST /body?to=${to}&id=${id} HTTP/1.1\r\nHost: app\r\nContent-Length: 10\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
    const [host, port] = app.address.split(':');
    const socket = connect(Number(port), host);
    let answer = '';
    socket.setEncoding('utf8').on('data', (c: string) => (answer += c));
    socket.write(`${head}12345`);
    await new Promise((r) => setTimeout(r, 50));
    socket.write('67890');
    await waitFor(() => answer.includes('"done"'), { what: 'answer to the POST' });
    socket.destroy();
    expectCarried('body', id, h);
    expect(callsOf('body', id)[0]![0]).toBe(`/body/${id}/10`);
  });

  it('never mixes requests: concurrent requests of different colours on shared connections each carry their own', async () => {
    const routes = ['fetch', 'http', 'undici', 'undici-fetch', 'undici-pool'];
    const sent: { route: string; id: number; headers: Record<string, string> }[] = [];
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        const id = ++nextId;
        const route = routes[i % routes.length]!;
        // Every third request carries nothing: its calls must carry nothing either.
        const headers = i % 3 === 2 ? {} : inbound(id, ['canary', 'blue'][i % 2]!);
        sent.push({ route, id, headers });
        return call(app, route, headers, id);
      }),
    );
    for (const s of sent) expectCarried(s.route, s.id, s.headers);
  });

  it('never overwrites what the app set: its own colour and traceparent stay, no foreign tracestate is added', async () => {
    const id = ++nextId;
    await call(app, 'own', inbound(id, 'canary'), id);
    const own = { 'x-traffic-color': 'mine', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', baggage: inbound(id, 'canary').baggage };
    expectCarried('own', id, own, 3);
  });

  it('adds nothing to calls made outside an inbound request', async () => {
    await waitFor(() => calls.has('/startup/fetch') && calls.has('/startup/http'), { what: 'the startup calls' });
    for (const path of ['/startup/fetch', '/startup/http']) for (const n of NAMES) expect(calls.get(path)!.has(n), `${path} ${n}`).toBe(false);
  });

  it('survives malformed channel messages and takes back a half-applied header set', async () => {
    const { text } = await call(app, 'garbage', inbound(++nextId, 'canary'));
    expect(JSON.parse(text)).toEqual({ uncaught: 0, httpHeaders: {}, undiciHeaders: ['accept', '*/*'] });
    expect(app.proc.stderr()).toBe('');
  });

  it('is one self-contained file: it imports Node built-ins only', async () => {
    const source = await readFile(PRELOAD, 'utf8');
    const specifiers = [...source.matchAll(/^\s*import\b[^'"]*['"]([^'"]+)['"]/gm), ...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
    expect(specifiers.length).toBeGreaterThan(0);
    for (const s of specifiers) expect(s).toMatch(/^node:/);
    expect(source).not.toMatch(/\brequire\(/);
  });

  it('is the package export dyeline/propagate', async () => {
    const byName = await startApp(['--import', 'dyeline/propagate'], {}, ROOT);
    try {
      const id = ++nextId;
      await call(byName, 'undici', inbound(id, 'blue'), id);
      expectCarried('undici', id, inbound(id, 'blue'));
    } finally {
      await stopApp(byName);
    }
  });

  describe('with OpenTelemetry instrumentation (http + undici) in the app', () => {
    for (const order of ['before', 'after'] as const) {
      it(`loaded ${order} the preload: one traceparent and one baggage per call, OpenTelemetry's, in the inbound trace; the colour added`, async () => {
        const args = order === 'before' ? ['--import', OTEL_SETUP, '--import', PRELOAD] : ['--import', PRELOAD, '--import', OTEL_SETUP];
        const otel = await startApp(args, { OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' });
        try {
          for (const route of ['fetch', 'http', 'undici']) {
            const id = ++nextId;
            const h = inbound(id, 'canary');
            await call(otel, route, h, id);
            const [[path, carried]] = callsOf(route, id) as [[string, Carried]];
            expect(carried.get('x-traffic-color'), path).toEqual(['canary']);
            expect(carried.get('baggage'), path).toHaveLength(1);
            expect(carried.get('baggage')![0]!.split(',').map((s) => s.trim()).sort(), path).toEqual(['traffic_color=canary', `user=u${id}`]);
            const tp = carried.get('traceparent');
            expect(tp, path).toHaveLength(1);
            const [, traceId, parentId] = tp![0]!.split('-');
            expect(traceId, path).toBe(h.traceparent!.split('-')[1]);
            // OpenTelemetry's own client span is the parent: proof that its instrumentation is the one that injected.
            expect(parentId, path).not.toBe('00f067aa0ba902b7');
            expect(carried.get('tracestate') ?? [], path).toHaveLength(carried.has('tracestate') ? 1 : 0);
          }
        } finally {
          await stopApp(otel);
        }
      });
    }
  });
});
