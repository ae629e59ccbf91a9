/**
 * `dyeline rollout` on an etcd source (real etcd, real processes): of two controllers one takes
 * the lease (`P leases/rollout`) and writes the LaneState at `P rules/LaneState/<lane>`, which a
 * daemon on the same prefix puts into its snapshot; with Prometheus unreachable the rollout
 * pauses and writes nothing more; the leader stopped by SIGTERM gives the lease up and the other
 * takes over at once; `dyeline rollout history` reads the trail from etcd.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LaneStateSpec } from '../../shared/schema/rollout.ts';
import { EtcdServer } from '../support/etcd.ts';
import { scrape, total } from '../support/prometheus.ts';
import { DYELINE_BIN, type DyelineProcess, startDaemon, startDyeline } from '../support/process.ts';
import { rollouts, stopLeader } from '../support/rollout-controllers.ts';
import { waitFor } from '../support/wait.ts';

const P = '/rollout-e2e/';
const LANE = 'apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: canary }\nspec: { color: canary }\n';
const ROLLOUT = `apiVersion: dyeline.io/v1
kind: Rollout
metadata: { name: orders-v2 }
spec: { lane: canary, steps: [ { percent: 5, pauseMs: 1000 }, { percent: 100 } ], analysis: { intervalMs: 500 } }
`;

let etcd: EtcdServer;
let dir: string;
let daemon: DyelineProcess;
const controllers: DyelineProcess[] = [];
const run = promisify(execFile);

beforeAll(async () => {
  etcd = await EtcdServer.start();
  dir = await mkdtemp(join(tmpdir(), 'dyeline-rollout-etcd-'));
  await etcd.put(`${P}rules/Lane/canary`, LANE);
  await etcd.put(`${P}rules/Rollout/orders-v2`, ROLLOUT);
  daemon = await startDaemon({ sources: [`etcd://${etcd.endpoint}?prefix=${P}`], snapshot: join(dir, 'snapshot.json') });
  for (let i = 0; i < 2; i++) {
    controllers.push(
      await startDyeline(['rollout', '--source', `etcd://${etcd.endpoint}?prefix=${P}`, '--prometheus', 'http://127.0.0.1:1', '--status', '127.0.0.1:0', '--lease-ttl-ms', '3000'], { listeners: ['status'] }),
    );
  }
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([...controllers.map((c) => c.stop()), daemon?.stop()]);
  await etcd?.cleanup();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

async function laneState(): Promise<LaneStateSpec | undefined> {
  const text = (await etcd.getPrefix(`${P}rules/LaneState/`))[`${P}rules/LaneState/canary`];
  return text === undefined ? undefined : (parse(text) as { spec: LaneStateSpec }).spec;
}

describe('dyeline rollout on etcd', () => {
  it('one controller holds the lease and writes the LaneState under rules/, which the daemon serves', async () => {
    const state = await waitFor(laneState, { timeoutMs: 15_000, what: 'the LaneState in etcd' });
    expect(state).toMatchObject({ share: 5, phase: 'Progressing', step: 0, updatedBy: 'rollout/orders-v2' });
    expect(state.history).toHaveLength(1);
    const leases = await etcd.getPrefix(`${P}leases/`);
    const views = await Promise.all(controllers.map(rollouts));
    const leader = views.findIndex((v) => v.leader);
    expect(leader).toBeGreaterThanOrEqual(0);
    expect(views.filter((v) => v.leader)).toHaveLength(1);
    expect(leases[`${P}leases/rollout`]).toBe(views[leader]!.holder);
    expect(state.history[0]!.controller).toBe(views[leader]!.holder);
    const snapshot = await waitFor(async () => {
      const snap = JSON.parse(await readFile(join(dir, 'snapshot.json'), 'utf8')) as { laneStates: { document: { spec: LaneStateSpec } }[] };
      return snap.laneStates.length === 1 ? snap : undefined;
    }, { timeoutMs: 10_000, what: 'the LaneState in the snapshot' });
    expect(snapshot.laneStates[0]!.document.spec.share).toBe(5);
  });

  it('pauses without writing while Prometheus is unreachable', async () => {
    const leader = (await Promise.all(controllers.map(async (c) => ((await rollouts(c)).leader ? c : undefined)))).find(Boolean)!;
    const paused = await waitFor(async () => {
      const s = (await rollouts(leader)).body[0];
      return s?.phase === 'Paused' ? s : undefined;
    }, { timeoutMs: 10_000, what: 'paused' });
    expect(paused.reason).toMatch(/^could not analyse: Prometheus at http:\/\/127\.0\.0\.1:1 did not answer/);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await laneState())?.history).toHaveLength(1);
    // What the status port's metrics say of it.
    const m = await scrape(leader.listeners.get('status')!);
    expect(total(m, 'dyeline_rollout_leader')).toBe(1);
    expect(total(m, 'dyeline_rollout_phase', { rollout: 'orders-v2', lane: 'canary', phase: 'Paused' })).toBe(1);
    expect(total(m, 'dyeline_rollout_phase', { rollout: 'orders-v2', phase: 'Progressing' })).toBe(0);
    expect(total(m, 'dyeline_rollout_share', { rollout: 'orders-v2' })).toBe(5);
    expect(total(m, 'dyeline_rollout_analyses_total', { rollout: 'orders-v2', outcome: 'error' })).toBeGreaterThan(0);
    expect(total(m, 'dyeline_rollout_writes_total', { rollout: 'orders-v2' })).toBe(1);
  });

  it('hands the lease over at once when the leader stops, and rollout history reads the trail', async () => {
    await stopLeader(controllers); // within the 3 s TTL: the stopped leader revoked its lease
    const { stdout } = await run(process.execPath, [DYELINE_BIN, 'rollout', 'history', '--source', `etcd://${etcd.endpoint}?prefix=${P}`]);
    expect(stdout).toMatch(/^lane canary: Progressing, share 5% \(by rollout\/orders-v2 at .*\)\n {2}\S+ {2}Progressing 5% +rollout\/orders-v2 \(.+\): rollout started at step 1\/2 \(5%\)\n$/);
  });
});
