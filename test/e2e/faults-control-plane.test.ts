/**
 * Control-plane faults with real processes: a three-member etcd cluster on loopback and a
 * `dyeline daemon` watching it, while this test puts a burst of instance updates.
 *   - the etcd leader the daemon is connected to is killed (-9) in the middle of the burst;
 *   - the daemon itself is killed (-9) in the middle of the burst and started again.
 * Zero lost updates is the bar: every put etcd acknowledged is in the final snapshot; the
 * snapshot file read every few ms always verifies (never torn), its version only grows (also
 * across the daemon's restart), and no key's value ever goes back to an older one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Snapshot } from '../../shared/schema/snapshot.ts';
import { observeSnapshots, regressionsOf, snapshotWhere } from '../support/daemon-state.ts';
import { EtcdCluster } from '../support/etcd.ts';
import { type DyelineProcess, startDaemon } from '../support/process.ts';
import { waitFor } from '../support/wait.ts';

/** Keys written, updates per key, writers in parallel (each owns its keys, so updates of a key are ordered). */
const KEYS = 20;
const UPDATES = 25;
const WRITERS = 10;
/** Pause of each writer between two puts: about 100 puts/s in all, so the burst outlasts the faults. */
const PACE_MS = 100;
const BASE_PORT = 10_000;

let cluster: EtcdCluster;
let dir: string;
const running: DyelineProcess[] = [];
const figures: Record<string, unknown>[] = [];

beforeAll(async () => {
  cluster = await EtcdCluster.start(3);
  dir = await mkdtemp(join(tmpdir(), 'dyeline-faults-cp-'));
}, 60_000);

afterAll(async () => {
  if (figures.length > 0) console.log(`\ncontrol-plane fault figures:\n${figures.map((f) => JSON.stringify(f)).join('\n')}`);
  await Promise.allSettled(running.map((p) => p.stop('SIGKILL')));
  await cluster?.cleanup();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

/** Instance key and value of update `u` of key `k` (its port grows with every update). */
const keyOf = (prefix: string, k: number) => `${prefix}instances/orders/i${k}`;
const valueOf = (u: number) => JSON.stringify({ address: '127.0.0.1', port: BASE_PORT + u });

/** Instance name → port in a snapshot. */
function ports(s: Snapshot): Map<string, number> {
  return new Map(s.instances.map((e) => [e.document.metadata.name, e.document.spec.port]));
}

interface Burst {
  /** Last acknowledged update per key. */
  acked: Map<number, number>;
  ackCount: number;
  failedAttempts: number;
  done: Promise<void>;
}

/**
 * Puts UPDATES updates of each of KEYS keys, WRITERS at a time (PACE_MS apart), each update
 * retried (same value) until etcd acknowledges it or `deadline` passes. `onAck(n)` after each
 * acknowledgement.
 */
function burst(client: Etcd3, prefix: string, deadline: number, onAck: (n: number) => void): Burst {
  const b: Burst = { acked: new Map(), ackCount: 0, failedAttempts: 0, done: Promise.resolve() };
  const writer = async (w: number): Promise<void> => {
    for (let u = 1; u <= UPDATES; u++) {
      for (let k = w; k < KEYS; k += WRITERS) {
        for (;;) {
          if (Date.now() > deadline) throw new Error(`put ${keyOf(prefix, k)}=${u} not acknowledged before the deadline`);
          try {
            await client.put(keyOf(prefix, k)).value(valueOf(u)).exec();
            break;
          } catch {
            b.failedAttempts++;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        b.acked.set(k, u);
        onAck(++b.ackCount);
        await new Promise((r) => setTimeout(r, PACE_MS));
      }
    }
  };
  b.done = Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w))).then(() => undefined);
  return b;
}

function writerClient(): Etcd3 {
  return new Etcd3({
    hosts: cluster.members.map((m) => `http://${m.endpoint}`),
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 2_000 }),
  });
}

/** Every acknowledged update is in `s`. */
function hasEveryAck(s: Snapshot, b: Burst): boolean {
  const p = ports(s);
  for (const [k, u] of b.acked) if ((p.get(`i${k}`) ?? 0) < BASE_PORT + u) return false;
  return true;
}

