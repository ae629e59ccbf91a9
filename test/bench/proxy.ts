/**
 * Benchmark: one hop through the dyeline agent against peers, side by side in the same run, all
 * to the same upstream (nginx, one worker, answering a small 200):
 *   direct          no proxy (the upstream's own limit)
 *   nginx           nginx proxy, 1 worker, keep-alive pool to the upstream
 *   HAProxy         nbthread 1, http-keep-alive, http-reuse always
 *   node-http-proxy the `http-proxy` package on node:http with a keep-alive Agent
 *   undici (bare)   a bare node:http → undici Pool pass-through (undici-proxy.ts): the Node limit;
 *                   and the same run with the agent's V8 flags, the limit for the dyeline row
 *   dyeline         the agent's outbound listener from dist/dyeline.mjs as the image runs it (its
 *                   node flags) with what `dyeline inject` sets (NODE_OPTIONS), tracing on
 *                   (OTLP/HTTP protobuf to a receiver), access log off; and the same without any
 *                   V8 flag, to show what those flags trade
 * Every Node peer runs as a bundle (no type stripping). For each target: req/s at 1 and N
 * connections (wrk, one thread, closed loop); p50/p99 at a fixed 1,000 requests/s (fixed-rate.ts,
 * open loop, latency from the time each request was due); CPU per request at 1,000 requests/s and
 * at N connections, and RSS idle, at 1,000 requests/s (peak) and at N connections (peak), of the
 * proxy's processes (/proc).
 *
 * Then dyeline and the two bare undici rows again at N connections, in `rounds` alternating rounds:
 * the goal's ratio is the median of the per-round ratios. Last, the same three held at N
 * connections for `held` seconds each, with their peak RSS: what a few seconds of saturation
 * do not show, the old generation filling up between mark-compacts (docs/footprint.md#v8-flags).
 *
 *   node test/bench/proxy.ts [seconds=5] [connections=32] [rate=1000] [rounds=3] [held=30]
 *
 * Needs wrk, nginx and haproxy (found or installed by scripts/ensure-debian.sh, see peers.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_NODE_OPTIONS, IMAGE_ENV } from '../../deploy/node-options.ts';
import { IMAGE_NODE_FLAGS, IMAGE_V8_FLAGS } from '../../scripts/build.ts';
import { instance, service, snapshotText } from '../support/snapshot-builder.ts';
import { fixedRate, type FixedRateResult } from './fixed-rate.ts';
import { machine } from './machine.ts';
import {
  Peers,
  type WrkResult,
  bundleNodePeer,
  dyelineEntry,
  freePort,
  peakResidentDuring,
  processTree,
  type Resident,
  treeCpuSeconds,
  treeResidentMiB,
  waitHttp,
  wrk,
} from './peers.ts';
import { num, report, table } from './report.ts';

const [seconds = 5, connections = 32, rate = 1000, roundCount = 3, heldSeconds = 30] = process.argv.slice(2).map(Number);
/** JIT warm-up of a Node target before each measured run. */
const warmSeconds = Math.min(seconds, 2);

interface Target {
  name: string;
  port: number;
  headers: string[];
  /** Root process of the proxy (undefined for direct); its descendants count too. */
  proc?: ChildProcess;
  /** A Node process: warmed up before each measured run. */
  node: boolean;
}

interface Row {
  target: Target;
  idle: Resident;
  c1: WrkResult;
  cN: WrkResult;
  cpuNUs: number;
  peakN: Resident;
  fixed: FixedRateResult;
  cpuFixedUs: number;
  peakFixed: Resident;
}

const NONE: Resident = { rss: NaN, anon: NaN };
/** "RSS (anonymous)" in MiB. */
const mem = (r: Resident) => (Number.isFinite(r.rss) ? `${num(r.rss)} (${num(r.anon)})` : '—');

const mark = (ok: boolean) => (ok ? 'met' : 'not met');

