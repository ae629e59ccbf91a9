import { describe, expect, it } from 'vitest';
import { hopCount, loopError, InboundTraces } from '../../../../agent/entry/loop-guard.ts';
import { ErrorCode } from '../../../../shared/errors.ts';

describe('hopCount', () => {
  it('reads the hop counter, 0 when absent or malformed', () => {
    expect(hopCount({ 'x-dyeline-hops': '5' })).toBe(5);
    expect(hopCount({})).toBe(0);
    expect(hopCount({ 'x-dyeline-hops': '-3' })).toBe(0);
    expect(hopCount({ 'x-dyeline-hops': 'x' })).toBe(0);
  });
});

describe('loopError', () => {
  it('refuses a request that already made the maximum number of hops', () => {
    expect(loopError(31, 32)).toBeUndefined();
    expect(loopError(32, 32)).toMatchObject({ code: ErrorCode.Loop, message: 'request went through 32 agent hops (limit 32): routing loop' });
  });
});

describe('InboundTraces', () => {
  it('keeps the largest hop count per trace while its inbound requests are in flight', () => {
    const t = new InboundTraces();
    t.enter('a', 3);
    t.enter('a', 7); // a callback into this pod, deeper in the same trace
    t.enter('b', 1);
    expect(t.hopsOf('a')).toBe(7);
    expect(t.hopsOf('b')).toBe(1);
    expect(t.hopsOf('c')).toBe(0);
    t.leave('a');
    expect(t.hopsOf('a')).toBe(7); // one of the two still in flight
    t.leave('a');
    t.leave('b');
    expect(t.hopsOf('a')).toBe(0);
    expect(t.size).toBe(0);
  });
});
