/**
 * Self-registration with real processes and a real etcd: two nodes (a daemon each, its own
 * snapshot directory), agents started with --register and no Instance document written by hand.
 * Each registered agent appears at `P instances/<service>/<id>` under a lease and in every
 * node's snapshot; a dyed request reaches the canary that registered itself; SIGTERM removes
 * the key before the inbound listener stops accepting; kill -9 of an agent removes it at once
 * (well within the lease TTL); an etcd restart and a daemon restart lose nothing.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RegisteredPod, startRegisteredPod } from '../support/apps.ts';
import { snapshotWhere } from '../support/daemon-state.ts';
import { EtcdServer } from '../support/etcd.ts';
import { type DyelineProcess, startDaemon } from '../support/process.ts';
import { accepts } from '../support/ports.ts';
import { waitFor } from '../support/wait.ts';

const P = '/reg-e2e/';
const LANE = `apiVersion: dyeline.io/v1
kind: Lane
metadata: { name: canary }
spec:
  color: canary
  dye:
    entry: [frontend]
    match:
      - headers: { x-internal-user: { exact: "true" } }
`;

let etcd: EtcdServer;
let dir: string;
const nodes: { name: string; snapshot: string; daemon?: DyelineProcess }[] = [];
const running: { stop(signal?: NodeJS.Signals): Promise<unknown> }[] = [];

function startNodeDaemon(node: (typeof nodes)[number]): Promise<DyelineProcess> {
  return startDaemon({ sources: [`file://${join(dir, 'rules')}`, `etcd://${etcd.endpoint}?prefix=${P}`], snapshot: node.snapshot });
}

/** An app and its agent with --register on `node`; the pod's name makes the instance id. */
async function registeredPod(node: (typeof nodes)[number], service: string, color: string, podName: string, extraArgs: string[] = []): Promise<RegisteredPod> {
  const pod = await startRegisteredPod({ service, color, podName, namespace: 'shop', snapshot: node.snapshot, extraArgs });
  running.push(pod);
  return pod;
}

/** The key of an instance, its value and its lease. */
async function key(service: string, id: string): Promise<{ value: Record<string, unknown>; lease: string } | undefined> {
  const res = await etcd.etcd().kv.range({ key: Buffer.from(`${P}instances/${service}/${id}`) });
  const kv = res.kvs[0];
  return kv ? { value: JSON.parse(kv.value.toString()) as Record<string, unknown>, lease: String(kv.lease) } : undefined;
}

const inSnapshot = (snapshot: string, service: string, id: string, what: string) =>
  snapshotWhere(snapshot, (s) => s.instances.some((e) => e.document.spec.service === service && e.document.metadata.name === id), what);
const notInSnapshot = (snapshot: string, service: string, id: string, what: string) =>
  snapshotWhere(snapshot, (s) => !s.instances.some((e) => e.document.spec.service === service && e.document.metadata.name === id), what);


beforeAll(async () => {
  etcd = await EtcdServer.start();
  dir = mkdtempSync(join(tmpdir(), 'dyeline-reg-e2e-'));
  mkdirSync(join(dir, 'rules'));
  writeFileSync(join(dir, 'rules', 'lane.yaml'), LANE);
  for (const name of ['node-a', 'node-b']) {
    mkdirSync(join(dir, name));
    const node = { name, snapshot: join(dir, name, 'snapshot.json') };
    nodes.push(node);
  }
  for (const node of nodes) node.daemon = await startNodeDaemon(node);
});

