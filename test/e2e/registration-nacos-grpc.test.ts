/**
 * Self-registration into Nacos over gRPC with real processes: the daemon's Nacos source on
 * `transport=grpc` against the test Nacos, agents started with --register. The instance is an
 * ephemeral instance of the daemon's registration connection (an InstanceRequest, no beats), with
 * its labels as metadata, and shows in the snapshot; SIGTERM deregisters it; kill -9 of the daemon
 * closes the connection and Nacos drops the instance at once, and the restarted daemon brings it
 * back; a Nacos restart (every connection and its instances lost) loses nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RegisteredPod, startRegisteredPod } from '../support/apps.ts';
import { snapshotWhere } from '../support/daemon-state.ts';
import { type TestNacosNode, startNacosNode } from '../support/nacos-grpc-server.ts';
import { type DyelineProcess, startDaemon } from '../support/process.ts';
import { type NodeDir, nodeDir } from '../support/registration-node.ts';
import { waitFor } from '../support/wait.ts';

let nacos: TestNacosNode;
let node: NodeDir;
let daemon: DyelineProcess;
const running: { stop(signal?: NodeJS.Signals): Promise<unknown> }[] = [];

const startNodeDaemon = () =>
  startDaemon({ sources: [node.rulesSource, `nacos://${nacos.address}?services=*&transport=grpc`], snapshot: node.snapshot });

async function registeredPod(service: string, color: string, podName: string): Promise<RegisteredPod> {
  const pod = await startRegisteredPod({ service, color, podName, snapshot: node.snapshot, extraArgs: ['--label', 'zone=a'] });
  running.push(pod);
  return pod;
}

const hosts = (service: string) => nacos.http.instances(service);

beforeAll(async () => {
  nacos = await startNacosNode();
  node = nodeDir('dyeline-reg-nacos-grpc-e2e-');
  daemon = await startNodeDaemon();
});

afterAll(async () => {
  await Promise.allSettled(running.map((r) => r.stop('SIGKILL')));
  await daemon?.stop('SIGKILL');
  await nacos?.stop();
  node?.remove();
});

describe('self-registration through the node daemon into Nacos over gRPC', () => {
  it('registers an ephemeral instance on a connection of its own, mirrors it into the snapshot, and SIGTERM deregisters it', async () => {
    const pod = await registeredPod('orders', 'canary', 'orders-canary-1');
    const [inst] = await waitFor(() => (hosts('orders').length === 1 ? hosts('orders') : undefined), { what: 'registered in Nacos' });
    expect(inst).toMatchObject({ ip: '127.0.0.1', port: pod.port, ephemeral: true, healthy: true, metadata: { color: 'canary', zone: 'a' } });
    expect(nacos.grpc.requestsOf('InstanceRequest').map((r) => `${r.body.type} ${r.errorCode}`)).toContain('registerInstance 0');
    // Over gRPC: nothing on the HTTP API, no beats; the registration has its own naming connection.
    expect(nacos.http.requests).toEqual([]);
    expect(nacos.grpc.connections.map((c) => c.module).sort()).toEqual(['config', 'naming', 'naming']);
    await snapshotWhere(node.snapshot, (s) => s.instances.some((i) => i.document.spec.service === 'orders' && i.document.spec.port === pod.port && i.document.spec.labels.color === 'canary'), 'in the snapshot');
    expect(await pod.agent.stop('SIGTERM')).toBe(0);
    expect(hosts('orders')).toEqual([]);
    expect(nacos.grpc.requestsOf('InstanceRequest').map((r) => r.body.type)).toContain('deregisterInstance');
  });

  it('kill -9 of the daemon: Nacos drops the instance with the connection at once; the restarted daemon brings it back', async () => {
    await registeredPod('inventory', 'stable', 'inventory-1');
    await waitFor(() => hosts('inventory').length === 1, { what: 'registered' });
    await daemon.stop('SIGKILL');
    await waitFor(() => hosts('inventory').length === 0, { timeoutMs: 3000, what: 'gone with the connection' });
    daemon = await startNodeDaemon();
    await waitFor(() => hosts('inventory').length === 1, { timeoutMs: 15_000, what: 're-registered by the restarted daemon' });
  });

  it('a Nacos restart loses every connection and its instances, and loses nothing', async () => {
    await waitFor(() => hosts('inventory').length === 1, { what: 'registered' });
    await nacos.grpc.stop();
    await waitFor(() => hosts('inventory').length === 0, { timeoutMs: 3000, what: 'lost with the connections' });
    await nacos.grpc.start();
    await waitFor(() => hosts('inventory').length === 1, { timeoutMs: 15_000, what: 'registered again after the reconnection' });
    await snapshotWhere(node.snapshot, (s) => s.instances.some((i) => i.document.spec.service === 'inventory'), 'back in the snapshot');
  });
});
