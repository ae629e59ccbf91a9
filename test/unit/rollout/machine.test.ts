/**
 * The rollout state machine with an injected clock and a LaneState "source" that applies its
 * writes: steps and pauses, promotion, abort at failureLimit, analysis errors pause without a
 * write, manual edits win, restarts re-derive the step from the document, stale reads.
 */
import { describe, expect, it } from 'vitest';
import { type AnalysisResult, couldNotAnalyse, judge } from '../../../rollout/analysis/judge.ts';
import { decide, EMPTY_MEMORY, type Memory, observe, type RolloutRef } from '../../../rollout/state/machine.ts';
import { HISTORY_LIMIT, type LaneStateSpec, LaneStateSpec as LaneStateSchema, RolloutSpec } from '../../../shared/schema/rollout.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');

const rollout: RolloutRef = {
  name: 'orders-v2',
  spec: RolloutSpec.parse({
    lane: 'canary',
    stickyKey: 'header:x-user-id',
    steps: [{ percent: 5, pauseMs: 60_000 }, { percent: 25, pauseMs: 60_000 }, { percent: 100 }],
    analysis: { intervalMs: 10_000, failureLimit: 2, minRequests: 20, maxErrorRatePercent: 1, maxLatencyRatio: 1.5 },
  }),
};
const thresholds = rollout.spec.analysis;

function result(laneErrors: number, laneRequests = 100, at = T0): AnalysisResult {
  return judge(
    [{ service: 'orders', laneRequests, laneErrors, stableRequests: 1000, stableErrors: 0, laneLatency: 0.01, stableLatency: 0.01, circuitOpen: false }],
    thresholds,
    new Date(at),
  );
}
const pass = (at?: number) => result(0, 100, at);
const fail = (at?: number) => result(30, 100, at);

/** A controller over one in-memory LaneState that applies the machine's writes. */
class Harness {
  doc: LaneStateSpec | undefined;
  memory: Memory = EMPTY_MEMORY;
  now = T0;
  writes: LaneStateSpec[] = [];
  controller = 'host-a/1';

  tick(analysis?: (now: number) => AnalysisResult) {
    const seen = observe(rollout, this.doc, this.memory);
    const d = decide({ rollout, doc: this.doc, memory: this.memory, now: this.now, controller: this.controller, analysis: seen === 'progressing' ? analysis?.(this.now) : undefined });
    this.memory = d.memory;
    if (d.write) {
      // Written documents must be valid LaneState specs.
      this.doc = LaneStateSchema.parse(JSON.parse(JSON.stringify(d.write)));
      this.writes.push(this.doc);
    }
    return d;
  }

  advance(ms: number) {
    this.now += ms;
  }
}

