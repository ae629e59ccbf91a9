import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSpanId, newTraceId } from '../../../../agent/propagation/ids.ts';
import { SpanKind } from '../../../../shared/telemetry/span.ts';
import { createTracing, type Tracing } from '../../../../shared/telemetry/tracing.ts';
import { memoryLog } from '../../../support/memory-log.ts';
import { OtlpSpanKind, type OtlpReceiver, startOtlpReceiver } from '../../../support/otlp-receiver.ts';
import { waitFor } from '../../../support/wait.ts';

let receiver: OtlpReceiver;
const started: Tracing[] = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await Promise.allSettled(started.map((t) => t.shutdown()));
  await receiver.close();
});

function tracing(env: NodeJS.ProcessEnv, name = 'orders') {
  const mem = memoryLog();
  const t = createTracing({ defaultServiceName: name, log: mem.log, env, resourceAttributes: { 'dyeline.color': 'canary' }, failureLogIntervalMs: 60_000 });
  started.push(t);
  return { t, ...mem };
}

function hop(t: Tracing, traceId: string, parent: string | undefined, name = 'GET', kind: SpanKind = SpanKind.SERVER) {
  const spanId = newSpanId();
  const start = performance.now();
  t.end({ name, kind, traceId, spanId, parentSpanId: parent, startMs: start, endMs: start + 12.5, error: false, attributes: ['http.request.method', 'GET', 'http.response.status_code', 200, 'dyeline.color', 'canary'] });
  return spanId;
}

