/**
 * `dyeline daemon --source etcd://...` as a real process against a real etcd: the snapshot
 * follows puts and deletes; etcd restarts; compaction while the daemon is cut off; kill -9 of
 * the daemon while etcd keeps changing.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Snapshot } from '../../shared/schema/snapshot.ts';
import { readSnapshotFile } from '../../shared/snapshot-file.ts';
import { daemonStatus, snapshotWhere as waitForSnapshot, statusWhere } from '../support/daemon-state.ts';
import { EtcdServer } from '../support/etcd.ts';
import { type DyelineProcess, startDaemon } from '../support/process.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';

const lane = (name: string, extra = '') => `apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: ${name} }\nspec: { color: ${name}${extra} }\n`;
const service = (name: string) => JSON.stringify({ apiVersion: 'dyeline.io/v1', kind: 'Service', metadata: { name }, spec: { timeoutMs: 1500 } });
const inst = (port: number, color?: string) => JSON.stringify({ address: '127.0.0.1', port, ...(color ? { labels: { color } } : {}) });

let etcd: EtcdServer;
let dir: string;
let snapshotPath: string;
let n = 0;
let P: string;
const running: DyelineProcess[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  etcd = await EtcdServer.start();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-daemon-etcd-'));
  snapshotPath = join(dir, 'run', 'snapshot.json');
  P = `/dyeline-e2e-${++n}/`;
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  if (!etcd.running) await etcd.start();
  await rm(dir, { recursive: true, force: true });
});
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')));
  await etcd?.cleanup();
});

async function start(endpoint: string): Promise<DyelineProcess> {
  const d = await startDaemon({ sources: [`etcd://${endpoint}?prefix=${P}`], snapshot: snapshotPath });
  running.push(d);
  return d;
}

async function proxy(): Promise<TcpProxy> {
  const p = await TcpProxy.start(etcd.endpoint);
  proxies.push(p);
  return p;
}

const snapshotWhere = (pred: (s: Snapshot) => boolean, what: string, timeoutMs?: number) => waitForSnapshot(snapshotPath, pred, what, timeoutMs);

/** Document keys of a snapshot: Kind/name (instances Instance/service/name). */
const ids = (s: Snapshot) =>
  [
    ...s.lanes.map((e) => `Lane/${e.document.metadata.name}`),
    ...s.services.map((e) => `Service/${e.document.metadata.name}`),
    ...s.instances.map((e) => `Instance/${e.document.spec.service}/${e.document.metadata.name}`),
  ].sort();

