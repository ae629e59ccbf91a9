/**
 * The analysis verdict from per-service measurements: error rate over the lane and per service,
 * latency ratio per service with the floor, open circuits, minRequests, the summary.
 */
import { describe, expect, it } from 'vitest';
import { couldNotAnalyse, judge, latencySamples, type ServiceMeasure, summarise } from '../../../rollout/analysis/judge.ts';
import { RolloutAnalysis } from '../../../shared/schema/rollout.ts';

const t = RolloutAnalysis.parse({ minRequests: 20, maxErrorRatePercent: 1, maxLatencyRatio: 1.5 });
const at = new Date('2026-01-01T00:00:00Z');

function m(service: string, over: Partial<ServiceMeasure> = {}): ServiceMeasure {
  return { service, laneRequests: 100, laneErrors: 0, stableRequests: 1000, stableErrors: 0, laneLatency: 0.02, stableLatency: 0.02, circuitOpen: false, ...over };
}

describe('judge', () => {
  it('passes a lane as healthy as stable', () => {
    const r = judge([m('orders'), m('pricing', { laneRequests: 50 })], t, at);
    expect(r).toMatchObject({ at: '2026-01-01T00:00:00.000Z', outcome: 'pass', passed: true, errorRatePercent: 0, stableErrorRatePercent: 0, latencyRatio: 1, requests: 150, reasons: [] });
    expect(r.services.map((s) => s.service)).toEqual(['orders', 'pricing']);
  });

  it('fails on the lane error rate and names the services above it', () => {
    const r = judge([m('orders', { laneErrors: 5 }), m('pricing')], t, at);
    expect(r.outcome).toBe('fail');
    expect(r.errorRatePercent).toBe(2.5);
    expect(r.reasons).toEqual(['error rate above 1%: orders 5% of 100 (lane 2.5%)']);
  });

  it('fails when one service with enough requests is above the limit even if the lane as a whole is not', () => {
    const r = judge([m('orders', { laneErrors: 2, laneRequests: 100 }), m('pricing', { laneRequests: 10_000 })], t, at);
    expect(r.errorRatePercent).toBeLessThan(1);
    expect(r.outcome).toBe('fail');
    expect(r.reasons[0]).toMatch(/orders 2% of 100/);
    // ...but not a service with too few requests to judge alone.
    const few = judge([m('orders', { laneErrors: 1, laneRequests: 10 }), m('pricing', { laneRequests: 10_000 })], t, at);
    expect(few.outcome).toBe('pass');
  });

  it('fails on a service whose latency quantile is more than maxLatencyRatio × stable', () => {
    const r = judge([m('orders', { laneLatency: 0.1, stableLatency: 0.02 }), m('pricing')], t, at);
    expect(r.outcome).toBe('fail');
    expect(r.latencyRatio).toBe(5);
    expect(r.reasons).toEqual(["orders: p95 latency 100 ms is 5× stable's 20 ms (max 1.5×)"]);
  });

  it('raises both latencies to the floor, so sub-millisecond noise never fails a lane', () => {
    const r = judge([m('orders', { laneLatency: 0.004, stableLatency: 0.0008 })], t, at);
    expect(r.latencyRatio).toBe(1);
    expect(r.outcome).toBe('pass');
    const slow = judge([m('orders', { laneLatency: 0.009, stableLatency: 0.0008 })], t, at);
    expect(slow.latencyRatio).toBe(1.8);
    expect(slow.outcome).toBe('fail');
  });

  it('compares latency only where both sides have 2 / (1 − q) requests, so one slow request cannot decide it', () => {
    expect(latencySamples(0.95)).toBe(40);
    expect(latencySamples(0.99)).toBe(200);
    const few = judge([m('orders', { laneRequests: 39, laneLatency: 0.5 })], t, at);
    expect(few).toMatchObject({ outcome: 'pass', latencyRatio: null });
    expect(judge([m('orders', { laneRequests: 40, laneLatency: 0.5 })], t, at).outcome).toBe('fail');
    expect(judge([m('orders', { stableRequests: 20, laneLatency: 0.5 })], t, at).latencyRatio).toBeNull();
  });

  it('skips the latency of a service that only one side served (NaN from histogram_quantile)', () => {
    const r = judge([m('orders', { stableLatency: Number.NaN }), m('pricing', { stableLatency: undefined, laneLatency: 1 })], t, at);
    expect(r.latencyRatio).toBeNull();
    expect(r.outcome).toBe('pass');
  });

  it('fails when the lane circuit opened, even with few requests', () => {
    const r = judge([m('orders', { laneRequests: 3, laneErrors: 3, circuitOpen: true })], t, at);
    expect(r.outcome).toBe('fail');
    expect(r.reasons).toContain("orders: the lane's circuit opened");
  });

  it('is inconclusive below minRequests, however bad the rate', () => {
    const r = judge([m('orders', { laneRequests: 10, laneErrors: 10 })], t, at);
    expect(r).toMatchObject({ outcome: 'inconclusive', passed: false, errorRatePercent: 100, requests: 10 });
    expect(r.reasons).toEqual(['10 requests to the lane in the window, fewer than minRequests 20']);
  });

  it('ignores services the lane was not asked to serve', () => {
    const r = judge([m('orders'), m('inventory', { laneRequests: 0, laneErrors: 0, stableErrors: 500 })], t, at);
    expect(r.services.map((s) => s.service)).toEqual(['orders']);
    expect(r.stableErrorRatePercent).toBe(0);
  });

  it('could-not-analyse and the summary carried by LaneState', () => {
    const e = couldNotAnalyse('Prometheus at http://x did not answer', at);
    expect(e).toMatchObject({ outcome: 'error', passed: false, reasons: ['could not analyse: Prometheus at http://x did not answer'] });
    expect(summarise(judge([m('orders')], t, at))).toEqual({ at: '2026-01-01T00:00:00.000Z', errorRatePercent: 0, latencyRatio: 1, requests: 100, passed: true });
  });
});
