/**
 * node-http-proxy (the `http-proxy` package, the common Node choice) as a benchmark peer: one
 * node:http server proxying to one upstream through a keep-alive http.Agent.
 *
 *   node test/bench/http-proxy-peer.ts LISTEN_PORT UPSTREAM_PORT
 */
import { Agent, createServer } from 'node:http';
import httpProxy from 'http-proxy';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${upstreamPort}`, agent: new Agent({ keepAlive: true, maxSockets: 256 }), xfwd: false });
proxy.on('error', (_err, _req, res) => {
  if ('writeHead' in res && !res.headersSent) res.writeHead(502).end();
  else res.destroy();
});
const server = createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 30_000;
server.listen(listenPort, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ msg: 'listening', port: listenPort })}\n`));
process.on('SIGTERM', () => process.exit(0));
