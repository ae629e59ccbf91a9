/**
 * The lane analysis against a real Prometheus (Debian's 2.42) scraping the agent's real metrics
 * code (createAgentMetrics / createResilienceMetrics served over HTTP like an agent's status
 * port), fed with controlled requests: one lane colour per scenario, all fed at once, then each
 * analysed — healthy, erroring, slow, failing away to stable, circuit open; then a refused query
 * and a stopped Prometheus give "could not analyse".
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Breakers } from '../../agent/resilience/breakers.ts';
import { createResilienceMetrics } from '../../agent/resilience/metrics.ts';
import { createAgentMetrics } from '../../agent/telemetry/metrics.ts';
import { analyseLane } from '../../rollout/analysis/analyse.ts';
import { PrometheusApi } from '../../rollout/analysis/prometheus-api.ts';
import { createMetrics, type Metrics } from '../../shared/metrics.ts';
import { RolloutAnalysis } from '../../shared/schema/rollout.ts';
import { PrometheusServer } from '../support/prometheus-server.ts';

const SCRAPE_MS = 500;
const WINDOW_MS = 3000;
const thresholds = RolloutAnalysis.parse({ minRequests: 20, maxErrorRatePercent: 1, maxLatencyRatio: 1.5 });

let prom: PrometheusServer;
let metrics: Metrics;
let server: Server;
let address: string;
let agent: ReturnType<typeof createAgentMetrics>;

/** Per feeding round (every 100 ms): what the "frontend" agent saw going out. */
function feedRound(m: ReturnType<typeof createAgentMetrics>): void {
  for (let i = 0; i < 10; i++) m.request('outbound', 'orders', '', 'stable', 200, '', 0.02);
  for (let i = 0; i < 3; i++) {
    // healthy: served by its lane, as fast as stable
    m.request('outbound', 'orders', 'healthy', 'healthy', 200, '', 0.02);
    // erroring: one answer in three is a 500
    m.request('outbound', 'orders', 'erroring', 'erroring', i === 0 ? 500 : 200, '', 0.02);
    // slow: 10× stable
    m.request('outbound', 'orders', 'slow', 'slow', 200, '', 0.2);
    // failing-away: fails on its lane, retried on stable (the client sees 200)
    m.request('outbound', 'orders', 'away', 'stable', 200, 'error', 0.02);
    // open: its breaker is open (gauge below), callers fall back
    m.request('outbound', 'orders', 'open', 'stable', 200, 'circuit-open', 0.02);
  }
  // The lane "healthy" at pricing too, where it has no instance: not its requests.
  m.request('outbound', 'pricing', 'healthy', 'stable', 200, 'no-instance', 0.02);
}

