/**
 * A demo app: one service instance that answers who it is and calls the next service of the
 * chain. It knows nothing about dyeline: its outbound calls go through the agent because
 * HTTP_PROXY points at the agent's outbound listener (Node 24 `fetch` honours it with
 * NODE_USE_ENV_PROXY=1), and it forwards the colour and trace headers by hand — the few lines
 * marked PROPAGATION. With OpenTelemetry auto-instrumentation (W3C trace context + baggage
 * propagators) the app would not even need those lines: the agent also reads the colour from
 * the `baggage` entry `traffic_color`, which OpenTelemetry carries from inbound to outbound.
 *
 * Environment: SERVICE, COLOR, PORT, NEXT (the next service, optional).
 * POST /admin/fault?mode=500|off makes it fail (for the auto-degradation phase).
 */
import { createServer, type IncomingMessage } from 'node:http';

const service = process.env.SERVICE ?? 'app';
const color = process.env.COLOR ?? 'stable';
const next = process.env.NEXT ?? '';
let fault: 'off' | '500' = 'off';

// PROPAGATION: the headers an app forwards from its inbound request to its outbound calls.
const PROPAGATE = ['x-traffic-color', 'baggage', 'traceparent', 'tracestate'];
function propagated(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of PROPAGATE) if (typeof req.headers[h] === 'string') out[h] = req.headers[h];
  return out;
}

async function callNext(req: IncomingMessage): Promise<unknown> {
  if (!next) return undefined;
  // A plain URL with the service name: the agent (HTTP_PROXY) resolves it to an instance of the right lane.
  const res = await fetch(`http://${next}/`, { headers: propagated(req), signal: AbortSignal.timeout(10_000) });
  const body: unknown = await res.json().catch(() => null);
  return {
    status: res.status,
    servedColor: res.headers.get('x-dyeline-served-color'),
    fallback: res.headers.get('x-dyeline-fallback'),
    error: res.headers.get('x-dyeline-error'),
    body,
  };
}

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url?.startsWith('/admin/fault')) {
    fault = new URL(req.url, 'http://x').searchParams.get('mode') === '500' ? '500' : 'off';
    res.writeHead(204).end();
    return;
  }
  if (fault === '500') {
    res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ service, color, error: 'injected fault' }));
    return;
  }
  callNext(req).then(
    (downstream) => {
      const body = JSON.stringify({ service, color, color_header: req.headers['x-traffic-color'] ?? null, next: downstream });
      // A failure downstream is a failure of this request too: the client sees it.
      const status = downstream && (downstream as { status: number }).status >= 500 ? 502 : 200;
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    },
    (err: Error) => {
      res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ service, color, error: err.message }));
    },
  );
});
server.keepAliveTimeout = 30_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', listener: 'app', service, color, address: `127.0.0.1:${(server.address() as { port: number }).port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
