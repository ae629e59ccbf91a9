/**
 * A span for a background operation that no request started (the daemon writing a snapshot):
 * a root INTERNAL span with fresh ids, sampled by the root sampler of OTEL_TRACES_SAMPLER.
 */
import { randomBytes } from 'node:crypto';
import type { Attributes } from '@opentelemetry/api';
import { attributeList, SpanKind } from './span.ts';
import type { Tracing } from './tracing.ts';

/**
 * Records an operation that ran from `startMs` to `endMs` (performance.now() times) as one
 * root span named `name`. No-op when tracing is off or the sampler says no.
 */
export function recordOperation(tracing: Tracing, name: string, startMs: number, endMs: number, attributes: Attributes, error = false): void {
  if (!tracing.enabled) return;
  const ids = randomBytes(24).toString('hex');
  const traceId = ids.slice(0, 32);
  if (!tracing.sampler.sample(traceId, undefined)) return;
  tracing.end({ name, kind: SpanKind.INTERNAL, traceId, spanId: ids.slice(32), parentSpanId: undefined, startMs, endMs, error, attributes: attributeList(attributes) });
}