describe('tracing to an OTLP/HTTP receiver', () => {
  for (const protocol of ['http/protobuf', 'http/json'] as const) {
    it(`exports finished hop spans with ids, parents, kind, attributes and resource (${protocol})`, async () => {
      const { t, lines } = tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_BSP_SCHEDULE_DELAY: '20' }, `svc-${protocol.slice(5)}`);
      expect(t.enabled).toBe(true);
      expect(lines.find((l) => l.msg === 'tracing on')).toMatchObject({ protocol, endpoint: `${receiver.endpoint}/v1/traces`, sampler: 'parentbased_always_on' });
      const traceId = newTraceId();
      const server = hop(t, traceId, 'aaaaaaaaaaaaaaaa');
      const client = hop(t, traceId, server, 'GET payments', SpanKind.CLIENT);
      const got = await receiver.waitForTrace(traceId, 2);
      const s = got.find((x) => x.spanId === server)!;
      const c = got.find((x) => x.spanId === client)!;
      const encoding = protocol === 'http/json' ? 'json' : 'protobuf';
      expect(s).toMatchObject({ parentSpanId: 'aaaaaaaaaaaaaaaa', kind: OtlpSpanKind.SERVER, name: 'GET', serviceName: `svc-${protocol.slice(5)}`, scope: 'dyeline', encoding, statusCode: 0 });
      expect(c).toMatchObject({ parentSpanId: server, kind: OtlpSpanKind.CLIENT, name: 'GET payments' });
      expect(s.attributes).toEqual({ 'http.request.method': 'GET', 'http.response.status_code': 200, 'dyeline.color': 'canary' });
      expect(s.resource).toMatchObject({ 'dyeline.color': 'canary', 'telemetry.sdk.language': 'nodejs' });
      const durationNs = BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano);
      expect(Number(durationNs)).toBeGreaterThan(12_400_000);
      expect(Number(durationNs)).toBeLessThan(12_600_000);
      const startMs = Number(BigInt(s.startTimeUnixNano) / 1_000_000n);
      expect(Math.abs(startMs - Date.now())).toBeLessThan(60_000);
    });
  }

  it('gzip-compressed exports (OTEL_EXPORTER_OTLP_COMPRESSION=gzip) arrive too', async () => {
    const prev = process.env.OTEL_EXPORTER_OTLP_COMPRESSION;
    process.env.OTEL_EXPORTER_OTLP_COMPRESSION = 'gzip'; // read by the exporter itself, from the process environment
    try {
      const { t } = tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '20' });
      const traceId = newTraceId();
      hop(t, traceId, undefined);
      await receiver.waitForTrace(traceId, 1);
      expect(receiver.requests.some((r) => r.gzip && r.status === 200)).toBe(true);
    } finally {
      if (prev === undefined) delete process.env.OTEL_EXPORTER_OTLP_COMPRESSION;
      else process.env.OTEL_EXPORTER_OTLP_COMPRESSION = prev;
    }
  });

  it('a root span has no parent; an error span carries status ERROR and its message', async () => {
    const { t } = tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '20' });
    const traceId = newTraceId();
    const now = performance.now();
    t.end({ name: 'GET', kind: SpanKind.CLIENT, traceId, spanId: newSpanId(), parentSpanId: undefined, startMs: now, endMs: now + 1, error: true, message: 'connect-failure', attributes: ['error.type', 'connect-failure'] });
    const [span] = await receiver.waitForTrace(traceId, 1);
    expect(span).toMatchObject({ parentSpanId: '', statusCode: 2, statusMessage: 'connect-failure', attributes: { 'error.type': 'connect-failure' } });
  });

  it('OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES reach the resource', async () => {
    const { t } = tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '20', OTEL_SERVICE_NAME: 'renamed', OTEL_RESOURCE_ATTRIBUTES: 'k8s.pod.name=orders-7f,dyeline.color=blue' });
    const traceId = newTraceId();
    hop(t, traceId, undefined);
    const [span] = await receiver.waitForTrace(traceId, 1);
    expect(span!.serviceName).toBe('renamed');
    expect(span!.resource).toMatchObject({ 'k8s.pod.name': 'orders-7f', 'dyeline.color': 'blue' });
  });

  it('off (no endpoint, exporter none, SDK disabled): nothing is recorded and end() costs nothing', async () => {
    for (const env of [{}, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_TRACES_EXPORTER: 'none' }, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_SDK_DISABLED: 'true' }]) {
      const { t, lines } = tracing(env);
      expect(t.enabled).toBe(false);
      expect(lines.find((l) => l.msg === 'tracing off')?.reason).toBeTruthy();
      const traceId = newTraceId();
      hop(t, traceId, undefined);
      await t.forceFlush();
      expect(receiver.spans.some((s) => s.traceId === traceId)).toBe(false);
    }
  });

  it('export failures never throw; they are counted and logged at most once per interval', async () => {
    const { t, lines } = tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '10', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1' });
    receiver.failNext(5, 400);
    const traceIds = Array.from({ length: 5 }, () => newTraceId());
    for (const id of traceIds) expect(() => hop(t, id, undefined)).not.toThrow();
    await t.forceFlush();
    await waitFor(() => t.failures.exportFailures >= 5, { timeoutMs: 10_000, what: '5 export failures counted' });
    expect(t.failures).toMatchObject({ exportFailures: 5, spansLost: 5 });
    const warnings = lines.filter((l) => String(l.msg).startsWith('telemetry:'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/traffic is not affected/);
    // After the collector recovers, spans flow again.
    const traceId = newTraceId();
    hop(t, traceId, undefined);
    await receiver.waitForTrace(traceId, 1);
  });

  it('a collector that is down costs nothing on the caller side (no throw, no wait)', async () => {
    const { t } = tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_BSP_SCHEDULE_DELAY: '10', OTEL_EXPORTER_OTLP_TIMEOUT: '500' });
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) hop(t, newTraceId(), undefined);
    expect(performance.now() - t0).toBeLessThan(500);
    await waitFor(() => t.failures.exportFailures >= 1, { timeoutMs: 15_000, what: 'a failure counted' });
  });

  it('the queue is bounded: spans beyond OTEL_BSP_MAX_QUEUE_SIZE are dropped, not held', async () => {
    const { t } = tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '600000', OTEL_BSP_MAX_QUEUE_SIZE: '10', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1000' });
    const traceId = newTraceId();
    for (let i = 0; i < 100; i++) hop(t, traceId, undefined);
    await t.forceFlush();
    // One batch of 10 left as soon as it was full; the next 10 waited in the queue; the rest were dropped.
    const got = await receiver.waitForTrace(traceId, 10);
    expect(got.length).toBeLessThanOrEqual(20);
  });
});
