/**
 * Micro-benchmark: the CPU cost of each telemetry piece of one finished hop, in isolation
 * (no network): the request metrics, building and queueing the span (exporter discarding), encoding
 * it into its batch as the default OTLP/protobuf path does,
 * serialising a batch of spans to OTLP protobuf and JSON (off the request path, but on the
 * same thread), and one access log line through pino (to /dev/null, async).
 *
 *   node test/bench/telemetry-micro.ts
 */
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { ProtobufTraceSerializer, JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { pino } from 'pino';
import { newSpanId, newTraceId } from '../../agent/propagation/ids.ts';
import { createAgentMetrics } from '../../agent/telemetry/metrics.ts';
import { REDACT_PATHS } from '../../shared/log.ts';
import { createMetrics } from '../../shared/metrics.ts';
import { type AttributeList, HopSpan, SpanKind } from '../../shared/telemetry/span.ts';
import { FailureReporter } from '../../shared/telemetry/failures.ts';
import { type BatchExporter, SpanBatcher } from '../../shared/telemetry/span-batcher.ts';
import { createTracing } from '../../shared/telemetry/tracing.ts';
import { machine } from './machine.ts';

function bench(name: string, n: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 20_000); i++) fn(i);
  const t = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  const ns = ((performance.now() - t) * 1e6) / n;
  console.log(`${name.padEnd(58)} ${ns.toFixed(0).padStart(6)} ns`);
  return ns;
}

console.log(`machine: ${machine()}\n`);
const silent = pino({ level: 'silent' });
const m = createMetrics('bench');
const am = createAgentMetrics(m);
bench('metrics: request() (counter + histogram, existing series)', 1_000_000, (i) => am.request('outbound', 'orders', 'canary', 'canary', 200, '', (i % 100) / 1000));

const discard: SpanExporter = { export: (_s, cb) => cb({ code: 0 }), shutdown: async () => {} };
const tracing = createTracing({ defaultServiceName: 'bench', log: silent, exporter: discard, env: { OTEL_BSP_MAX_QUEUE_SIZE: '100000', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '512' } });
const traceId = newTraceId();
// As a hop builds them (agent/telemetry/hop.ts): a flat list, one push at a time.
const attrs = (): AttributeList => {
  const a: AttributeList = ['http.request.method', 'GET'];
  a.push('http.response.status_code', 200, 'dyeline.color', 'canary', 'server.address', '10.0.0.7', 'server.port', 8080);
  a.push('url.full', 'http://orders/bench', 'dyeline.upstream', 'orders', 'dyeline.served_color', 'canary', 'dyeline.instance', 'orders-canary-1');
  return a;
};
const span = () => ({ name: 'GET orders', kind: SpanKind.CLIENT, traceId, spanId: newSpanId(), parentSpanId: 'b7ad6b7169203331', startMs: 1, endMs: 2, error: false, attributes: attrs() });

/** ns per span of `end`, in chunks of 1,000 with the event loop turning in between (batches export as they fill). */
async function perSpan(name: string, end: (s: ReturnType<typeof span>) => void, note = ''): Promise<void> {
  let spent = 0;
  for (let c = 0; c < 300; c++) {
    const t = performance.now();
    for (let i = 0; i < 1000; i++) end(span());
    if (c >= 20) spent += performance.now() - t;
    await new Promise((r) => setImmediate(r));
  }
  console.log(`${name.padEnd(58)} ${((spent * 1e6) / 280_000).toFixed(0).padStart(6)} ns${note}`);
}

await perSpan('span: ids + attributes + HopSpan + batch processor onEnd', (s) => tracing.end(s));

// The OTLP/protobuf path (the default): each span encoded into its batch as it ends.
{
  const discardRequests: BatchExporter = { export: (_r, done) => done({ code: 0 }), forceFlush: async () => {}, shutdown: async () => {} };
  const settings = { maxQueueSize: 100_000, maxExportBatchSize: 512, scheduledDelayMillis: 5000, exportTimeoutMillis: 30_000 };
  const batcher = new SpanBatcher({ exporter: discardRequests, resource: tracing.resource, settings, failures: new FailureReporter(silent) });
  await perSpan('span: ids + attributes + encoded into its batch (protobuf)', (s) => batcher.end(s), '  (serialisation included)');
  await batcher.shutdown();
}

const batch: ReadableSpan[] = Array.from({ length: 512 }, () => new HopSpan(span(), tracing.resource));
const pb = bench('export: OTLP protobuf serialisation, one batch of 512 spans', 200, () => ProtobufTraceSerializer.serializeRequest(batch)) / 512;
const js = bench('export: OTLP JSON serialisation, one batch of 512 spans', 200, () => JsonTraceSerializer.serializeRequest(batch)) / 512;
console.log(`${''.padEnd(58)} → protobuf ${pb.toFixed(0)} ns, JSON ${js.toFixed(0)} ns per span`);

const log = pino({ level: 'info', base: { pid: 1, component: 'agent', service: 'orders', lane: 'stable' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (l) => ({ level: l }) } }, pino.destination({ dest: '/dev/null', sync: false }));
bench('access log: one pino line (redaction on) to /dev/null, async', 200_000, () =>
  log.info({ direction: 'outbound', method: 'GET', path: '/bench', upstream: 'orders', endpoint: '10.0.0.7:8080', status: 200, color: 'canary', served_color: 'canary', fallback: '', trace_id: traceId, span_id: 'b7ad6b7169203331', ms: 1.23 }, 'request'));
await tracing.shutdown();
await m.shutdown();
