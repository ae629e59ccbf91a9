/**
 * Self-registration into Nacos with real processes: the daemon's Nacos source (the test server,
 * Nacos's v1 HTTP API with its heartbeat expiry) and agents started with --register. The
 * instance is an ephemeral Nacos instance with its labels as metadata, kept by beats; it shows
 * in the snapshot; SIGTERM deregisters it while the inbound still accepts; kill -9 of the agent
 * removes it at once; kill -9 of the daemon lets Nacos expire it, and the restarted daemon
 * brings it back; a Nacos restart that lost every instance loses nothing.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RegisteredPod, startRegisteredPod } from '../support/apps.ts';
import { snapshotWhere } from '../support/daemon-state.ts';
import { NacosTestServer } from '../support/nacos-server.ts';
import { type DyelineProcess, startDaemon } from '../support/process.ts';
import { accepts } from '../support/ports.ts';
import { waitFor } from '../support/wait.ts';

let nacos: NacosTestServer;
let dir: string;
let snapshot: string;
let daemon: DyelineProcess;
const running: { stop(signal?: NodeJS.Signals): Promise<unknown> }[] = [];

const startNodeDaemon = () =>
  startDaemon({ sources: [`file://${join(dir, 'rules')}`, `nacos://${nacos.address}?services=*`], snapshot });

async function registeredPod(service: string, color: string, podName: string): Promise<RegisteredPod> {
  const pod = await startRegisteredPod({ service, color, podName, snapshot, extraArgs: ['--label', 'zone=a'] });
  running.push(pod);
  return pod;
}


const hosts = (service: string) => nacos.instances(service);

beforeAll(async () => {
  // Nacos's beat expiry, shortened: unhealthy after 3 s without a beat, removed after 6 s.
  nacos = await new NacosTestServer({ cacheMillis: 200, clientBeatIntervalMs: 500, heartbeatTimeoutMs: 3000, deleteTimeoutMs: 6000 }).start();
  dir = mkdtempSync(join(tmpdir(), 'dyeline-reg-nacos-e2e-'));
  mkdirSync(join(dir, 'rules'));
  writeFileSync(join(dir, 'rules', 'lane.yaml'), 'apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: canary }\nspec: { color: canary }\n');
  snapshot = join(dir, 'snapshot.json');
  daemon = await startNodeDaemon();
});

afterAll(async () => {
  await Promise.allSettled(running.map((r) => r.stop('SIGKILL')));
  await daemon?.stop('SIGKILL');
  await nacos?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('self-registration through the node daemon into Nacos', () => {
  it('registers an ephemeral instance with colour and labels as metadata, kept by beats, and mirrors it into the snapshot', async () => {
    const pod = await registeredPod('orders', 'canary', 'orders-canary-1');
    const [inst] = await waitFor(() => (hosts('orders').length === 1 ? hosts('orders') : undefined), { what: 'registered in Nacos' });
    expect(inst).toMatchObject({ ip: '127.0.0.1', port: pod.port, ephemeral: true, healthy: true, metadata: { color: 'canary', zone: 'a' } });
    await snapshotWhere(snapshot, (s) => s.instances.some((i) => i.document.spec.service === 'orders' && i.document.spec.port === pod.port && i.document.spec.labels.color === 'canary'), 'in the snapshot');
    const beats = () => nacos.requestsTo('/nacos/v1/ns/instance/beat').filter((r) => r.params.serviceName === 'DEFAULT_GROUP@@orders').length;
    const before = beats();
    await new Promise((r) => setTimeout(r, 4000)); // past the unhealthy timeout: beats keep it healthy
    expect(beats() - before).toBeGreaterThanOrEqual(4);
    expect(hosts('orders')[0]).toMatchObject({ healthy: true });
    // SIGTERM: gone from Nacos while the inbound still accepts, then the inbound stops.
    const exit = pod.agent.stop('SIGTERM');
    await waitFor(() => hosts('orders').length === 0, { intervalMs: 5, what: 'deregistered from Nacos' });
    expect(await accepts(pod.inbound)).toBe(true);
    await waitFor(async () => !(await accepts(pod.inbound)), { what: 'inbound stopped accepting' });
    expect(await exit).toBe(0);
  });

  it('kill -9 of an agent removes its instance at once', async () => {
    const pod = await registeredPod('pricing', 'stable', 'pricing-1');
    await waitFor(() => hosts('pricing').length === 1, { what: 'registered' });
    await pod.agent.stop('SIGKILL');
    await waitFor(() => hosts('pricing').length === 0, { timeoutMs: 3000, what: 'removed without waiting for the beat expiry' });
  });

  it('kill -9 of the daemon: Nacos expires the instance when beats stop; the restarted daemon brings it back', async () => {
    await registeredPod('inventory', 'stable', 'inventory-1');
    await waitFor(() => hosts('inventory').length === 1, { what: 'registered' });
    await daemon.stop('SIGKILL');
    await waitFor(() => hosts('inventory')[0]?.healthy === false, { timeoutMs: 8000, what: 'unhealthy once beats stop' });
    await waitFor(() => hosts('inventory').length === 0, { timeoutMs: 10_000, what: 'expired' });
    daemon = await startNodeDaemon();
    await waitFor(() => hosts('inventory')[0]?.healthy === true, { timeoutMs: 10_000, what: 're-registered by the restarted daemon' });
  });

  it('a Nacos restart that lost its instances loses nothing', async () => {
    await waitFor(() => hosts('inventory').length === 1, { what: 'registered' });
    await nacos.stop();
    nacos.deregisterInstance('inventory', '127.0.0.1', hosts('inventory')[0]!.port); // the data is gone
    await nacos.start();
    await waitFor(() => hosts('inventory').length === 1 && hosts('inventory')[0]!.healthy, { timeoutMs: 10_000, what: 'back by the next beat' });
  });
});
