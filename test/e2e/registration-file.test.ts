/**
 * Self-registration with file sources only: the daemon puts registered instances straight into
 * its own snapshot (source `registered://node`). They leave on SIGTERM and on kill -9 of the
 * agent; across a daemon restart they never leave the snapshot, and one whose agent died while
 * the daemon was down is dropped once the agents had their time to come back.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSnapshotFile } from '../../shared/snapshot-file.ts';
import { startRegisteredPod } from '../support/apps.ts';
import { daemonStatus, snapshotWhere } from '../support/daemon-state.ts';
import { type DyelineProcess, startDaemon } from '../support/process.ts';

let dir: string;
let snapshot: string;
let daemon: DyelineProcess;
const running: { stop(signal?: NodeJS.Signals): Promise<unknown> }[] = [];

const startNodeDaemon = () => startDaemon({ sources: [`file://${join(dir, 'rules')}`], snapshot });

async function pod(name: string) {
  const p = await startRegisteredPod({ service: 'orders', color: 'stable', podName: name, snapshot });
  running.push(p);
  return p.agent;
}

const has = (name: string) => (s: { instances: { document: { metadata: { name: string } }; provenance: { source: string } }[] }) =>
  s.instances.some((i) => i.document.metadata.name === name && i.provenance.source === 'registered://node');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dyeline-reg-file-'));
  mkdirSync(join(dir, 'rules'));
  writeFileSync(join(dir, 'rules', 'lane.yaml'), 'apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: canary }\nspec: { color: canary }\n');
  snapshot = join(dir, 'snapshot.json');
  daemon = await startNodeDaemon();
});

afterAll(async () => {
  await Promise.allSettled(running.map((r) => r.stop('SIGKILL')));
  await daemon?.stop('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('self-registration with file sources only', () => {
  it('puts the instance into the node\'s snapshot, and takes it out on SIGTERM and on kill -9', async () => {
    const a = await pod('orders-a');
    const b = await pod('orders-b');
    await snapshotWhere(snapshot, (s) => has('orders-a')(s) && has('orders-b')(s), 'both registered');
    const st = (await daemonStatus(daemon)) as unknown as { registry: string; registrations: { key: string; state: string }[] };
    expect(st.registry).toBe('snapshot');
    expect(st.registrations.map((r) => [r.key, r.state]).sort()).toEqual([
      ['orders/orders-a', 'registered'],
      ['orders/orders-b', 'registered'],
    ]);
    expect(await a.stop('SIGTERM')).toBe(0);
    await snapshotWhere(snapshot, (s) => !has('orders-a')(s), 'a gone after SIGTERM');
    await b.stop('SIGKILL');
    await snapshotWhere(snapshot, (s) => !has('orders-b')(s), 'b gone after kill -9');
  });

  it('a daemon restart keeps the registered instances; one whose agent died meanwhile is dropped after the grace period', async () => {
    await pod('orders-c');
    const gone = await pod('orders-d');
    await snapshotWhere(snapshot, (s) => has('orders-c')(s) && has('orders-d')(s), 'both registered');
    await daemon.stop();
    await gone.stop('SIGKILL'); // dies while the daemon is away
    daemon = await startNodeDaemon();
    let missing = 0;
    const deadline = Date.now() + 4000;
    while (Date.now() < deadline) {
      const s = await readSnapshotFile(snapshot).catch(() => undefined);
      if (s && !has('orders-c')(s)) missing++;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(missing).toBe(0);
    await snapshotWhere(snapshot, (s) => has('orders-c')(s) && !has('orders-d')(s), 'the dead one dropped after the grace period', 10_000);
  });
});