describe('dyeline daemon (etcd source)', () => {
  it('mirrors puts and deletes of rules and instances into the snapshot', async () => {
    const rLane = await etcd.put(`${P}rules/Lane/canary`, lane('canary'));
    await etcd.put(`${P}rules/Service/orders`, service('orders'));
    await etcd.put(`${P}instances/orders/orders-1`, inst(8001));
    const d = await start(etcd.endpoint);

    const s1 = await snapshotWhere((s) => s.instances.length === 1 && s.lanes.length === 1 && s.services.length === 1, 'first snapshot');
    expect(s1.lanes[0]!.provenance).toEqual({ source: `etcd://${etcd.endpoint}?prefix=${P}`, key: `${P}rules/Lane/canary`, revision: rLane.toString() });
    expect(s1.instances[0]!.document).toMatchObject({ metadata: { name: 'orders-1' }, spec: { service: 'orders', address: '127.0.0.1', port: 8001, weight: 100 } });
    expect(s1.sources).toMatchObject([{ kind: 'etcd', synced: true }]);
    expect((await fetch(`http://${d.listeners.get('status')}/readyz`)).status).toBe(200);

    const rInst = await etcd.put(`${P}instances/orders/orders-2`, inst(8002, 'canary'));
    const s2 = await snapshotWhere((s) => s.instances.length === 2, 'second instance');
    expect(s2.version).toBeGreaterThan(s1.version);
    expect(s2.instances.find((e) => e.document.metadata.name === 'orders-2')).toMatchObject({
      provenance: { key: `${P}instances/orders/orders-2`, revision: rInst.toString() },
      document: { spec: { port: 8002, labels: { color: 'canary' } } },
    });

    await etcd.put(`${P}rules/Lane/canary`, lane('canary', ', priority: 9'));
    await snapshotWhere((s) => s.lanes[0]?.document.spec.priority === 9, 'changed lane');

    await etcd.delete(`${P}instances/orders/orders-1`);
    // Bad values are rejected with the key and reason; the rest still applies.
    await etcd.put(`${P}instances/orders/bad`, JSON.stringify({ address: '127.0.0.1', port: 1, zone: 'x' }));
    await etcd.put(`${P}rules/Lane/broken`, 'apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: broken }\nspec: { colour: x }\n');
    await etcd.put(`${P}rules/Lane/beta`, lane('beta'));
    const s3 = await snapshotWhere((s) => s.lanes.length === 2 && s.instances.length === 1, 'delete + new lane');
    expect(ids(s3)).toEqual(['Instance/orders/orders-2', 'Lane/beta', 'Lane/canary', 'Service/orders']);
    const st = await statusWhere(d, (s) => s.rejected.length === 2, 'two rejections in /status');
    const src = st.sources[0]!;
    expect(src).toMatchObject({ kind: 'etcd', connected: true, error: null });
    expect(src.rejected.find((r) => r.key === `${P}instances/orders/bad`)?.reason).toMatch(/zone.*unknown field/);
    expect(src.rejected.find((r) => r.key.startsWith(`${P}rules/Lane/broken`))?.reason).toMatch(/colour/);
    expect(BigInt(src.revision!)).toBeGreaterThanOrEqual(rInst);
  });

  it('keeps the content while etcd is stopped, reconnects after its restart, and later puts arrive', async () => {
    await etcd.put(`${P}rules/Lane/canary`, lane('canary'));
    const d = await start(etcd.endpoint);
    const s1 = await snapshotWhere((s) => s.lanes.length === 1, 'first snapshot');

    await etcd.stop();
    const down = await statusWhere(d, (s) => !s.connected, 'disconnected in /status', 10_000);
    expect(down.sources[0]!.error).toContain(etcd.endpoint);
    const kept = await readSnapshotFile(snapshotPath);
    expect(kept && ids(kept)).toEqual(ids(s1));

    await etcd.start();
    await statusWhere(d, (s) => s.connected, 'reconnected in /status', 15_000);
    await etcd.put(`${P}rules/Service/orders`, service('orders'));
    const s2 = await snapshotWhere((s) => s.services.length === 1, 'put after the restart');
    expect(ids(s2)).toEqual(['Lane/canary', 'Service/orders']);
    expect(d.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('compacted'))).toBe(false);
  });

  it('re-reads the prefix in full after a compaction past its revision while it was cut off', async () => {
    const px = await proxy();
    await etcd.put(`${P}rules/Lane/canary`, lane('canary'));
    await etcd.put(`${P}instances/orders/a`, inst(8001));
    await etcd.put(`${P}instances/orders/b`, inst(8002));
    const d = await start(px.endpoint);
    const s1 = await snapshotWhere((s) => s.instances.length === 2, 'first snapshot');

    px.cut();
    await statusWhere(d, (s) => !s.connected, 'disconnected in /status', 10_000);
    await etcd.delete(`${P}instances/orders/a`);
    await etcd.put(`${P}instances/orders/b`, inst(9002));
    await etcd.put(`${P}instances/orders/c`, inst(8003));
    await etcd.put(`${P}rules/Lane/beta`, lane('beta'));
    await etcd.compact();
    px.restore();

    const s2 = await snapshotWhere((s) => s.instances.some((e) => e.document.metadata.name === 'c') && s.lanes.length === 2, 'resynced snapshot');
    expect(ids(s2)).toEqual(['Instance/orders/b', 'Instance/orders/c', 'Lane/beta', 'Lane/canary']);
    expect(s2.instances.find((e) => e.document.metadata.name === 'b')?.document.spec.port).toBe(9002);
    expect(s2.version).toBeGreaterThan(s1.version);
    await d.waitForLog((l) => l.msg === 'etcd history compacted past the last revision seen; reading the prefix in full');

    await etcd.put(`${P}instances/orders/d`, inst(8004));
    await snapshotWhere((s) => s.instances.length === 3, 'put after the resync');
  });

  it('after kill -9 serves the old snapshot at once, then catches up with changes made while it was down', async () => {
    const px = await proxy();
    await etcd.put(`${P}rules/Lane/canary`, lane('canary'));
    await etcd.put(`${P}instances/orders/a`, inst(8001));
    const d1 = await start(px.endpoint);
    const s1 = await snapshotWhere((s) => s.instances.length === 1 && s.lanes.length === 1, 'first snapshot');
    const bytes1 = await readFile(snapshotPath);
    await d1.stop('SIGKILL');

    await etcd.put(`${P}instances/orders/b`, inst(8002));
    await etcd.delete(`${P}instances/orders/a`);
    await etcd.put(`${P}rules/Lane/canary`, lane('canary', ', priority: 3'));
    px.cut(); // the restarted daemon cannot reach etcd yet: it must serve what it had

    const d2 = await start(px.endpoint);
    const ready = await fetch(`http://${d2.listeners.get('status')}/readyz`);
    expect(ready.status).toBe(200);
    const served = await fetch(`http://${d2.listeners.get('admin')}/snapshot`);
    expect(served.status).toBe(200);
    expect(Buffer.from(await served.arrayBuffer()).equals(bytes1)).toBe(true);
    expect((await daemonStatus(d2)).snapshotVersion).toBe(s1.version);

    px.restore();
    const s2 = await snapshotWhere((s) => s.instances.length === 1 && s.instances[0]!.document.metadata.name === 'b', 'caught up');
    expect(s2.version).toBeGreaterThan(s1.version);
    expect(s2.lanes[0]!.document.spec.priority).toBe(3);
    expect(ids(s2)).toEqual(['Instance/orders/b', 'Lane/canary']);
  });
});
