import { describe, expect, it } from 'vitest';
import { CAPPED, EJECTED, ejectionCount, NOT_EJECTED, outlierFailure, outlierSuccess, type OutlierSettings } from '../../../../agent/resilience/outlier.ts';
import { P2CBalancer } from '../../../../agent/routing/balancer.ts';
import { compileSnapshot } from '../../../../agent/routing/compile.ts';
import { EndpointStates } from '../../../../agent/routing/endpoint-states.ts';
import type { Endpoint } from '../../../../agent/routing/types.ts';
import { OutlierDetectionSpec } from '../../../../shared/schema/documents.ts';
import { buildSnapshot, instance, seededRandom } from '../../../support/snapshot-builder.ts';

const settings = (over: Partial<OutlierSettings> = {}): OutlierSettings => OutlierDetectionSpec.parse({ consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionMs: 2500, maxEjectionPercent: 50, ...over });

function fleet(n: number, extra: { weight?: number; healthy?: boolean }[] = []): Endpoint[] {
  const docs = Array.from({ length: n }, (_, i) => instance(`i${i}`, 'orders', `10.0.0.${i + 1}`, extra[i] ?? {}));
  return [...compileSnapshot(buildSnapshot(docs), new EndpointStates()).service('orders')!.endpoints];
}

function fail(ep: Endpoint, all: Endpoint[], s: OutlierSettings, now: number, times: number): number {
  let last: number = NOT_EJECTED;
  for (let i = 0; i < times; i++) last = outlierFailure(ep, all, s, now);
  return last;
}

describe('outlier ejection', () => {
  it('ejects after consecutive failures; a success in between resets the run', () => {
    const eps = fleet(4);
    const s = settings();
    expect(fail(eps[0], eps, s, 0, 2)).toBe(NOT_EJECTED);
    outlierSuccess(eps[0].state, s, 0);
    expect(eps[0].state.consecutiveFailures).toBe(0);
    expect(fail(eps[0], eps, s, 0, 2)).toBe(NOT_EJECTED);
    expect(outlierFailure(eps[0], eps, s, 10)).toBe(EJECTED);
    expect(eps[0].state).toMatchObject({ ejectedUntil: 1010, ejections: 1, consecutiveFailures: 0 });
    // Failures of requests sent before the ejection do not extend it.
    expect(fail(eps[0], eps, s, 20, 5)).toBe(NOT_EJECTED);
    expect(eps[0].state.ejectedUntil).toBe(1010);
    // The balancer skips it while ejected.
    const b = new P2CBalancer(seededRandom(1));
    const subset = { service: 'orders', lane: 'stable', endpoints: eps, excluded: [], totalWeight: 400, cumulativeWeights: undefined };
    for (let i = 0; i < 100; i++) expect(b.pick(subset, undefined, 500)!.key).not.toBe(eps[0].key);
  });

  it('ejects longer each time (base × ejections), capped at maxEjectionMs', () => {
    const eps = fleet(4);
    const s = settings();
    const ep = eps[0];
    let now = 0;
    const lengths: number[] = [];
    for (let k = 0; k < 4; k++) {
      expect(fail(ep, eps, s, now, 3)).toBe(EJECTED);
      lengths.push(ep.state.ejectedUntil - now);
      now = ep.state.ejectedUntil; // back in rotation, fails again at once
    }
    expect(lengths).toEqual([1000, 2000, 2500, 2500]);
  });

  it('forgets the multiplier after maxEjectionMs back in rotation', () => {
    const eps = fleet(4);
    const s = settings();
    const ep = eps[0];
    fail(ep, eps, s, 0, 3);
    fail(ep, eps, s, 1000, 3);
    expect(ep.state.ejections).toBe(2);
    const back = ep.state.ejectedUntil;
    outlierSuccess(ep.state, s, back + 2499);
    expect(ep.state.ejections).toBe(2);
    outlierSuccess(ep.state, s, back + 2500);
    expect(ep.state.ejections).toBe(0);
    expect(fail(ep, eps, s, back + 3000, 3)).toBe(EJECTED);
    expect(ep.state.ejectedUntil - (back + 3000)).toBe(1000);
  });

  it('never ejects more than maxEjectionPercent of the instances, whatever fails', () => {
    for (const [n, pct] of [
      [1, 50],
      [2, 50],
      [3, 50],
      [4, 50],
      [5, 30],
      [10, 10],
      [10, 100],
      [7, 0],
    ] as const) {
      const eps = fleet(n);
      const s = settings({ maxEjectionPercent: pct });
      // Every instance fails over and over, in turns.
      for (let round = 0; round < 5; round++) for (const ep of eps) fail(ep, eps, s, round, 3);
      const { total, ejected } = ejectionCount(eps, 5);
      expect(total).toBe(n);
      expect(ejected).toBe(Math.floor((n * pct) / 100));
      expect(ejected * 100).toBeLessThanOrEqual(pct * n);
    }
  });

  it('keeps a capped instance in, and ejects it as soon as room frees up', () => {
    const eps = fleet(2);
    const s = settings({ maxEjectionPercent: 50 });
    expect(fail(eps[0], eps, s, 0, 3)).toBe(EJECTED);
    expect(fail(eps[1], eps, s, 0, 3)).toBe(CAPPED);
    expect(eps[1].state.ejectedUntil).toBe(0);
    expect(outlierFailure(eps[1], eps, s, 999)).toBe(CAPPED);
    // eps[0] comes back at 1000: the next failure of eps[1] ejects it.
    expect(outlierFailure(eps[1], eps, s, 1000)).toBe(EJECTED);
    expect(ejectionCount(eps, 1000).ejected).toBe(1);
  });

  it('counts only routable instances (unhealthy and weight 0 get no traffic anyway)', () => {
    const eps = fleet(4, [{}, {}, { healthy: false }, { weight: 0 }]);
    const s = settings({ maxEjectionPercent: 50 });
    expect(ejectionCount(eps, 0).total).toBe(2);
    expect(fail(eps[0], eps, s, 0, 3)).toBe(EJECTED);
    expect(fail(eps[1], eps, s, 0, 3)).toBe(CAPPED);
  });
});
