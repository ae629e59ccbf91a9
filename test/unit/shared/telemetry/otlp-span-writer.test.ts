/**
 * The span encoding of the OTLP/protobuf pipeline (shared/telemetry/otlp-span-writer.ts) is the
 * OpenTelemetry SDK's, byte for byte: the same spans as HopSpan objects through the SDK's
 * ProtobufTraceSerializer give the same request. And the batcher keeps the batch processor's
 * contract (batch size, delay, queue bound, one export at a time, flush).
 */
import type { Attributes } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { FailureReporter } from '../../../../shared/telemetry/failures.ts';
import { ProtoWriter, readPartialSuccess, RequestFrame, writeSpan } from '../../../../shared/telemetry/otlp-span-writer.ts';
import { type BatchExporter, SpanBatcher } from '../../../../shared/telemetry/span-batcher.ts';
import { attributeList, DYELINE_SCOPE, HopSpan, type HopSpanInit, SpanKind } from '../../../../shared/telemetry/span.ts';
import { waitFor } from '../../../support/wait.ts';

const resource = resourceFromAttributes({ 'service.name': 'orders', 'dyeline.lane': 'canary', 'host.count': 3, ok: true, 'é': 'ünïcode' });

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const hex = (rand: () => number, bytes: number): string =>
  Array.from({ length: bytes }, () =>
    Math.floor(rand() * 256)
      .toString(16)
      .padStart(2, '0'),
  ).join('');

/** A span as a hop would end it, with attributes of every kind the SDK encodes. */
function spanInit(rand: () => number, i: number): HopSpanInit {
  const start = 1000 + rand() * 1e7;
  const attributes: Attributes = {
    'http.request.method': 'GET',
    'http.response.status_code': [200, 503, 0][i % 3],
    'url.full': i % 5 === 0 ? `http://orders/${'long-path/'.repeat(20)}?q=${i}` : `http://orders/x/${i}`,
    'dyeline.color': i % 2 === 0 ? 'canary' : '',
    'server.port': 8080,
    'big.int': 2 ** 40 + i,
    negative: -i - 1,
    ratio: 0.25 + i,
    flag: i % 2 === 0,
    'non.ascii': 'grüße — 色',
    list: ['a', 'b', String(i)],
    numbers: [1, 2.5, -3],
  };
  if (i % 7 === 0) for (let k = 0; k < 400; k++) attributes[`extra.${k}`] = `value-${k}`; // a span over 16 KiB: a 3-byte length
  const error = i % 4 === 1;
  return {
    name: i % 2 === 0 ? 'GET orders' : 'inbound',
    kind: [SpanKind.SERVER, SpanKind.CLIENT, SpanKind.INTERNAL][i % 3]!,
    traceId: hex(rand, 16),
    spanId: hex(rand, 8),
    parentSpanId: i % 3 === 0 ? undefined : hex(rand, 8),
    startMs: start,
    endMs: start + rand() * 5000,
    error,
    message: error && i % 8 === 1 ? 'upstream did not answer within 250 ms' : undefined,
    attributes: attributeList(attributes),
  };
}

describe('OTLP/protobuf span encoding', () => {
  it('writes the bytes the SDK serializer writes for the same spans (1, 3 and 700 spans, grown buffers included)', () => {
    const rand = seeded(7);
    for (const n of [1, 3, 700]) {
      const inits = Array.from({ length: n }, (_, i) => spanInit(rand, i));
      const frame = new RequestFrame(resource, DYELINE_SCOPE);
      const w = frame.batch(256); // small: the batch grows while spans are written
      for (const s of inits) writeSpan(w, s);
      const ours = Buffer.from(frame.request(w));
      const sdk = Buffer.from(ProtobufTraceSerializer.serializeRequest(inits.map((s) => new HopSpan(s, resource)))!);
      expect(ours.length).toBe(sdk.length);
      expect(ours.equals(sdk)).toBe(true);
    }
  });

  it('a resource with a schema URL and a scope with a version frame the request as the SDK does', () => {
    const withSchema = resourceFromAttributes({ 'service.name': 'x' }, { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });
    const scope = { name: 'dyeline', version: '1.2.3' };
    const init = spanInit(seeded(3), 2);
    const frame = new RequestFrame(withSchema, scope);
    const w = frame.batch(1024);
    writeSpan(w, init);
    const span = Object.assign(new HopSpan(init, withSchema), { instrumentationScope: scope });
    expect(Buffer.from(frame.request(w)).equals(Buffer.from(ProtobufTraceSerializer.serializeRequest([span])!))).toBe(true);
  });

  it('reads a partial success from an export response as the SDK does; garbage is no partial success', () => {
    const w = new ProtoWriter(64);
    w.tag(1, 2);
    const at = w.begin();
    w.tag(1, 0);
    w.varint(42);
    w.tag(2, 2);
    w.string('some spans were rejected');
    w.end(at);
    const bytes = w.buf.subarray(0, w.pos);
    expect(readPartialSuccess(bytes)).toEqual({ partialSuccess: { rejectedSpans: 42, errorMessage: 'some spans were rejected' } });
    const sdk = ProtobufTraceSerializer.deserializeResponse(bytes) as { partialSuccess?: { rejectedSpans?: unknown; errorMessage?: string } };
    expect(Number(sdk.partialSuccess?.rejectedSpans)).toBe(42);
    expect(sdk.partialSuccess?.errorMessage).toBe('some spans were rejected');
    expect(readPartialSuccess(new Uint8Array([0x0a, 0xff]))).toEqual({});
    expect(readPartialSuccess(new Uint8Array())).toEqual({});
  });
});

