/**
 * Benchmark: the cost of a LaneState share on the agent's hot path — the inbound listener of an
 * entry service dyeing uncoloured requests sticky by `x-user-id` (docs/reference.md#progressive-delivery).
 * Part 1, whole agent: wrk through the inbound listener (→ nginx 200 "ok" as the app), three
 * set-ups running at once with rounds alternating between them:
 *   none      no Lane, no LaneState (nothing to dye)
 *   share     Lane canary, Rollout stickyKey header:x-user-id, LaneState share 25 at this service
 *   degraded  the same LaneState with degraded: true and share 0 (no dye work: compiled away)
 * Requests carry `x-user-id` (one of 1000 values, round robin in a wrk Lua script).
 * Part 2, in process: ns per `table.dye()` call for an uncoloured request, without and with the
 * share (the matching work alone).
 *
 *   node test/bench/lane-share.ts [seconds=4] [connections=32] [rounds=3]
 *
 * Needs wrk and nginx (found or installed by scripts/ensure-debian.sh, see peers.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileSnapshot } from '../../agent/routing/compile.ts';
import { EndpointStates } from '../../agent/routing/endpoint-states.ts';
import type { DocumentInput } from '../../shared/schema/documents.ts';
import { buildSnapshot, lane, laneState, requestView, rollout, snapshotText } from '../support/snapshot-builder.ts';
import { machine } from './machine.ts';
import { Peers, type WrkResult, cpuSeconds, freePort, waitHttp, wrk } from './peers.ts';

const [seconds = 4, connections = 32, rounds = 3] = process.argv.slice(2).map(Number);
const BIN = fileURLToPath(new URL('../../bin/dyeline.js', import.meta.url));

const steps = [{ percent: 5, pauseMs: 60_000 }, { percent: 25, pauseMs: 60_000 }, { percent: 100 }];
const SETUPS: { name: string; docs: DocumentInput[] }[] = [
  { name: 'none', docs: [] },
  { name: 'share', docs: [lane('canary'), rollout('r', 'canary', { stickyKey: 'header:x-user-id', entry: ['frontend'], steps }), laneState('canary', { share: 25 })] },
  { name: 'degraded', docs: [lane('canary'), rollout('r', 'canary', { stickyKey: 'header:x-user-id', entry: ['frontend'], steps }), laneState('canary', { share: 0, degraded: true })] },
];

/** Part 2: a dye() loop of `n` uncoloured requests with x-user-id over `docs`'s table; returns ns per call. */
function dyeLoop(docs: DocumentInput[]): (n: number) => number {
  const table = compileSnapshot(buildSnapshot(docs), new EndpointStates());
  const views = Array.from({ length: 1000 }, (_, i) => requestView({ 'x-user-id': `user-${i}` }));
  let dyed = 0;
  return (n) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) if (table.dye('frontend', views[i % 1000]!, Math.random) !== undefined) dyed++;
    const ns = Number(process.hrtime.bigint() - t0) / n;
    return dyed < 0 ? ns + 1 : ns; // keeps the loop's result alive
  };
}

const dir = await mkdtemp(join(tmpdir(), 'dyeline-bench-lane-share-'));
const peers = new Peers(dir);
try {
  console.log(`machine: ${machine()}`);
  console.log(`wrk -t1 -c${connections} -d${seconds}s × ${rounds} rounds through the inbound listener of an entry service (→ nginx 200 "ok"); x-user-id: one of 1000 values\n`);
  const appPort = await freePort();
  await peers.nginx(`  server { listen 127.0.0.1:${appPort}; location / { return 200 "ok\\n"; } }`);
  await waitHttp(`http://127.0.0.1:${appPort}/`);
  const script = join(dir, 'users.lua');
  await writeFile(script, 'local i = 0\nrequest = function()\n  i = (i + 1) % 1000\n  return wrk.format(nil, nil, { ["x-user-id"] = "user-" .. i })\nend\n');

  const agents: { name: string; proc: ChildProcess; url: string }[] = [];
  for (const s of SETUPS) {
    const snapshot = join(dir, `${s.name}.json`);
    await writeFile(snapshot, snapshotText(s.docs));
    const inPort = await freePort();
    const proc = spawn(
      process.execPath,
      [BIN, 'agent', '--service', 'frontend', '--app-port', String(appPort), '--snapshot', snapshot, '--inbound', `127.0.0.1:${inPort}`, '--outbound', '127.0.0.1:0', '--status', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--access-log', 'false'],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DYELINE_LOG_LEVEL: 'warn' } },
    );
    peers.track(proc);
    await waitHttp(`http://127.0.0.1:${inPort}/`);
    agents.push({ name: s.name, proc, url: `http://127.0.0.1:${inPort}/` });
  }
  const load = { seconds, connections, script };
  for (const a of agents) await wrk(a.url, { ...load, seconds: Math.min(seconds, 3) }); // warm-up (JIT)
  const results = new Map<string, { r: WrkResult; cpuUs: number }[]>();
  for (let round = 0; round < rounds; round++) {
    for (const a of round % 2 === 0 ? agents : [...agents].reverse()) {
      const c0 = await cpuSeconds(a.proc.pid!);
      const r = await wrk(a.url, load);
      const c1 = await cpuSeconds(a.proc.pid!);
      const list = results.get(a.name) ?? [];
      list.push({ r, cpuUs: ((c1.user + c1.sys - c0.user - c0.sys) / (r.rps * seconds)) * 1e6 });
      results.set(a.name, list);
    }
  }
  const best = (name: string) => {
    const list = results.get(name)!;
    return { r: [...list].sort((x, y) => y.r.rps - x.r.rps)[0]!.r, cpuUs: Math.min(...list.map((x) => x.cpuUs)) };
  };
  const base = best('none');
  console.log(`best of ${rounds} rounds (most req/s, least CPU per request)`);
  console.log('set-up        req/s      p50 ms   p99 ms   agent CPU/request   vs none');
  for (const a of agents) {
    const { r, cpuUs } = best(a.name);
    const vs = a.name === 'none' ? '' : `${cpuUs - base.cpuUs >= 0 ? '+' : ''}${(cpuUs - base.cpuUs).toFixed(1)} µs CPU, ${((r.rps / base.r.rps - 1) * 100).toFixed(1)}% req/s`;
    console.log(`${a.name.padEnd(11)} ${r.rps.toFixed(0).padStart(8)}  ${r.p50.toFixed(3).padStart(8)} ${r.p99.toFixed(3).padStart(8)}   ${cpuUs.toFixed(1).padStart(7)} µs   ${vs}${r.errors ? `  (${r.errors})` : ''}`);
  }

  // Alternating runs, so that a busy neighbour slows both alike; the median of each.
  const n = 1_000_000;
  const loops = { none: dyeLoop(SETUPS[0]!.docs), share: dyeLoop(SETUPS[1]!.docs) };
  const runs = { none: [] as number[], share: [] as number[] };
  for (let r = 0; r < 9; r++) for (const k of r % 2 === 0 ? (['none', 'share'] as const) : (['share', 'none'] as const)) runs[k].push(loops[k](n));
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`\nin process, table.dye() of an uncoloured request with x-user-id (median of 9 alternating runs × ${n}; load average ${loadavg()[0]!.toFixed(1)}): none ${med(runs.none).toFixed(1)} ns, share ${med(runs.share).toFixed(1)} ns (+${(med(runs.share) - med(runs.none)).toFixed(1)} ns)`);
} finally {
  await peers.stop();
  await rm(dir, { recursive: true, force: true });
}