afterAll(async () => {
  await Promise.allSettled(running.map((r) => r.stop('SIGKILL')));
  await Promise.allSettled(nodes.map((n) => n.daemon?.stop('SIGKILL')));
  await etcd?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('self-registration through the node daemon into etcd', () => {
  let frontend: RegisteredPod;
  let stable: RegisteredPod;
  let canary: RegisteredPod;

  it('puts each --register agent under instances/<service>/<id> with a lease, and into every node\'s snapshot', async () => {
    const [a, b] = nodes as [(typeof nodes)[number], (typeof nodes)[number]];
    frontend = await registeredPod(a, 'frontend', 'stable', 'frontend-1');
    stable = await registeredPod(b, 'orders', 'stable', 'orders-stable-1');
    canary = await registeredPod(b, 'orders', 'canary', 'orders-canary-1', ['--label', 'version=v2']);
    for (const pod of [frontend, stable, canary]) {
      const k = await waitFor(() => key(pod.app.service, pod.id), { what: `${pod.id} registered in etcd` });
      const port = Number(pod.inbound.slice(pod.inbound.lastIndexOf(':') + 1));
      expect(k.value).toMatchObject({ address: '127.0.0.1', port, labels: { color: pod.app.color } });
      expect(k.lease).not.toBe('0');
      const ttl = await etcd.etcd().leaseClient.leaseTimeToLive({ ID: k.lease });
      expect(Number(ttl.grantedTTL)).toBeLessThanOrEqual(15);
      expect(Number(ttl.TTL)).toBeGreaterThan(0);
      for (const node of nodes) await inSnapshot(node.snapshot, pod.app.service, pod.id, `${pod.id} in ${node.name}'s snapshot`);
    }
    expect((await key('orders', canary.id))!.value.labels).toEqual({ color: 'canary', version: 'v2' });
    const log = await canary.agent.waitForLog((l) => l.msg === 'instance registered');
    expect(log).toMatchObject({ id: canary.id, registry: `etcd://${etcd.endpoint}?prefix=${P}` });
  });

  it('routes a dyed request to the canary that registered itself (no Instance written by hand)', async () => {
    const call = async (headers: Record<string, string>) => {
      const res = await fetch(`http://${frontend.inbound}/chain?via=orders`, { headers });
      expect(res.status).toBe(200);
      return ((await res.json()) as { next: { body: { instance: string }; servedColor: string } }).next;
    };
    await waitFor(async () => (await call({ 'x-internal-user': 'true' })).body.instance === 'orders-canary-1', { what: 'dyed request at the canary' });
    for (let i = 0; i < 10; i++) expect((await call({ 'x-internal-user': 'true' })).body.instance).toBe('orders-canary-1');
    for (let i = 0; i < 10; i++) expect((await call({})).body.instance).toBe('orders-stable-1');
  });

  it('a daemon restart loses nothing: the keys stay, the agents register again', async () => {
    const b = nodes[1]!;
    const before = (await key('orders', stable.id))!.lease;
    let missing = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        if ((await key('orders', stable.id)) === undefined || (await key('orders', canary.id)) === undefined) missing++;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await b.daemon!.stop();
    b.daemon = await startNodeDaemon(b);
    await waitFor(async () => (await key('orders', stable.id))?.lease !== before, { what: 'stable registered again under a new lease' });
    await new Promise((r) => setTimeout(r, 11_000)); // past the old leases' TTL
    watching = false;
    await watch;
    expect(missing).toBe(0);
    expect(await key('orders', stable.id)).toBeDefined();
    expect(await key('orders', canary.id)).toBeDefined();
  });

  it('an etcd restart loses nothing', async () => {
    await etcd.kill9();
    await new Promise((r) => setTimeout(r, 1000));
    await etcd.start();
    await new Promise((r) => setTimeout(r, 11_000)); // longer than a lease TTL after etcd is back
    for (const pod of [frontend, stable, canary]) {
      expect(await key(pod.app.service, pod.id), pod.id).toBeDefined();
      for (const node of nodes) await inSnapshot(node.snapshot, pod.app.service, pod.id, `${pod.id} still in ${node.name}'s snapshot`);
    }
  });

  it('SIGTERM deregisters first: the key is gone while the inbound listener still accepts, then it stops', async () => {
    const watcher = await etcd.etcd().watch().key(`${P}instances/orders/${stable.id}`).create();
    const deleted = new Promise<boolean>((resolve) => watcher.on('delete', () => void accepts(stable.inbound).then(resolve)));
    const exit = stable.agent.stop('SIGTERM');
    expect(await deleted).toBe(true); // the inbound still accepted after the key was deleted
    await waitFor(async () => !(await accepts(stable.inbound)), { what: 'the inbound to stop accepting' });
    expect(await exit).toBe(0);
    await watcher.cancel();
    for (const node of nodes) await notInSnapshot(node.snapshot, 'orders', stable.id, `gone from ${node.name}'s snapshot`);
    const lines = stable.agent.logs.map((l) => l.msg);
    expect(lines.indexOf('instance deregistered')).toBeGreaterThan(-1);
    expect(lines.indexOf('instance deregistered')).toBeLessThan(lines.indexOf('inbound closed to new connections'));
  });

  it('kill -9 of an agent removes its key well within the lease TTL', async () => {
    expect(await key('orders', canary.id)).toBeDefined();
    const killed = Date.now();
    await canary.agent.stop('SIGKILL');
    await waitFor(async () => (await key('orders', canary.id)) === undefined, { timeoutMs: 10_000, what: 'the key removed' });
    expect(Date.now() - killed).toBeLessThan(10_000);
    for (const node of nodes) await notInSnapshot(node.snapshot, 'orders', canary.id, `gone from ${node.name}'s snapshot`);
  });
});
