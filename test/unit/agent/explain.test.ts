import { describe, expect, it } from 'vitest';
import { explain, type ExplainInput } from '../../../agent/explain.ts';
import { formatExplain } from '../../../agent/explain-format.ts';
import { compileSnapshot } from '../../../agent/routing/compile.ts';
import { EndpointStates } from '../../../agent/routing/endpoint-states.ts';
import { buildSnapshot, instance, lane, laneState, rollout, service } from '../../support/snapshot-builder.ts';

const table = compileSnapshot(
  buildSnapshot(
    [
      lane('canary', {
        priority: 10,
        dye: {
          entry: ['frontend'],
          match: [{ headers: { 'x-internal-user': { exact: 'true' } } }, { cookies: { beta: { exact: '1' } } }, { query: { lane: { exact: 'canary' } } }, { percent: 5 }],
        },
      }),
      lane('strict', { fallback: 'none' }),
      service('orders', { split: { stable: 90, canary: 10 }, splitKey: 'header:x-user-id' }),
      instance('orders-stable-1', 'orders', '10.0.0.1'),
      instance('orders-canary-1', 'orders', '10.0.1.1', { color: 'canary' }),
      instance('orders-canary-2', 'orders', '10.0.1.2', { color: 'canary', healthy: false }),
      instance('payments-1', 'payments', '10.0.2.1'),
    ],
    12,
  ),
  new EndpointStates(),
);

const ask = (service: string, more: Partial<ExplainInput> = {}) => explain(table, { service, headers: [], cookies: [], query: [], ...more });

describe('explain', () => {
  it('dyes at the caller by cookie or query rules; a random percent rule is listed only when tried first', () => {
    const byCookie = ask('orders', { from: 'frontend', cookies: [['beta', '1']] });
    expect(byCookie).toMatchObject({ color: 'canary', colorSource: 'dye', dyedBy: { lane: 'canary', rule: 1 }, randomDyes: [] });
    expect(byCookie.routes).toHaveLength(1);
    expect(byCookie.routes[0]).toMatchObject({ share: 100, requested: 'canary', served: 'canary', fallback: null });
    expect(byCookie.routes[0].candidates.map((c) => c.lane)).toEqual(['canary', 'stable']);
    expect(byCookie.routes[0].candidates[0].instances.map((i) => [i.name, i.routable])).toEqual([
      ['orders-canary-1', true],
      ['orders-canary-2', false],
    ]);
    expect(ask('orders', { from: 'frontend', query: [['lane', 'canary']] }).dyedBy).toMatchObject({ rule: 2 });
    const undyed = ask('payments', { from: 'frontend' });
    expect(undyed).toMatchObject({ color: null, dyedBy: null, randomDyes: [{ lane: 'canary', rule: 3, percent: 5 }] });
    expect(undyed.routes[0]).toMatchObject({ requested: 'stable', served: 'stable' });
    expect(ask('orders', { from: 'checkout', headers: [['x-internal-user', 'true']] })).toMatchObject({ color: null, dyedBy: null });
    expect(ask('orders', { headers: [['x-internal-user', 'true']] })).toMatchObject({ color: null, dyedBy: null });
  });

  it('reads the colour from header, baggage, cookie and query, in that order, and flags invalid colours', () => {
    expect(ask('payments', { headers: [['X-Traffic-Color', 'canary']], cookies: [['traffic_color', 'strict']] })).toMatchObject({ color: 'canary', colorSource: 'header' });
    expect(ask('payments', { headers: [['baggage', 'k=v,traffic_color=strict']], query: [['traffic_color', 'canary']] })).toMatchObject({ color: 'strict', colorSource: 'baggage' });
    expect(ask('payments', { cookies: [['traffic_color', 'canary']] })).toMatchObject({ color: 'canary', colorSource: 'cookie' });
    expect(ask('payments', { headers: [['cookie', 'a=1; traffic_color=canary']] })).toMatchObject({ color: 'canary', colorSource: 'cookie' });
    expect(ask('payments', { query: [['traffic_color', 'canary']] })).toMatchObject({ color: 'canary', colorSource: 'query' });
    const bad = ask('payments', { from: 'frontend', headers: [['x-traffic-color', 'NOT_VALID'], ['x-internal-user', 'true']] });
    expect(bad).toMatchObject({ invalidColorIn: 'header', color: 'canary', colorSource: 'dye' });
  });

  it('shows fallbacks: no-instance to stable, strict lanes without a candidate, undocumented colours', () => {
    const fb = ask('payments', { headers: [['x-traffic-color', 'canary']] });
    expect(fb.lane).toEqual({ name: 'canary', color: 'canary', fallbackChain: ['stable'], strict: false });
    expect(fb.routes[0]).toMatchObject({ requested: 'canary', served: 'stable', fallback: 'no-instance' });
    const strict = ask('payments', { headers: [['x-traffic-color', 'strict']] });
    expect(strict.routes[0]).toMatchObject({ requested: 'strict', served: null, fallback: null, candidates: [] });
    expect(formatExplain(strict)).toContain('lane strict: no instance can serve → 503 no-instance');
    const gray = ask('orders', { headers: [['x-traffic-color', 'gray']] });
    expect(gray.lane).toBeNull();
    expect(gray.routes[0]).toMatchObject({ requested: 'gray', served: 'stable', fallback: 'no-instance' });
    expect(formatExplain(gray)).toContain('gray has no Lane document');
  });

  it('split: one route per lane with its share, or the sticky one for a splitKey value', () => {
    const random = ask('orders');
    expect(random.split).toMatchObject({ weights: { stable: 90, canary: 10 }, key: 'header:x-user-id', sticky: false });
    expect(random.routes.map((r) => [r.share, r.requested, r.served])).toEqual([
      [10, 'canary', 'canary'],
      [90, 'stable', 'stable'],
    ]);
    for (const user of ['user-1', 'user-2', 'user-3', 'user-42']) {
      const sticky = ask('orders', { headers: [['x-user-id', user]] });
      expect(sticky.split).toMatchObject({ sticky: true, keyValue: user });
      expect(sticky.routes).toHaveLength(1);
      expect(sticky.routes[0].requested).toBe(sticky.split!.bucket! < 10 ? 'canary' : 'stable');
    }
  });

  it('an unknown service is passed through', () => {
    const r = ask('elsewhere');
    expect(r).toMatchObject({ known: false, routes: [] });
    expect(formatExplain(r)).toContain('elsewhere is not in the snapshot: the agent passes the request through');
  });
});

