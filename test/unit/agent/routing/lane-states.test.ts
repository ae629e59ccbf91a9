/**
 * LaneState on the routing table: the share dyes uncoloured entry traffic sticky by the
 * Rollout's key (the users in at 5% are in at 25%, the same users as hashPercent), at random
 * without a key, after the lane's own rules, at the right entry services; degraded sends the
 * lane to its fallback with reason `degraded` (no-instance where it has no instance anyway,
 * 503 when strict), for split traffic too, and a degraded lane in a fallback chain is skipped.
 */
import { describe, expect, it } from 'vitest';
import { SHARE_RULE } from '../../../../agent/routing/dye.ts';
import { compileSnapshot } from '../../../../agent/routing/compile.ts';
import { EndpointStates } from '../../../../agent/routing/endpoint-states.ts';
import { shareRules } from '../../../../agent/routing/lane-states.ts';
import { route } from '../../../../agent/routing/router.ts';
import type { DocumentInput } from '../../../../shared/schema/documents.ts';
import { buildSnapshot, instance, lane, laneState, requestView, rollout, seededRandom, service } from '../../../support/snapshot-builder.ts';

const table = (docs: DocumentInput[]) => compileSnapshot(buildSnapshot(docs), new EndpointStates());
const never = () => 0.999999;
const steps = [{ percent: 5, pauseMs: 1000 }, { percent: 25, pauseMs: 1000 }, { percent: 100 }];
const users = Array.from({ length: 2000 }, (_, i) => `user-${i}`);

function dyedUsers(docs: DocumentInput[], at = 'frontend'): Set<string> {
  const t = table(docs);
  return new Set(users.filter((u) => t.dye(at, requestView({ 'x-user-id': u }), never)?.color === 'canary'));
}

const base: DocumentInput[] = [lane('canary'), rollout('orders-v2', 'canary', { stickyKey: 'header:x-user-id', steps, entry: ['frontend'] })];

describe('LaneState share', () => {
  it('dyes about share% of users, and every user in at 5% is in at 25%', () => {
    const at5 = dyedUsers([...base, laneState('canary', { share: 5 })]);
    const at25 = dyedUsers([...base, laneState('canary', { share: 25 })]);
    expect(at5.size / users.length).toBeGreaterThan(0.03);
    expect(at5.size / users.length).toBeLessThan(0.07);
    expect(at25.size / users.length).toBeGreaterThan(0.22);
    expect(at25.size / users.length).toBeLessThan(0.28);
    for (const u of at5) expect(at25.has(u), u).toBe(true);
    expect(dyedUsers([...base, laneState('canary', { share: 100 })]).size).toBe(users.length);
    expect(dyedUsers([...base, laneState('canary', { share: 0 })]).size).toBe(0);
  });

  it('picks the same users as a hashPercent rule on the same key', () => {
    const byShare = dyedUsers([...base, laneState('canary', { share: 10 })]);
    const byRule = dyedUsers([lane('canary', { dye: { entry: ['frontend'], match: [{ headers: { 'x-user-id': { hashPercent: 10 } } }] } })]);
    expect([...byShare].sort()).toEqual([...byRule].sort());
  });

  it('dyes requests without the key at random, share% of them', () => {
    const t = table([...base, laneState('canary', { share: 25 })]);
    const random = seededRandom(7);
    let n = 0;
    for (let i = 0; i < 4000; i++) if (t.dye('frontend', requestView(), random)?.color === 'canary') n++;
    expect(n / 4000).toBeGreaterThan(0.22);
    expect(n / 4000).toBeLessThan(0.28);
    expect(shareRules(25, undefined)).toEqual([{ percent: 25 }]);
    expect(shareRules(25, 'cookie:uid')).toEqual([{ cookies: { uid: { hashPercent: 25 } } }, { cookies: { uid: { present: false } }, percent: 25 }]);
  });

  it('applies at the entry services only: the Rollout entry, else the Lane dye.entry, else every service', () => {
    expect(dyedUsers([...base, laneState('canary', { share: 100 })], 'orders').size).toBe(0);
    const laneEntry = [lane('canary', { dye: { entry: ['gateway'], match: [{ headers: { 'x-beta': { exact: '1' } } }] } }), rollout('r', 'canary', { steps }), laneState('canary', { share: 100 })];
    expect(dyedUsers(laneEntry, 'gateway').size).toBe(users.length);
    expect(dyedUsers(laneEntry, 'frontend').size).toBe(0);
    expect(dyedUsers([lane('canary'), laneState('canary', { share: 100 })], 'anything').size).toBe(users.length);
  });

  it("comes after the lane's own rules and after lanes of higher priority", () => {
    const t = table([
      lane('canary', { dye: { entry: ['frontend'], match: [{ headers: { 'x-beta': { exact: '1' } } }] } }),
      lane('blue', { priority: 5, dye: { entry: ['frontend'], match: [{ headers: { 'x-blue': { exact: '1' } } }] } }),
      rollout('r', 'canary', { stickyKey: 'header:x-user-id', steps }),
      laneState('canary', { share: 100 }),
    ]);
    expect(t.dye('frontend', requestView({ 'x-beta': '1' }), never)).toEqual({ color: 'canary', lane: 'canary', rule: 0 });
    expect(t.dye('frontend', requestView({ 'x-user-id': 'u' }), never)).toEqual({ color: 'canary', lane: 'canary', rule: SHARE_RULE });
    expect(t.dye('frontend', requestView({ 'x-blue': '1', 'x-user-id': 'u' }), never)?.color).toBe('blue');
  });
});

