/**
 * The loop guard (docs/reference.md#agent, `--max-hops`): every agent hop counts itself in
 * `x-dyeline-hops`; a request that already made `max` hops is in a routing loop and answered 508.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { DyelineError, ErrorCode } from '../../shared/errors.ts';

/** The loop-guard header: how many agent hops the request has made. */
export const HOPS_HEADER = 'x-dyeline-hops';

/** The hop count of an incoming request (0 when absent or malformed). */
export function hopCount(src: IncomingHttpHeaders): number {
  const v = src[HOPS_HEADER];
  if (typeof v !== 'string') return 0;
  const n = Number.parseInt(v, 10);
  return n >= 0 && n < 1_000_000 ? n : 0;
}

/** The 508 for a request that made `hops` hops when at most `max` are allowed, else undefined. */
export function loopError(hops: number, max: number): DyelineError | undefined {
  return hops < max ? undefined : new DyelineError(ErrorCode.Loop, `request went through ${hops} agent hops (limit ${max}): routing loop`);
}

/**
 * Hop counts of the requests in flight on the inbound listener, by trace id: what the app was
 * sent in `x-dyeline-hops`. An app that forwards the trace (`traceparent`, by hand or with
 * OpenTelemetry) but not `x-dyeline-hops` still carries the count into its outbound calls: the
 * outbound side takes the largest count in flight for the request's trace id (docs/reference.md#hop-count).
 * A loop through apps that forward neither is not detected. Entries live only while their
 * requests are in flight; the map is bounded by MAX_TRACES (beyond it, nothing new is recorded).
 */
export class InboundTraces {
  /** Most traces remembered at once. */
  static readonly MAX_TRACES = 100_000;
  readonly #hops = new Map<string, { hops: number; inflight: number }>();

  /** An inbound request of trace `traceId` was forwarded to the app with `hops`. */
  enter(traceId: string, hops: number): void {
    const e = this.#hops.get(traceId);
    if (e !== undefined) {
      e.inflight++;
      if (hops > e.hops) e.hops = hops;
    } else if (this.#hops.size < InboundTraces.MAX_TRACES) {
      this.#hops.set(traceId, { hops, inflight: 1 });
    }
  }

  /** That request ended. */
  leave(traceId: string): void {
    const e = this.#hops.get(traceId);
    if (e !== undefined && --e.inflight <= 0) this.#hops.delete(traceId);
  }

  /** The largest hop count the app was sent for a request of `traceId` still in flight; 0 when none. */
  hopsOf(traceId: string): number {
    // Empty on an agent whose inbound side is idle: no need to hash the id.
    return this.#hops.size === 0 ? 0 : (this.#hops.get(traceId)?.hops ?? 0);
  }

  /** Traces in flight. */
  get size(): number {
    return this.#hops.size;
  }
}
