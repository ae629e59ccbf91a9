/**
 * The sampling decision of one hop, made once when its trace context is read: `OTEL_TRACES_SAMPLER`
 * semantics with the OTel SDK's own root samplers (so a trace-id ratio decides exactly as any
 * other OTel service would), and the parent-based rule applied inline — a remote parent's
 * sampled flag is followed — so the hot path builds no OTel Context objects.
 */
import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { AlwaysOffSampler, AlwaysOnSampler, SamplingDecision, type Sampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import type { SamplerName } from './settings.ts';

/** Decides whether a hop's span is sampled (recorded, exported, and flagged `01` downstream). */
export interface HopSampler {
  /**
   * @param traceId 32 lowercase hex digits.
   * @param parentSampled the caller's sampled flag; undefined when this hop starts the trace.
   */
  sample(traceId: string, parentSampled: boolean | undefined): boolean;
  /** The sampler, as OTEL_TRACES_SAMPLER names it (with its ratio), for logs. */
  readonly description: string;
}

const NO_ATTRIBUTES = Object.freeze({});
const NO_LINKS: never[] = [];

class EnvSampler implements HopSampler {
  readonly description: string;
  readonly #parentBased: boolean;
  readonly #root: Sampler;
  /** Shortcut for the always-on/off roots (no call, no result object). */
  readonly #constant: boolean | undefined;

  constructor(name: SamplerName, ratio: number) {
    this.#parentBased = name.startsWith('parentbased_');
    const rootName = this.#parentBased ? name.slice('parentbased_'.length) : name;
    if (rootName === 'always_on') {
      this.#root = new AlwaysOnSampler();
      this.#constant = true;
    } else if (rootName === 'always_off') {
      this.#root = new AlwaysOffSampler();
      this.#constant = false;
    } else {
      this.#root = new TraceIdRatioBasedSampler(ratio);
      this.#constant = undefined;
    }
    this.description = rootName === 'traceidratio' ? `${name}(${ratio})` : name;
  }

  sample(traceId: string, parentSampled: boolean | undefined): boolean {
    if (this.#parentBased && parentSampled !== undefined) return parentSampled;
    if (this.#constant !== undefined) return this.#constant;
    return this.#root.shouldSample(ROOT_CONTEXT, traceId, '', SpanKind.SERVER, NO_ATTRIBUTES, NO_LINKS).decision === SamplingDecision.RECORD_AND_SAMPLED;
  }
}

/** The sampler `OTEL_TRACES_SAMPLER` (+ `_ARG`) names. Default: parentbased_always_on. */
export function createHopSampler(name: SamplerName = 'parentbased_always_on', ratio = 1): HopSampler {
  return new EnvSampler(name, ratio);
}

/**
 * What a hop does when no spans are recorded: the input's flag is kept and a new trace is
 * sampled, so apps behind the agent still see a usable `traceparent`.
 */
export const KEEP_FLAG_SAMPLER: HopSampler = createHopSampler('parentbased_always_on');
