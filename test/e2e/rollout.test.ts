/**
 * Progressive delivery with real processes: a daemon on a rules directory, two frontend pods
 * calling orders (stable + canary fault apps), a gateway agent the load goes through, a real
 * Prometheus scraping every agent, and two `dyeline rollout` controllers on the same source (one
 * holds the lease). Steady load throughout: 300 users by x-user-id, and one request in ten from a
 * tester that asks for the canary lane outright.
 *
 * 1. Healthy: the lane goes 5 → 25 → 100 and is promoted; every user is in the lane exactly when
 *    its sticky bucket is below the share of the time (so those in at 5% are in at 25%); no client
 *    error. Meanwhile Prometheus hangs (the rollout pauses, the share stays) and the leading
 *    controller is killed (the other takes the lease and carries on from the LaneState).
 * 2. Failing: the rollout starts over (LaneState deleted); at 25% the canary starts answering
 *    500: the lane is aborted within failureLimit × intervalMs + one scrape interval (+ the
 *    analysis' own time) of its first failure, both frontend agents apply `degraded` within a moment of the write and stop sending
 *    to the canary, testers' requests fall back with `degraded`, and no client sees an error.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashBucket } from '../../agent/routing/hash.ts';
import type { LaneStateSpec } from '../../shared/schema/rollout.ts';
import { LaneMesh } from '../support/lane-mesh.ts';
import { DYELINE_BIN, type DyelineProcess, getJson, startDyeline } from '../support/process.ts';
import { waitFor } from '../support/wait.ts';

const INTERVAL_MS = 1000;
const FAILURE_LIMIT = 2;
const SCRAPE_MS = 500;
const PAUSE_MS = 4000;
/** What an analysis and its subquery alignment may add to the abort bound on a loaded machine. */
const ANALYSIS_ALLOWANCE_MS = 250;

const RULES = `apiVersion: dyeline.io/v1
kind: Lane
metadata: { name: canary }
spec: { color: canary }
---
apiVersion: dyeline.io/v1
kind: Service
metadata: { name: orders }
spec:
  retry: { attempts: 2, on: [5xx, connect-failure, reset] }
  outlierDetection: { consecutiveFailures: 1000 }
`;
// A fast schedule. Latency is compared loosely (5×, above a 50 ms floor): on this 2-core machine
// under the whole suite the p95s of two identical instances differ by 2× (the analysis e2e tests
// the latency comparison itself); this test is about the rollout's mechanics.
const ROLLOUT = `apiVersion: dyeline.io/v1
kind: Rollout
metadata: { name: orders-v2 }
spec:
  lane: canary
  stickyKey: header:x-user-id
  entry: [frontend]
  steps: [ { percent: 5, pauseMs: ${PAUSE_MS} }, { percent: 25, pauseMs: ${PAUSE_MS} }, { percent: 100 } ]
  analysis: { intervalMs: ${INTERVAL_MS}, windowMs: 2000, failureLimit: ${FAILURE_LIMIT}, minRequests: 5, maxErrorRatePercent: 1, maxLatencyRatio: 5, latencyFloorMs: 50 }
`;

interface Sent {
  at: number;
  user: string;
  tester: boolean;
  status: number;
  ordersStatus: number;
  served: string;
  fallback: string | null;
}

let mesh: LaneMesh;
/** Measured figures, printed at the end. */
const figures: Record<string, unknown> = {};
const controllers: DyelineProcess[] = [];
const sent: Sent[] = [];
let loading = true;
let load: Promise<void>;

const users = Array.from({ length: 300 }, (_, i) => `user-${i}`);

async function worker(offset: number): Promise<void> {
  for (let k = offset; loading; k += 4) {
    const tester = k % 10 === 0;
    const user = users[k % users.length]!;
    const at = Date.now();
    const headers: Record<string, string> = tester ? { 'x-traffic-color': 'canary' } : { 'x-user-id': user };
    try {
      const r = await mesh.get('frontend', '/chain?via=orders', headers);
      const body = JSON.parse(r.body) as { next?: { status: number; servedColor: string | null; fallback: string | null } };
      sent.push({ at, user, tester, status: r.status, ordersStatus: body.next?.status ?? 0, served: body.next?.servedColor ?? '', fallback: body.next?.fallback ?? null });
    } catch {
      sent.push({ at, user, tester, status: 0, ordersStatus: 0, served: '', fallback: null });
    }
    await new Promise((r) => setTimeout(r, 40));
  }
}

