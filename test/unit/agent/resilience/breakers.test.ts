import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ADMITTED, type Transition } from '../../../../agent/resilience/breaker.ts';
import { Breakers } from '../../../../agent/resilience/breakers.ts';
import type { RoutingTable } from '../../../../agent/routing/types.ts';
import { compileSnapshot } from '../../../../agent/routing/compile.ts';
import { EndpointStates } from '../../../../agent/routing/endpoint-states.ts';
import { route } from '../../../../agent/routing/router.ts';
import type { DocumentInput } from '../../../../shared/schema/documents.ts';
import { buildSnapshot, instance, lane, requestView, service } from '../../../support/snapshot-builder.ts';

const states = new EndpointStates();
const table = (docs: DocumentInput[], version = 1) => compileSnapshot(buildSnapshot(docs, version), states);
const cb = { volumeThreshold: 4, windowMs: 1000, resetTimeoutMs: 500 };
const mesh = (extra: DocumentInput[] = [], spec = { circuitBreaker: cb }): DocumentInput[] => [
  lane('canary'),
  lane('strict', { fallback: 'none' }),
  service('orders', spec),
  instance('o-s1', 'orders', '10.0.0.1'),
  instance('o-c1', 'orders', '10.0.1.1', { color: 'canary' }),
  instance('o-x1', 'orders', '10.0.2.1', { color: 'strict' }),
  ...extra,
];
const empty = requestView();

const subsetOf = (t: RoutingTable, svc: string, laneName: string) => t.service(svc)!.subsets.get(laneName)!;

/** Four failed calls on (svc, lane) of table `t`: opens its circuit (volumeThreshold 4). */
function trip(breakers: Breakers, t: RoutingTable, svc: string, laneName: string): void {
  const b = breakers.forSubset(subsetOf(t, svc, laneName))!;
  for (let i = 0; i < 4; i++) b.record(b.admit(), Date.now(), true, false);
}

