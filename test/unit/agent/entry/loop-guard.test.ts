import { describe, expect, it } from 'vitest';
import { hopCount, loopError } from '../../../../agent/entry/loop-guard.ts';
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