describe('LaneState degraded', () => {
  const mesh: DocumentInput[] = [
    lane('canary'),
    lane('strict', { fallback: 'none' }),
    lane('dev', { fallback: 'canary' }),
    instance('o-s', 'orders', '10.0.0.1'),
    instance('o-c', 'orders', '10.0.1.1', { color: 'canary' }),
    instance('o-d', 'orders', '10.0.2.1', { color: 'dev' }),
    instance('o-x', 'orders', '10.0.3.1', { color: 'strict' }),
    instance('p-s', 'payments', '10.0.4.1'),
  ];
  const lanes = (d: ReturnType<typeof route>) => d?.candidates.map((s) => s.lane);

  it('sends the lane to its fallback with reason degraded, and back when it is not', () => {
    const degraded = table([...mesh, laneState('canary', { degraded: true })]);
    expect(route(degraded, 'orders', 'canary', requestView(), never)).toMatchObject({ requested: 'canary', fallback: 'degraded' });
    expect(lanes(route(degraded, 'orders', 'canary', requestView(), never))).toEqual(['stable']);
    const healthy = table([...mesh, laneState('canary', { degraded: false })]);
    expect(route(healthy, 'orders', 'canary', requestView(), never)?.fallback).toBeUndefined();
  });

  it('says no-instance where the lane has no instance anyway', () => {
    const t = table([...mesh, laneState('canary', { degraded: true })]);
    expect(route(t, 'payments', 'canary', requestView(), never)).toMatchObject({ fallback: 'no-instance' });
  });

  it('leaves a strict lane without candidates (503), skips a degraded lane in a chain, and catches split traffic', () => {
    const t = table([...mesh, laneState('strict', { degraded: true }), laneState('canary', { degraded: true }), service('orders', { split: { stable: 50, canary: 50 } })]);
    expect(route(t, 'orders', 'strict', requestView(), never)?.candidates).toEqual([]);
    expect(lanes(route(t, 'orders', 'dev', requestView(), never))).toEqual(['dev', 'stable']);
    const random = seededRandom(3);
    for (let i = 0; i < 50; i++) {
      const d = route(t, 'orders', undefined, requestView(), random)!;
      expect(d.candidates[0]!.lane).toBe('stable');
      if (d.requested === 'canary') expect(d.fallback).toBe('degraded');
    }
  });
});
