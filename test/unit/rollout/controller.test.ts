/**
 * The controller loop over an in-memory source: only the lease holder analyses and writes,
 * a standby shows the document's state, a failed write is decided again, a lost lease stops a
 * write, the lane of a rollout must exist, rollouts run on their own intervals.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/log.ts';
import { type AnalysisResult, judge } from '../../../rollout/analysis/judge.ts';
import { type ControllerSource, RolloutController, type RolloutWorld } from '../../../rollout/controller/controller.ts';
import { MemoryLease, MemoryLeaseTable } from '../../support/memory-lease.ts';
import type { RolloutRef } from '../../../rollout/state/machine.ts';
import { type LaneStateSpec, RolloutSpec } from '../../../shared/schema/rollout.ts';

const log = createLogger({ component: 'test' }, { write: () => true } as never);
const T0 = Date.parse('2026-01-01T00:00:00Z');

function rollout(name: string, lane: string, intervalMs = 1000, pauseMs = 2000): RolloutRef {
  return { name, spec: RolloutSpec.parse({ lane, steps: [{ percent: 10, pauseMs }, { percent: 100 }], analysis: { intervalMs, minRequests: 1 } }) };
}

function result(ok: boolean, now: Date): AnalysisResult {
  return judge([{ service: 'orders', laneRequests: 100, laneErrors: ok ? 0 : 50, stableRequests: 100, stableErrors: 0, circuitOpen: false }], RolloutSpec.parse({ lane: 'x', steps: [{ percent: 100 }] }).analysis, now);
}

/** One source's documents, shared by the controllers under test. */
class Store {
  rollouts: RolloutRef[] = [];
  lanes = new Map<string, string>([['canary', 'canary'], ['blue', 'blue']]);
  states = new Map<string, LaneStateSpec>();
  writes: { lane: string; by: string; spec: LaneStateSpec }[] = [];
  failWrites = 0;
  table = new MemoryLeaseTable();

  source(identity: string, clock: () => number, ttlMs = 15_000): ControllerSource {
    const world: RolloutWorld = { rollouts: this.rollouts, laneColor: (l) => this.lanes.get(l), laneState: (l) => this.states.get(l) };
    const lease = new MemoryLease(this.table, identity, ttlMs, clock);
    return {
      world: () => world,
      lease,
      writeLaneState: async (lane, spec) => {
        if (this.failWrites > 0) {
          this.failWrites--;
          throw new Error('source unreachable');
        }
        this.states.set(lane, structuredClone(spec));
        this.writes.push({ lane, by: identity, spec });
      },
    };
  }
}

function controller(store: Store, identity: string, clock: () => number, healthy: () => boolean = () => true) {
  const analysed: string[] = [];
  const c = new RolloutController({
    source: store.source(identity, clock),
    identity,
    log,
    clock,
    analyse: async (r, color, now) => {
      analysed.push(`${r.name}:${color}`);
      return result(healthy(), now);
    },
  });
  return { c, analysed };
}

