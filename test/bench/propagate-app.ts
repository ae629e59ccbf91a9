/**
 * The app of test/bench/propagate.ts: every inbound request makes one outbound GET to UPSTREAM
 * (host:port) with BENCH_CLIENT (`http` keep-alive agent | `fetch` | `undici`) and answers with
 * its body; `GET /__cpu` answers its process.cpuUsage(). No forwarding code: run with and without
 * `--import propagate/propagate.mjs`.
 */
import http from 'node:http';
import { request as undiciRequest } from 'undici';

const upstream = `http://${process.env.UPSTREAM}/`;
const client = process.env.BENCH_CLIENT ?? 'http';
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function viaHttp(): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(upstream, { agent }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}

const call: () => Promise<string> =
  client === 'fetch' ? async () => (await fetch(upstream)).text() : client === 'undici' ? async () => (await undiciRequest(upstream)).body.text() : viaHttp;

const server = http.createServer((req, res) => {
  if (req.url === '/__cpu') {
    // The bench reads the app's CPU time here (µs, finer than /proc's 10 ms ticks).
    res.end(JSON.stringify(process.cpuUsage()));
    return;
  }
  call().then(
    (body) => res.end(body),
    (err: unknown) => res.writeHead(502).end(String(err)),
  );
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', address: `127.0.0.1:${(server.address() as { port: number }).port}` })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
