/**
 * A test OTLP/HTTP trace receiver (what Jaeger or a collector listens to on :4318): `POST
 * /v1/traces` with an ExportTraceServiceRequest as protobuf (`application/x-protobuf`) or JSON
 * (`application/json`), gzip or not. It decodes both into the same flat ReceivedSpan records
 * (hex ids, attributes as plain values, the resource's service.name) and lets tests wait for
 * them. The protobuf schema is the subset of opentelemetry-proto's trace.proto the exporters
 * write, decoded with protobufjs (already in node_modules through the OTel/gRPC packages).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { waitFor } from './wait.ts';

/** opentelemetry-proto (v1) trace service request, as the exporters send it. */
const TRACE_PROTO = `
syntax = "proto3";
package opentelemetry.proto;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; fixed32 flags = 16;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10;
  repeated Event events = 11; uint32 dropped_events_count = 12;
  repeated Link links = 13; uint32 dropped_links_count = 14; Status status = 15;
}
message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Link { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; repeated KeyValue attributes = 4; uint32 dropped_attributes_count = 5; fixed32 flags = 6; }
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
                ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7; }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
`;

const ExportTraceServiceRequest = protobuf.parse(TRACE_PROTO, { keepCase: false }).root.lookupType('opentelemetry.proto.ExportTraceServiceRequest');

/** OTLP span kinds (proto enum values). */
export const OtlpSpanKind = { UNSPECIFIED: 0, INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;

/** An attribute value as a plain JS value. */
export type AttrValue = string | number | boolean | null | AttrValue[] | { [k: string]: AttrValue };

/** One received span, flattened. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OtlpSpanKind value. */
  kind: number;
  /** Nanoseconds since the epoch, as a decimal string. */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, AttrValue>;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  statusMessage: string;
  /** service.name of the span's resource. */
  serviceName: string;
  resource: Record<string, AttrValue>;
  scope: string;
  /** How the request carrying it was encoded. */
  encoding: 'protobuf' | 'json';
}

/** One export request as it arrived. */
export interface ReceivedRequest {
  encoding: 'protobuf' | 'json';
  contentType: string;
  gzip: boolean;
  spans: number;
  status: number;
}

/** A running receiver. */
export interface OtlpReceiver {
  /** `http://127.0.0.1:PORT`: the value for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly endpoint: string;
  readonly spans: ReceivedSpan[];
  readonly requests: ReceivedRequest[];
  /** Answers the next `count` export requests with `status` (e.g. 503) instead of accepting them. */
  failNext(count: number, status?: number): void;
  /** Waits until `count` spans match `pred` (default: any span); returns them in arrival order. */
  waitForSpans(pred?: (s: ReceivedSpan) => boolean, count?: number, timeoutMs?: number): Promise<ReceivedSpan[]>;
  /** Waits until trace `traceId` has at least `count` spans. */
  waitForTrace(traceId: string, count: number, timeoutMs?: number): Promise<ReceivedSpan[]>;
  /** Forgets what was received. */
  clear(): void;
  close(): Promise<void>;
}

interface PbAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: PbAnyValue[] };
  kvlistValue?: { values?: PbKeyValue[] };
  bytesValue?: Uint8Array | string;
}
interface PbKeyValue {
  key: string;
  value?: PbAnyValue;
}
interface PbSpan {
  traceId?: Uint8Array | string;
  spanId?: Uint8Array | string;
  parentSpanId?: Uint8Array | string;
  name?: string;
  kind?: number | string;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: PbKeyValue[];
  status?: { code?: number | string; message?: string };
}
interface PbRequest {
  resourceSpans?: {
    resource?: { attributes?: PbKeyValue[] };
    scopeSpans?: { scope?: { name?: string }; spans?: PbSpan[] }[];
  }[];
}

const HEX_ID = /^[0-9a-fA-F]*$/;
const KIND_NAMES: Record<string, number> = { SPAN_KIND_UNSPECIFIED: 0, SPAN_KIND_INTERNAL: 1, SPAN_KIND_SERVER: 2, SPAN_KIND_CLIENT: 3, SPAN_KIND_PRODUCER: 4, SPAN_KIND_CONSUMER: 5 };

/** An id as lowercase hex: bytes (protobuf), hex (OTLP/JSON) or base64 (some JSON encoders). */
function hexId(v: Uint8Array | string | undefined, bytes: number): string {
  if (v === undefined) return '';
  if (typeof v !== 'string') return Buffer.from(v).toString('hex');
  if (v.length === bytes * 2 && HEX_ID.test(v)) return v.toLowerCase();
  return Buffer.from(v, 'base64').toString('hex');
}

