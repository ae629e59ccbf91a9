/**
 * Micro-benchmark: the preload's own work per request, in isolation (no network): the
 * `http.server.request.start` hook on a real IncomingMessage (with and without a body to bind),
 * the `http.client.request.created` hook on a real ClientRequest (never sent), and the
 * `undici:request:create` hook on undici's own Request — each measured before and after
 * `import('propagate/propagate.mjs')` in this process; the difference is the preload's cost.
 *
 *   node test/bench/propagate-micro.ts [iterations=300000]
 */
import { createRequire } from 'node:module';
import dc from 'node:diagnostics_channel';
import { ClientRequest, IncomingMessage, Server, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { machine } from './machine.ts';

const [n = 300_000] = process.argv.slice(2).map(Number);
// undici's Request is what its dispatchers construct (and publish on undici:request:create).
const UndiciRequest = createRequire(import.meta.url)('undici/lib/core/request.js') as new (origin: string, opts: object, handler: object) => object;
const undiciHandler = { onRequestStart() {}, onResponseError() {}, onResponseStart() {}, onResponseData() {}, onResponseEnd() {} };
const HEADERS = { host: 'orders', 'x-traffic-color': 'canary', baggage: 'traffic_color=canary,user=42', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'vendor=opaque', accept: '*/*' };
const start = dc.channel('http.server.request.start');
const server = new Server();
const socket = new Socket();
const noAgent = { addRequest() {} };

function inbound(body: boolean): IncomingMessage {
  const request = new IncomingMessage(socket);
  request.headers = body ? { ...HEADERS, 'content-length': '10' } : HEADERS;
  const response = new ServerResponse(request);
  if (start.hasSubscribers) start.publish({ request, response, socket, server });
  return request;
}
const clientRequest = () => new ClientRequest({ host: '127.0.0.1', port: 9, path: '/x', agent: noAgent as never, headers: { accept: '*/*' } });
const undiciRequest = () => new UndiciRequest('http://127.0.0.1:9', { path: '/x', method: 'GET', headers: { accept: '*/*' } }, undiciHandler) as { headers: string[] };
const cases: [string, () => void][] = [
  ['inbound request, no body (IncomingMessage + ServerResponse)', () => inbound(false)],
  ['inbound request with a body (its events bound)', () => inbound(true)],
  ['http.request created (ClientRequest, never sent)', clientRequest],
  ['undici Request created', undiciRequest],
];

function time(fn: () => void): number {
  for (let i = 0; i < Math.min(n, 50_000); i++) fn();
  const t = performance.now();
  for (let i = 0; i < n; i++) fn();
  return ((performance.now() - t) * 1e6) / n;
}

console.log(`machine: ${machine()}\n${n} iterations each, ns per call (best of 3)\n`);
const best = (fn: () => void) => Math.min(time(fn), time(fn), time(fn));
const before = cases.map(([, fn]) => best(fn));
await import('../../propagate/propagate.mjs');
// Hooks run inside a request context, as they do in an app: enter one the way the preload does.
inbound(false);
// The hooks did their work (a benchmark of hooks that did nothing would measure nothing).
if (clientRequest().getHeader('traceparent') !== HEADERS.traceparent || undiciRequest().headers.length !== 10 || !Object.hasOwn(inbound(true), 'emit')) {
  throw new Error('the preload did not add the headers: nothing would be measured');
}
const after = cases.map(([, fn]) => best(fn));
console.log(`${'case'.padEnd(62)} ${'without'.padStart(8)} ${'with'.padStart(8)} ${'preload'.padStart(8)}`);
for (const [i, [name]] of cases.entries()) {
  console.log(`${name.padEnd(62)} ${before[i]!.toFixed(0).padStart(8)} ${after[i]!.toFixed(0).padStart(8)} ${(after[i]! - before[i]!).toFixed(0).padStart(8)}`);
}
server.close();