/** An exporter that records requests and answers when told. */
function recordingExporter() {
  const requests: { request: { bytes: Buffer; count: number }; done: (r: ExportResult) => void }[] = [];
  const exporter: BatchExporter = {
    export: (request, done) => requests.push({ request: { bytes: Buffer.from(request.bytes), count: request.count }, done }),
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  return { exporter, requests };
}

const batch = { maxQueueSize: 10, maxExportBatchSize: 4, scheduledDelayMillis: 50, exportTimeoutMillis: 30_000 };

describe('SpanBatcher', () => {
  it('sends a batch when it is full, one export at a time; the rest waits, bounded by the queue; drops are counted', async () => {
    const { exporter, requests } = recordingExporter();
    const failures = new FailureReporter(pino({ level: 'silent' }));
    const b = new SpanBatcher({ exporter, resource, settings: batch, failures });
    const rand = seeded(11);
    const inits = Array.from({ length: 14 }, (_, i) => spanInit(rand, i + 1));
    for (const s of inits) b.end(s);
    // 4 sent, 6 more queued (10 in all), 4 dropped.
    expect(requests.map((r) => r.request.count)).toEqual([4]);
    const sdkOf = (xs: HopSpanInit[]) => Buffer.from(ProtobufTraceSerializer.serializeRequest(xs.map((s) => new HopSpan(s, resource)))!);
    expect(requests[0]!.request.bytes.equals(sdkOf(inits.slice(0, 4)))).toBe(true);
    requests[0]!.done({ code: ExportResultCode.SUCCESS });
    await new Promise((r) => setImmediate(r));
    expect(requests.map((r) => r.request.count)).toEqual([4, 4]);
    expect(requests[1]!.request.bytes.equals(sdkOf(inits.slice(4, 8)))).toBe(true);
    requests[1]!.done({ code: ExportResultCode.FAILED, error: new Error('collector down') });
    await new Promise((r) => setImmediate(r));
    expect(failures.exportFailures).toBe(1);
    expect(failures.spansLost).toBe(4);
    // The two left go after the delay, in a reused buffer.
    await new Promise((r) => setTimeout(r, 120));
    expect(requests.map((r) => r.request.count)).toEqual([4, 4, 2]);
    expect(requests[2]!.request.bytes.equals(sdkOf(inits.slice(8, 10)))).toBe(true);
    requests[2]!.done({ code: ExportResultCode.SUCCESS });
    await b.shutdown();
  });

  it('forceFlush sends what is open and waits for it; after shutdown spans are ignored', async () => {
    const { exporter, requests } = recordingExporter();
    const b = new SpanBatcher({ exporter, resource, settings: { ...batch, scheduledDelayMillis: 60_000 }, failures: new FailureReporter(pino({ level: 'silent' })) });
    b.end(spanInit(seeded(5), 1));
    expect(requests).toHaveLength(0);
    let flushed = false;
    const f = b.forceFlush().then(() => (flushed = true));
    await new Promise((r) => setImmediate(r));
    expect(requests.map((r) => r.request.count)).toEqual([1]);
    expect(flushed).toBe(false);
    requests[0]!.done({ code: ExportResultCode.SUCCESS });
    await f;
    await b.shutdown();
    b.end(spanInit(seeded(5), 2));
    await b.forceFlush();
    expect(requests).toHaveLength(1);
  });

  it('an export that never answers is given up after exportTimeoutMillis, and the next batch goes', async () => {
    const counts: number[] = [];
    const first: ((r: ExportResult) => void)[] = [];
    // The first export never answers (until much later); the next ones answer at once.
    const exporter: BatchExporter = {
      export: (request, done) => {
        counts.push(request.count);
        if (counts.length === 1) first.push(done);
        else setImmediate(done, { code: ExportResultCode.SUCCESS });
      },
      forceFlush: async () => {},
      shutdown: async () => {},
    };
    const failures = new FailureReporter(pino({ level: 'silent' }));
    const b = new SpanBatcher({ exporter, resource, settings: { ...batch, exportTimeoutMillis: 50 }, failures });
    const rand = seeded(9);
    for (let i = 0; i < 8; i++) b.end(spanInit(rand, i));
    expect(counts).toEqual([4]);
    await waitFor(() => counts.length === 2, { timeoutMs: 2000, what: 'the next batch after the timeout' });
    expect(failures.exportFailures).toBe(1);
    await b.forceFlush();
    first[0]!({ code: ExportResultCode.SUCCESS }); // late: ignored
    await b.shutdown();
    expect(counts).toEqual([4, 4]);
    expect(failures.exportFailures).toBe(1);
  });
});