describe('control-plane faults (3-member etcd cluster, real daemon)', () => {
  it('the etcd leader killed during a burst of puts: every acknowledged put reaches the snapshot, versions only grow', async () => {
    const prefix = '/leader-kill/';
    const leader = await cluster.leader();
    // The daemon talks to the leader first: its watch is on the member that dies.
    const order = [leader, ...cluster.members.filter((m) => m !== leader)].map((m) => m.endpoint).join(',');
    const snapshot = join(dir, 'leader-kill', 'snapshot.json');
    const daemon = await startDaemon({ sources: [`etcd://${order}?prefix=${prefix}`], snapshot });
    running.push(daemon);
    const client = writerClient();
    await client.put(`${prefix}rules/Lane/canary`).value('apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: canary }\nspec: { color: canary }\n').exec();
    await snapshotWhere(snapshot, (s) => s.lanes.length === 1, 'first snapshot');
    const observer = observeSnapshots(snapshot);
    let killedAt = 0;
    let killing: Promise<void> | undefined;
    const t0 = Date.now();
    const b = burst(client, prefix, Date.now() + 45_000, (n) => {
      if (n === 150) {
        killedAt = Date.now();
        killing = leader.kill9();
      }
    });
    try {
      await b.done;
      await killing;
      const final = await snapshotWhere(snapshot, (s) => hasEveryAck(s, b), 'every acknowledged put in the snapshot', 20_000);
      const seen = await observer.stop();
      const newLeader = await cluster.leader();
      figures.push({
        scenario: 'etcd leader kill -9',
        puts: b.ackCount,
        failedPutAttempts: b.failedAttempts,
        killedAfterMs: killedAt - t0,
        burstMs: Date.now() - t0,
        newLeader: newLeader.name,
        snapshotsSeen: seen.snapshots.length,
        reads: seen.reads,
        finalVersion: final.version,
      });
      expect(leader.running).toBe(false);
      expect(newLeader).not.toBe(leader);
      expect(b.ackCount).toBe(KEYS * UPDATES);
      expect(seen.torn).toEqual([]);
      expect(seen.regressions).toEqual([]);
      expect(regressionsOf(seen.snapshots, ports)).toEqual([]);
      for (let k = 0; k < KEYS; k++) expect(ports(final).get(`i${k}`)).toBe(BASE_PORT + UPDATES);
      // The daemon followed the cluster through the election (not only by a full re-read at the end).
      expect(seen.snapshots.some((s) => s.version > 0 && ports(s).size > 0 && !hasEveryAck(s, b))).toBe(true);
    } finally {
      await observer.stop();
      client.close();
      await daemon.stop('SIGKILL');
      if (!leader.running) await leader.start();
    }
  }, 90_000);

  it('the daemon killed (-9) during a burst of puts and started again: no torn or lost snapshot, versions only grow, no update lost', async () => {
    const prefix = '/daemon-kill/';
    const snapshot = join(dir, 'daemon-kill', 'snapshot.json');
    const uri = `etcd://${cluster.endpoints}?prefix=${prefix}`;
    let daemon = await startDaemon({ sources: [uri], snapshot });
    running.push(daemon);
    const client = writerClient();
    await client.put(`${prefix}rules/Lane/canary`).value('apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: canary }\nspec: { color: canary }\n').exec();
    await snapshotWhere(snapshot, (s) => s.lanes.length === 1, 'first snapshot');
    const observer = observeSnapshots(snapshot);
    let killed: Promise<unknown> | undefined;
    let versionAtKill = 0;
    const t0 = Date.now();
    const b = burst(client, prefix, Date.now() + 45_000, (n) => {
      if (n === 150) killed = daemon.stop('SIGKILL');
    });
    try {
      await waitFor(() => killed, { timeoutMs: 20_000, what: 'the daemon killed mid-burst' });
      await killed;
      const acksAtKill = b.ackCount;
      versionAtKill = (await snapshotWhere(snapshot, () => true, 'snapshot after the kill')).version;
      // Down for a while as the burst goes on, then back while it still goes on.
      await waitFor(() => b.ackCount >= acksAtKill + 100, { timeoutMs: 20_000, what: 'puts while the daemon is down' });
      daemon = await startDaemon({ sources: [uri], snapshot });
      running.push(daemon);
      const acksAtRestart = b.ackCount;
      await b.done;
      const final = await snapshotWhere(snapshot, (s) => hasEveryAck(s, b), 'every acknowledged put in the snapshot after the restart', 20_000);
      const seen = await observer.stop();
      figures.push({
        scenario: 'daemon kill -9 mid-burst',
        puts: b.ackCount,
        acksWhileDown: acksAtRestart - acksAtKill,
        acksAfterRestart: b.ackCount - acksAtRestart,
        versionAtKill,
        finalVersion: final.version,
        snapshotsSeen: seen.snapshots.length,
        reads: seen.reads,
        burstMs: Date.now() - t0,
      });
      expect(b.ackCount).toBe(KEYS * UPDATES);
      expect(seen.torn).toEqual([]);
      expect(seen.regressions).toEqual([]);
      expect(regressionsOf(seen.snapshots, ports)).toEqual([]);
      expect(final.version).toBeGreaterThan(versionAtKill);
      expect(acksAtRestart).toBeLessThan(KEYS * UPDATES); // the restarted daemon followed part of the burst live
      expect(seen.snapshots.filter((s) => s.version > versionAtKill).length).toBeGreaterThan(1);
      for (let k = 0; k < KEYS; k++) expect(ports(final).get(`i${k}`)).toBe(BASE_PORT + UPDATES);
    } finally {
      await observer.stop();
      client.close();
    }
  }, 90_000);
});