describe('Breakers', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 5_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('feeds the router: an open canary circuit sends coloured traffic to stable with circuit-open', () => {
    const breakers = new Breakers();
    const t = table(mesh());
    breakers.bind(t);
    const before = route(t, 'orders', 'canary', empty, Math.random, breakers.isOpen)!;
    expect(before.fallback).toBeUndefined();
    expect(before.candidates[0].lane).toBe('canary');
    trip(breakers, t, 'orders', 'canary');
    const d = route(t, 'orders', 'canary', empty, Math.random, breakers.isOpen)!;
    expect(d.fallback).toBe('circuit-open');
    expect(d.candidates.map((s) => s.lane)).toEqual(['stable']);
    expect(breakers.stateOf('orders', 'canary')).toBe('open');
    expect(breakers.stateOf('orders', 'stable')).toBe('closed');
    // Strict lane: an open circuit means no candidate (503).
    trip(breakers, t, 'orders', 'strict');
    expect(route(t, 'orders', 'strict', empty, Math.random, breakers.isOpen)!.candidates).toEqual([]);
    // Half-open lets a probe through the router again.
    vi.advanceTimersByTime(500);
    expect(breakers.stateOf('orders', 'canary')).toBe('half-open');
    expect(route(t, 'orders', 'canary', empty, Math.random, breakers.isOpen)!.fallback).toBeUndefined();
    breakers.close();
  });

  it('keeps each breaker (and its state) across recompiles and re-configures it when the spec changes', () => {
    const seen: Transition[] = [];
    const breakers = new Breakers((t) => seen.push(t));
    const t1 = table(mesh());
    breakers.bind(t1);
    trip(breakers, t1, 'orders', 'canary');
    const b = breakers.get('orders', 'canary')!;
    const t2 = table(mesh([], { circuitBreaker: { ...cb, resetTimeoutMs: 3000 } }), 2);
    breakers.bind(t2);
    expect(breakers.get('orders', 'canary')).toBe(b);
    expect(breakers.of(t2.service('orders')!.subsets.get('canary')!)).toBe(b);
    expect(b.state).toBe('open');
    expect(b.settings.resetTimeoutMs).toBe(3000);
    // The old table's subsets still resolve (requests in flight on it).
    expect(breakers.of(t1.service('orders')!.subsets.get('canary')!)).toBe(b);
    expect(seen.map((t) => `${t.breaker.service}/${t.breaker.lane}:${t.to}`)).toEqual(['orders/canary:open']);
    breakers.close();
  });

  it('makes a breaker on the first request to its subset only', () => {
    const breakers = new Breakers();
    const t = table(mesh([instance('p-1', 'payments', '10.0.9.1')]));
    breakers.bind(t);
    expect(breakers.size).toBe(0);
    expect(breakers.isOpen(subsetOf(t, 'payments', 'stable'))).toBe(false);
    expect(breakers.size).toBe(0);
    const b = breakers.forSubset(subsetOf(t, 'orders', 'canary'))!;
    expect(breakers.forSubset(subsetOf(t, 'orders', 'canary'))).toBe(b);
    expect(breakers.get('orders', 'canary')).toBe(b);
    expect(breakers.size).toBe(1);
    // A subset of the same (service, lane) from an older table finds the same breaker.
    const older = table(mesh([instance('p-1', 'payments', '10.0.9.1')]));
    expect(breakers.forSubset(subsetOf(older, 'orders', 'canary'))).toBe(b);
    expect(breakers.size).toBe(1);
    breakers.close();
  });

  it('shuts down breakers whose lane or service left the snapshot', () => {
    const breakers = new Breakers();
    const t = table(mesh([instance('p-1', 'payments', '10.0.9.1')]));
    breakers.bind(t);
    for (const [svc, l] of [['orders', 'stable'], ['orders', 'canary'], ['orders', 'strict'], ['payments', 'stable']]) breakers.forSubset(subsetOf(t, svc, l));
    expect(breakers.size).toBe(4);
    trip(breakers, t, 'orders', 'canary');
    const old = breakers.get('orders', 'canary')!;
    const t2 = table(
      [service('orders', { circuitBreaker: cb }), instance('o-s1', 'orders', '10.0.0.1')],
      2,
    );
    breakers.bind(t2);
    expect(breakers.size).toBe(1);
    expect(breakers.get('orders', 'canary')).toBeUndefined();
    expect(breakers.stateOf('orders', 'canary')).toBe('closed');
    // The old breaker's reset timer is gone, and late outcomes are ignored.
    old.record(ADMITTED, Date.now(), true, false);
    expect(vi.getTimerCount()).toBe(0);
    expect([...breakers.values()].map((b) => `${b.service}/${b.lane}`)).toEqual(['orders/stable']);
    breakers.close();
  });

  it('answers closed / not open, and makes nothing, before any table is bound', () => {
    const breakers = new Breakers();
    const t = table(mesh());
    expect(breakers.isOpen(subsetOf(t, 'orders', 'canary'))).toBe(false);
    expect(breakers.of(subsetOf(t, 'orders', 'canary'))).toBeUndefined();
    expect(breakers.forSubset(subsetOf(t, 'orders', 'canary'))).toBeUndefined();
  });

  it('has no listener limit warning with many breakers', () => {
    const emitWarning = vi.spyOn(process, 'emitWarning');
    try {
      const docs: DocumentInput[] = [];
      for (let i = 0; i < 30; i++) docs.push(instance(`s${i}`, `svc${i}`, `10.1.0.${i + 1}`));
      const t = table(docs);
      const breakers = new Breakers();
      breakers.bind(t);
      for (let i = 0; i < 30; i++) breakers.forSubset(subsetOf(t, `svc${i}`, 'stable'));
      expect(breakers.size).toBe(30);
      breakers.close();
      expect(emitWarning).not.toHaveBeenCalled();
    } finally {
      emitWarning.mockRestore();
    }
  });
});
