/**
 * The entry step: what every request meets first on either listener, whether it is served as
 * a request or tunnelled as an upgrade (docs/reference.md#agent):
 *   trace context → loop guard → destination → colour (invalid ones counted; dyed at entry
 *   services; lane memory: remembered inbound, recalled outbound for a call that lost its colour,
 *   docs/reference.md#lane-leak-recovery) → the headers it is forwarded with.
 * One object per listener; it keeps no state between requests (the lane memory is the agent's).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { DyelineError } from '../../shared/errors.ts';
import type { AgentContext } from '../context.ts';
import type { Direction } from '../telemetry/metrics.ts';
import { forwardedHeaders } from '../forward/headers.ts';
import { ReusableRequestView } from '../forward/request-view.ts';
import { NO_COLOR, readColor } from '../propagation/color.ts';
import { continueTrace, type TraceContext } from '../propagation/trace.ts';
import { entryColor } from './entry-color.ts';
import { hopCount, loopError } from './loop-guard.ts';

/** What the entry step fills in on a hop (an exchange or an upgrade). */
export interface EnteringHop {
  trace: TraceContext;
  /** The request colour; '' when uncoloured. */
  color: string;
  /** True when the colour was recalled from the lane memory: the app lost it (outbound). */
  leakHealed: boolean;
  /**
   * True when the colour the request carried was removed (invalid, or untrusted): the caller
   * forwards the request target without its `traffic_color` parameter (carriers.ts withoutColorQuery).
   */
  scrubbed: boolean;
  /** The hop count the request is forwarded with (`x-dyeline-hops`). */
  forwardedHops: number;
}

/** A peer address as the snapshot writes it: an IPv4 peer on a dual-stack socket without its `::ffff:`. */
function plainAddress(peer: string): string {
  return peer.startsWith('::ffff:') && peer.includes('.') ? peer.slice(7) : peer;
}

/** The entry step of one listener. */
export class EntryStep {
  readonly #ctx: AgentContext;
  readonly #inbound: boolean;
  /** The service whose dye rules colour uncoloured requests here (inbound: the agent's own; outbound: none). */
  readonly #dyeAt: string | undefined;
  readonly #view = new ReusableRequestView();

  constructor(ctx: AgentContext, direction: Direction) {
    this.#ctx = ctx;
    this.#inbound = direction === 'inbound';
    this.#dyeAt = this.#inbound ? ctx.config.service : undefined;
  }

  /**
   * Enters a request with `headers` and request target `url`, to be forwarded with `Host:
   * authority` (or refused with `authority` when its destination is unusable). Sets the hop's
   * trace and colour; returns the flat header list to forward, or the error to answer with.
   */
  enter(hop: EnteringHop, headers: IncomingHttpHeaders, url: string, authority: string | DyelineError, peer?: string): string[] | DyelineError {
    const ctx = this.#ctx;
    const trace = continueTrace(headers, ctx.telemetry.tracing.sampler);
    hop.trace = trace;
    let hops = hopCount(headers);
    if (!this.#inbound) {
      // The app may not forward x-dyeline-hops: its calls count from the request of the same trace in flight on the inbound side.
      const inbound = ctx.inboundTraces.hopsOf(trace.traceId);
      if (inbound > hops) hops = inbound;
    }
    const loop = loopError(hops, ctx.config.maxHops);
    if (loop !== undefined) return loop;
    if (authority instanceof DyelineError) return authority;
    let reading = readColor(headers, url);
    if (reading.kind === 'invalid') {
      ctx.metrics.invalidColor();
      hop.scrubbed = true;
    } else if (reading.kind === 'valid' && peer !== undefined && ctx.config.acceptColor === 'mesh' && !ctx.table?.isInstanceAddress(plainAddress(peer))) {
      // Not a mesh peer: its colour is removed before the dye rules run (which still apply).
      ctx.metrics.untrustedColor();
      hop.scrubbed = true;
      reading = NO_COLOR;
    }
    let color = entryColor(reading, ctx.table, this.#dyeAt, this.#view.reset(headers, url), ctx.random);
    const memory = ctx.laneMemory;
    if (memory !== undefined) {
      if (this.#inbound) {
        if (color !== undefined) memory.remember(trace.traceId, color);
      } else if (color === undefined && trace.formats !== 0) {
        // The call carries a trace it was given but no colour: the app forwarded the one and lost the other.
        color = memory.recall(trace.traceId);
        if (color !== undefined) hop.leakHealed = true;
      }
    }
    if (color !== undefined) hop.color = color;
    hop.forwardedHops = hops + 1;
    return forwardedHeaders(headers, authority, color, trace, hops + 1, hop.scrubbed);
  }
}
