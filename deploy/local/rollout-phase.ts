/**
 * The demo's progressive-delivery phase (docs/reference.md#progressive-delivery), on a fast
 * schedule: a Prometheus scrapes every agent, `dyeline rollout` drives a Rollout of the canary
 * lane sticky by x-user-id while users keep calling: 5% → 25% → 100%, promoted; then the rollout
 * starts over, the orders canary starts failing at 25%, and the lane is aborted — share 0,
 * degraded on every agent — with no client error. Needs a Prometheus server binary; without one
 * the phase says how to get it and is skipped.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hashBucket } from '../../agent/routing/hash.ts';
import { ENTRY, type Mesh, waitHttp } from './mesh.ts';
import { findPrometheus, prometheusSetup, startPrometheus } from './prometheus.ts';
import { table } from './report.ts';

/** `dyeline <args>` as the demo runs every process: the entry this process runs, with its node flags. */
const dyeline = (...args: string[]) => [...process.execArgv, ENTRY, ...args];

/** What the phase needs of the demo. */
export interface PhaseContext {
  readonly mesh: Mesh;
  readonly base: number;
  readonly fast: boolean;
  /** One request through the frontend; the lane that served orders, or '' when it failed. */
  send(headers: Record<string, string>): Promise<{ status: number; orders: string; fallback: string | undefined }>;
  say(line?: string): void;
  check(cond: boolean, why: string): void;
  progress(what: string): void;
}

const PAUSE_MS = 2000;
const INTERVAL_MS = 1000;
const rolloutYaml = `apiVersion: dyeline.io/v1
kind: Rollout
metadata: { name: orders-v2 }
spec:
  lane: canary
  stickyKey: header:x-user-id
  entry: [frontend]
  steps: [ { percent: 5, pauseMs: ${PAUSE_MS} }, { percent: 25, pauseMs: ${PAUSE_MS} }, { percent: 100 } ]
  analysis: { intervalMs: ${INTERVAL_MS}, windowMs: 2000, failureLimit: 2, minRequests: 5, maxErrorRatePercent: 1, maxLatencyRatio: 5, latencyFloorMs: 50 }
`;

interface Status {
  phase: string;
  share: number;
  reason: string;
}