beforeAll(async () => {
  metrics = createMetrics('frontend');
  agent = createAgentMetrics(metrics);
  const breakers = { values: () => [{ service: 'orders', lane: 'open', stateValue: 2 }, { service: 'orders', lane: 'healthy', stateValue: 0 }] } as unknown as Breakers;
  createResilienceMetrics(metrics, breakers);
  server = createServer((req, res) => metrics.handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  prom = await PrometheusServer.start({ targets: { frontend: address }, scrapeIntervalMs: SCRAPE_MS });
  await prom.waitForScrape(address);
  // Feed for a whole window plus two scrapes, so every rate has a full range behind it.
  const until = Date.now() + WINDOW_MS + 2 * SCRAPE_MS;
  while (Date.now() < until) {
    feedRound(agent);
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  await prom?.cleanup();
  await new Promise((r) => server?.close(r));
  await metrics?.shutdown();
});

function analyse(color: string, api = new PrometheusApi(prom.url), matchers?: string) {
  return analyseLane(api, { color, windowMs: WINDOW_MS, thresholds, matchers }, new Date());
}

describe('lane analysis on a real Prometheus', () => {
  it('passes a lane as healthy and fast as stable, on the services it serves only', async () => {
    const r = await analyse('healthy');
    expect(r.outcome, r.reasons.join('; ')).toBe('pass');
    expect(r.errorRatePercent).toBe(0);
    expect(r.stableErrorRatePercent).toBe(0);
    // ~30 requests/s over 3 s, as Prometheus extrapolates it.
    expect(r.requests).toBeGreaterThan(60);
    expect(r.requests).toBeLessThan(130);
    expect(r.latencyRatio).toBeGreaterThan(0.8);
    expect(r.latencyRatio).toBeLessThan(1.25);
    expect(r.services.map((s) => s.service)).toEqual(['orders']);
  });

  it('fails a lane with a third of its answers 5xx, naming the service', async () => {
    const r = await analyse('erroring');
    expect(r.outcome).toBe('fail');
    expect(r.errorRatePercent).toBeGreaterThan(25);
    expect(r.errorRatePercent).toBeLessThan(42);
    expect(r.reasons[0]).toMatch(/^error rate above 1%: orders \d/);
  });

  it('fails a lane 10× slower than stable on the latency ratio', async () => {
    const r = await analyse('slow');
    expect(r.outcome).toBe('fail');
    expect(r.errorRatePercent).toBe(0);
    expect(r.latencyRatio).toBeGreaterThan(4);
    expect(r.reasons.join()).toMatch(/orders: p95 latency [\d.]+ ms is [\d.]+× stable's [\d.]+ ms \(max 1.5×\)/);
  });

  it('counts requests that failed on the lane and were served by stable as lane errors', async () => {
    const r = await analyse('away');
    expect(r.outcome).toBe('fail');
    expect(r.errorRatePercent).toBe(100);
    expect(r.requests).toBeGreaterThan(60);
  });

  it('fails a lane whose circuit is open', async () => {
    const r = await analyse('open');
    expect(r.outcome).toBe('fail');
    expect(r.reasons).toContain("orders: the lane's circuit opened");
  });

  it('is inconclusive for a lane nobody asked for', async () => {
    const r = await analyse('nobody');
    expect(r.outcome).toBe('inconclusive');
    expect(r.requests).toBe(0);
  });

  it('scopes every selector with extra matchers', async () => {
    expect((await analyse('healthy', undefined, 'pod="frontend"')).outcome).toBe('pass');
    expect((await analyse('healthy', undefined, 'pod="elsewhere"')).outcome).toBe('inconclusive');
  });

  it("counts a lane's first errors, though their series is born with them", async () => {
    // A healthy lane, then one burst of 500s (a new series), then healthy again: the burst's
    // series has one value in every sample, so increase() on it alone would see no error.
    const feed = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        for (let i = 0; i < 3; i++) agent.request('outbound', 'orders', 'late', 'late', 200, '', 0.02);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await feed(2000);
    for (let i = 0; i < 20; i++) agent.request('outbound', 'orders', 'late', 'late', 500, '', 0.02);
    await feed(3 * SCRAPE_MS);
    const raw = await prom.query(`count_over_time(dyeline_requests_total{color="late",code="500"}[${WINDOW_MS}ms])`);
    expect(raw[0]?.value, 'the 500 series has more than one sample in the window').toBeGreaterThan(1);
    const naive = await prom.query(`sum(increase(dyeline_requests_total{color="late",code="500"}[${WINDOW_MS}ms]))`);
    expect(naive[0]?.value ?? 0, 'increase() of the new series alone sees none of its errors').toBe(0);
    const r = await analyse('late');
    expect(r.outcome).toBe('fail');
    expect(r.errorRatePercent).toBeGreaterThan(10);
  });

  it('says it could not analyse when Prometheus refuses a query', async () => {
    const r = await analyse('healthy', undefined, 'pod=~"("');
    expect(r.outcome).toBe('error');
    expect(r.passed).toBe(false);
    expect(r.reasons[0]).toMatch(/^could not analyse: Prometheus refused a query \(400 bad_data\)/);
  });

  it('says it could not analyse when Prometheus hangs or is gone', async () => {
    prom.freeze();
    try {
      const r = await analyse('healthy', new PrometheusApi(prom.url, { timeoutMs: 500 }));
      expect(r.outcome).toBe('error');
      expect(r.reasons[0]).toMatch(/^could not analyse: Prometheus at http:\/\/127\.0\.0\.1:\d+ did not answer/);
    } finally {
      prom.thaw();
    }
    await prom.stop();
    const r = await analyse('healthy');
    expect(r.outcome).toBe('error');
    expect(r.reasons[0]).toMatch(/did not answer: fetch failed/);
  });
});
