import { describe, expect, it } from 'vitest';
import { continueTrace, traceparent } from '../../../../agent/propagation/trace.ts';
import { createHopSampler } from '../../../../shared/telemetry/sampler.ts';

const SAMPLED = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
const UNSAMPLED = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00' };

describe('the hop sampler decides the sampled flag a hop records and forwards', () => {
  it('default (no sampler): keeps the caller\'s flag, samples a new trace', () => {
    expect(continueTrace(SAMPLED).sampled).toBe(true);
    expect(continueTrace(UNSAMPLED).sampled).toBe(false);
    expect(continueTrace({}).sampled).toBe(true);
  });

  it('parentbased_traceidratio(0): follows a parent either way, samples no new trace', () => {
    const s = createHopSampler('parentbased_traceidratio', 0);
    expect(continueTrace(SAMPLED, s).sampled).toBe(true);
    expect(continueTrace(UNSAMPLED, s).sampled).toBe(false);
    const fresh = continueTrace({}, s);
    expect(fresh.sampled).toBe(false);
    expect(traceparent(fresh)).toMatch(/-00$/);
  });

  it('always_off overrides a sampled parent and forwards 00; always_on forwards 01 for an unsampled parent', () => {
    const off = continueTrace(SAMPLED, createHopSampler('always_off'));
    expect(off).toMatchObject({ sampled: false, traceId: '0af7651916cd43dd8448eb211c80319c', parentId: 'b7ad6b7169203331' });
    expect(traceparent(off)).toMatch(/-00$/);
    expect(traceparent(continueTrace(UNSAMPLED, createHopSampler('always_on')))).toMatch(/-01$/);
  });

  it('B3 and uber-trace-id parents are sampled by their own flags', () => {
    const s = createHopSampler('parentbased_always_off');
    expect(continueTrace({ b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1' }, s).sampled).toBe(true);
    expect(continueTrace({ b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0' }, s).sampled).toBe(false);
    expect(continueTrace({ 'uber-trace-id': '80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0:1' }, s).sampled).toBe(true);
    expect(continueTrace({}, s).sampled).toBe(false);
  });
});
