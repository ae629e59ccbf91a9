/**
 * A small upstream app for e2e tests, run as its own process (`node app-main.ts`). It answers
 * every request with who it is and what propagation headers it received, and — the demo
 * pattern — when asked (`?via=svc1,svc2`) calls the next service through its agent's outbound
 * listener, forwarding x-traffic-color / baggage / traceparent / tracestate from its inbound
 * request by hand (APP_FORWARD, a comma list, narrows them: a leaky app). An Upgrade request (any
 * protocol) is answered 101 and echoes every byte back. Environment:
 * APP_SERVICE, APP_COLOR, APP_INSTANCE, APP_FORWARD. The agent's outbound address arrives later
 * as a JSON line on stdin: {"outbound":"127.0.0.1:PORT"}.
 */
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const service = process.env.APP_SERVICE ?? 'app';
const color = process.env.APP_COLOR ?? 'stable';
const instance = process.env.APP_INSTANCE ?? `${service}-${color}`;
const FORWARD = (process.env.APP_FORWARD ?? 'x-traffic-color,baggage,traceparent,tracestate').split(',').filter(Boolean);
const keepAlive = new Agent({ keepAlive: true, maxSockets: 64 });
let outbound: { host: string; port: number } | undefined;

/** What this app answers: itself, what it received, and the rest of the chain. */
interface Answer {
  service: string;
  color: string;
  instance: string;
  path: string;
  received: Record<string, string | undefined>;
  next?: { status: number; servedColor: string | null; fallback: string | null; body: unknown };
}

function callNext(next: string, path: string, from: IncomingMessage): Promise<Answer['next']> {
  return new Promise((resolve) => {
    if (outbound === undefined) {
      resolve({ status: 0, servedColor: null, fallback: null, body: 'no outbound address yet' });
      return;
    }
    const headers: Record<string, string> = { host: next };
    for (const h of FORWARD) {
      const v = from.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const req = request({ host: outbound.host, port: outbound.port, path, headers, agent: keepAlive }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* agent error text */
        }
        resolve({
          status: res.statusCode ?? 0,
          servedColor: (res.headers['x-dyeline-served-color'] as string | undefined) ?? null,
          fallback: (res.headers['x-dyeline-fallback'] as string | undefined) ?? null,
          body,
        });
      });
    });
    req.on('error', (err) => resolve({ status: 0, servedColor: null, fallback: null, body: err.message }));
    req.end();
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://app');
  const answer: Answer = {
    service,
    color,
    instance,
    path: url.pathname,
    received: {
      'x-traffic-color': req.headers['x-traffic-color'] as string | undefined,
      baggage: req.headers.baggage as string | undefined,
      traceparent: req.headers.traceparent as string | undefined,
      'x-dyeline-hops': req.headers['x-dyeline-hops'] as string | undefined,
    },
  };
  const via = (url.searchParams.get('via') ?? '').split(',').filter(Boolean);
  if (via.length > 0) answer.next = await callNext(via[0]!, `/chain?via=${via.slice(1).join(',')}`, req);
  // `?bounce=a,b`: call a with `?bounce=b,a` — two apps told so call each other forever (a loop
  // through apps, which forward trace and colour headers but not x-dyeline-hops).
  const bounce = (url.searchParams.get('bounce') ?? '').split(',').filter(Boolean);
  if (bounce.length > 0) answer.next = await callNext(bounce[0]!, `/chain?bounce=${[...bounce.slice(1), bounce[0]].join(',')}`, req);
  const body = JSON.stringify(answer);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-app-instance': instance });
  res.end(body);
}

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => void handle(req, res));
});
server.keepAliveTimeout = 10_000;
server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
  socket.on('error', () => socket.destroy());
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: ${req.headers.upgrade}\r\nx-app-instance: ${instance}\r\n\r\n`);
  if (head.length > 0) socket.write(head);
  socket.pipe(socket);
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', listener: 'app', address: `127.0.0.1:${port}` })}\n`);
});

let input = '';
process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
  input += chunk;
  let nl: number;
  while ((nl = input.indexOf('\n')) >= 0) {
    const line = input.slice(0, nl);
    input = input.slice(nl + 1);
    try {
      const msg = JSON.parse(line) as { outbound?: string };
      if (msg.outbound !== undefined) {
        const i = msg.outbound.lastIndexOf(':');
        outbound = { host: msg.outbound.slice(0, i), port: Number(msg.outbound.slice(i + 1)) };
        process.stdout.write(`${JSON.stringify({ msg: 'outbound set', outbound: msg.outbound })}\n`);
      }
    } catch {
      /* ignore */
    }
  }
});
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
