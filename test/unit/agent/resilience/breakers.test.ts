import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ADMITTED, type Transition } from '../../../../agent/resilience/breaker.ts';
import { Breakers } from '../../../../agent/resilience/breakers.ts';
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

function trip(breakers: Breakers, svc: string, laneName: string): void {
  const b = breakers.get(svc, laneName)!;
  for (let i = 0; i < 4; i++) b.record(b.admit(), Date.now(), true, 1);
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
    trip(breakers, 'orders', 'canary');
    const d = route(t, 'orders', 'canary', empty, Math.random, breakers.isOpen)!;
    expect(d.fallback).toBe('circuit-open');
    expect(d.candidates.map((s) => s.lane)).toEqual(['stable']);
    expect(breakers.stateOf('orders', 'canary')).toBe('open');
    expect(breakers.stateOf('orders', 'stable')).toBe('closed');
    // Strict lane: an open circuit means no candidate (503).
    trip(breakers, 'orders', 'strict');
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
    trip(breakers, 'orders', 'canary');
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

  it('shuts down breakers whose lane or service left the snapshot', () => {
    const breakers = new Breakers();
    breakers.bind(table(mesh([instance('p-1', 'payments', '10.0.9.1')])));
    expect(breakers.size).toBe(4);
    trip(breakers, 'orders', 'canary');
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
    old.record(ADMITTED, Date.now(), true, 1);
    expect(vi.getTimerCount()).toBe(0);
    expect([...breakers.values()].map((b) => `${b.service}/${b.lane}`)).toEqual(['orders/stable']);
    breakers.close();
  });

  it('answers closed / not open for subsets of a table it never saw', () => {
    const breakers = new Breakers();
    const t = table(mesh());
    expect(breakers.isOpen(t.service('orders')!.subsets.get('canary')!)).toBe(false);
    expect(breakers.of(t.service('orders')!.subsets.get('canary')!)).toBeUndefined();
  });
});
