/**
 * Micro-benchmark: the preload's own work per request, in isolation (no network): the
 * `http.server.request.start` hook on a real IncomingMessage (with and without a body to bind),
 * the `http.client.request.created` hook on a real ClientRequest (never sent), and the
 * `undici:request:create` hook on undici's own Request. The same loops run in child processes
 * started with and without `--import propagate/propagate.mjs`, in alternation (so that other load
 * on the machine falls on both alike); per case the fastest run of each is kept and the
 * difference is the preload's cost. For the outbound cases, the child without the preload also
 * times the request made with the four headers forwarded by hand, what the preload replaces.
 *
 *   node test/bench/propagate-micro.ts [iterations=300000] [runs=5]
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import dc from 'node:diagnostics_channel';
import { ClientRequest, IncomingMessage, Server, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { machine } from './machine.ts';

const [n = 300_000, runs = 5] = process.argv.slice(2).map(Number);
const PRELOAD = fileURLToPath(new URL('../../propagate/propagate.mjs', import.meta.url));
const CASES = [
  'inbound request, no body (IncomingMessage + ServerResponse)',
  'inbound request with a body (its events bound)',
  'http.request created (ClientRequest, never sent)',
  'undici Request created',
];

/** One child: times every case, prints ns per call as a JSON array. */
function child(): void {
  // undici's Request is what its dispatchers construct (and publish on undici:request:create).
  const UndiciRequest = createRequire(import.meta.url)('undici/lib/core/request.js') as new (origin: string, opts: object, handler: object) => { headers: string[] };
  const undiciHandler = { onRequestStart() {}, onResponseError() {}, onResponseStart() {}, onResponseData() {}, onResponseEnd() {} };
  const HEADERS = { host: 'orders', 'x-traffic-color': 'canary', baggage: 'traffic_color=canary,user=42', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'vendor=opaque', accept: '*/*' };
  const start = dc.channel('http.server.request.start');
  const server = new Server();
  const socket = new Socket();
  const inbound = (body: boolean): IncomingMessage => {
    const request = new IncomingMessage(socket);
    request.headers = body ? { ...HEADERS, 'content-length': '10' } : HEADERS;
    const response = new ServerResponse(request);
    if (start.hasSubscribers) start.publish({ request, response, socket, server });
    return request;
  };
  const noAgent = { addRequest() {} } as never;
  const clientRequest = () => new ClientRequest({ host: '127.0.0.1', port: 9, path: '/x', agent: noAgent, headers: { accept: '*/*' } });
  const undiciRequest = () => new UndiciRequest('http://127.0.0.1:9', { path: '/x', method: 'GET', headers: { accept: '*/*' } }, undiciHandler);
  const { host: _host, ...forwarded } = HEADERS;
  const byHand = [
    () => new ClientRequest({ host: '127.0.0.1', port: 9, path: '/x', agent: noAgent, headers: forwarded }),
    () => new UndiciRequest('http://127.0.0.1:9', { path: '/x', method: 'GET', headers: forwarded }, undiciHandler),
  ];
  // Outbound hooks run inside a request's context, as in an app: enter one the way the preload does.
  inbound(false);
  if (start.hasSubscribers && (clientRequest().getHeader('traceparent') !== HEADERS.traceparent || undiciRequest().headers.length !== 10 || !Object.hasOwn(inbound(true), 'emit'))) {
    throw new Error('the preload did not add the headers: nothing would be measured');
  }
  const fns = [() => inbound(false), () => inbound(true), clientRequest, undiciRequest, ...(start.hasSubscribers ? [] : byHand)];
  const ns = fns.map((fn) => {
    for (let i = 0; i < Math.min(n, 50_000); i++) fn();
    const t = performance.now();
    for (let i = 0; i < n; i++) fn();
    return ((performance.now() - t) * 1e6) / n;
  });
  server.close();
  process.stdout.write(JSON.stringify(ns));
}

if (process.env.PROPAGATE_MICRO_CHILD === '1') {
  child();
} else {
  console.log(`machine: ${machine()}\n${n} iterations a case, fastest of ${runs} alternating runs per set-up, ns per call\n`);
  const best = { without: CASES.map(() => Infinity), with: CASES.map(() => Infinity) };
  /** Outbound cases made with the headers forwarded by hand (child without the preload). */
  const hand = [Infinity, Infinity];
  const self = fileURLToPath(import.meta.url);
  for (let r = 0; r < runs; r++) {
    for (const mode of ['without', 'with'] as const) {
      const args = [...(mode === 'with' ? ['--import', PRELOAD] : []), self, String(n)];
      const out = spawnSync(process.execPath, args, { env: { ...process.env, PROPAGATE_MICRO_CHILD: '1' }, encoding: 'utf8' });
      if (out.status !== 0) throw new Error(`child (${mode}) failed: ${out.stderr}`);
      const ns = JSON.parse(out.stdout) as number[];
      ns.slice(0, CASES.length).forEach((v, i) => (best[mode][i] = Math.min(best[mode][i]!, v)));
      ns.slice(CASES.length).forEach((v, i) => (hand[i] = Math.min(hand[i]!, v)));
    }
  }
  console.log(`${'case'.padEnd(62)} ${'without'.padStart(8)} ${'with'.padStart(8)} ${'preload'.padStart(8)} ${'by hand'.padStart(8)}`);
  for (const [i, name] of CASES.entries()) {
    const byHand = i >= 2 ? hand[i - 2]!.toFixed(0) : '';
    console.log(`${name.padEnd(62)} ${best.without[i]!.toFixed(0).padStart(8)} ${best.with[i]!.toFixed(0).padStart(8)} ${(best.with[i]! - best.without[i]!).toFixed(0).padStart(8)} ${byHand.padStart(8)}`);
  }
  console.log('\nwithout: no propagation; with: the preload adds the headers; by hand: the app passes the four headers itself, no preload');
}
