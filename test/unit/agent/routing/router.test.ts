import { describe, expect, it } from 'vitest';
import { compileSnapshot } from '../../../../agent/routing/compile.ts';
import { EndpointStates } from '../../../../agent/routing/endpoint-states.ts';
import { route } from '../../../../agent/routing/router.ts';
import type { Subset } from '../../../../agent/routing/types.ts';
import type { DocumentInput } from '../../../../shared/schema/documents.ts';
import { buildSnapshot, instance, lane, requestView, seededRandom, service } from '../../../support/snapshot-builder.ts';

const table = (docs: DocumentInput[], states = new EndpointStates()) => compileSnapshot(buildSnapshot(docs), states);
const noRandom = () => {
  throw new Error('random drawn');
};
const lanesOf = (d: { candidates: readonly Subset[] } | undefined) => d?.candidates.map((s) => s.lane);
const empty = requestView();

const mesh: DocumentInput[] = [
  lane('canary'),
  lane('strict', { fallback: 'none' }),
  lane('dev', { fallback: 'canary' }),
  instance('o-s1', 'orders', '10.0.0.1'),
  instance('o-s2', 'orders', '10.0.0.2'),
  instance('o-c1', 'orders', '10.0.1.1', { color: 'canary' }),
  instance('p-s1', 'payments', '10.0.2.1'),
];

describe('route: uncoloured', () => {
  it('goes to stable when the service has no split, and never to canary', () => {
    const t = table(mesh);
    const random = seededRandom(1);
    for (let i = 0; i < 200; i++) {
      const d = route(t, 'orders', undefined, empty, random)!;
      expect(d).toMatchObject({ requested: 'stable' });
      expect(d.fallback).toBeUndefined();
      expect(d.candidates[0].lane).toBe('stable');
      expect(lanesOf(d)).not.toContain('canary');
    }
  });

  it('split {stable: 90, canary: 10} gives 10% ± 2% over 2,000 requests (seeded)', () => {
    const t = table([...mesh, service('orders', { split: { stable: 90, canary: 10 } })]);
    const random = seededRandom(42);
    let canary = 0;
    const n = 2000;
    for (let i = 0; i < n; i++) {
      const d = route(t, 'orders', undefined, empty, random)!;
      expect(d.candidates[0].lane).toBe(d.requested);
      if (d.requested === 'canary') canary++;
    }
    expect(canary / n).toBeGreaterThanOrEqual(0.08);
    expect(canary / n).toBeLessThanOrEqual(0.12);
  });

  it('splitKey makes it sticky: the same value always lands on the same subset, values spread by weight', () => {
    for (const [splitKey, view] of [
      ['header:X-User-Id', (v: string) => requestView({ 'x-user-id': v })],
      ['cookie:uid', (v: string) => requestView({}, { uid: v })],
    ] as const) {
      const t = table([...mesh, service('orders', { split: { stable: 90, canary: 10 }, splitKey })]);
      let canary = 0;
      const users = 2000;
      for (let u = 0; u < users; u++) {
        const req = view(`user-${u}`);
        const first = route(t, 'orders', undefined, req, noRandom)!.requested;
        for (let k = 0; k < 3; k++) expect(route(t, 'orders', undefined, req, noRandom)!.requested).toBe(first);
        if (first === 'canary') canary++;
      }
      expect(canary / users).toBeGreaterThanOrEqual(0.08);
      expect(canary / users).toBeLessThanOrEqual(0.12);
    }
  });

  it('sticky split picks the same users as hashPercent on the same key', () => {
    const t = table([
      lane('canary', { dye: { match: [{ headers: { 'x-user-id': { hashPercent: 10 } } }] } }),
      instance('c', 'orders', '10.0.0.9', { color: 'canary' }),
      instance('s', 'orders', '10.0.0.8'),
      service('orders', { split: { stable: 90, canary: 10 }, splitKey: 'header:x-user-id' }),
    ]);
    for (let u = 0; u < 500; u++) {
      const req = requestView({ 'x-user-id': `u${u}` });
      expect(route(t, 'orders', undefined, req, noRandom)!.requested === 'canary').toBe(t.dye('frontend', req, noRandom) !== undefined);
    }
  });

  it('a split lane without instances falls back to stable, never along the lane chain', () => {
    const t = table([
      lane('blue', { fallback: 'canary' }),
      lane('canary'),
      instance('s', 'orders', '10.0.0.1'),
      instance('c', 'orders', '10.0.0.2', { color: 'canary' }),
      service('orders', { split: { stable: 50, blue: 50 } }),
    ]);
    const d = route(t, 'orders', undefined, empty, () => 0)!; // bucket 0 → blue
    expect(d).toMatchObject({ requested: 'blue', fallback: 'no-instance' });
    expect(lanesOf(d)).toEqual(['stable']);
  });
});

