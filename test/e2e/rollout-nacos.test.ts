/**
 * `dyeline rollout` on a Nacos source (the test Nacos over gRPC and over HTTP v1, a real
 * Prometheus, real processes): of two controllers one takes the lease (the config
 * `<dataId>.rollout-lease`) and writes the LaneState into the rules config, keeping the rules
 * around it, which a daemon on the same Nacos puts into its snapshot; with no traffic to analyse
 * the rollout waits and writes nothing more; the leader stopped by SIGTERM gives the lease up and
 * the other takes over at once (well within the TTL); `dyeline rollout history` reads the trail
 * from Nacos.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocumentsText } from '../../shared/schema/text.ts';
import type { LaneStateSpec } from '../../shared/schema/rollout.ts';
import { NacosGrpcTestServer } from '../support/nacos-grpc-server.ts';
import { NacosTestServer } from '../support/nacos-server.ts';
import { scrape, total } from '../support/prometheus.ts';
import { PrometheusServer } from '../support/prometheus-server.ts';
import { DYELINE_BIN, type DyelineProcess, startDaemon, startDyeline } from '../support/process.ts';
import { rollouts, stopLeader } from '../support/rollout-controllers.ts';
import { waitFor } from '../support/wait.ts';

const GROUP = 'DYELINE';
const RULES = `# the canary lane and its rollout
apiVersion: dyeline.io/v1
kind: Lane
metadata: { name: canary }
spec: { color: canary }
---
apiVersion: dyeline.io/v1
kind: Rollout
metadata: { name: orders-v2 }
spec: { lane: canary, steps: [ { percent: 5, pauseMs: 1000 }, { percent: 100 } ], analysis: { intervalMs: 500 } }
`;

let nacos: NacosTestServer;
let grpc: NacosGrpcTestServer;
let prom: PrometheusServer;
let dir: string;
const run = promisify(execFile);

beforeAll(async () => {
  nacos = await new NacosTestServer().start();
  grpc = await new NacosGrpcTestServer(nacos.state).start();
  prom = await PrometheusServer.start();
  dir = await mkdtemp(join(tmpdir(), 'dyeline-rollout-nacos-'));
}, 60_000);

afterAll(async () => {
  await prom?.cleanup();
  await grpc?.stop();
  await nacos?.stop();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

describe.each(['grpc', 'http'] as const)('dyeline rollout on Nacos over %s', (transport) => {
  const dataId = `rollout-${transport}.yaml`;
  const uri = () => `nacos://${nacos.address}?dataId=${dataId}&services=&grpcPort=${grpc.port}&transport=${transport}`;
  const snapshot = () => join(dir, `snapshot-${transport}.json`);
  let daemon: DyelineProcess;
  const controllers: DyelineProcess[] = [];

  const laneState = (): LaneStateSpec | undefined => {
    const text = nacos.state.config(dataId, GROUP)?.content;
    const doc = text === undefined ? undefined : parseDocumentsText(text).find((d) => (d.value as { kind?: string }).kind === 'LaneState');
    return (doc?.value as { spec: LaneStateSpec } | undefined)?.spec;
  };

  beforeAll(async () => {
    nacos.publishConfig(dataId, GROUP, RULES);
    daemon = await startDaemon({ sources: [uri()], snapshot: snapshot() });
    for (let i = 0; i < 2; i++) {
      controllers.push(await startDyeline(['rollout', '--source', uri(), '--prometheus', prom.url, '--status', '127.0.0.1:0', '--lease-ttl-ms', '3000'], { listeners: ['status'] }));
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([...controllers.map((c) => c.stop()), daemon?.stop()]);
  }, 30_000);

  it('one controller holds the lease and writes the LaneState into the rules config, which the daemon serves', async () => {
    const state = await waitFor(laneState, { timeoutMs: 15_000, what: 'the LaneState in Nacos' });
    expect(state).toMatchObject({ share: 5, phase: 'Progressing', step: 0, updatedBy: 'rollout/orders-v2' });
    expect(state.history).toHaveLength(1);
    // The hand-written rules are still there, byte for byte.
    expect(nacos.state.config(dataId, GROUP)!.content.startsWith(RULES)).toBe(true);
    const views = await Promise.all(controllers.map(rollouts));
    const leader = views.findIndex((v) => v.leader);
    expect(leader).toBeGreaterThanOrEqual(0);
    expect(views.filter((v) => v.leader)).toHaveLength(1);
    const lease = JSON.parse(nacos.state.config(`${dataId}.rollout-lease`, GROUP)!.content) as { holder: string; ttlMs: number };
    expect(lease).toMatchObject({ holder: views[leader]!.holder, ttlMs: 3000 });
    expect(state.history[0]!.controller).toBe(views[leader]!.holder);
    const snap = await waitFor(async () => {
      const s = JSON.parse(await readFile(snapshot(), 'utf8')) as { laneStates: { document: { spec: LaneStateSpec } }[] };
      return s.laneStates.length === 1 ? s : undefined;
    }, { timeoutMs: 10_000, what: 'the LaneState in the snapshot' });
    expect(snap.laneStates[0]!.document.spec.share).toBe(5);
  });

  it('asks Prometheus, finds no traffic to judge and waits without writing', async () => {
    const leader = (await Promise.all(controllers.map(async (c) => ((await rollouts(c)).leader ? c : undefined)))).find(Boolean)!;
    const status = leader.listeners.get('status')!;
    await waitFor(async () => total(await scrape(status), 'dyeline_rollout_analyses_total', { rollout: 'orders-v2', outcome: 'inconclusive' }) > 0, {
      timeoutMs: 10_000,
      what: 'an inconclusive analysis',
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(laneState()?.history).toHaveLength(1);
    const m = await scrape(status);
    expect(total(m, 'dyeline_rollout_leader')).toBe(1);
    expect(total(m, 'dyeline_rollout_writes_total', { rollout: 'orders-v2' })).toBe(1);
    expect(total(m, 'dyeline_rollout_analyses_total', { rollout: 'orders-v2', outcome: 'error' })).toBe(0);
  });

  it('hands the lease over at once when the leader stops, and rollout history reads the trail', async () => {
    const now = await stopLeader(controllers); // within the 3 s TTL: the stopped leader released its lease
    expect(JSON.parse(nacos.state.config(`${dataId}.rollout-lease`, GROUP)!.content).holder).toBe(now.holder);
    const { stdout } = await run(process.execPath, [DYELINE_BIN, 'rollout', 'history', '--source', uri()]);
    expect(stdout).toMatch(/^lane canary: Progressing, share 5% \(by rollout\/orders-v2 at .*\)\n {2}\S+ {2}Progressing 5% +rollout\/orders-v2 \(.+\): rollout started at step 1\/2 \(5%\)\n$/);
  });
});
