/**
 * An upstream whose failures a test switches on and off, run as its own process
 * (`node fault-app.ts`), for the resilience e2e tests. Environment: APP_INSTANCE, APP_COLOR,
 * APP_PORT (0: any). Commands arrive as JSON lines on stdin; every command is acknowledged with
 * a JSON line on stdout `{"msg":"ack","id":…}` (after it took effect):
 *   {"id":1,"mode":"ok"}                 200 with {instance, color, method, n, bytes} (bytes: request body size)
 *   {"id":2,"mode":"500"}                500 for every request (body read first)
 *   {"id":3,"mode":"hang"}               reads the request, never answers
 *   {"id":4,"mode":"slow","delayMs":200} 200 after delayMs
 *   {"id":5,"mode":"reset"}              reads the request, then destroys the connection
 *   {"id":6,"mode":"refuse"}             stops listening and drops every connection (connect
 *                                        refused); any other mode listens again on the same port
 *   {"id":9,"mode":"call","target":"127.0.0.1:P","host":"svc","delayMs":300}
 *                                        after delayMs, GETs http://target/ with Host: svc (as an
 *                                        app calls through its agent's outbound listener, keep-alive)
 *                                        and answers that call's status with {instance, called, error}
 *   {"id":7,"cmd":"counts"}              answers {"msg":"counts", byMethod, posts: {id: times}}
 *   {"id":8,"cmd":"reset-counts"}
 * Each request is counted by method; POSTs by their `x-request-id` header, so a test can see a
 * POST reached the app more than once. The first failure after a mode change is logged with
 * its time: {"msg":"first failure","mode","at":epoch ms}.
 */
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const instance = process.env.APP_INSTANCE ?? 'fault';
const color = process.env.APP_COLOR ?? 'stable';
let port = Number(process.env.APP_PORT ?? '0');

type Mode = 'ok' | '500' | 'hang' | 'slow' | 'reset' | 'refuse' | 'call';
let mode: Mode = 'ok';
let delayMs = 0;
let callTarget = '';
let callHost = '';
const keepAlive = new Agent({ keepAlive: true });
let failedSinceSwitch = false;
let n = 0;
let byMethod: Record<string, number> = {};
let posts: Record<string, number> = {};
const sockets = new Set<Socket>();
const hanging = new Set<ServerResponse>();

function out(obj: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function failure(): void {
  if (failedSinceSwitch) return;
  failedSinceSwitch = true;
  out({ msg: 'first failure', mode, at: Date.now() });
}

function answer(req: IncomingMessage, res: ServerResponse, bytes: number): void {
  const body = JSON.stringify({ instance, color, method: req.method, n, bytes });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-instance': instance });
  res.end(body);
}

/** GETs the call target through keep-alive connections; resolves with its status (0: failed) and error. */
function callOut(): Promise<{ status: number; error: string }> {
  const i = callTarget.lastIndexOf(':');
  return new Promise((resolve) => {
    const r = request({ host: callTarget.slice(0, i), port: Number(callTarget.slice(i + 1)), path: '/', headers: { host: callHost }, agent: keepAlive }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, error: '' }));
      res.on('error', (err) => resolve({ status: 0, error: String(err) }));
    });
    r.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, error: err.code ?? String(err) }));
    r.end();
  });
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  n++;
  const method = req.method ?? '?';
  byMethod[method] = (byMethod[method] ?? 0) + 1;
  const id = req.headers['x-request-id'];
  if (method === 'POST' && typeof id === 'string') posts[id] = (posts[id] ?? 0) + 1;
  const m = mode;
  let bytes = 0;
  req.on('data', (c: Buffer) => (bytes += c.length));
  req.on('end', () => {
    switch (m) {
      case '500':
        failure();
        res.writeHead(500, { 'content-type': 'text/plain', 'x-instance': instance });
        res.end('failing on purpose\n');
        return;
      case 'hang':
        failure();
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      case 'reset':
        failure();
        req.socket.destroy();
        return;
      case 'slow':
        setTimeout(() => answer(req, res, bytes), delayMs);
        return;
      case 'call':
        setTimeout(() => {
          void callOut().then(({ status, error }) => {
            const body = JSON.stringify({ instance, color, called: status, error });
            res.writeHead(status === 200 ? 200 : 502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-instance': instance });
            res.end(body);
          });
        }, delayMs);
        return;
      default:
        answer(req, res, bytes);
    }
  });
}

const server = createServer({ keepAliveTimeout: 10_000 }, handle);
server.on('connection', (s: Socket) => {
  if (mode === 'refuse') {
    s.destroy();
    return;
  }
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});

function listen(): Promise<void> {
  if (server.listening) return Promise.resolve();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      const a = server.address();
      if (typeof a === 'object' && a !== null) port = a.port;
      resolve();
    });
  });
}

async function setMode(next: Mode, delay: number): Promise<void> {
  mode = next;
  delayMs = delay;
  failedSinceSwitch = false;
  if (next === 'refuse') {
    server.close();
    for (const s of sockets) s.destroy();
    sockets.clear();
    failure();
    return;
  }
  for (const res of hanging) res.destroy();
  await listen();
}

let buf = '';
process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
  buf += chunk;
  let nl: number;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    let cmd: { id?: number; mode?: Mode; delayMs?: number; cmd?: string; target?: string; host?: string };
    try {
      cmd = JSON.parse(line) as typeof cmd;
    } catch {
      continue;
    }
    void (async () => {
      if (cmd.target !== undefined) callTarget = cmd.target;
      if (cmd.host !== undefined) callHost = cmd.host;
      if (cmd.mode !== undefined) await setMode(cmd.mode, cmd.delayMs ?? 0);
      if (cmd.cmd === 'counts') out({ msg: 'counts', id: cmd.id, n, byMethod, posts });
      if (cmd.cmd === 'reset-counts') {
        n = 0;
        byMethod = {};
        posts = {};
      }
      out({ msg: 'ack', id: cmd.id, mode, at: Date.now() });
    })().catch((err: unknown) => out({ msg: 'command failed', id: cmd.id, err: String(err) }));
  }
});

await listen();
out({ msg: 'listening', address: `127.0.0.1:${port}`, instance, color });
process.on('SIGTERM', () => process.exit(0));