/** The share each frontend agent applied, polled every 50 ms: requests are judged by it. */
const applied: { at: number; shares: number[] }[] = [];
let watch: Promise<void>;

async function watchShares(): Promise<void> {
  const frontends = mesh.pods.filter((p) => p.service === 'frontend');
  while (loading) {
    const at = Date.now();
    const shares = await Promise.all(
      frontends.map(async (p) => (await getJson<{ laneStates: { lane: string; share: number }[] }>(p.admin, '/config')).body.laneStates.find((l) => l.lane === 'canary')?.share ?? 0),
    ).catch(() => undefined);
    if (shares !== undefined) applied.push({ at, shares });
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The share every frontend agent applied all through [from, to]; undefined when it changed (or differed) then. */
function shareDuring(from: number, to: number): number | undefined {
  const before = applied.findLast((a) => a.at <= from);
  const after = applied.find((a) => a.at >= to);
  if (before === undefined || after === undefined) return undefined;
  const share = before.shares[0]!;
  const steady = applied.filter((a) => a.at >= before.at && a.at <= after.at).every((a) => a.shares.every((x) => x === share));
  return steady ? share : undefined;
}

async function startController(): Promise<DyelineProcess> {
  const c = await startDyeline(['rollout', '--source', `file://${mesh.rulesDir}`, '--prometheus', mesh.prom!.url, '--status', '127.0.0.1:0', '--lease-ttl-ms', '2000'], { listeners: ['status'] });
  controllers.push(c);
  return c;
}

interface Status {
  name: string;
  phase: string;
  share: number;
  step: number;
  reason: string;
  lastAnalysis: { passed: boolean } | null;
}

async function statusOf(c: DyelineProcess): Promise<{ leader: boolean; rollouts: Status[] }> {
  const res = await fetch(`http://${c.listeners.get('status')!}/rollouts`);
  return { leader: res.headers.get('x-dyeline-leader') === 'true', rollouts: (await res.json()) as Status[] };
}

const run = promisify(execFile);

/** The LaneState as `dyeline rollout history --json` reads it from the source. */
async function laneState(): Promise<LaneStateSpec | undefined> {
  const { stdout } = await run(process.execPath, [DYELINE_BIN, 'rollout', 'history', '--source', `file://${mesh.rulesDir}`, '--json'], { timeout: 30_000 });
  return (JSON.parse(stdout) as Record<string, LaneStateSpec>).canary;
}

/** Waits until the controllers' source shows the LaneState with `pred` true (read from the file the writer writes). */
async function waitForState(pred: (s: LaneStateSpec) => boolean, timeoutMs: number, what: string): Promise<LaneStateSpec> {
  try {
    return await waitFor(async () => {
      const s = await laneState();
      return s !== undefined && pred(s) ? s : undefined;
    }, { timeoutMs, intervalMs: 200, what });
  } catch (err) {
    // Say where the rollout stood, as each controller sees it.
    const seen = await Promise.all(controllers.filter((c) => !c.proc.killed).map((c) => statusOf(c).catch((e: unknown) => String(e))));
    throw new Error(`${(err as Error).message}; controllers: ${JSON.stringify(seen)}; LaneState: ${JSON.stringify(await laneState().catch(() => undefined))}`);
  }
}

beforeAll(async () => {
  mesh = await LaneMesh.start({
    rules: RULES,
    prometheus: true,
    scrapeIntervalMs: SCRAPE_MS,
    pods: [
      ['frontend', 'stable', 'chain', 'frontend-a'],
      ['frontend', 'stable', 'chain', 'frontend-b'],
      ['orders', 'stable', 'fault'],
      ['orders', 'canary', 'fault'],
    ],
  });
  load = Promise.all([0, 1, 2, 3].map(worker)).then(() => undefined);
  watch = watchShares();
  // Stable traffic in Prometheus before the rollout starts.
  await new Promise((r) => setTimeout(r, 1500));
  await startController();
  await startController();
}, 180_000);

afterAll(async () => {
  console.log(`\nrollout figures: ${JSON.stringify({ ...figures, requests: sent.length })}`);
  loading = false;
  await load;
  await watch;
  await Promise.allSettled(controllers.map((c) => c.stop('SIGTERM', 5000)));
  await mesh?.stop();
}, 60_000);

describe('dyeline rollout (real processes, real Prometheus)', () => {
  it('promotes a healthy lane 5 → 25 → 100 with sticky users and no client error, through a Prometheus outage and a controller crash', async () => {
    const started = Date.now();
    await mesh.writeRules('rollout.yaml', ROLLOUT);
    await waitForState((s) => s.share === 25, 30_000, 'share 25');

    // Prometheus hangs: the rollout pauses and the share stays.
    mesh.prom!.freeze();
    let follower: DyelineProcess;
    try {
      const paused = await waitFor(async () => {
        for (const c of controllers) {
          const s = await statusOf(c);
          if (s.leader && s.rollouts[0]?.phase === 'Paused') return s.rollouts[0];
        }
        return undefined;
      }, { timeoutMs: 20_000, intervalMs: 100, what: 'the rollout paused while Prometheus hangs' });
      expect(paused.share).toBe(25);
      expect(paused.reason).toMatch(/^could not analyse: Prometheus at http:\/\/127\.0\.0\.1:\d+ did not answer/);

      // Meanwhile the leader crashes: the lane stays where it was; the other controller takes
      // the lease and, once Prometheus answers again, carries on from the LaneState.
      const leaders = await Promise.all(controllers.map(async (c) => ((await statusOf(c)).leader ? c : undefined)));
      const leader = leaders.find((c) => c !== undefined)!;
      follower = controllers.find((c) => c !== leader)!;
      const beforeCrash = await laneState();
      expect(beforeCrash?.share).toBe(25);
      await leader.stop('SIGKILL');
      expect(await laneState()).toEqual(beforeCrash);
      await waitFor(async () => (await statusOf(follower)).leader, { timeoutMs: 15_000, intervalMs: 100, what: 'the other controller takes the lease' });
      expect(await laneState()).toEqual(beforeCrash);
    } finally {
      mesh.prom!.thaw();
    }

    const promoted = await waitForState((s) => s.phase === 'Promoted', 30_000, 'promoted');
    const took = Date.now() - started;
    expect(took).toBeLessThan(40_000);
    expect(promoted).toMatchObject({ share: 100, degraded: false, updatedBy: 'rollout/orders-v2' });
    expect(promoted.history.map((h) => [h.phase, h.share])).toEqual([
      ['Progressing', 5],
      ['Progressing', 25],
      ['Progressing', 100],
      ['Promoted', 100],
    ]);
    const writers = new Set(promoted.history.map((h) => h.controller));
    expect(writers.size, 'the rollout was finished by the controller that took over').toBe(2);
    expect((await statusOf(follower)).rollouts[0]).toMatchObject({ phase: 'Promoted', share: 100 });
    for (const h of promoted.history.slice(1)) expect(h.analysis?.passed, h.reason).toBe(true);

    // Every user is in the lane exactly when its bucket is below the share the frontend agents
    // applied (judged where it held steady around the request), so whoever was in at 5% is in at 25%.
    let checked = 0;
    const byShare = new Map<number, Sent[]>();
    for (const s of sent) {
      if (s.tester || s.at < started) continue;
      const share = shareDuring(s.at - 50, s.at + 250);
      if (share === undefined) continue;
      const expected = hashBucket(s.user) < share ? 'canary' : 'stable';
      expect(s.served, `${s.user} (bucket ${hashBucket(s.user)}) at share ${share}`).toBe(expected);
      byShare.set(share, [...(byShare.get(share) ?? []), s]);
      checked++;
    }
    expect(checked).toBeGreaterThan(300);
    expect([...byShare.keys()].filter((x) => x > 0).sort((a, b) => a - b)).toEqual([5, 25, 100]);
    const inAt5 = new Set(byShare.get(5)!.filter((s) => s.served === 'canary').map((s) => s.user));
    const later = [...(byShare.get(25) ?? []), ...(byShare.get(100) ?? [])].filter((s) => inAt5.has(s.user));
    const followed = new Set(later.map((s) => s.user));
    expect(followed.size, 'users seen in the lane at 5% and again later').toBeGreaterThanOrEqual(2);
    expect(later.filter((s) => s.served !== 'canary'), 'a user in the lane at 5% left it at a larger share').toEqual([]);

    const errors = sent.filter((s) => s.at >= started && (s.status !== 200 || s.ordersStatus !== 200));
    expect(errors).toEqual([]);
    figures.promotedMs = took;
    figures.requestsChecked = checked;
  }, 90_000);

  it('aborts a lane that starts failing within failureLimit × intervalMs + one scrape, degrades it on every agent at once, with no client error', async () => {
    // The rollout starts over: its LaneState is deleted.
    await rm(join(mesh.rulesDir, 'dyeline-lanestate-canary.yaml'));
    const restarted = await waitForState((s) => s.phase === 'Progressing' && s.share === 5 && s.history.length === 1, 20_000, 'the rollout started over');
    await waitForState((s) => s.share === 25, 30_000, 'share 25 again');
    await new Promise((r) => setTimeout(r, 1000));

    // Watch both frontend agents for the moment they apply `degraded`.
    const frontends = mesh.pods.filter((p) => p.service === 'frontend');
    const degradedAt = new Map<string, number>();
    let watching = true;
    const watch = Promise.all(
      frontends.map(async (p) => {
        while (watching && !degradedAt.has(p.instance)) {
          const config = (await getJson<{ laneStates: { lane: string; degraded: boolean }[] }>(p.admin, '/config')).body;
          if (config.laneStates.some((l) => l.lane === 'canary' && l.degraded)) degradedAt.set(p.instance, Date.now());
          else await new Promise((r) => setTimeout(r, 10));
        }
      }),
    );

    const failFrom = sent.length;
    const canary = mesh.pod('orders', 'canary').fault!;
    await canary.set('500');
    let aborted: LaneStateSpec;
    try {
      aborted = await waitForState((s) => s.phase === 'Aborted', 20_000, 'aborted');
      await waitFor(() => degradedAt.size === frontends.length, { timeoutMs: 10_000, what: 'every frontend agent degraded' });
    } finally {
      watching = false;
      await watch;
    }
    const firstFailure = await waitFor(() => canary.firstFailure(), { what: "the canary's first failure" });
    const abortAt = Date.parse(aborted.updatedAt!);
    // The design's bound, plus the time the second analysis itself takes (its eight queries, under
    // the whole suite's load) and the subquery step its counts are aligned to.
    const bound = FAILURE_LIMIT * INTERVAL_MS + SCRAPE_MS + ANALYSIS_ALLOWANCE_MS;
    expect(abortAt - firstFailure, `aborted ${abortAt - firstFailure} ms after the first failure (bound ${bound} ms)`).toBeLessThanOrEqual(bound);
    expect(abortAt).toBeGreaterThan(firstFailure);
    expect(aborted).toMatchObject({ share: 0, degraded: true, updatedBy: 'rollout/orders-v2' });
    expect(aborted.reason).toMatch(/^aborted at step 2\/3 \(25%\) after 2 failed analyses: error rate above 1%: orders/);
    expect(aborted.analysis?.passed).toBe(false);
    expect(aborted.history.at(-1)).toMatchObject({ phase: 'Aborted', share: 0, degraded: true });
    expect(aborted.history[0]!.at).toBe(restarted.history[0]!.at);

    // Every agent applied it within a moment of the write, and none sent to the canary after.
    const applied = [...degradedAt.values()];
    for (const t of applied) expect(t - abortAt, 'an agent applied degraded late').toBeLessThan(1000);
    const allDegraded = Math.max(...applied);
    figures.abortAfterFirstFailureMs = abortAt - firstFailure;
    figures.abortBoundMs = bound;
    figures.agentsAppliedDegradedAfterWriteMs = applied.map((t) => t - abortAt);
    await new Promise((r) => setTimeout(r, 1500));
    const after = sent.filter((s) => s.at > allDegraded + 50);
    expect(after.length).toBeGreaterThan(20);
    expect(after.filter((s) => s.served === 'canary')).toEqual([]);
    const testers = after.filter((s) => s.tester);
    expect(testers.length).toBeGreaterThan(2);
    for (const t of testers) expect(t).toMatchObject({ served: 'stable', fallback: 'degraded' });

    // No client saw an error while the canary failed.
    const errors = sent.slice(failFrom).filter((s) => s.status !== 200 || s.ordersStatus !== 200);
    expect(errors).toEqual([]);
    await canary.set('ok');
  }, 90_000);
});
