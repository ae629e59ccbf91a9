import { describe, expect, it } from 'vitest';
import { compileSnapshot, DEFAULT_SERVICE_SPEC } from '../../../../agent/routing/compile.ts';
import { EndpointStates } from '../../../../agent/routing/endpoint-states.ts';
import { buildSnapshot, instance, lane, service } from '../../../support/snapshot-builder.ts';

describe('compileSnapshot', () => {
  it('knows services from Service documents and from instances; a service without a document gets the schema defaults', () => {
    const t = compileSnapshot(
      buildSnapshot([service('orders', { timeoutMs: 3000 }), instance('p1', 'payments', '10.0.0.1'), lane('canary', { priority: 3 })], 7),
      new EndpointStates(),
      '2024-01-01T00:00:00.000Z',
    );
    expect(t.version).toBe(7);
    expect(t.loadedAt).toBe('2024-01-01T00:00:00.000Z');
    expect(t.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(t.service('orders')!.spec.timeoutMs).toBe(3000);
    expect(t.service('orders')!.spec.retry.attempts).toBe(2);
    expect(t.service('orders')!.subsets.size).toBe(0);
    expect(t.service('payments')!.spec).toEqual(DEFAULT_SERVICE_SPEC);
    expect(DEFAULT_SERVICE_SPEC).toMatchObject({ timeoutMs: 15_000, retry: { attempts: 2 }, outlierDetection: { consecutiveFailures: 5 } });
    expect(t.service('nowhere')).toBeUndefined();
    expect([...t.services()].map((s) => s.name).sort()).toEqual(['orders', 'payments']);
    expect([...t.lanes()].map((l) => [l.color, l.priority])).toEqual([
      ['canary', 3],
      ['stable', 0],
    ]);
    expect(t.lane('canary')!.fallbackChain).toEqual(['stable']);
    expect(t.lane('gray')).toBeUndefined();
  });

  it('live endpoint state survives a recompile; prune drops instances that left', () => {
    const states = new EndpointStates();
    const t1 = compileSnapshot(buildSnapshot([instance('a', 'orders', '10.0.0.1'), instance('b', 'orders', '10.0.0.2')], 1), states);
    const a1 = t1.service('orders')!.endpoints[0];
    a1.state.inflight = 3;
    a1.state.ejectedUntil = 99;
    const t2 = compileSnapshot(buildSnapshot([instance('a', 'orders', '10.0.0.1', { weight: 50 })], 2), states);
    const a2 = t2.service('orders')!.endpoints[0];
    expect(a2).not.toBe(a1);
    expect(a2.weight).toBe(50);
    expect(a2.state).toBe(a1.state);
    expect(a2.state).toMatchObject({ inflight: 3, ejectedUntil: 99 });
    expect(states.size).toBe(2);
    expect(states.prune(t2)).toBe(1);
    expect(states.size).toBe(1);
    expect(states.peek('10.0.0.2:8080')).toBeUndefined();
    expect(states.peek('10.0.0.1:8080')).toBe(a1.state);
  });
});
