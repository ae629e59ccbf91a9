/**
 * What a large snapshot costs an agent that is serving traffic: the agent from dist/ as the image
 * runs it, on a snapshot of `services` × `instances` (plus the service the load goes to), takes
 * a fixed `rate` of requests while a new version of the same snapshot is renamed into place.
 * Run with the image's node flags and again without its two garbage-collection flags
 * (`--no-incremental-marking --no-allocation-site-pretenuring`), in alternating rounds: the
 * price of those flags is a longer stall while a very large snapshot is decoded
 * (docs/footprint.md#v8-flags).
 *
 * Per run: start → first answer; RSS after start; latency of the fixed-rate load (open loop,
 * from when each request was due) over the reload — p50, p99, p99.9, max; swap → /readyz naming
 * the new version; RSS after.
 *
 *   node test/bench/reload-stall.ts [services=10000] [instances=10] [rate=200] [rounds=2]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_NODE_OPTIONS, IMAGE_ENV } from '../../deploy/node-options.ts';
import { IMAGE_GC_FLAGS, IMAGE_NODE_FLAGS } from '../../scripts/build.ts';
import type { DocumentInput } from '../../shared/schema/documents.ts';
import { instance, service, snapshotText } from '../support/snapshot-builder.ts';
import { fixedRate, type FixedRateResult } from './fixed-rate.ts';
import { machine } from './machine.ts';
import { Peers, dyelineEntry, freePort, type Resident, residentMiB, waitHttp } from './peers.ts';
import { num, numRange, report, table } from './report.ts';

const [services = 10_000, instances = 10, rate = 200, rounds = 2] = process.argv.slice(2).map(Number);
const VARIANTS = [
  { name: 'image flags', flags: IMAGE_NODE_FLAGS },
  { name: "image flags without the GC flags (V8's incremental marking and pretenuring)", flags: IMAGE_NODE_FLAGS.filter((f) => !IMAGE_GC_FLAGS.includes(f)) },
];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  startMs: number;
  rssStart: Resident;
  load: FixedRateResult;
  reloadMs: number;
  rssAfter: Resident;
}

const dir = await mkdtemp(join(tmpdir(), 'dyeline-bench-reload-'));
const peers = new Peers(dir);
try {
  console.log(`machine: ${machine()}`);
  const upPort = await freePort();
  const sinkPort = await freePort();
  await peers.nginx(`  server { listen 127.0.0.1:${upPort}; location / { return 200 "ok\\n"; } }`, 'upstream');
  await peers.nginx(`  server { listen 127.0.0.1:${sinkPort}; location / { return 200 ""; } }`, 'otlp-receiver');
  const docs: DocumentInput[] = [service('echo', { timeoutMs: 5000 }), instance('echo-1', 'echo', '127.0.0.1', { port: upPort })];
  for (let s = 0; s < services; s++) {
    docs.push(service(`svc-${s}`));
    for (let i = 0; i < instances; i++) docs.push(instance(`svc-${s}-${i}`, `svc-${s}`, '127.0.0.1', { port: 20_000 + i }));
  }
  const texts = [snapshotText(docs, 1), snapshotText(docs, 2)];
  const mib = (Buffer.byteLength(texts[0]!) / 1048576).toFixed(1);
  console.log(`snapshot: ${num(services)} services × ${instances} instances, ${mib} MiB; fixed ${rate} requests/s`);
  const entry = dyelineEntry();

  const runOnce = async (flags: readonly string[], r: number, v: number): Promise<Run> => {
    const runDir = join(dir, `run-${r}-${v}`);
    await mkdir(runDir);
    const snapshot = join(runDir, 'snapshot.json');
    await writeFile(snapshot, texts[0]!);
    const [outPort, statusPort] = [await freePort(), await freePort()];
    const t0 = performance.now();
    const child: ChildProcess = peers.track(
      spawn(process.execPath, [...flags, entry, 'agent', '--service', 'bench', '--snapshot', snapshot, '--outbound', `127.0.0.1:${outPort}`, '--status', `127.0.0.1:${statusPort}`, '--admin', '127.0.0.1:0'], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, ...IMAGE_ENV, NODE_OPTIONS: AGENT_NODE_OPTIONS, DYELINE_LOG_LEVEL: 'warn', DYELINE_ACCESS_LOG: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}` },
      }),
    );
    try {
      const url = `http://127.0.0.1:${outPort}/`;
      await waitHttp(url, { host: 'echo' }, 60_000);
      const startMs = performance.now() - t0;
      const rssStart = await residentMiB(child.pid!);
      let reload: Promise<number> | undefined;
      // The new version goes in 2 s into the measured load, written beside and renamed over the old.
      const swap = async (): Promise<number> => {
        await sleep(2000);
        await writeFile(`${snapshot}.tmp`, texts[1]!);
        const at = performance.now();
        await rename(`${snapshot}.tmp`, snapshot);
        for (;;) {
          const res = await fetch(`http://127.0.0.1:${statusPort}/readyz`).catch(() => undefined);
          const body = res?.ok ? ((await res.json()) as { snapshotVersion?: number }) : undefined;
          if (body?.snapshotVersion === 2) return performance.now() - at;
          if (performance.now() - at > 60_000) throw new Error('the agent did not take the new snapshot within 60 s');
          await sleep(20);
        }
      };
      const load = await fixedRate(url, rate, 8, 1, ['Host: echo'], 256, () => (reload = swap()));
      if (reload === undefined) throw new Error('the fixed-rate load never started');
      const reloadMs = await reload;
      const rssAfter = await residentMiB(child.pid!);
      return { startMs, rssStart, load, reloadMs, rssAfter };
    } finally {
      child.kill('SIGKILL');
    }
  };

  const runs = VARIANTS.map(() => [] as Run[]);
  for (let r = 0; r < rounds; r++) {
    for (const [v, variant] of VARIANTS.entries()) {
      const run = await runOnce(variant.flags, r, v);
      runs[v]!.push(run);
      console.log(
        `${variant.name}: first answer ${num(run.startMs)} ms, RSS ${num(run.rssStart.rss)} | reload: p99 ${num(run.load.p99Ms, 1)} p99.9 ${num(run.load.p999Ms, 1)} max ${num(run.load.maxMs, 1)} ms (${run.load.errors} errors), new version after ${num(run.reloadMs)} ms, RSS ${num(run.rssAfter.rss)} MiB`,
      );
    }
  }

  report(`## A large snapshot under traffic

\`test/bench/reload-stall.ts ${services} ${instances} ${rate} ${rounds}\`. An agent from \`dist/dyeline.mjs\` (\`NODE_OPTIONS=${AGENT_NODE_OPTIONS}\`, tracing on) starts on a
snapshot of ${num(services)} services × ${instances} instances (${mib} MiB), then takes a fixed ${rate} requests/s
(open loop, latency from when each request was due) while a new version of the snapshot is renamed
into place; with the image's node flags and without its two garbage-collection flags, ${rounds}
alternating rounds (ranges over the rounds). The agent decodes and compiles a snapshot on its one
thread, so requests wait while it does.

${table(
  ['node flags', 'start → first answer, ms', 'RSS after start, MiB', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'swap → new version served, ms', 'RSS after, MiB'],
  VARIANTS.map((variant, v) => {
    const rs = runs[v]!;
    return [
      `\`${variant.flags.join(' ')}\``,
      numRange(rs.map((x) => x.startMs)),
      numRange(rs.map((x) => x.rssStart.rss)),
      numRange(rs.map((x) => x.load.p50Ms), 2),
      numRange(rs.map((x) => x.load.p99Ms)),
      numRange(rs.map((x) => x.load.p999Ms)),
      numRange(rs.map((x) => x.load.maxMs)),
      numRange(rs.map((x) => x.reloadMs)),
      numRange(rs.map((x) => x.rssAfter.rss)),
    ];
  }),
)}`);
} finally {
  await peers.stop();
  await rm(dir, { recursive: true, force: true });
}
