/**
 * OTLP/protobuf encoding of finished hop spans, written straight from what a hop knows when it
 * ends (HopSpanInit) into a batch buffer (docs/telemetry.md#span-export): no span object, no
 * attribute copies and no intermediate OTLP objects are kept until the batch is sent, so the
 * young generation never carries a queue of spans. The bytes are those of the OpenTelemetry
 * SDK's own protobuf serializer for the same span (field order, minimal varints, the fields it
 * always writes) — `test/unit/shared/telemetry/otlp-span-writer.test.ts` compares them.
 *
 * A batch is one `ExportTraceServiceRequest` with one ResourceSpans (this process's resource) and
 * one ScopeSpans (dyeline): its header is written in front of the spans when the batch is sent,
 * into room kept free at the start of the buffer, so sending copies nothing.
 */
import type { AttributeValue, Attributes } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { type AttributeList, type HopSpanInit, splitTime } from './span.ts';

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

/** OTLP span flags: the W3C sampled flag, and whether the parent's context was remote (known: always). */
const SAMPLED = 0x01;
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

const TWO_32 = 4294967296;
/** Scratch for the seconds and nanoseconds of a time being written (no allocation per span). */
const TIME: [number, number] = [0, 0];

/** A growable buffer of protobuf fields. */
export class ProtoWriter {
  buf: Buffer;
  pos: number;

  constructor(size: number, start = 0) {
    this.buf = Buffer.allocUnsafe(size);
    this.pos = start;
  }

  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  tag(field: number, wire: number): void {
    const t = (field << 3) | wire;
    if (t < 128) {
      // Every tag of a span (fields 1-16) is one byte: no varint loop.
      this.ensure(1);
      this.buf[this.pos++] = t;
      return;
    }
    this.varint(t);
  }