interface Seen {
  at: number;
  user: string;
  status: number;
  orders: string;
  fallback: string | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the phase; resolves false when it was skipped (no Prometheus). */
export async function rolloutPhase(ctx: PhaseContext): Promise<boolean> {
  const { mesh, say, check } = ctx;
  const bin = findPrometheus();
  if (bin === undefined) {
    say('\n7. progressive delivery — skipped: it needs a Prometheus server (Debian/Ubuntu: apt-get install prometheus; or set DYELINE_PROMETHEUS_BIN)');
    return false;
  }
  const rules = join(mesh.dir, 'rules');
  const promDir = join(mesh.dir, 'prometheus');
  await mkdir(promDir, { recursive: true });
  const promAddress = `127.0.0.1:${ctx.base + 3}`;
  const statusAddress = `127.0.0.1:${ctx.base + 4}`;
  const targets = Object.fromEntries(mesh.pods.map((p) => [p.name, `127.0.0.1:${p.status}`]));
  const children: ChildProcess[] = [];
  let loading = true;
  let load: Promise<void> = Promise.resolve();
  let watch: Promise<void> = Promise.resolve();
  const original = await readFile(join(rules, 'mesh.yaml'), 'utf8');
  try {
    ctx.progress('starting Prometheus and dyeline rollout');
    children.push(startPrometheus(bin, prometheusSetup(promDir, promAddress, 500, targets), createWriteStream(join(mesh.dir, 'prometheus.log'))));
    await waitHttp(`http://${promAddress}/-/ready`, 20_000, 'Prometheus to be ready');
    // The Rollout replaces the lane's 30% user-id rule: the share is the lane's growth now.
    await writeFile(join(rules, 'mesh.yaml'), original.replace(/^ {6}- headers: \{ x-user-id: \{ hashPercent: 30 \} \}.*\n/m, ''));
    const controller = spawn(process.execPath, dyeline('rollout', '--source', `file://${rules}`, '--prometheus', `http://${promAddress}`, '--status', statusAddress), { stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(join(mesh.dir, 'rollout.log'));
    controller.stdout.pipe(log);
    controller.stderr.pipe(log);
    children.push(controller);
    await waitHttp(`http://${statusAddress}/readyz`, 20_000, 'dyeline rollout to read its source');
    const status = async (): Promise<Status | undefined> => {
      const r = await fetch(`http://${statusAddress}/rollouts`).catch(() => undefined);
      return ((await r?.json()) as Status[] | undefined)?.[0];
    };

    // The share the frontend's agent applies, polled: requests are judged by it, not by the time
    // the controller wrote it (the snapshot takes a moment to reach the agent).
    const frontend = mesh.pods.find((p) => p.service === 'frontend')!;
    const applied: { at: number; share: number; degraded: boolean }[] = [];
    watch = (async () => {
      while (loading) {
        const at = Date.now();
        const config = (await fetch(`http://127.0.0.1:${frontend.admin}/config`).then((r) => r.json()).catch(() => undefined)) as { laneStates?: { lane: string; share: number; degraded: boolean }[] } | undefined;
        const canaryState = config?.laneStates?.find((l) => l.lane === 'canary');
        if (config !== undefined) applied.push({ at, share: canaryState?.share ?? 0, degraded: canaryState?.degraded === true });
        await sleep(50);
      }
    })();
    /** The share the agent applied all through [from, to], or undefined when it changed (or is unknown) then. */
    const shareDuring = (from: number, to: number): number | undefined => {
      const before = applied.findLast((a) => a.at <= from);
      const after = applied.find((a) => a.at >= to);
      if (before === undefined || after === undefined) return undefined;
      const between = applied.filter((a) => a.at >= before.at && a.at <= after.at);
      return between.every((a) => a.share === before.share) ? before.share : undefined;
    };

    // Users keep calling the frontend (and one request in ten is an internal tester, dyed by header).
    const seen: Seen[] = [];
    const users = ctx.fast ? 100 : 200;
    load = (async () => {
      for (let k = 0; loading; k++) {
        const tester = k % 10 === 0;
        const user = `user-${k % users}`;
        const at = Date.now();
        const p = await ctx.send(tester ? { 'x-internal-user': 'true' } : { 'x-user-id': user });
        if (!tester) seen.push({ at, user, ...p });
        else seen.push({ at, user: '', ...p });
        await sleep(15);
      }
    })();
    await sleep(1500);

    // 7a. A healthy canary: 5% → 25% → 100%, promoted.
    ctx.progress('7a rollout of a healthy canary');
    await writeFile(join(rules, 'rollout.yaml'), rolloutYaml);
    const steps: { share: number; at: number }[] = [];
    const started = Date.now();
    let last: Status | undefined;
    while (Date.now() - started < 60_000) {
      last = await status();
      if (last !== undefined && last.share !== steps[steps.length - 1]?.share) steps.push({ share: last.share, at: Date.now() });
      if (last?.phase === 'Promoted') break;
      await sleep(100);
    }
    check(last?.phase === 'Promoted', `the healthy rollout was not promoted (${last?.phase ?? 'no status'}: ${last?.reason ?? ''})`);
    const rows = steps.map((s) => {
      const during = seen.filter((x) => x.user !== '' && shareDuring(x.at - 50, x.at + 250) === s.share);
      const onCanary = new Set(during.filter((x) => x.orders === 'canary').map((x) => x.user));
      const expected = new Set(during.filter((x) => hashBucket(x.user) < s.share).map((x) => x.user));
      const sticky = [...onCanary].every((u) => expected.has(u)) && [...expected].every((u) => onCanary.has(u));
      return [`${s.share}%`, String(new Set(during.map((x) => x.user)).size), String(onCanary.size), sticky ? 'yes' : 'NO'];
    });
    say(`\n7. progressive delivery: Rollout orders-v2 widens the canary lane sticky by x-user-id, analysed on Prometheus every ${INTERVAL_MS} ms`);
    say(table(['share', 'users seen', 'on canary at orders', 'exactly the users whose bucket < share'], rows));
    check(steps.map((s) => s.share).join(',') === '5,25,100', `the rollout went through shares ${steps.map((s) => s.share).join(',')}, not 5,25,100`);
    check(rows.every((r) => r[3] === 'yes'), 'a user was not in the lane exactly when its sticky bucket was below the share');
    const { stdout } = await promisify(execFile)(process.execPath, dyeline('rollout', 'history', '--source', `file://${rules}`));
    say(`promoted after ${((Date.now() - started) / 1000).toFixed(1)} s; dyeline rollout history:`);
    say(stdout.trimEnd().replace(/^/gm, '  '));

    // 7b. The rollout starts over; at 25% the orders canary starts failing: aborted.
    ctx.progress('7b rollout of a failing canary');
    await rm(join(rules, 'dyeline-lanestate-canary.yaml'));
    const again = Date.now();
    while (Date.now() - again < 30_000 && (await status())?.share !== 25) await sleep(100);
    await sleep(500);
    const canary = mesh.pods.find((p) => p.service === 'orders' && p.color === 'canary')!;
    await fetch(`http://127.0.0.1:${canary.appPort}/admin/fault?mode=500`, { method: 'POST' });
    const failedAt = Date.now();
    let aborted: Status | undefined;
    while (Date.now() - failedAt < 30_000) {
      const s = await status();
      if (s?.phase === 'Aborted') {
        aborted = s;
        break;
      }
      await sleep(50);
    }
    const abortMs = Date.now() - failedAt;
    await sleep(1500);
    const during = seen.filter((x) => x.at >= failedAt);
    const errors = during.filter((x) => x.status !== 200).length;
    // Testers' requests once the frontend's agent applies the abort.
    const appliedAt = applied.find((a) => a.at >= failedAt && a.degraded)?.at ?? Infinity;
    const degraded = seen.filter((x) => x.at > appliedAt + 100 && x.user === '');
    say(`\n   the rollout starts over; at 25% the orders canary answers 500 → aborted ${abortMs} ms later (failureLimit 2 × ${INTERVAL_MS} ms, + scrape)`);
    say(`   ${aborted?.reason ?? 'not aborted'}`);
    say(`   after the abort: share 0, degraded on every agent — internal testers' requests fall back: ${degraded.filter((x) => x.fallback === 'degraded').length} of ${degraded.length} with x-dyeline-fallback: degraded`);
    say(`   client errors while the canary failed: ${errors} of ${during.length} requests`);
    check(aborted !== undefined && aborted.share === 0, 'the failing rollout was not aborted');
    check(errors === 0, `${errors} client errors while the canary failed`);
    check(degraded.length > 0 && degraded.every((x) => x.orders === 'stable' && x.fallback === 'degraded'), 'requests for the aborted lane were not sent to stable with fallback degraded');
    await fetch(`http://127.0.0.1:${canary.appPort}/admin/fault?mode=off`, { method: 'POST' });
    return true;
  } finally {
    loading = false;
    await load.catch(() => undefined);
    await watch.catch(() => undefined);
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    // Back to the mesh as it was: no Rollout, no LaneState, the lane's own rules.
    await rm(join(rules, 'rollout.yaml'), { force: true });
    await rm(join(rules, 'dyeline-lanestate-canary.yaml'), { force: true });
    await writeFile(join(rules, 'mesh.yaml'), original);
  }
}
