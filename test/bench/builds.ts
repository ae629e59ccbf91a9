/**
 * Builds of dyeline side by side (docs/footprint.md#the-goals): what a change to the build or the
 * code costs, measured on a busy machine where one run after another cannot tell 10% apart. Each
 * build is a `LABEL=PATH` of a built entry (`npm run build`, or `node scripts/build.ts --outdir DIR`
 * on another checkout); every process runs as the image and `dyeline inject` run it, tracing on
 * (OTLP/HTTP to a receiver), access log off, upstream nginx answering 200.
 *
 * - idle: fresh agents and daemons (file source, the demo's rules) of each build in alternating
 *   rounds; RSS and its anonymous part after one request and 3 s (daemon: 6 s after start);
 * - load: per round, a fresh agent of each build and the bare undici pass-through proxy in turn,
 *   proxy.ts's sequence for one target — a fixed 1,000 requests/s for `seconds` after 2 s of
 *   warm-up, then wrk at 32 connections for `seconds` after 2 s — with the peak RSS of each;
 *   medians over the rounds;
 * - turns: one agent of each build running side by side, `turns` alternating turns of wrk (2 s,
 *   32 connections) and the fixed-rate load (2 s) each, in turn order swapped every turn; req/s and
 *   CPU per request; the median of each build's per-turn ratio to the first build's.
 *
 * A build may name the agent's `NODE_OPTIONS` after a `|` (`LABEL=ENTRY|--max-semi-space-size=4`;
 * `LABEL=ENTRY|` for none) to compare V8 settings; without it the agent gets what `dyeline inject`
 * sets (AGENT_NODE_OPTIONS). The node command-line flags (V8 flags `NODE_OPTIONS` does not allow)
 * go after a second `|`, space-separated, in place of the image's (IMAGE_NODE_FLAGS):
 * `LABEL=ENTRY|--max-semi-space-size=1|--single-threaded --preserve-symlinks`.
 *
 *   node test/bench/builds.ts [rounds=3] [seconds=5] [turns=12] LABEL=ENTRY[|NODE_OPTIONS[|FLAGS]]...
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_NODE_OPTIONS, DAEMON_NODE_OPTIONS, IMAGE_ENV } from '../../deploy/node-options.ts';
import { IMAGE_NODE_FLAGS } from '../../scripts/build.ts';
import { instance, service, snapshotText } from '../support/snapshot-builder.ts';
import { fixedRate } from './fixed-rate.ts';
import { machine } from './machine.ts';
import { Peers, bundleNodePeer, freePort, peakResidentDuring, processTree, residentMiB, treeCpuSeconds, waitHttp, wrk } from './peers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const numbers = process.argv.slice(2).filter((a) => !a.includes('='));
const [rounds = 3, seconds = 5, turns = 12] = numbers.map(Number);
const builds = process.argv
  .slice(2)
  .filter((a) => a.includes('='))
  .map((a) => {
    const [entry, nodeOptions = AGENT_NODE_OPTIONS, flags] = a.slice(a.indexOf('=') + 1).split('|');
    return { label: a.slice(0, a.indexOf('=')), entry: entry!, nodeOptions, flags: flags === undefined ? IMAGE_NODE_FLAGS : flags.split(' ').filter(Boolean) };
  });
if (builds.length === 0) {
  process.stderr.write('usage: node test/bench/builds.ts [rounds=3] [seconds=5] [turns=12] LABEL=ENTRY[|NODE_OPTIONS[|FLAGS]]...\n');
  process.exit(2);
}

const med = (xs: readonly number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f1 = (x: number) => x.toFixed(1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dir = await mkdtemp(join(tmpdir(), 'dyeline-bench-builds-'));
const peers = new Peers(dir);
try {
  console.log(`machine: ${machine()}`);
  const [upPort, sinkPort] = await Promise.all([freePort(), freePort()]);
  await peers.nginx(`  server { listen 127.0.0.1:${upPort}; location / { return 200 "ok\\n"; } }`, 'upstream');
  await peers.nginx(`  server { listen 127.0.0.1:${sinkPort}; location / { return 200 ""; } }`, 'otlp-receiver');
  const snapshot = join(dir, 'snapshot.json');
  await writeFile(snapshot, snapshotText([service('echo', { timeoutMs: 5000 }), instance('echo-1', 'echo', '127.0.0.1', { port: upPort })]));
  const undiciBundle = await bundleNodePeer('undici-proxy.ts', dir);
  const headers = ['Host: echo'];

  /** An agent of `entry` on a free port, ready (it answered one request). */
  const agent = async ({ entry, nodeOptions, flags }: { entry: string; nodeOptions: string; flags: readonly string[] }): Promise<{ child: ChildProcess; url: string }> => {
    const port = await freePort();
    const child = peers.track(
      spawn(process.execPath, [...flags, entry, 'agent', '--service', 'bench', '--snapshot', snapshot, '--outbound', `127.0.0.1:${port}`, '--status', '127.0.0.1:0', '--admin', '127.0.0.1:0'], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, ...IMAGE_ENV, NODE_OPTIONS: nodeOptions, DYELINE_LOG_LEVEL: 'warn', DYELINE_ACCESS_LOG: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}` },
      }),
    );
    const url = `http://127.0.0.1:${port}/`;
    await waitHttp(url, { host: 'echo' });
    return { child, url };
  };

  console.log('\nidle, RSS (anonymous) MiB, fresh processes, alternating rounds:');
  for (let r = 0; r < rounds; r++) {
    for (const b of builds) {
      const a = await agent(b);
      await sleep(3000);
      const ai = await residentMiB(a.child.pid!);
      a.child.kill('SIGKILL');
      const d = peers.track(
        spawn(process.execPath, [...b.flags, b.entry, 'daemon', '--source', `file://${join(ROOT, 'deploy/local/rules')}`, '--snapshot', join(dir, `run-${b.label}-${r}/snapshot.json`), '--status', '127.0.0.1:0', '--admin', '127.0.0.1:0'], {
          stdio: 'ignore',
          env: { ...process.env, ...IMAGE_ENV, NODE_OPTIONS: DAEMON_NODE_OPTIONS, DYELINE_LOG_LEVEL: 'warn' },
        }),
      );
      await sleep(6000);
      const di = await residentMiB(d.pid!);
      d.kill('SIGKILL');
      console.log(`  ${b.label.padEnd(12)} agent ${f1(ai.rss)} (${f1(ai.anon)})  daemon ${f1(di.rss)} (${f1(di.anon)})`);
    }
  }

  console.log(`\nload, per round: peak RSS MiB at 1,000 requests/s and at 32 connections (${seconds} s each), CPU µs/request, req/s at 32:`);
  const rows = new Map<string, { fixed: number[]; n: number[]; cpuFixed: number[]; cpuN: number[]; rps: number[] }>();
  for (let r = 0; r < rounds; r++) {
    for (const b of [...builds, { label: 'undici', entry: '', nodeOptions: '', flags: [] }]) {
      let child: ChildProcess;
      let url: string;
      if (b.label === 'undici') {
        const port = await freePort();
        child = peers.track(spawn(process.execPath, [undiciBundle, String(port), String(upPort)], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } }));
        url = `http://127.0.0.1:${port}/`;
        await waitHttp(url);
      } else ({ child, url } = await agent(b));
      const h = b.label === 'undici' ? [] : headers;
      const pids = await processTree(child.pid!);
      const cpu = () => treeCpuSeconds(pids);
      let c0 = Promise.resolve(NaN);
      const fx = await peakResidentDuring(pids, () => fixedRate(url, 1000, seconds, 2, h, 256, () => (c0 = cpu())));
      const cpuFixed = (((await cpu()) - (await c0)) / fx.result.completed) * 1e6;
      await wrk(url, { seconds: 2, connections: 32, headers: h });
      const k0 = await cpu();
      const n = await peakResidentDuring(pids, () => wrk(url, { seconds, connections: 32, headers: h }));
      const cpuN = (((await cpu()) - k0) / (n.result.rps * seconds)) * 1e6;
      child.kill('SIGKILL');
      const row = rows.get(b.label) ?? { fixed: [], n: [], cpuFixed: [], cpuN: [], rps: [] };
      row.fixed.push(fx.peak.rss);
      row.n.push(n.peak.rss);
      row.cpuFixed.push(cpuFixed);
      row.cpuN.push(cpuN);
      row.rps.push(n.result.rps);
      rows.set(b.label, row);
      console.log(`  ${b.label.padEnd(12)} @1000/s ${f1(fx.peak.rss)} MiB, ${cpuFixed.toFixed(0)} µs, p99 ${f1(fx.result.p99Ms)} ms | @32 ${f1(n.peak.rss)} MiB, ${cpuN.toFixed(0)} µs, ${n.result.rps.toFixed(0)} req/s`);
    }
  }
  for (const [label, r] of rows) {
    console.log(`  median ${label.padEnd(12)} @1000/s ${f1(med(r.fixed))} MiB, ${med(r.cpuFixed).toFixed(0)} µs | @32 ${f1(med(r.n))} MiB, ${med(r.cpuN).toFixed(0)} µs, ${med(r.rps).toFixed(0)} req/s`);
  }

  if (builds.length > 1 && turns > 0) {
    console.log(`\nturns: ${turns} alternating turns side by side (wrk 2 s at 32 connections, then 1,000 requests/s for 2 s):`);
    const side = [];
    for (const b of builds) {
      const a = await agent(b);
      side.push({ ...b, ...a, pids: await processTree(a.child.pid!), rps: [] as number[], cpuN: [] as number[], cpuFixed: [] as number[] });
    }
    for (const s of side) await wrk(s.url, { seconds: 3, connections: 32, headers });
    for (let t = 0; t < turns; t++) {
      for (const s of t % 2 === 0 ? side : [...side].reverse()) {
        const c0 = await treeCpuSeconds(s.pids);
        const w = await wrk(s.url, { seconds: 2, connections: 32, headers });
        s.rps.push(w.rps);
        s.cpuN.push((((await treeCpuSeconds(s.pids)) - c0) / (w.rps * 2)) * 1e6);
        let f0 = Promise.resolve(NaN);
        const f = await fixedRate(s.url, 1000, 2, 0.5, headers, 256, () => (f0 = treeCpuSeconds(s.pids)));
        s.cpuFixed.push((((await treeCpuSeconds(s.pids)) - (await f0)) / f.completed) * 1e6);
      }
    }
    const base = side[0]!;
    for (const s of side) {
      const ratio = (xs: number[], ys: number[]) => med(xs.map((x, i) => x / ys[i]!)).toFixed(3);
      console.log(
        `  ${s.label.padEnd(12)} req/s @32 ${med(s.rps).toFixed(0)}, CPU µs/request @32 ${f1(med(s.cpuN))}, @1000/s ${f1(med(s.cpuFixed))}` +
          (s === base ? '' : ` | ÷ ${base.label}, per turn: req/s ${ratio(s.rps, base.rps)}, CPU @32 ${ratio(s.cpuN, base.cpuN)}, CPU @1000/s ${ratio(s.cpuFixed, base.cpuFixed)}`),
      );
    }
  }
} finally {
  await peers.stop();
  await rm(dir, { recursive: true, force: true });
}
