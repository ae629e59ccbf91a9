/**
 * Benchmark: the per-request cost of telemetry through one agent hop (outbound listener →
 * nginx answering 200), with wrk. The same agent binary runs in four set-ups:
 *   off       no OTLP endpoint, --access-log false (metrics only: they are always on)
 *   log       access log on (one pino JSON line per request, to a file)
 *   trace     spans on (OTLP/HTTP protobuf to an nginx sink that discards them), no access log
 *   all       spans + access log
 * (plus `trace-json` with OTLP/JSON bodies). Prints the machine first, then req/s, p50/p99,
 * the agent's CPU time per request, the difference to `off`, and the spans exported/dropped as
 * the agent's own /metrics report them.
 *
 *   node test/bench/telemetry.ts [seconds=5] [connections=32] [rounds=5]
 *
 * Needs wrk and nginx (found or installed by scripts/ensure-debian.sh, see peers.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { instance, service, snapshotText } from '../support/snapshot-builder.ts';
import { find, parsePrometheus } from '../support/prometheus.ts';
import { machine } from './machine.ts';
import { Peers, type WrkResult, cpuSeconds, dyelineEntry, freePort, waitHttp, wrk } from './peers.ts';
import { num, report, table } from './report.ts';
import { IMAGE_ENV } from '../../deploy/node-options.ts';
import { IMAGE_NODE_FLAGS } from '../../scripts/build.ts';

const [seconds = 5, connections = 32, rounds = 5] = process.argv.slice(2).map(Number);
const BIN = dyelineEntry();

/** user + system CPU seconds of a process. */
async function cpuTotal(pid: number): Promise<number> {
  const { user, sys } = await cpuSeconds(pid);
  return user + sys;
}

async function metricsText(address: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(`http://${address}/metrics`, (res) => {
      let t = '';
      res.setEncoding('utf8').on('data', (c: string) => (t += c));
      res.on('end', () => resolve(t));
    }).on('error', reject);
  });
}

interface Setup {
  name: string;
  env: NodeJS.ProcessEnv;
  accessLog: boolean;
}

