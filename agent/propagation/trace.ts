/**
 * Trace context through one hop (docs/reference.md#colour-and-trace-propagation): W3C `traceparent` continues, B3 (single `b3`
 * and multi `x-b3-*`) and Jaeger `uber-trace-id` are accepted on input, and a new trace starts
 * when none is present. Each hop is one span: the context forwarded downstream names this
 * hop's span as the parent. The formats seen on input are written back too (rewritten with the
 * same ids), so apps that only speak B3 or Jaeger keep working; `traceparent` is always written.
 * `tracestate` is passed through untouched.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { type HopSampler, KEEP_FLAG_SAMPLER } from '../../shared/telemetry/sampler.ts';
import { newSpanId, newTraceId } from './ids.ts';

/** Input format flags of TraceContext.formats. */
export const TraceFormat = { W3C: 1, B3Single: 2, B3Multi: 4, Uber: 8 } as const;

/** The trace context of one hop. */
export interface TraceContext {
  /** 32 lowercase hex digits. */
  readonly traceId: string;
  /** This hop's span (16 hex). */
  readonly spanId: string;
  /** The caller's span (16 hex), undefined when this hop starts the trace. */
  readonly parentId: string | undefined;
  /** The sampled flag this hop records and forwards (see continueTrace's sampler). */
  readonly sampled: boolean;
  /** Which input formats carried the context (TraceFormat bits), 0 for a new trace. */
  readonly formats: number;
}

/** Request headers this module reads and rewrites; copy them from the input only through writeTrace. */
export const TRACE_HEADERS: readonly string[] = ['traceparent', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'uber-trace-id'];

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-|$)/;
const HEX = /^[0-9a-f]+$/;
const ENCODED_COLON = /%3a/gi;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

/** The trace context of a hop before the entry step continued its trace (never forwarded nor recorded). */
export const NO_TRACE: TraceContext = Object.freeze({ traceId: ZERO_TRACE, spanId: ZERO_SPAN, parentId: undefined, sampled: false, formats: 0 });

function makeContext(traceId: string, parentId: string | undefined, sampled: boolean, formats: number): TraceContext {
  return { traceId, spanId: newSpanId(), parentId, sampled, formats };
}

