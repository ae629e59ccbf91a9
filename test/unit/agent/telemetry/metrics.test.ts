import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { compileSnapshot } from '../../../../agent/routing/compile.ts';
import { EndpointStates } from '../../../../agent/routing/endpoint-states.ts';
import { createAgentMetrics, MAX_SERIES, PASSTHROUGH_UPSTREAM, UNKNOWN_COLOR } from '../../../../agent/telemetry/metrics.ts';
import { createMetrics, type Metrics } from '../../../../shared/metrics.ts';
import { find, scrape, total } from '../../../support/prometheus.ts';
import { buildSnapshot, instance, lane } from '../../../support/snapshot-builder.ts';

const open: { server: Server; metrics: Metrics }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    o.server.close();
    await o.metrics.shutdown();
  }
});

async function serve() {
  const metrics = createMetrics('orders');
  const server = createServer((req, res) => metrics.handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  open.push({ server, metrics });
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { metrics, agent: createAgentMetrics(metrics), scrape: () => scrape(address) };
}

const table = () =>
  compileSnapshot(buildSnapshot([lane('canary'), instance('o1', 'orders', '10.0.0.1'), instance('o2', 'orders', '10.0.0.2', { color: 'canary' }), instance('p1', 'payments', '10.0.0.3', { color: 'blue' })], 42), new EndpointStates());

describe('agent metrics (contract §7)', () => {
  it('counts requests by direction, upstream, colour, served colour, code and fallback', async () => {
    const { agent, scrape } = await serve();
    agent.request('outbound', 'orders', 'canary', 'canary', 200, '', 0.003);
    agent.request('outbound', 'orders', 'canary', 'canary', 200, '', 0.004);
    agent.request('outbound', 'orders', 'canary', 'stable', 200, 'no-instance', 0.02);
    agent.request('inbound', 'orders', '', 'stable', 503, '', 0.0001);
    const s = await scrape();
    expect(find(s, 'dyeline_requests_total', { direction: 'outbound', upstream: 'orders', color: 'canary', served_color: 'canary', code: '200', fallback: '' })[0]?.value).toBe(2);
    expect(find(s, 'dyeline_requests_total', { served_color: 'stable', fallback: 'no-instance' })[0]?.value).toBe(1);
    expect(find(s, 'dyeline_requests_total', { direction: 'inbound', code: '503' })[0]?.value).toBe(1);
  });

  it('exports the duration histogram (buckets, sum, count) by direction, upstream and served colour', async () => {
    const { agent, scrape } = await serve();
    agent.request('outbound', 'orders', 'canary', 'canary', 200, '', 0.003);
    agent.request('outbound', 'orders', 'canary', 'canary', 500, '', 0.004);
    agent.request('outbound', 'orders', '', 'canary', 200, '', 30);
    agent.request('outbound', 'orders', '', 'stable', 200, '');
    const s = await scrape();
    const labels = { direction: 'outbound', upstream: 'orders', served_color: 'canary' };
    expect(find(s, 'dyeline_request_duration_seconds_count', labels)[0]?.value).toBe(3);
    expect(find(s, 'dyeline_request_duration_seconds_sum', labels)[0]?.value).toBeCloseTo(30.007, 6);
    expect(find(s, 'dyeline_request_duration_seconds_bucket', { ...labels, le: '0.0025' })[0]?.value).toBe(0);
    expect(find(s, 'dyeline_request_duration_seconds_bucket', { ...labels, le: '0.005' })[0]?.value).toBe(2);
    expect(find(s, 'dyeline_request_duration_seconds_bucket', { ...labels, le: '10' })[0]?.value).toBe(2);
    expect(find(s, 'dyeline_request_duration_seconds_bucket', { ...labels, le: '+Inf' })[0]?.value).toBe(3);
    // A request without a duration counts but adds no observation.
    expect(find(s, 'dyeline_request_duration_seconds_count', { served_color: 'stable' })[0]?.value).toBe(0);
    expect(find(s, 'dyeline_requests_total', { served_color: 'stable' })[0]?.value).toBe(1);
  });

  it('snapshot version, age since generatedAt, checksum info, rejections, invalid colours', async () => {
    const { agent, scrape } = await serve();
    let s = await scrape();
    expect(find(s, 'dyeline_snapshot_version')[0]?.value).toBe(0);
    expect(find(s, 'dyeline_snapshot_age_seconds')).toEqual([]);
    const t = table();
    agent.snapshotLoaded(t);
    agent.snapshotRejected();
    agent.invalidColor();
    agent.invalidColor();
    s = await scrape();
    expect(find(s, 'dyeline_snapshot_version')[0]?.value).toBe(42);
    // the builder stamps generatedAt at the epoch
    expect(find(s, 'dyeline_snapshot_age_seconds')[0]?.value).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(find(s, 'dyeline_snapshot_info')).toEqual([{ name: 'dyeline_snapshot_info', labels: { checksum: t.checksum }, value: 1 }]);
    expect(find(s, 'dyeline_snapshot_rejected_total')[0]?.value).toBe(1);
    expect(find(s, 'dyeline_invalid_color_total')[0]?.value).toBe(2);
  });

  it('dyeline_snapshot_info names only the snapshot in use, however many were loaded before', async () => {
    const { agent, scrape } = await serve();
    const first = table();
    agent.snapshotLoaded(first);
    await scrape(); // the first checksum has been exported once
    const second = compileSnapshot(buildSnapshot([lane('canary'), instance('o1', 'orders', '10.0.0.9')], 43), new EndpointStates());
    agent.snapshotLoaded(second);
    const s = await scrape();
    expect(second.checksum).not.toBe(first.checksum);
    expect(find(s, 'dyeline_snapshot_info')).toEqual([{ name: 'dyeline_snapshot_info', labels: { checksum: second.checksum }, value: 1 }]);
  });

  it('bounds cardinality: unknown colours become _unknown once a snapshot is known; passthrough is one upstream', async () => {
    const { agent, scrape } = await serve();
    agent.snapshotLoaded(table());
    for (let i = 0; i < 50; i++) agent.request('outbound', PASSTHROUGH_UPSTREAM, `random${i}`, '', 200, '');
    agent.request('outbound', 'payments', 'blue', 'blue', 200, '');
    agent.request('outbound', 'orders', 'canary', 'canary', 200, '');
    const s = await scrape();
    expect(find(s, 'dyeline_requests_total', { upstream: 'passthrough' })).toEqual([
      { name: 'dyeline_requests_total', labels: expect.objectContaining({ color: UNKNOWN_COLOR }) as Record<string, string>, value: 50 },
    ]);
    expect(find(s, 'dyeline_requests_total', { color: 'blue' })[0]?.value).toBe(1);
    expect(find(s, 'dyeline_requests_total', { color: 'canary' })[0]?.value).toBe(1);
  });

  it('beyond MAX_SERIES label combinations, new ones share one _other series', async () => {
    const { agent, scrape } = await serve();
    for (let i = 0; i < MAX_SERIES + 100; i++) agent.request('outbound', `svc${i}`, '', '', 200, '', 0.001);
    const s = await scrape();
    expect(find(s, 'dyeline_requests_total')).toHaveLength(MAX_SERIES + 1);
    expect(find(s, 'dyeline_requests_total', { upstream: '_other' })[0]?.value).toBe(100);
    expect(total(s, 'dyeline_request_duration_seconds_count')).toBe(MAX_SERIES + 100);
  });

  it('past MAX_SERIES, a new label value next to known ones goes to _other too; the known series keep counting', async () => {
    const { agent, scrape } = await serve();
    for (let i = 0; i < MAX_SERIES; i++) agent.request('inbound', 'app', '', 'stable', 100 + i, '', 0.001);
    agent.request('inbound', 'app', '', 'stable', 200, 'error', 0.001); // a new fallback under a known code
    agent.request('inbound', 'app', '', 'stable', 5000, '', 0.001); // a new code
    agent.request('inbound', 'app', '', 'stable', 100, '', 0.001); // known
    const s = await scrape();
    expect(find(s, 'dyeline_requests_total')).toHaveLength(MAX_SERIES + 1);
    expect(find(s, 'dyeline_requests_total', { upstream: '_other' })[0]?.value).toBe(2);
    expect(find(s, 'dyeline_requests_total', { code: '100' })[0]?.value).toBe(2);
  });
});
