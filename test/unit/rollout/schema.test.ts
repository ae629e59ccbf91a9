/** Rollout and LaneState specs: defaults, steps that must increase and end at 100, unknown fields. */
import { describe, expect, it } from 'vitest';
import { toIssues } from '../../../shared/schema/validate.ts';
import { LaneStateSpec, RolloutSpec } from '../../../shared/schema/rollout.ts';

function issues(schema: typeof RolloutSpec | typeof LaneStateSpec, raw: unknown): string[] {
  const r = schema.safeParse(raw);
  return r.success ? [] : toIssues(r.error).map((i) => `${i.path}: ${i.message}`);
}

describe('Rollout spec', () => {
  it('fills the analysis defaults', () => {
    const r = RolloutSpec.parse({ lane: 'canary', steps: [{ percent: 10, pauseMs: 1000 }, { percent: 100 }] });
    expect(r.analysis).toEqual({ intervalMs: 10_000, failureLimit: 2, minRequests: 20, maxErrorRatePercent: 1, maxLatencyRatio: 1.5, latencyQuantile: 0.95, latencyFloorMs: 5 });
    expect(r.steps[1]).toEqual({ percent: 100, pauseMs: 0 });
  });

  it('rejects steps that do not increase or do not end at 100, a bad sticky key and unknown fields', () => {
    expect(issues(RolloutSpec, { lane: 'canary', steps: [{ percent: 50 }, { percent: 20 }, { percent: 100 }] })).toEqual(['steps: step percentages must increase']);
    expect(issues(RolloutSpec, { lane: 'canary', steps: [{ percent: 5 }, { percent: 50 }] })).toEqual(['steps: the last step must be percent 100']);
    expect(issues(RolloutSpec, { lane: 'canary', stickyKey: 'user', steps: [{ percent: 100 }] })).toEqual(['stickyKey: must be header:NAME or cookie:NAME']);
    expect(issues(RolloutSpec, { lane: 'canary', steps: [{ percent: 100, pause: 1 }] })).toEqual(['steps[0].pause: unknown field']);
    expect(issues(RolloutSpec, { lane: 'canary', steps: [] })[0]).toMatch(/^steps: /);
  });
});

describe('LaneState spec', () => {
  it('defaults to share 0, not degraded, no history', () => {
    expect(LaneStateSpec.parse({})).toEqual({ share: 0, degraded: false, history: [] });
  });

  it('rejects a share out of range, an unknown phase and a bad timestamp', () => {
    expect(issues(LaneStateSpec, { share: 101 })[0]).toMatch(/^share: /);
    expect(issues(LaneStateSpec, { phase: 'Rolling' })[0]).toMatch(/^phase: /);
    expect(issues(LaneStateSpec, { updatedAt: 'yesterday' })[0]).toMatch(/^updatedAt: /);
  });
});
