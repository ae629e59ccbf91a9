/**
 * A finished span, built once when a hop ends: the agent already knows every id (its trace
 * context names this hop's span and the caller's), the start time and every attribute by
 * then, so there is no live span object, no context and no attribute copying on the request
 * path — one object handed to the batch processor, which the OTLP exporters serialise like
 * any SDK span (it implements the SDK's ReadableSpan).
 */
import { type Attributes, type AttributeValue, type HrTime, type Link, type SpanContext, SpanKind, type SpanStatus, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';

export { SpanKind, SpanStatusCode };

/** Instrumentation scope of every dyeline span. */
export const DYELINE_SCOPE: InstrumentationScope = Object.freeze({ name: 'dyeline' });

const NO_LINKS: Link[] = [];
const NO_EVENTS: TimedEvent[] = [];
const STATUS_UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
const STATUS_ERROR: SpanStatus = Object.freeze({ code: SpanStatusCode.ERROR });

const ORIGIN_MS = performance.timeOrigin;

/** `performance.now()` milliseconds → wall clock seconds and nanoseconds, written into `out`. */
export function splitTime(nowMs: number, out: HrTime): HrTime {
  const ms = ORIGIN_MS + nowMs;
  const s = Math.floor(ms / 1000);
  out[0] = s;
  out[1] = Math.round((ms - s * 1000) * 1e6);
  return out;
}

/** `performance.now()` milliseconds → OTel HrTime (wall clock seconds and nanoseconds). */
export function hrTimeOf(nowMs: number): HrTime {
  return splitTime(nowMs, [0, 0]);
}

/**
 * A span's attributes as one flat list, `[key, value, key, value, ...]`, in the order they are
 * written: a hop builds it with pushes, and the encoder reads it by index — no object with dynamic
 * keys to build, no for-in and no megamorphic keyed loads per span (docs/telemetry.md#span-export).
 * A key appears once.
 */
export type AttributeList = Array<string | AttributeValue>;

/** The attributes of a list as an object, as the SDK's span processors read them. */
export function attributesOf(list: AttributeList): Attributes {
  const a: Attributes = {};
  for (let i = 0; i + 1 < list.length; i += 2) a[list[i] as string] = list[i + 1] as AttributeValue;
  return a;
}

/** An attribute object as a list (background operations; their attributes come as objects). */
export function attributeList(attributes: Attributes): AttributeList {
  const list: AttributeList = [];
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined && value !== null) list.push(key, value);
  return list;
}

/** What a hop knows about its span when it ends. */
export interface HopSpanInit {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  /** The caller's span, undefined when this hop started the trace. */
  parentSpanId: string | undefined;
  /** `performance.now()` at the start and the end of the hop. */
  startMs: number;
  endMs: number;
  /** True when the hop failed (the span status becomes ERROR). */
  error: boolean;
  /** Error status message (only with `error`). */
  message?: string;
  attributes: AttributeList;
}

/** A finished, sampled span of one hop. */
export class HopSpan implements ReadableSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext | undefined;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly links: Link[] = NO_LINKS;
  readonly events: TimedEvent[] = NO_EVENTS;
  readonly ended = true;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope = DYELINE_SCOPE;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly #context: SpanContext;
  readonly #durationMs: number;

  constructor(init: HopSpanInit, resource: Resource) {
    this.name = init.name;
    this.kind = init.kind;
    this.#context = { traceId: init.traceId, spanId: init.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: false };
    this.parentSpanContext =
      init.parentSpanId === undefined ? undefined : { traceId: init.traceId, spanId: init.parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: true };
    this.startTime = hrTimeOf(init.startMs);
    this.endTime = hrTimeOf(init.endMs);
    this.#durationMs = init.endMs - init.startMs;
    this.status = !init.error ? STATUS_UNSET : init.message === undefined ? STATUS_ERROR : { code: SpanStatusCode.ERROR, message: init.message };
    this.attributes = attributesOf(init.attributes);
    this.resource = resource;
  }

  spanContext(): SpanContext {
    return this.#context;
  }

  get duration(): HrTime {
    const s = Math.floor(this.#durationMs / 1000);
    return [s, Math.round((this.#durationMs - s * 1000) * 1e6)];
  }
}