  /** A non-negative integer below 2^32, or any safe integer (negative: ten bytes, two's complement). */
  varint(value: number): void {
    this.ensure(10);
    const b = this.buf;
    if (value >= 0 && value < TWO_32) {
      let v = value >>> 0;
      while (v > 127) {
        b[this.pos++] = (v & 127) | 128;
        v >>>= 7;
      }
      b[this.pos++] = v;
      return;
    }
    let lo: number;
    let hi: number;
    if (value >= 0) {
      lo = value >>> 0;
      hi = (value / TWO_32) >>> 0;
    } else {
      const abs = -value;
      lo = ~(abs >>> 0) >>> 0;
      hi = ~((abs / TWO_32) >>> 0) >>> 0;
      lo = (lo + 1) >>> 0;
      if (lo === 0) hi = (hi + 1) >>> 0;
    }
    while (hi > 0 || lo > 127) {
      b[this.pos++] = (lo & 127) | 128;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    b[this.pos++] = lo & 127;
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
  }

  /** `ms` after performance.timeOrigin as Unix nanoseconds (fixed64, exact: no BigInt). */
  nanos(ms: number): void {
    splitTime(ms, TIME);
    const s = TIME[0];
    const ns = TIME[1];
    // s × 1e9 + ns, with s split in its low 16 bits and the rest so every product stays exact.
    const fromLow = (s & 0xffff) * 1e9;
    const fromHigh = ((s / 65536) >>> 0) * 1e9;
    const low = (fromLow >>> 0) + ((fromHigh & 0xffff) * 65536 >>> 0) + ns;
    const high = Math.floor(fromLow / TWO_32) + ((fromHigh / 65536) >>> 0) + Math.floor(low / TWO_32);
    this.ensure(8);
    this.buf.writeUInt32LE(low >>> 0, this.pos);
    this.buf.writeUInt32LE(high >>> 0, this.pos + 4);
    this.pos += 8;
  }

  double(value: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** A length-delimited string (UTF-8). */
  string(s: string): void {
    const n = s.length;
    this.ensure(n * 3 + 5);
    if (n < 128) {
      // Short strings: one length byte, written in place when ASCII (the common case here).
      const b = this.buf;
      const at = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 127) break;
        b[at + i] = c;
      }
      if (i === n) {
        b[this.pos] = n;
        this.pos = at + n;
        return;
      }
    }
    const bytes = Buffer.byteLength(s);
    this.varint(bytes);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A length-delimited `bytes` field from a hex id (trace or span id). */
  hexBytes(hex: string): void {
    const n = hex.length >>> 1;
    this.ensure(n + 1);
    this.buf[this.pos++] = n;
    const k = this.buf.write(hex, this.pos, n, 'hex');
    if (k < n) this.buf.fill(0, this.pos + k, this.pos + n); // not hex: ids are checked where they enter, so never
    this.pos += n;
  }

  bytes(data: Uint8Array): void {
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  /** Starts a length-delimited message: one byte kept for its length (`end` makes more room if needed). */
  begin(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Ends the message begun at `at`: writes its length, moving its bytes when the length needs more than one byte. */
  end(at: number): void {
    const len = this.pos - at - 1;
    if (len < 128) {
      this.buf[at] = len;
      return;
    }
    let size = 2;
    while (len >= 2 ** (7 * size)) size++;
    this.ensure(size - 1);
    this.buf.copyWithin(at + size, at + 1, this.pos);
    this.pos += size - 1;
    let v = len;
    let p = at;
    while (v > 127) {
      this.buf[p++] = (v & 127) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[p] = v;
  }
}

function anyValue(w: ProtoWriter, value: AttributeValue | Uint8Array | Record<string, unknown>): void {
  const t = typeof value;
  if (t === 'string') {
    w.tag(1, LEN);
    w.string(value as string);
  } else if (t === 'boolean') {
    w.tag(2, VARINT);
    w.varint(value ? 1 : 0);
  } else if (t === 'number') {
    const n = value as number;
    if (Number.isInteger(n) && n >= -(2 ** 63) && n < 2 ** 63) {
      w.tag(3, VARINT);
      w.varint(n);
    } else {
      w.tag(4, FIXED64);
      w.double(n);
    }
  } else if (value instanceof Uint8Array) {
    w.tag(7, LEN);
    w.bytes(value);
  } else if (Array.isArray(value)) {
    w.tag(5, LEN);
    const arr = w.begin();
    for (const item of value) {
      w.tag(1, LEN);
      const at = w.begin();
      if (item !== null && item !== undefined) anyValue(w, item);
      w.end(at);
    }
    w.end(arr);
  } else if (t === 'object' && value !== null) {
    w.tag(6, LEN);
    const list = w.begin();
    keyValues(w, value as Record<string, AttributeValue>, 1);
    w.end(list);
  }
}

/** One KeyValue under `field`. */
function keyValue(w: ProtoWriter, field: number, key: string, value: unknown): void {
  w.tag(field, LEN);
  const kv = w.begin();
  w.tag(1, LEN);
  w.string(key);
  w.tag(2, LEN);
  const v = w.begin();
  if (value !== undefined && value !== null) anyValue(w, value as AttributeValue);
  w.end(v);
  w.end(kv);
}

/** Repeated KeyValue under `field`, in the object's own key order (the resource, kvlist values). */
function keyValues(w: ProtoWriter, attributes: Attributes | Record<string, unknown>, field: number): void {
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    keyValue(w, field, key, attributes[key]);
  }
}

/** Repeated KeyValue under `field` from a flat `[key, value, ...]` list, in its order. */
function listKeyValues(w: ProtoWriter, list: AttributeList, field: number): void {
  for (let i = 0; i + 1 < list.length; i += 2) keyValue(w, field, list[i] as string, list[i + 1]);
}

/** Appends one span as field 2 of ScopeSpans (`spans`). */
export function writeSpan(w: ProtoWriter, s: HopSpanInit): void {
  w.tag(2, LEN);
  const span = w.begin();
  w.tag(1, LEN);
  w.hexBytes(s.traceId);
  w.tag(2, LEN);
  w.hexBytes(s.spanId);
  if (s.parentSpanId !== undefined && s.parentSpanId !== '') {
    w.tag(4, LEN);
    w.hexBytes(s.parentSpanId);
  }
  w.tag(5, LEN);
  w.string(s.name);
  w.tag(6, VARINT);
  w.varint(s.kind + 1);
  w.tag(7, FIXED64);
  w.nanos(s.startMs);
  w.tag(8, FIXED64);
  w.nanos(s.endMs);
  listKeyValues(w, s.attributes, 9);
  w.tag(10, VARINT); // dropped attributes, events and links: none, written as the SDK does
  w.varint(0);
  w.tag(12, VARINT);
  w.varint(0);
  w.tag(14, VARINT);
  w.varint(0);
  w.tag(15, LEN);
  const status = w.begin();
  if (s.error && s.message !== undefined && s.message !== '') {
    w.tag(2, LEN);
    w.string(s.message);
  }
  w.tag(3, VARINT);
  w.varint(s.error ? 2 : 0);
  w.end(status);
  w.tag(16, FIXED32);
  w.fixed32(s.parentSpanId === undefined || s.parentSpanId === '' ? SAMPLED | HAS_IS_REMOTE : SAMPLED | HAS_IS_REMOTE | IS_REMOTE);
  w.end(span);
}

/** The fixed parts of every request of a process: its resource and the dyeline scope, encoded once. */
export class RequestFrame {
  /** `resource` (field 1 of ResourceSpans), tag included. */
  readonly #resource: Buffer;
  /** `scope` (field 1 of ScopeSpans), tag included. */
  readonly #scope: Buffer;
  /** The resource's schema URL (field 3 of ResourceSpans), tag included; empty when it has none. */
  readonly #schema: Buffer;
  /** Room a batch keeps in front of its spans for the header. */
  readonly headroom: number;

  constructor(resource: Resource, scope: InstrumentationScope) {
    const w = new ProtoWriter(1024);
    w.tag(1, LEN);
    const r = w.begin();
    keyValues(w, resource.attributes, 1);
    w.tag(2, VARINT);
    w.varint(0);
    w.end(r);
    this.#resource = Buffer.from(w.buf.subarray(0, w.pos));
    w.pos = 0;
    w.tag(1, LEN);
    const sc = w.begin();
    w.tag(1, LEN);
    w.string(scope.name);
    if (scope.version) {
      w.tag(2, LEN);
      w.string(scope.version);
    }
    w.end(sc);
    this.#scope = Buffer.from(w.buf.subarray(0, w.pos));
    w.pos = 0;
    if (resource.schemaUrl) {
      w.tag(3, LEN);
      w.string(resource.schemaUrl);
    }
    this.#schema = Buffer.from(w.buf.subarray(0, w.pos));
    // tag + length of ResourceSpans, the resource, tag + length of ScopeSpans, the scope.
    this.headroom = 1 + 5 + this.#resource.length + 1 + 5 + this.#scope.length;
  }

  /** A writer for a new batch: its spans start after the headroom. */
  batch(size: number): ProtoWriter {
    return new ProtoWriter(Math.max(size, this.headroom + 1024), this.headroom);
  }

  /**
   * The request of a batch whose spans are `w.buf[headroom, w.pos)`: the header is written into
   * the headroom, the resource's schema URL after the spans. A view of `w.buf`.
   */
  request(w: ProtoWriter): Uint8Array {
    w.ensure(this.#schema.length);
    this.#schema.copy(w.buf, w.pos);
    const end = w.pos + this.#schema.length;
    const spans = w.pos - this.headroom;
    const scopeSpans = this.#scope.length + spans;
    const resourceSpans = this.#resource.length + 1 + varintSize(scopeSpans) + scopeSpans + this.#schema.length;
    let at = this.headroom - this.#scope.length;
    this.#scope.copy(w.buf, at);
    at -= varintSize(scopeSpans);
    putVarint(w.buf, at, scopeSpans);
    w.buf[--at] = (2 << 3) | LEN;
    at -= this.#resource.length;
    this.#resource.copy(w.buf, at);
    at -= varintSize(resourceSpans);
    putVarint(w.buf, at, resourceSpans);
    w.buf[--at] = (1 << 3) | LEN;
    return w.buf.subarray(at, end);
  }
}

function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function putVarint(b: Buffer, at: number, v: number): void {
  while (v > 127) {
    b[at++] = (v & 127) | 128;
    v = Math.floor(v / 128);
  }
  b[at] = v;
}

/**
 * The `partial_success` of an ExportTraceServiceResponse (field 1: rejected_spans int64 = 1,
 * error_message string = 2), for the exporter's log; anything unreadable is no partial success.
 */
export function readPartialSuccess(data: Uint8Array): { partialSuccess?: { rejectedSpans?: number; errorMessage?: string } } {
  try {
    const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let p = 0;
    const varint = (): number => {
      let v = 0;
      let mul = 1;
      for (;;) {
        const c = b[p++];
        if (c === undefined) throw new RangeError('truncated');
        v += (c & 127) * mul;
        if (c < 128) return v;
        mul *= 128;
      }
    };
    const skip = (wire: number): void => {
      if (wire === VARINT) varint();
      else if (wire === FIXED64) p += 8;
      else if (wire === LEN) p += varint();
      else if (wire === FIXED32) p += 4;
      else throw new RangeError('wire type');
    };
    while (p < b.length) {
      const key = varint();
      if (key >>> 3 !== 1 || (key & 7) !== LEN) {
        skip(key & 7);
        continue;
      }
      const end = p + varint();
      const out: { rejectedSpans?: number; errorMessage?: string } = {};
      while (p < end) {
        const k = varint();
        if (k === ((1 << 3) | VARINT)) out.rejectedSpans = varint();
        else if (k === ((2 << 3) | LEN)) {
          const n = varint();
          out.errorMessage = b.toString('utf8', p, p + n);
          p += n;
        } else skip(k & 7);
      }
      return { partialSuccess: out };
    }
  } catch {
    // not a response this reader understands: treated as one without a partial success
  }
  return {};
}