describe('route: coloured', () => {
  it('serves the lane where the service has it, stable where it does not', () => {
    const t = table(mesh);
    const d = route(t, 'orders', 'canary', empty, noRandom)!;
    expect(d).toMatchObject({ requested: 'canary' });
    expect(d.fallback).toBeUndefined();
    expect(lanesOf(d)).toEqual(['canary', 'stable']);
    const p = route(t, 'payments', 'canary', empty, noRandom)!;
    expect(p).toMatchObject({ requested: 'canary', fallback: 'no-instance' });
    expect(lanesOf(p)).toEqual(['stable']);
  });

  it('falls back when every instance of the lane is ejected, and returns once the ejection ends', () => {
    const states = new EndpointStates();
    const t = table(mesh, states);
    const now = 1_000_000;
    states.get('10.0.1.1:8080').ejectedUntil = now + 30_000;
    expect(route(t, 'orders', 'canary', empty, noRandom, undefined, now)).toMatchObject({ requested: 'canary', fallback: 'no-instance' });
    expect(lanesOf(route(t, 'orders', 'canary', empty, noRandom, undefined, now))).toEqual(['stable']);
    const later = route(t, 'orders', 'canary', empty, noRandom, undefined, now + 30_000)!;
    expect(later.fallback).toBeUndefined();
    expect(lanesOf(later)).toEqual(['canary', 'stable']);
  });

  it('falls back for an unhealthy-only lane', () => {
    const t = table([...mesh, instance('o-c2', 'orders', '10.0.1.2', { color: 'dev', healthy: false })]);
    const d = route(t, 'orders', 'dev', empty, noRandom)!;
    expect(d).toMatchObject({ requested: 'dev', fallback: 'no-instance' });
    expect(lanesOf(d)).toEqual(['canary', 'stable']);
  });

  it('walks the whole chain (dev → canary → stable)', () => {
    const t = table(mesh);
    expect(lanesOf(route(t, 'orders', 'dev', empty, noRandom))).toEqual(['canary', 'stable']);
    expect(lanesOf(route(t, 'payments', 'dev', empty, noRandom))).toEqual(['stable']);
  });

  it('strict lane: no candidates when it has no instance', () => {
    const t = table([...mesh, instance('o-x', 'orders', '10.0.3.1', { color: 'strict' })]);
    const own = route(t, 'orders', 'strict', empty, noRandom)!;
    expect(lanesOf(own)).toEqual(['strict']);
    const d = route(t, 'payments', 'strict', empty, noRandom)!;
    expect(d.candidates).toEqual([]);
    expect(d.requested).toBe('strict');
    expect(d.fallback).toBeUndefined();
  });

  it('cycles still end at stable', () => {
    const t = table([lane('a', { fallback: 'b' }), lane('b', { fallback: 'a' }), instance('s', 'orders', '10.0.0.1')]);
    expect(route(t, 'orders', 'a', empty, noRandom)).toMatchObject({ requested: 'a', fallback: 'no-instance' });
    expect(lanesOf(route(t, 'orders', 'a', empty, noRandom))).toEqual(['stable']);
  });

  it('circuit hook: an open circuit on the lane gives circuit-open, on a fallback it is skipped', () => {
    const t = table(mesh);
    const open = new Set(['canary']);
    const isOpen = (s: Subset) => open.has(s.lane);
    const d = route(t, 'orders', 'canary', empty, noRandom, isOpen)!;
    expect(d).toMatchObject({ requested: 'canary', fallback: 'circuit-open' });
    expect(lanesOf(d)).toEqual(['stable']);
    open.clear();
    open.add('stable');
    expect(lanesOf(route(t, 'orders', 'canary', empty, noRandom, isOpen))).toEqual(['canary', 'stable']);
    expect(route(t, 'payments', 'canary', empty, noRandom, isOpen)!.candidates).toEqual([]);
  });

  it('an unknown colour routes to its own subset when instances carry it, else to stable', () => {
    const t = table([...mesh, instance('o-g', 'orders', '10.0.4.1', { color: 'gray' })]);
    const own = route(t, 'orders', 'gray', empty, noRandom)!;
    expect(own.fallback).toBeUndefined();
    expect(lanesOf(own)).toEqual(['gray', 'stable']);
    const other = route(t, 'payments', 'gray', empty, noRandom)!;
    expect(other).toMatchObject({ requested: 'gray', fallback: 'no-instance' });
    expect(lanesOf(other)).toEqual(['stable']);
    for (let i = 0; i < 200; i++) expect(route(t, 'payments', `c${i}`, empty, noRandom)!.requested).toBe(`c${i}`);
  });

  it('an unknown service is not routed (pass-through); a known one without instances has no candidates', () => {
    const t = table([...mesh, service('empty')]);
    expect(route(t, 'nowhere', undefined, empty, noRandom)).toBeUndefined();
    expect(route(t, 'empty', 'canary', empty, noRandom)!.candidates).toEqual([]);
  });

  it('returns the same precomputed decision in the common case', () => {
    const t = table(mesh);
    expect(route(t, 'orders', 'canary', empty, noRandom)).toBe(route(t, 'orders', 'canary', empty, noRandom));
    expect(route(t, 'orders', undefined, empty, noRandom)).toBe(route(t, 'orders', undefined, empty, noRandom));
  });
});
