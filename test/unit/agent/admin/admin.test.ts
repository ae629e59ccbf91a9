/**
 * Status and admin listeners of an in-process agent: readiness, /config, /clusters, metrics,
 * snapshot reload and rejection, pools following the snapshot.
 */
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echo, send, startTestAgent, startUpstream, type TestAgent } from '../../../support/agent-harness.ts';
import { instance, lane, service } from '../../../support/snapshot-builder.ts';
import { waitFor } from '../../../support/wait.ts';

type Upstream = Awaited<ReturnType<typeof startUpstream>>;

let app: Upstream;
let up: Upstream;
let agent: TestAgent;

const get = async (path: string, listener: 'status' | 'admin' = 'admin') => {
  const a = await send(agent.address(listener), { path });
  return { status: a.status, body: a.headers['content-type']?.includes('json') ? JSON.parse(a.body) : a.body };
};

async function metricLine(prefix: string): Promise<string | undefined> {
  const text = (await send(agent.address('status'), { path: '/metrics' })).body;
  return text.split('\n').find((l) => l.startsWith(prefix));
}

beforeAll(async () => {
  app = await startUpstream(echo('app'));
  up = await startUpstream(echo('orders'));
  agent = await startTestAgent(undefined, { service: 'web', color: 'canary', appPort: app.port });
});

afterAll(async () => {
  await agent?.stop();
  await app?.close();
  await up?.close();
});

describe('status and admin listeners', () => {
  it('is live but not ready before a snapshot exists; everything passes through meanwhile', async () => {
    expect((await get('/healthz', 'status')).status).toBe(200);
    const r = await get('/readyz', 'status');
    expect(r.status).toBe(503);
    expect(r.body.reason).toMatch(/no snapshot/);
    expect((await get('/config')).body).toMatchObject({ service: 'web', color: 'canary', snapshotVersion: null, loadedAt: null });
    expect((await get('/clusters')).body).toEqual({ snapshotVersion: null, services: [] });
    const a = await send(agent.address('outbound'), { path: `http://127.0.0.1:${up.port}/` });
    expect(a.headers['x-upstream']).toBe('orders');
  });

  it('is ready with a snapshot; /config and /clusters describe it', async () => {
    await agent.publish([
      lane('canary', { priority: 3, dye: { entry: ['web'], match: [{ percent: 5 }] } }),
      lane('other', { dye: { entry: ['elsewhere'], match: [{ percent: 5 }] } }),
      service('orders', { timeoutMs: 1234 }),
      instance('orders-1', 'orders', '127.0.0.1', { port: up.port, labels: { zone: 'a' } }),
      instance('orders-2', 'orders', '127.0.0.2', { port: 9, color: 'canary', healthy: false }),
    ]);
    expect((await get('/readyz', 'status')).status).toBe(200);
    const config = (await get('/config')).body;
    expect(config).toMatchObject({ service: 'web', color: 'canary', snapshotVersion: agent.agent.ctx.table!.version, appPort: app.port });
    expect(typeof config.loadedAt).toBe('string');
    expect(config.lanes.map((l: { color: string }) => l.color).sort()).toEqual(['canary', 'other', 'stable']);
    expect(config.dyeRulesHere).toEqual([{ lane: 'canary', color: 'canary', priority: 3, match: [{ percent: 5 }] }]);
    expect(config.services.find((s: { name: string }) => s.name === 'orders').spec.timeoutMs).toBe(1234);

    const clusters = (await get('/clusters')).body;
    const orders = clusters.services.find((s: { name: string }) => s.name === 'orders');
    expect(orders.instances).toEqual([
      { name: 'orders-1', address: '127.0.0.1', port: up.port, weight: 100, labels: { zone: 'a' }, color: 'stable', healthy: true, ejected: false, ejectedUntil: null, inflight: 0 },
      { name: 'orders-2', address: '127.0.0.2', port: 9, weight: 100, labels: { color: 'canary' }, color: 'canary', healthy: false, ejected: false, ejectedUntil: null, inflight: 0 },
    ]);
    for (const s of orders.subsets) expect(s.circuit).toBe('closed');
  });

  it('exports the contract metrics', async () => {
    await send(agent.address('outbound'), { headers: { host: 'orders', 'x-traffic-color': 'canary' } });
    expect(await metricLine('dyeline_snapshot_version ')).toBe(`dyeline_snapshot_version ${agent.agent.ctx.table!.version}`);
    expect(await metricLine('dyeline_requests_total{direction="outbound",upstream="orders",color="canary",served_color="stable",code="200",fallback="no-instance"}')).toMatch(/ 1$/);
    expect(await metricLine('dyeline_invalid_color_total ')).toBeDefined();
    expect(await metricLine('dyeline_snapshot_rejected_total ')).toBe('dyeline_snapshot_rejected_total 0');
  });

  it('rejects a broken snapshot, keeps routing with the last good one, and recovers on the next good one', async () => {
    const version = agent.agent.ctx.table!.version;
    await writeFile(agent.snapshot, '{"checksum":"sha256:0000');
    await waitFor(async () => (await metricLine('dyeline_snapshot_rejected_total ')) === 'dyeline_snapshot_rejected_total 1', { timeoutMs: 5000, what: 'rejection counted' });
    expect(agent.agent.ctx.table!.version).toBe(version);
    expect((await send(agent.address('outbound'), { headers: { host: 'orders' } })).headers['x-upstream']).toBe('orders');
    expect((await get('/readyz', 'status')).status).toBe(200);
    await agent.publish([service('orders'), instance('orders-1', 'orders', '127.0.0.1', { port: up.port })]);
    expect(agent.agent.ctx.table!.version).toBeGreaterThan(version);
  });

  it('closes the pool of an instance that leaves the snapshot', async () => {
    await send(agent.address('outbound'), { headers: { host: 'orders' } });
    expect(agent.agent.pools.size.known).toBe(1);
    await agent.publish([service('orders')]);
    expect(agent.agent.pools.size.known).toBe(0);
    const a = await send(agent.address('outbound'), { headers: { host: 'orders' } });
    expect(a.status).toBe(503);
    expect(a.headers['x-dyeline-error']).toBe('no-instance');
  });
});