const dir = await mkdtemp(join(tmpdir(), 'dyeline-bench-telemetry-'));
const peers = new Peers(dir);
try {
  console.log(`machine: ${machine()}`);
  console.log(`wrk -t1 -c${connections} -d${seconds}s × ${rounds} rounds through one agent hop (outbound → nginx 200 "ok"); header x-traffic-color: canary\n`);
  const [upPort, sinkPort] = [await freePort(), await freePort()];
  await peers.nginx(`  server { listen 127.0.0.1:${upPort}; location / { return 200 "ok\\n"; } }
  server { listen 127.0.0.1:${sinkPort}; location / { return 200 ""; } }`);
  await waitHttp(`http://127.0.0.1:${upPort}/`);

  const snapshot = join(dir, 'snapshot.json');
  await writeFile(snapshot, snapshotText([service('echo', { timeoutMs: 5000 }), instance('echo-1', 'echo', '127.0.0.1', { port: upPort, color: 'canary' })]));

  const otlp = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}`, OTEL_BSP_SCHEDULE_DELAY: '1000' };
  const setups: Setup[] = [
    { name: 'off', env: {}, accessLog: false },
    { name: 'log', env: {}, accessLog: true },
    { name: 'trace', env: otlp, accessLog: false },
    { name: 'trace-json', env: { ...otlp, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, accessLog: false },
    { name: 'all', env: otlp, accessLog: true },
  ];
  // Every set-up runs at once (an idle agent costs nothing); rounds alternate between them so a
  // busy neighbour on the machine spreads over all of them; the median round is reported.
  const agents: { setup: Setup; proc: ChildProcess; url: string; status: string }[] = [];
  for (const setup of setups) {
    const outPort = await freePort();
    const statusPort = await freePort();
    const logFile = await open(join(dir, `${setup.name}.log`), 'w');
    const proc = spawn(
      process.execPath,
      [...IMAGE_NODE_FLAGS, BIN, 'agent', '--service', 'bench', '--snapshot', snapshot, '--outbound', `127.0.0.1:${outPort}`, '--status', `127.0.0.1:${statusPort}`, '--admin', '127.0.0.1:0', '--access-log', String(setup.accessLog)],
      { stdio: ['ignore', logFile.fd, 'inherit'], env: { ...process.env, ...IMAGE_ENV, DYELINE_LOG_LEVEL: 'info', ...setup.env } },
    );
    peers.track(proc);
    proc.once('exit', () => void logFile.close());
    await waitHttp(`http://127.0.0.1:${outPort}/`, { host: 'echo', 'x-traffic-color': 'canary' });
    agents.push({ setup, proc, url: `http://127.0.0.1:${outPort}/bench/path`, status: `127.0.0.1:${statusPort}` });
  }
  const headers = ['Host: echo', 'x-traffic-color: canary'];
  const load = { seconds, connections, headers };
  for (const a of agents) await wrk(a.url, { ...load, seconds: Math.min(seconds, 3) }); // warm-up (JIT)
  const results = new Map<string, { r: WrkResult; cpuUs: number }[]>();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? agents : [...agents].reverse();
    for (const a of order) {
      const cpu0 = await cpuTotal(a.proc.pid!);
      const r = await wrk(a.url, load);
      const cpu1 = await cpuTotal(a.proc.pid!);
      const list = results.get(a.setup.name) ?? [];
      list.push({ r, cpuUs: ((cpu1 - cpu0) / (r.rps * seconds)) * 1e6 });
      results.set(a.setup.name, list);
    }
  }
  await new Promise((res) => setTimeout(res, 1500)); // one more export interval
  const rows: { setup: Setup; best: { r: WrkResult; cpuUs: number }; median: { r: WrkResult; cpuUs: number }; spans: string }[] = [];
  for (const a of agents) {
    const list = results.get(a.setup.name)!;
    const byCpu = [...list].sort((x, y) => x.cpuUs - y.cpuUs);
    const byRps = [...list].sort((x, y) => y.r.rps - x.r.rps);
    const mid = Math.floor(list.length / 2);
    let spans = '';
    if (a.setup.env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined) {
      const s = parsePrometheus(await metricsText(a.status));
      const processed = find(s, 'otel_sdk_processor_span_processed_total');
      const ok = processed.filter((x) => x.labels.error_type === undefined).reduce((n, x) => n + x.value, 0);
      const dropped = processed.filter((x) => x.labels.error_type !== undefined).reduce((n, x) => n + x.value, 0);
      spans = `spans exported ${ok}, dropped ${dropped}`;
    }
    rows.push({ setup: a.setup, best: { r: byRps[0]!.r, cpuUs: byCpu[0]!.cpuUs }, median: { r: byRps[mid]!.r, cpuUs: byCpu[mid]!.cpuUs }, spans });
  }
  // On a shared machine the least disturbed round (best req/s, least CPU per request) is the
  // steadiest estimate; the median shows how noisy the runs were.
  for (const which of rounds > 1 ? (['best', 'median'] as const) : (['best'] as const)) {
    const base = rows[0]![which];
    console.log(`\n${which} of ${rounds} rounds`);
    console.log('set-up        req/s      p50 ms   p99 ms   agent CPU/request   vs off');
    for (const row of rows) {
      const { r, cpuUs } = row[which];
      const delta = cpuUs - base.cpuUs;
      const rel = ((r.rps / base.r.rps - 1) * 100).toFixed(1);
      console.log(
        `${row.setup.name.padEnd(11)} ${r.rps.toFixed(0).padStart(8)}  ${r.p50.toFixed(3).padStart(8)} ${r.p99.toFixed(3).padStart(8)}   ${cpuUs.toFixed(1).padStart(7)} µs   ${row === rows[0] ? '' : `${delta >= 0 ? '+' : ''}${delta.toFixed(1)} µs CPU, ${rel}% req/s`}  ${which === 'best' ? row.spans : ''}${r.errors ? `  (${r.errors})` : ''}`,
      );
    }
  }
  const logLines = (await readFile(join(dir, 'log.log'), 'utf8')).split('\n').filter((l) => l.includes('"msg":"request"')).length;
  console.log(`\naccess log lines written by the 'log' agent: ${logLines}`);
  const base = rows[0]!.best;
  report(`## Telemetry cost

\`test/bench/telemetry.ts ${seconds} ${connections} ${rounds}\`: the same agent (\`dist/dyeline.mjs\`) in five set-ups at once, wrk at ${connections} connections
through one hop (\`node ${IMAGE_NODE_FLAGS.join(' ')}\`), rounds alternating between set-ups; the least disturbed of ${rounds} rounds. Metrics are
always on; "trace" exports every request's span over OTLP/HTTP to a receiver that discards them.

${table(
  ['set-up', 'req/s', 'agent CPU µs/request', 'vs off'],
  rows.map((r) => [r.setup.name, num(r.best.r.rps), num(r.best.cpuUs, 1), r === rows[0] ? '' : `${r.best.cpuUs - base.cpuUs >= 0 ? '+' : ''}${num(r.best.cpuUs - base.cpuUs, 1)} µs`]),
)}`);
} finally {
  await peers.stop();
  await rm(dir, { recursive: true, force: true });
}
