import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Exchange, type ExchangeSink } from '../../../../agent/forward/exchange.ts';
import { respondError } from '../../../../agent/forward/respond.ts';
import { continueTrace } from '../../../../agent/propagation/trace.ts';
import { hopFinished, type HopTelemetry, pathOf, POD_NAME } from '../../../../agent/telemetry/hop.ts';
import { createAgentMetrics } from '../../../../agent/telemetry/metrics.ts';
import { DyelineError, ErrorCode } from '../../../../shared/errors.ts';
import { createMetrics, type Metrics } from '../../../../shared/metrics.ts';
import { SpanKind } from '../../../../shared/telemetry/span.ts';
import { createTracing } from '../../../../shared/telemetry/tracing.ts';
import { memoryLog } from '../../../support/memory-log.ts';
import { parsePrometheus, find } from '../../../support/prometheus.ts';

/** How the test server finishes each exchange. */
type Script = (ex: Exchange, res: ServerResponse) => void;

const exporter = new InMemorySpanExporter();
const mem = memoryLog({ component: 'agent' });
let metrics: Metrics;
let telemetry: HopTelemetry & { accessLog: boolean };
let server: Server;
let port: number;
let script: Script;
let direction: 'inbound' | 'outbound' = 'inbound';

const sink: ExchangeSink = {
  responseHeaders() {},
  failed(ex, err) {
    respondError(ex.res, err as DyelineError);
  },
  finished(ex) {
    hopFinished(telemetry, direction, ex);
  },
};

beforeAll(async () => {
  metrics = createMetrics('orders');
  const tracing = createTracing({ defaultServiceName: 'orders', log: mem.log, env: { OTEL_BSP_SCHEDULE_DELAY: '5' }, exporter });
  telemetry = {
    service: 'orders',
    color: 'canary',
    metrics: createAgentMetrics(metrics),
    tracing,
    log: mem.log,
    accessLog: true,
    isKnownService: (s) => s === 'payments',
  };
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const ex = new Exchange(req, res, sink, performance.now());
    ex.trace = continueTrace(req.headers);
    script(ex, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.close();
  await telemetry.tracing.shutdown();
  await metrics.shutdown();
});
beforeEach(() => {
  exporter.reset();
  mem.lines.length = 0;
  telemetry.accessLog = true;
});

function send(path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    r.on('error', reject);
    r.end();
  });
}

async function spans(n: number) {
  await telemetry.tracing.forceFlush();
  const got = exporter.getFinishedSpans();
  expect(got).toHaveLength(n);
  return got;
}

const answer200: Script = (ex, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  ex.status = 200;
  res.end('ok');
  ex.end(undefined);
};

const PARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('hop telemetry', () => {
  it('inbound: a SERVER span parented on the caller, semconv + dyeline attributes, a log line with the same ids', async () => {
    direction = 'inbound';
    script = (ex, res) => {
      ex.color = 'canary';
      answer200(ex, res);
    };
    await send('/orders/42?token=secret', { traceparent: PARENT, host: 'orders.default.svc:8080', 'user-agent': 'test/1' });
    const [span] = await spans(1);
    expect(span!.kind).toBe(SpanKind.SERVER);
    expect(span!.name).toBe('GET');
    expect(span!.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(span!.attributes).toEqual({
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'dyeline.color': 'canary',
      'url.path': '/orders/42',
      'url.scheme': 'http',
      'server.address': 'orders.default.svc',
      'server.port': 8080,
      'client.address': '127.0.0.1',
      'network.protocol.version': '1.1',
      'user_agent.original': 'test/1',
      'dyeline.served_color': 'canary',
      'dyeline.upstream': 'orders',
      'dyeline.instance': POD_NAME,
    });
    const line = mem.lines.find((l) => l.msg === 'request')!;
    expect(line).toMatchObject({ direction: 'inbound', method: 'GET', path: '/orders/42', status: 200, color: 'canary', served_color: 'canary', trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: span!.spanContext().spanId });
    expect(JSON.stringify(mem.lines)).not.toContain('secret');
  });

  it('outbound to a known service with a fallback: CLIENT span named after the service, fallback and served colour', async () => {
    direction = 'outbound';
    script = (ex, res) => {
      ex.color = 'canary';
      ex.service = 'payments';
      ex.endpointKey = '10.0.0.7:8080';
      ex.servedColor = 'stable';
      ex.fallback = 'no-instance';
      answer200(ex, res);
    };
    await send('/pay?card=4111', { traceparent: PARENT, host: 'payments' });
    const [span] = await spans(1);
    expect(span!.kind).toBe(SpanKind.CLIENT);
    expect(span!.name).toBe('GET payments');
    expect(span!.attributes).toMatchObject({
      'server.address': '10.0.0.7',
      'server.port': 8080,
      'url.full': 'http://payments/pay',
      'dyeline.upstream': 'payments',
      'dyeline.instance': '10.0.0.7:8080',
      'dyeline.color': 'canary',
      'dyeline.served_color': 'stable',
      'dyeline.fallback': 'no-instance',
    });
    const text = await new Promise<string>((resolve) => {
      const fake = { writeHead() { return fake; }, setHeader() {}, end(s: string) { resolve(s); } };
      metrics.handle({ url: '/metrics', method: 'GET', headers: {} } as IncomingMessage, fake as unknown as ServerResponse);
    });
    const s = parsePrometheus(text);
    expect(find(s, 'dyeline_requests_total', { direction: 'outbound', upstream: 'payments', color: 'canary', served_color: 'stable', fallback: 'no-instance', code: '200' })[0]?.value).toBe(1);
    expect(find(s, 'dyeline_request_duration_seconds_count', { direction: 'outbound', upstream: 'payments', served_color: 'stable' })[0]?.value).toBe(1);
  });

  it('outbound pass-through: metrics label passthrough, span named by method only', async () => {
    direction = 'outbound';
    script = (ex, res) => {
      ex.service = 'example.com';
      ex.endpointKey = 'example.com:80';
      answer200(ex, res);
    };
    await send('/', { host: 'example.com' });
    const [span] = await spans(1);
    expect(span!.name).toBe('GET');
    expect(span!.parentSpanContext).toBeUndefined();
    expect(span!.attributes['dyeline.upstream']).toBe('example.com');
    expect(span!.attributes['dyeline.served_color']).toBeUndefined();
  });

  it('an agent error: status ERROR, error.type is the x-dyeline-error code', async () => {
    direction = 'outbound';
    script = (ex) => {
      ex.service = 'payments';
      ex.endpointKey = '10.0.0.8:8080';
      ex.end(new DyelineError(ErrorCode.Connect, 'cannot connect to 10.0.0.8:8080'));
    };
    const res = await send('/', { host: 'payments' });
    expect(res.status).toBe(502);
    const [span] = await spans(1);
    expect(span!.status).toEqual({ code: 2, message: 'cannot connect to 10.0.0.8:8080' });
    expect(span!.attributes).toMatchObject({ 'error.type': 'connect-failure', 'http.response.status_code': 502 });
    expect(mem.lines.find((l) => l.msg === 'request')).toMatchObject({ status: 502, error: 'connect-failure' });
  });

  it('not sampled: no span, still a log line; access log off: no line', async () => {
    direction = 'inbound';
    script = answer200;
    await send('/', { traceparent: PARENT.replace(/-01$/, '-00') });
    await spans(0);
    expect(mem.lines.filter((l) => l.msg === 'request')).toHaveLength(1);
    telemetry.accessLog = false;
    await send('/', {});
    await spans(1);
    expect(mem.lines.filter((l) => l.msg === 'request')).toHaveLength(1);
  });

  it('pathOf keeps the path only', () => {
    expect(pathOf('/a/b?x=1')).toBe('/a/b');
    expect(pathOf('/a#f')).toBe('/a');
    expect(pathOf('http://orders:8080/a/b?q')).toBe('/a/b');
    expect(pathOf('http://orders')).toBe('/');
    expect(pathOf('/plain')).toBe('/plain');
  });
});