describe('rollout controller', () => {
  it('only the lease holder analyses and writes; the standby reports the document', async () => {
    let now = T0;
    const clock = () => now;
    const store = new Store();
    store.rollouts.push(rollout('orders-v2', 'canary'));
    const a = controller(store, 'a', clock);
    const b = controller(store, 'b', clock);
    await a.c.pass();
    await b.c.pass();
    expect(a.c.leader).toBe(true);
    expect(b.c.leader).toBe(false);
    expect(store.writes.map((w) => [w.by, w.spec.share])).toEqual([['a', 10]]);
    for (let i = 0; i < 2; i++) {
      now += 1000;
      await a.c.pass();
      await b.c.pass();
    }
    expect(store.writes.map((w) => [w.by, w.spec.share, w.spec.phase])).toEqual([['a', 10, 'Progressing'], ['a', 100, 'Progressing']]);
    expect(b.analysed).toEqual([]);
    expect(a.analysed).toEqual(['orders-v2:canary', 'orders-v2:canary']);
    expect(b.c.statuses()).toEqual([expect.objectContaining({ name: 'orders-v2', lane: 'canary', phase: 'Progressing', share: 100, step: 1, reason: 'standby: the lease is held by a' })]);
    expect(a.c.statuses()[0]).toMatchObject({ phase: 'Progressing', share: 100, lastAnalysis: { passed: true, requests: 100 } });
  });

  it('hands over when the holder stops: the next one re-derives the step from the document', async () => {
    let now = T0;
    const clock = () => now;
    const store = new Store();
    store.rollouts.push(rollout('orders-v2', 'canary'));
    const a = controller(store, 'a', clock);
    const b = controller(store, 'b', clock);
    await a.c.pass();
    now += 1000;
    await a.c.pass();
    // a dies silently; b takes over after the TTL, keeps the lane at 10% and goes on.
    now += 16_000;
    await b.c.pass();
    expect(b.c.leader).toBe(true);
    expect(store.writes.at(-1)).toMatchObject({ by: 'b', spec: { share: 100 } });
    expect(store.writes.at(-1)!.spec.history.at(-1)).toMatchObject({ controller: 'b', share: 100 });
  });

  it('decides again after a failed write, and does not write after losing the lease', async () => {
    let now = T0;
    const clock = () => now;
    const store = new Store();
    store.rollouts.push(rollout('orders-v2', 'canary'));
    const a = controller(store, 'a', clock);
    store.failWrites = 1;
    await a.c.pass();
    expect(store.writes).toEqual([]);
    expect(a.c.statuses()[0]!.reason).toMatch(/^not written \(source unreachable\)/);
    now += 1000;
    await a.c.pass();
    expect(store.writes.map((w) => w.spec.share)).toEqual([10]);
    // Someone else takes the lease (a's renewals stalled): a's next decision is not written.
    store.table.holder = 'z';
    store.table.renewedAt = now + 10_000;
    now += 3000;
    await a.c.pass();
    expect(store.writes.map((w) => w.spec.share)).toEqual([10]);
    expect(a.c.leader).toBe(false);
  });

  it('aborts a failing lane and pauses a rollout whose lane does not exist', async () => {
    let now = T0;
    const clock = () => now;
    const store = new Store();
    store.rollouts.push(rollout('orders-v2', 'canary'), rollout('ghost', 'nolane'));
    const a = controller(store, 'a', clock, () => false);
    await a.c.pass();
    now += 1000;
    await a.c.pass();
    now += 1000;
    await a.c.pass();
    expect(store.states.get('canary')).toMatchObject({ phase: 'Aborted', share: 0, degraded: true });
    expect(a.c.statuses().map((s) => [s.name, s.phase])).toEqual([['ghost', 'Paused'], ['orders-v2', 'Aborted']]);
    expect(a.c.statuses()[0]!.reason).toBe('no Lane document named "nolane"');
    expect(a.c.statuses()[1]!.reason).toMatch(/^aborted at step 1\/2 \(10%\) after 2 failed analyses: error rate above 1%: orders 50% of 100/);
    expect(store.states.has('nolane')).toBe(false);
  });

  it('runs each rollout on its own interval', async () => {
    let now = T0;
    const clock = () => now;
    const store = new Store();
    store.rollouts.push(rollout('fast', 'canary', 1000, 3_600_000), rollout('slow', 'blue', 5000, 3_600_000));
    const a = controller(store, 'a', clock);
    for (let i = 0; i <= 20; i++) {
      await a.c.pass();
      now += 500;
    }
    // Started at 0 (no analysis), then every 1 s / 5 s up to 10 s.
    expect(a.analysed.filter((x) => x.startsWith('fast')).length).toBe(10);
    expect(a.analysed.filter((x) => x.startsWith('slow')).length).toBe(2);
  });
});