describe('explain with a LaneState', () => {
  const steps = [{ percent: 50, pauseMs: 1000 }, { percent: 100 }];
  const withState = (state: { share?: number; degraded?: boolean }) =>
    compileSnapshot(
      buildSnapshot([
        lane('canary'),
        rollout('r', 'canary', { stickyKey: 'header:x-user-id', entry: ['frontend'], steps }),
        laneState('canary', state),
        instance('orders-stable-1', 'orders', '10.0.0.1'),
        instance('orders-canary-1', 'orders', '10.0.1.1', { color: 'canary' }),
      ]),
      new EndpointStates(),
    );
  const users = Array.from({ length: 50 }, (_, i) => `user-${i}`);

  it('names a dye by the share as the LaneState share, with the sticky rule it is', () => {
    const t = withState({ share: 50 });
    const r = users.map((u) => explain(t, { service: 'orders', from: 'frontend', headers: [['x-user-id', u]], cookies: [], query: [] })).find((x) => x.dyedBy !== null)!;
    expect(r.dyedBy).toEqual({ lane: 'canary', color: 'canary', rule: -1, match: { headers: { 'x-user-id': { hashPercent: 50 } } } });
    expect(formatExplain(r)).toMatch(/dyed at frontend's inbound by lane "canary" LaneState share \(header x-user-id hashPercent 50\)/);
  });

  it('shows a degraded lane served by its fallback with reason degraded', () => {
    const r = explain(withState({ degraded: true }), { service: 'orders', headers: [['x-traffic-color', 'canary']], cookies: [], query: [] });
    expect(r.routes[0]).toMatchObject({ requested: 'canary', served: 'stable', fallback: 'degraded' });
  });
});