const dir = await mkdtemp(join(tmpdir(), 'dyeline-bench-proxy-'));
const peers = new Peers(dir);
try {
  console.log(`machine: ${machine()}`);
  console.log(
    `wrk -t1 -d${seconds}s at 1 and ${connections} connections; fixed ${rate} requests/s for ${seconds}s (open loop); upstream nginx (1 worker) answering 200 "ok"\n`,
  );
  const entry = dyelineEntry();
  const [upPort, sinkPort, nginxPort, haproxyPort, httpProxyPort, undiciPort, undiciFlaggedPort, outPort, outPlainPort] = await Promise.all(
    Array.from({ length: 9 }, () => freePort()),
  );

  await peers.nginx(`  server { listen 127.0.0.1:${upPort}; location / { return 200 "ok\\n"; } }`, 'upstream');
  // The OTLP receiver of the agent's spans: accepts and discards (an empty ExportTraceServiceResponse).
  await peers.nginx(`  server { listen 127.0.0.1:${sinkPort}; location / { return 200 ""; } }`, 'otlp-receiver');
  const nginx = await peers.nginx(`  upstream up { server 127.0.0.1:${upPort}; keepalive 64; }
  server { listen 127.0.0.1:${nginxPort}; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } }`, 'proxy');
  const haproxy = await peers.haproxy(haproxyPort, upPort);
  const node = (script: string, args: string[], env: NodeJS.ProcessEnv = {}, nodeFlags: readonly string[] = []) =>
    peers.track(spawn(process.execPath, [...nodeFlags, script, ...args], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_OPTIONS: '', ...env } }));
  // http-proxy still calls url.parse and util._extend: their deprecation warnings are muted.
  const httpProxy = node(await bundleNodePeer('http-proxy-peer.ts', dir), [String(httpProxyPort), String(upPort)], { NODE_OPTIONS: '--no-deprecation' });
  const undiciBundle = await bundleNodePeer('undici-proxy.ts', dir);
  const undici = node(undiciBundle, [String(undiciPort), String(upPort)]);
  // The same pass-through with the agent's V8 flags: the Node limit for dyeline's own row.
  const undiciFlagged = node(undiciBundle, [String(undiciFlaggedPort), String(upPort)], { ...IMAGE_ENV, NODE_OPTIONS: AGENT_NODE_OPTIONS }, IMAGE_NODE_FLAGS);

  const snapshot = join(dir, 'snapshot.json');
  await writeFile(snapshot, snapshotText([service('echo', { timeoutMs: 5000 }), instance('echo-1', 'echo', '127.0.0.1', { port: upPort })]));
  const agent = (port: number, nodeOptions: string, nodeFlags: readonly string[]) =>
    node(
      entry,
      ['agent', '--service', 'bench', '--snapshot', snapshot, '--outbound', `127.0.0.1:${port}`, '--status', '127.0.0.1:0', '--admin', '127.0.0.1:0'],
      { ...IMAGE_ENV, NODE_OPTIONS: nodeOptions, DYELINE_LOG_LEVEL: 'warn', DYELINE_ACCESS_LOG: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}` },
      nodeFlags,
    );
  // As the image runs it (its node flags) with what `dyeline inject` sets (NODE_OPTIONS); and
  // without the V8 flags (the image's module-loader flag, --preserve-symlinks, kept).
  const dyeline = agent(outPort, AGENT_NODE_OPTIONS, IMAGE_NODE_FLAGS);
  const dyelinePlain = agent(outPlainPort, '', IMAGE_NODE_FLAGS.filter((f) => !IMAGE_V8_FLAGS.includes(f)));

  const host = ['Host: echo'];
  const targets: Target[] = [
    { name: 'direct', port: upPort, headers: [], node: false },
    { name: 'nginx', port: nginxPort, headers: [], proc: nginx, node: false },
    { name: 'HAProxy', port: haproxyPort, headers: [], proc: haproxy, node: false },
    { name: 'node-http-proxy', port: httpProxyPort, headers: [], proc: httpProxy, node: true },
    { name: 'undici (bare)', port: undiciPort, headers: [], proc: undici, node: true },
    { name: 'undici (bare), image V8 flags', port: undiciFlaggedPort, headers: [], proc: undiciFlagged, node: true },
    { name: 'dyeline', port: outPort, headers: host, proc: dyeline, node: true },
    { name: 'dyeline, no V8 flags', port: outPlainPort, headers: host, proc: dyelinePlain, node: true },
  ];
  for (const t of targets) {
    await waitHttp(`http://127.0.0.1:${t.port}/`, Object.fromEntries(t.headers.map((h) => h.split(': ') as [string, string]))).catch((err: unknown) => {
      throw new Error(`${t.name}: ${(err as Error).message}`);
    });
  }
  // Idle: started, answered one request, then left alone.
  await new Promise((r) => setTimeout(r, 2000));

  const rows: Row[] = [];
  for (const t of targets) {
    const url = `http://127.0.0.1:${t.port}/`;
    const pids = t.proc ? await processTree(t.proc.pid!) : [];
    const idle = pids.length ? await treeResidentMiB(pids) : NONE;
    const cpu = () => (pids.length ? treeCpuSeconds(pids) : Promise.resolve(NaN));

    // Fixed rate first, so its RSS is that of a process that has only seen this rate.
    let cpuAtStart = Promise.resolve(NaN);
    const fixedRun = await peakResidentDuring(pids, () =>
      fixedRate(url, rate, seconds, t.node ? warmSeconds : 0.5, t.headers, 256, () => (cpuAtStart = cpu())),
    );
    const cpuFixed = (await cpu()) - (await cpuAtStart);
    const fixed = fixedRun.result;

    if (t.node) await wrk(url, { seconds: warmSeconds, connections: 1, headers: t.headers });
    const c1 = await wrk(url, { seconds, connections: 1, headers: t.headers });
    if (t.node) await wrk(url, { seconds: warmSeconds, connections, headers: t.headers });
    const cpu0 = await cpu();
    const nRun = await peakResidentDuring(pids, () => wrk(url, { seconds, connections, headers: t.headers }));
    const cpu1 = await cpu();
    const cN = nRun.result;
    const row: Row = {
      target: t,
      idle,
      c1,
      cN,
      cpuNUs: ((cpu1 - cpu0) / (cN.rps * seconds)) * 1e6,
      peakN: pids.length ? nRun.peak : NONE,
      fixed,
      cpuFixedUs: (cpuFixed / fixed.completed) * 1e6,
      peakFixed: pids.length ? fixedRun.peak : NONE,
    };
    rows.push(row);
    const errors = [c1.errors, cN.errors, fixed.errors ? `${fixed.errors} fixed-rate errors` : ''].filter(Boolean).join('; ');
    console.log(
      `${t.name.padEnd(25)} ${num(c1.rps).padStart(7)} ${num(cN.rps).padStart(7)} req/s | @${rate}/s p50 ${num(fixed.p50Ms, 3)} p99 ${num(fixed.p99Ms, 3)} ms, CPU ${num(row.cpuFixedUs)} µs/req | @${connections} CPU ${num(row.cpuNUs)} µs/req | RSS (anon) ${mem(idle)} / ${mem(row.peakFixed)} / ${mem(row.peakN)} MiB${errors ? `  (${errors})` : ''}`,
    );
  }

  const find = (name: string) => rows.find((r) => r.target.name === name)!;
  const d = find('dyeline');
  const u = find('undici (bare)');
  const uf = find('undici (bare), image V8 flags');

  // The goal's ratio from one run of each target moves by ±10% on a shared machine; so it is
  // measured again in alternating rounds (each target warmed up, then run, in turn) and the
  // median of the per-round ratios is the figure the goals table states.
  const rounds: { dyeline: number; bare: number; flagged: number }[] = [];
  for (let i = 0; i < roundCount; i++) {
    const one = async (t: Target) => {
      const url = `http://127.0.0.1:${t.port}/`;
      await wrk(url, { seconds: warmSeconds, connections, headers: t.headers });
      return (await wrk(url, { seconds, connections, headers: t.headers })).rps;
    };
    const round = { dyeline: await one(d.target), bare: await one(u.target), flagged: await one(uf.target) };
    rounds.push(round);
    console.log(
      `round ${i + 1}: dyeline ${num(round.dyeline)}, undici (bare) ${num(round.bare)}, with the image V8 flags ${num(round.flagged)} req/s at ${connections} connections: ${(round.dyeline / round.bare).toFixed(2)}× / ${(round.dyeline / round.flagged).toFixed(2)}×`,
    );
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const roundRatio = median(rounds.map((r) => r.dyeline / r.bare));
  const roundRatioFlagged = median(rounds.map((r) => r.dyeline / r.flagged));

  // Saturation held: the peak RSS over a long run, after everything above.
  const held: { row: Row; rps: number; peak: Resident }[] = [];
  for (const r of [d, u, uf]) {
    const run = await peakResidentDuring(await processTree(r.target.proc!.pid!), () =>
      wrk(`http://127.0.0.1:${r.target.port}/`, { seconds: heldSeconds, connections, headers: r.target.headers }),
    );
    held.push({ row: r, rps: run.result.rps, peak: run.peak });
    console.log(`held ${heldSeconds} s at ${connections} connections: ${r.target.name} ${num(run.result.rps)} req/s, peak RSS (anon) ${mem(run.peak)} MiB`);
  }
  const dHeld = held[0]!.peak;
  const ngx = find('nginx');
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const lag = Math.max(...rows.map((r) => r.fixed.lagP99Ms));
  console.log(
    `\ndyeline / undici (bare) at ${connections} connections: ${ratio(d.cN.rps, u.cN.rps)} req/s (same V8 flags: ${ratio(d.cN.rps, uf.cN.rps)}); dyeline / nginx: ${ratio(d.cN.rps, ngx.cN.rps)}`,
  );
  console.log(`fixed-rate generator: its own wake-up lag p99 ≤ ${num(lag, 2)} ms (not counted in the latencies)`);

  report(`## One hop: dyeline against peers

\`test/bench/proxy.ts ${seconds} ${connections} ${rate}\`. One upstream, nginx (1 worker) answering \`200 ok\`; every
proxy keep-alive to it, one process / worker / thread each. dyeline is the agent's outbound
listener run from \`dist/dyeline.mjs\` as the image and \`dyeline inject\` run it (\`node ${IMAGE_NODE_FLAGS.join(' ')}\`,
\`NODE_OPTIONS=${AGENT_NODE_OPTIONS}\`, the image's environment ${Object.entries(IMAGE_ENV).map(([k, v]) => `\`${k}=${v}\``).join(' ')}), with tracing on (every request a span, OTLP/HTTP protobuf to a
receiver) and the access log off; the row below it is the same agent without those V8 flags, and
"undici (bare), image V8 flags" is the bare pass-through run with the agent's flags and environment. req/s: wrk, one thread,
${seconds} s (Node targets warmed up ${warmSeconds} s first). Latency at a fixed ${num(rate)} requests/s: an
open-loop generator (\`test/bench/fixed-rate.ts\`), latency counted from when each request was
due (its own wake-up lag, p99 ≤ ${num(lag, 1)} ms in this run, is not counted). CPU per request:
user + system time of the proxy's processes (/proc/<pid>/stat) over the measured run. RSS of the
proxy's processes, idle after one request and the peak while loaded, with its anonymous part in
parentheses: the rest is file pages, mostly the program's own binary, which every process running
the same binary on a node (every dyeline of one image) shares.

${table(
  ['target', 'req/s, 1 conn', `req/s, ${connections} conns`, `p50 ms @ ${num(rate)}/s`, `p99 ms @ ${num(rate)}/s`, `CPU µs/req @ ${num(rate)}/s`, `CPU µs/req @ ${connections} conns`, 'RSS (anon) MiB idle', `RSS (anon) MiB @ ${num(rate)}/s`, `RSS (anon) MiB @ ${connections} conns`],
  rows.map((r) => [
    r.target.name,
    num(r.c1.rps),
    num(r.cN.rps),
    num(r.fixed.p50Ms, 3),
    num(r.fixed.p99Ms, 2),
    num(r.cpuFixedUs),
    num(r.cpuNUs),
    mem(r.idle),
    mem(r.peakFixed),
    mem(r.peakN),
  ]),
)}

At ${connections} connections dyeline serves ${ratio(d.cN.rps, u.cN.rps)} the requests of the bare undici proxy (${ratio(d.cN.rps, uf.cN.rps)} of
the bare proxy run with the same V8 flags) and ${ratio(d.cN.rps, ngx.cN.rps)} nginx's;
with one connection it adds ${num(1000 / d.c1.rps - 1000 / find('direct').c1.rps, 3)} ms per request over direct (mean, from req/s).

One run of a target moves by ±10% on a shared machine, so dyeline and the two bare undici rows were
run again at ${connections} connections in ${rounds.length} alternating rounds (${warmSeconds} s warm-up, ${seconds} s measured, each in turn):

${table(
  ['round', 'dyeline req/s', 'undici (bare) req/s', 'undici (bare), image V8 flags, req/s', 'dyeline ÷ bare', 'dyeline ÷ bare with the same flags'],
  [
    ...rounds.map((r, i) => [String(i + 1), num(r.dyeline), num(r.bare), num(r.flagged), ratio(r.dyeline, r.bare), ratio(r.dyeline, r.flagged)]),
    ['median', num(median(rounds.map((r) => r.dyeline))), num(median(rounds.map((r) => r.bare))), num(median(rounds.map((r) => r.flagged))), `${roundRatio.toFixed(2)}×`, `${roundRatioFlagged.toFixed(2)}×`],
  ],
)}

Then each of the three held at ${connections} connections for ${heldSeconds} s, in turn, with the peak RSS over the run:

${table(
  ['target', `req/s, ${connections} conns held ${heldSeconds} s`, `peak RSS (anon) MiB over the ${heldSeconds} s`],
  held.map((h) => [h.row.target.name, num(h.rps), mem(h.peak)]),
)}

### The agent against its footprint goals

${table(
  ['goal (dyeline row above)', 'target', 'this run', ''],
  [
    ['idle RSS (anonymous)', '≤ 60 MiB', `${mem(d.idle)} MiB`, mark(d.idle.rss <= 60)],
    [`RSS at a steady ${num(rate)} requests/s`, '≤ 80 MiB', `${mem(d.peakFixed)} MiB`, mark(d.peakFixed.rss <= 80)],
    [`RSS at saturation, ${connections} connections`, '≤ 100 MiB', `${mem(d.peakN)} MiB`, mark(d.peakN.rss <= 100)],
    [`… held for ${heldSeconds} s`, '≤ 100 MiB', `${mem(dHeld)} MiB`, mark(dHeld.rss <= 100)],
    [`req/s at ${connections} connections ÷ the bare undici proxy's (median of ${rounds.length} alternating rounds)`, '≥ 0.9×', `${roundRatio.toFixed(2)}×`, mark(roundRatio >= 0.9)],
    [`… ÷ the bare undici proxy's with the same V8 flags`, '≥ 0.9×', `${roundRatioFlagged.toFixed(2)}×`, mark(roundRatioFlagged >= 0.9)],
    [`CPU per request at ${num(rate)} requests/s`, 'no worse than before (docs/footprint.md)', `${num(d.cpuFixedUs)} µs (bare undici: ${num(u.cpuFixedUs)} µs)`, ''],
  ],
  2,
)}`);
} finally {
  await peers.stop();
  await rm(dir, { recursive: true, force: true });
}