function anyValue(v: PbAnyValue | undefined): AttrValue {
  if (v === undefined) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(anyValue);
  if (v.kvlistValue !== undefined) return attributes(v.kvlistValue.values);
  if (v.bytesValue !== undefined) return typeof v.bytesValue === 'string' ? v.bytesValue : Buffer.from(v.bytesValue).toString('base64');
  return null;
}

function attributes(kvs: PbKeyValue[] | undefined): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of kvs ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

function flatten(req: PbRequest, encoding: 'protobuf' | 'json'): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of req.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: hexId(s.traceId, 16),
          spanId: hexId(s.spanId, 8),
          parentSpanId: hexId(s.parentSpanId, 8),
          name: s.name ?? '',
          kind: typeof s.kind === 'string' ? (KIND_NAMES[s.kind] ?? 0) : (s.kind ?? 0),
          startTimeUnixNano: String(s.startTimeUnixNano ?? '0'),
          endTimeUnixNano: String(s.endTimeUnixNano ?? '0'),
          attributes: attributes(s.attributes),
          statusCode: Number(s.status?.code ?? 0) || 0,
          statusMessage: s.status?.message ?? '',
          serviceName: typeof resource['service.name'] === 'string' ? resource['service.name'] : '',
          resource,
          scope: ss.scope?.name ?? '',
          encoding,
        });
      }
    }
  }
  return out;
}

/** Decodes an export request body (already gunzipped). */
export function decodeExportRequest(body: Buffer, contentType: string): { encoding: 'protobuf' | 'json'; spans: ReceivedSpan[] } {
  if (contentType.includes('json')) return { encoding: 'json', spans: flatten(JSON.parse(body.toString('utf8')) as PbRequest, 'json') };
  const msg = ExportTraceServiceRequest.decode(body);
  const obj = ExportTraceServiceRequest.toObject(msg, { longs: String, enums: Number, bytes: Array, defaults: false, arrays: true }) as PbRequest;
  // toObject with bytes: Array gives number[]; normalise to Uint8Array for hexId.
  for (const rs of obj.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        for (const k of ['traceId', 'spanId', 'parentSpanId'] as const) {
          const v = s[k] as unknown;
          if (Array.isArray(v)) s[k] = Uint8Array.from(v as number[]);
        }
      }
    }
  }
  return { encoding: 'protobuf', spans: flatten(obj, 'protobuf') };
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Starts a receiver on 127.0.0.1:0. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: ReceivedRequest[] = [];
  let failures = 0;
  let failStatus = 503;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    const contentType = String(req.headers['content-type'] ?? '');
    const gzip = req.headers['content-encoding'] === 'gzip';
    const encoding = contentType.includes('json') ? 'json' : 'protobuf';
    let raw: Buffer;
    try {
      raw = await readBody(req, 64 * 1024 * 1024);
    } catch {
      res.writeHead(413).end();
      return;
    }
    if (failures > 0) {
      failures--;
      requests.push({ encoding, contentType, gzip, spans: 0, status: failStatus });
      res.writeHead(failStatus, { 'content-type': 'text/plain' }).end('failing on purpose');
      return;
    }
    let decoded: ReturnType<typeof decodeExportRequest>;
    try {
      decoded = decodeExportRequest(gzip ? gunzipSync(raw) : raw, contentType);
    } catch (err) {
      requests.push({ encoding, contentType, gzip, spans: 0, status: 400 });
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`cannot decode: ${(err as Error).message}`);
      return;
    }
    spans.push(...decoded.spans);
    requests.push({ encoding, contentType, gzip, spans: decoded.spans.length, status: 200 });
    if (encoding === 'json') res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  };

  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const receiver: OtlpReceiver = {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    requests,
    failNext(count, status = 503) {
      failures = count;
      failStatus = status;
    },
    waitForSpans(pred = () => true, count = 1, timeoutMs = 15_000) {
      return waitFor(
        () => {
          const found = spans.filter(pred);
          return found.length >= count ? found : undefined;
        },
        { timeoutMs, what: `${count} span(s) at the OTLP receiver (have ${spans.length})` },
      );
    },
    waitForTrace(traceId, count, timeoutMs) {
      return receiver.waitForSpans((s) => s.traceId === traceId, count, timeoutMs);
    },
    clear() {
      spans.length = 0;
      requests.length = 0;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return receiver;
}
