import { TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { newTraceId } from '../../../../agent/propagation/ids.ts';
import { createHopSampler, KEEP_FLAG_SAMPLER } from '../../../../shared/telemetry/sampler.ts';

const ids = Array.from({ length: 2000 }, () => newTraceId());

describe('hop sampler (OTEL_TRACES_SAMPLER)', () => {
  it('parentbased_* follows the incoming sampled flag both ways', () => {
    for (const name of ['parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const) {
      const s = createHopSampler(name, 0.5);
      expect(s.sample(ids[0]!, true)).toBe(true);
      expect(s.sample(ids[0]!, false)).toBe(false);
    }
  });

  it('roots: always_on samples, always_off does not, and non-parent-based samplers ignore the parent', () => {
    expect(createHopSampler('parentbased_always_on').sample(ids[0]!, undefined)).toBe(true);
    expect(createHopSampler('parentbased_always_off').sample(ids[0]!, undefined)).toBe(false);
    expect(createHopSampler('always_off').sample(ids[0]!, true)).toBe(false);
    expect(createHopSampler('always_on').sample(ids[0]!, false)).toBe(true);
  });

  it('traceidratio decides exactly as the OTel SDK does for the same trace id, near the ratio', () => {
    const ours = createHopSampler('traceidratio', 0.25);
    const theirs = new TraceIdRatioBasedSampler(0.25);
    let sampled = 0;
    for (const id of ids) {
      const mine = ours.sample(id, undefined);
      expect(mine).toBe(theirs.shouldSample(ROOT_CONTEXT, id).decision === 2);
      if (mine) sampled++;
    }
    expect(sampled / ids.length).toBeGreaterThan(0.18);
    expect(sampled / ids.length).toBeLessThan(0.32);
    expect(ours.description).toBe('traceidratio(0.25)');
  });

  it('the keep-flag sampler (tracing off) keeps the flag and samples new traces', () => {
    expect(KEEP_FLAG_SAMPLER.sample(ids[1]!, false)).toBe(false);
    expect(KEEP_FLAG_SAMPLER.sample(ids[1]!, undefined)).toBe(true);
  });
});