/** Left-pads a hex id to `width`; undefined when it is not 1..width lowercase hex digits or all zero. */
function hexId(value: string | undefined, width: number): string | undefined {
  if (value === undefined || value.length === 0 || value.length > width) return undefined;
  const v = value.toLowerCase();
  if (!HEX.test(v)) return undefined;
  const padded = v.length === width ? v : v.padStart(width, '0');
  return padded === (width === 32 ? ZERO_TRACE : ZERO_SPAN) ? undefined : padded;
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function fromTraceparent(v: string): TraceContext | undefined {
  if (v.length < 55 || !TRACEPARENT.test(v)) return undefined;
  const version = v.slice(0, 2);
  if (version === 'ff' || (version === '00' && v.length !== 55)) return undefined;
  const traceId = v.slice(3, 35);
  const parentId = v.slice(36, 52);
  if (traceId === ZERO_TRACE || parentId === ZERO_SPAN) return undefined;
  const flags = Number.parseInt(v.slice(53, 55), 16);
  return makeContext(traceId, parentId, (flags & 1) === 1, TraceFormat.W3C);
}

function fromB3Single(v: string): TraceContext | undefined {
  // {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]; a lone sampling state carries no ids.
  const d1 = v.indexOf('-');
  if (d1 < 0) return undefined;
  const d2 = v.indexOf('-', d1 + 1);
  const traceId = hexId(v.slice(0, d1), 32);
  const parentId = hexId(d2 < 0 ? v.slice(d1 + 1) : v.slice(d1 + 1, d2), 16);
  if (traceId === undefined || parentId === undefined) return undefined;
  const s = d2 < 0 ? '1' : v.charAt(d2 + 1);
  return makeContext(traceId, parentId, s !== '0', TraceFormat.B3Single);
}

function fromB3Multi(h: IncomingHttpHeaders): TraceContext | undefined {
  const traceId = hexId(one(h['x-b3-traceid']), 32);
  const parentId = hexId(one(h['x-b3-spanid']), 16);
  if (traceId === undefined || parentId === undefined) return undefined;
  const s = one(h['x-b3-sampled']);
  const sampled = one(h['x-b3-flags']) === '1' || s === undefined || s === '1' || s === 'true';
  return makeContext(traceId, parentId, sampled, TraceFormat.B3Multi);
}

function fromUber(raw: string): TraceContext | undefined {
  // {trace-id}:{span-id}:{parent-span-id}:{flags}, sometimes with ':' percent-encoded.
  const v = raw.includes('%') ? raw.replace(ENCODED_COLON, ':') : raw;
  const parts = v.split(':');
  if (parts.length !== 4) return undefined;
  const traceId = hexId(parts[0], 32);
  const parentId = hexId(parts[1], 16);
  if (traceId === undefined || parentId === undefined) return undefined;
  const flags = Number.parseInt(parts[3]!, 16);
  return makeContext(traceId, parentId, Number.isNaN(flags) ? true : (flags & 1) === 1, TraceFormat.Uber);
}

/**
 * Continues the trace of an incoming request: the first valid context of traceparent, b3,
 * x-b3-*, uber-trace-id (in that order) becomes the parent; otherwise a new trace.
 * The other formats present are noted so writeTrace keeps them in step.
 * `sampler` decides the sampled flag this hop records and forwards (OTEL_TRACES_SAMPLER; the
 * default keeps the caller's flag and samples a new trace).
 */
export function continueTrace(h: IncomingHttpHeaders, sampler: HopSampler = KEEP_FLAG_SAMPLER): TraceContext {
  const tp = one(h.traceparent);
  const b3 = one(h.b3);
  const uber = one(h['uber-trace-id']);
  const multi = h['x-b3-traceid'] !== undefined;
  let ctx: TraceContext | undefined;
  if (tp !== undefined) ctx = fromTraceparent(tp.trim());
  if (ctx === undefined && b3 !== undefined) ctx = fromB3Single(b3.trim());
  if (ctx === undefined && multi) ctx = fromB3Multi(h);
  if (ctx === undefined && uber !== undefined) ctx = fromUber(uber.trim());
  if (ctx === undefined) {
    const traceId = newTraceId();
    return makeContext(traceId, undefined, sampler.sample(traceId, undefined), 0);
  }
  let formats = ctx.formats;
  if (b3 !== undefined) formats |= TraceFormat.B3Single;
  if (multi) formats |= TraceFormat.B3Multi;
  if (uber !== undefined) formats |= TraceFormat.Uber;
  const sampled = sampler.sample(ctx.traceId, ctx.sampled);
  if (formats === ctx.formats && sampled === ctx.sampled) return ctx;
  return { traceId: ctx.traceId, spanId: ctx.spanId, parentId: ctx.parentId, sampled, formats };
}

/** The `traceparent` value naming this hop's span as the parent. */
export function traceparent(ctx: TraceContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.sampled ? '01' : '00'}`;
}

/**
 * Appends the outgoing trace headers to a flat [name, value, ...] list: `traceparent` always,
 * plus each input format (B3 single/multi, uber-trace-id) rewritten with this hop as the parent.
 */
export function writeTrace(out: string[], ctx: TraceContext): void {
  out.push('traceparent', traceparent(ctx));
  const f = ctx.formats;
  if (f === 0 || f === TraceFormat.W3C) return;
  const s = ctx.sampled ? '1' : '0';
  if (f & TraceFormat.B3Single) {
    out.push('b3', ctx.parentId === undefined ? `${ctx.traceId}-${ctx.spanId}-${s}` : `${ctx.traceId}-${ctx.spanId}-${s}-${ctx.parentId}`);
  }
  if (f & TraceFormat.B3Multi) {
    out.push('x-b3-traceid', ctx.traceId, 'x-b3-spanid', ctx.spanId, 'x-b3-sampled', s);
    if (ctx.parentId !== undefined) out.push('x-b3-parentspanid', ctx.parentId);
  }
  if (f & TraceFormat.Uber) out.push('uber-trace-id', `${ctx.traceId}:${ctx.spanId}:${ctx.parentId ?? '0'}:${s}`);
}