describe('rollout state machine', () => {
  it('starts at the first step when the lane has no LaneState', () => {
    const h = new Harness();
    const d = h.tick();
    expect(d.write).toMatchObject({ share: 5, degraded: false, phase: 'Progressing', step: 0, updatedBy: 'rollout/orders-v2', updatedAt: '2026-01-01T00:00:00.000Z' });
    expect(d.status).toMatchObject({ name: 'orders-v2', lane: 'canary', phase: 'Progressing', step: 0, share: 5 });
    expect(h.doc!.history).toHaveLength(1);
    expect(h.doc!.history[0]).toMatchObject({ by: 'rollout/orders-v2', controller: 'host-a/1', share: 5, reason: 'rollout started at step 1/3 (5%)' });
  });

  it('goes 5 → 25 → 100 and is promoted, each step after its pause and a passing analysis', () => {
    const h = new Harness();
    h.tick();
    const shares: number[] = [h.doc!.share];
    for (let i = 0; i < 30 && h.doc!.phase !== 'Promoted'; i++) {
      h.advance(10_000);
      const d = h.tick(pass);
      if (d.write) shares.push(d.write.share);
    }
    expect(shares).toEqual([5, 25, 100, 100]);
    expect(h.doc).toMatchObject({ phase: 'Promoted', share: 100, degraded: false, step: 2 });
    // 60 s at 5%, 60 s at 25%, one passing analysis at 100%.
    expect(h.now - T0).toBe(130_000);
    expect(h.writes.map((w) => w.updatedAt)).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-01T00:01:00.000Z', '2026-01-01T00:02:00.000Z', '2026-01-01T00:02:10.000Z']);
    expect(h.doc!.history.map((c) => [c.phase, c.share, c.step])).toEqual([
      ['Progressing', 5, 0],
      ['Progressing', 25, 1],
      ['Progressing', 100, 2],
      ['Promoted', 100, 2],
    ]);
    expect(h.doc!.history[1]!.analysis).toMatchObject({ passed: true, requests: 100, errorRatePercent: 0 });
    // Promoted is settled: more ticks change nothing.
    h.advance(10_000);
    expect(h.tick(pass).write).toBeUndefined();
  });

  it('does not advance before the pause has elapsed, nor on an inconclusive analysis', () => {
    const h = new Harness();
    h.tick();
    h.advance(59_999);
    expect(h.tick(pass).write).toBeUndefined();
    h.advance(1);
    const d = h.tick(() => result(0, 5));
    expect(d.write).toBeUndefined();
    expect(d.status.reason).toMatch(/fewer than minRequests 20/);
    expect(d.status.failures).toBe(0);
    expect(h.tick(pass).write).toMatchObject({ share: 25, step: 1 });
  });

  it('aborts after failureLimit failed analyses within a step: share 0, degraded, phase Aborted, reasons', () => {
    const h = new Harness();
    h.tick();
    h.advance(10_000);
    const first = h.tick(fail);
    expect(first.write).toBeUndefined();
    expect(first.status).toMatchObject({ phase: 'Progressing', failures: 1 });
    expect(first.status.reason).toMatch(/analysis failed \(1\/2\): error rate above 1%: orders 30% of 100/);
    h.advance(10_000);
    const second = h.tick(fail);
    expect(second.write).toMatchObject({ phase: 'Aborted', share: 0, degraded: true, step: 0 });
    expect(second.write!.reason).toMatch(/^aborted at step 1\/3 \(5%\) after 2 failed analyses: error rate above 1%/);
    expect(second.write!.analysis).toMatchObject({ passed: false, errorRatePercent: 30 });
    expect(second.status.phase).toBe('Aborted');
    h.advance(10_000);
    expect(h.tick(pass).write).toBeUndefined();
  });

  it('counts failures per step: a step that passes resets them, a pass within a step does not', () => {
    const h = new Harness();
    h.tick();
    h.advance(10_000);
    h.tick(fail);
    h.advance(10_000);
    expect(h.tick(pass).status.failures).toBe(1);
    h.advance(50_000);
    expect(h.tick(pass).write).toMatchObject({ share: 25 });
    expect(h.memory.failures).toBe(0);
    h.advance(10_000);
    expect(h.tick(fail).write).toBeUndefined();
    h.advance(10_000);
    expect(h.tick(fail).write).toMatchObject({ phase: 'Aborted', step: 1 });
  });

  it('pauses without writing while Prometheus cannot be read, and never promotes blind', () => {
    const h = new Harness();
    h.tick();
    h.advance(120_000);
    const d = h.tick((now) => couldNotAnalyse('Prometheus at http://127.0.0.1:1 did not answer: fetch failed', new Date(now)));
    expect(d.write).toBeUndefined();
    expect(d.status.phase).toBe('Paused');
    expect(d.status.reason).toMatch(/could not analyse: Prometheus/);
    expect(d.status.failures).toBe(0);
    expect(h.doc!.phase).toBe('Progressing');
    h.advance(10_000);
    expect(h.tick(pass).write).toMatchObject({ share: 25 });
  });

  it('a manual edit wins: the rollout is paused and writes nothing until it is handed back', () => {
    const h = new Harness();
    h.tick();
    h.advance(10_000);
    h.doc = { ...h.doc!, share: 2, updatedBy: 'alice', updatedAt: new Date(h.now).toISOString(), reason: 'too early' };
    for (let i = 0; i < 10; i++) {
      h.advance(10_000);
      const d = h.tick(pass);
      expect(d.write).toBeUndefined();
      expect(d.status).toMatchObject({ phase: 'Paused', share: 2 });
      expect(d.status.reason).toMatch(/LaneState edited by alice: too early; paused until updatedBy is rollout\/orders-v2/);
    }
    expect(h.tick(fail).write).toBeUndefined();
    // Handed back: adopted at its share; its step started when it was written.
    const handedBackAt = h.now;
    h.doc = { ...h.doc, updatedBy: 'rollout/orders-v2', phase: 'Progressing', updatedAt: new Date(handedBackAt).toISOString(), reason: 'go on' };
    h.advance(10_000);
    expect(h.tick(pass).write).toBeUndefined();
    h.now = handedBackAt + 60_000;
    const d = h.tick(pass);
    expect(d.write).toMatchObject({ share: 25, step: 1 });
    // The trail records the manual edit and the hand-back between the controller's own writes.
    expect(h.doc!.history.map((c) => [c.by, c.share, c.reason])).toEqual([
      ['rollout/orders-v2', 5, 'rollout started at step 1/3 (5%)'],
      ['rollout/orders-v2', 2, 'go on'],
      ['rollout/orders-v2', 25, 'advanced to step 2/3 (25%): step 1/3 (5%) passed its analysis'],
    ]);
  });

  it('a manual edit to a terminal phase is shown as that phase', () => {
    const h = new Harness();
    h.tick();
    h.doc = { ...h.doc!, share: 0, degraded: true, phase: 'Aborted', updatedBy: 'bob', updatedAt: new Date(h.now + 1).toISOString() };
    expect(h.tick(pass).status.phase).toBe('Aborted');
  });

  it('after a restart (no memory) the lane stays where it was and its step keeps its start time', () => {
    const h = new Harness();
    h.tick();
    h.advance(60_000);
    h.tick(pass); // → 25% at T0+60 s
    expect(h.doc!.share).toBe(25);
    // Controller crashes at T0+100 s; a new one starts at T0+110 s with empty memory.
    h.memory = EMPTY_MEMORY;
    h.controller = 'host-b/7';
    h.now = T0 + 110_000;
    const d = h.tick(pass);
    expect(d.write).toBeUndefined();
    expect(d.status).toMatchObject({ phase: 'Progressing', step: 1, share: 25 });
    h.now = T0 + 120_000;
    expect(h.tick(pass).write).toMatchObject({ share: 100, step: 2 });
    expect(h.doc!.history.at(-1)!.controller).toBe('host-b/7');
  });

  it('a read that still shows the replaced document is stale: no second write, no false manual edit', () => {
    const h = new Harness();
    h.tick();
    const before = h.doc!;
    h.advance(60_000);
    const d = h.tick(pass);
    expect(d.write!.share).toBe(25);
    // The source has not caught up yet.
    h.doc = before;
    h.advance(10_000);
    const again = h.tick(pass);
    expect(again.write).toBeUndefined();
    expect(again.status.phase).toBe('Progressing');
    expect(again.status.reason).toMatch(/waiting for the last write/);
    h.doc = d.write;
    expect(h.tick(pass).status.phase).toBe('Progressing');
  });

  it('a deleted LaneState restarts the rollout from its first step', () => {
    const h = new Harness();
    h.tick();
    h.advance(60_000);
    h.tick(pass);
    h.advance(10_000);
    h.tick(pass);
    h.doc = undefined;
    h.advance(10_000);
    expect(h.tick(pass).write).toMatchObject({ share: 5, step: 0, phase: 'Progressing' });
  });

  it('keeps the newest HISTORY_LIMIT changes', () => {
    const many: LaneStateSpec = LaneStateSchema.parse({
      share: 5,
      phase: 'Progressing',
      step: 0,
      updatedBy: 'rollout/orders-v2',
      updatedAt: new Date(T0).toISOString(),
      history: Array.from({ length: HISTORY_LIMIT }, (_, i) => ({ at: new Date(T0 - (HISTORY_LIMIT - i) * 1000).toISOString(), by: 'x', share: 5, degraded: false, reason: `r${i}` })),
    });
    const h = new Harness();
    h.doc = many;
    h.advance(60_000);
    h.tick(pass);
    expect(h.doc!.history).toHaveLength(HISTORY_LIMIT);
    expect(h.doc!.history.at(-1)!.share).toBe(25);
    expect(h.doc!.history.at(-2)!.at).toBe(new Date(T0).toISOString());
    expect(h.doc!.history[0]!.reason).toBe('r2');
  });
});
