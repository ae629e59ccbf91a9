/**
 * Benchmark: what dyeline/propagate costs an app. An app (propagate-app.ts) answers each inbound
 * request after one outbound GET to nginx (200 "ok"), with the http module, fetch or undici; it
 * runs with and without `--import propagate/propagate.mjs`, loaded by wrk with the four
 * propagation headers on every request (so the preload has work to do on every call). Rounds
 * alternate with/without; per set-up the best of the rounds is kept, figure by figure (most req/s
 * with that round's latencies, least CPU, largest RSS). Prints the machine first, then req/s,
 * p50/p99, the app's CPU time per request and RSS, and the preload's difference.
 *
 *   node test/bench/propagate.ts [seconds=5] [connections=32] [rounds=3]
 *
 * Needs wrk and nginx (found or installed by scripts/ensure-debian.sh, see peers.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnLines } from '../support/line-process.ts';
import { machine } from './machine.ts';
import { Peers, type WrkResult, cpuSeconds, freePort, rssMiB, waitHttp, wrk } from './peers.ts';

const [seconds = 5, connections = 32, rounds = 3] = process.argv.slice(2).map(Number);
const APP = fileURLToPath(new URL('./propagate-app.ts', import.meta.url));
const PRELOAD = fileURLToPath(new URL('../../propagate/propagate.mjs', import.meta.url));
const HEADERS = [
  'x-traffic-color: canary',
  'baggage: traffic_color=canary,user=42',
  'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  'tracestate: vendor=opaque',
];

interface Result {
  r: WrkResult;
  cpuUs: number;
  rss: number;
}

const dir = await mkdtemp(join(tmpdir(), 'dyeline-bench-propagate-'));
const peers = new Peers(dir);
try {
  console.log(`machine: ${machine()}`);
  console.log(`wrk -t1 -c${connections} -d${seconds}s × ${rounds} rounds (best kept) → app (1 process) → one GET to nginx 200 "ok"; 4 propagation headers on every request\n`);
  const upPort = await freePort();
  await peers.nginx(`  server { listen 127.0.0.1:${upPort}; location / { return 200 "ok\\n"; } }`);
  await waitHttp(`http://127.0.0.1:${upPort}/`);

  console.log('client  preload      req/s    p50 ms    p99 ms   CPU µs/req   RSS MiB');
  for (const client of ['http', 'fetch', 'undici']) {
    const best: Record<'without' | 'with', Result | undefined> = { without: undefined, with: undefined };
    for (let round = 0; round < rounds; round++) {
      for (const mode of ['without', 'with'] as const) {
        const args = mode === 'with' ? ['--import', PRELOAD, APP] : [APP];
        const app = spawnLines(process.execPath, args, { env: { UPSTREAM: `127.0.0.1:${upPort}`, BENCH_CLIENT: client, NODE_USE_ENV_PROXY: '', HTTP_PROXY: '', http_proxy: '' } });
        peers.track(app.proc);
        const address = String((await app.waitForLine((l) => l.msg === 'listening', { timeoutMs: 15_000, what: 'bench app' })).address);
        const url = `http://${address}/`;
        wrk(url, { seconds: Math.min(seconds, 2), connections, headers: HEADERS }); // warm-up (JIT)
        const cpu0 = await cpuSeconds(app.proc.pid!);
        const r = wrk(url, { seconds, connections, headers: HEADERS });
        const cpu1 = await cpuSeconds(app.proc.pid!);
        const cpuUs = ((cpu1.user + cpu1.sys - cpu0.user - cpu0.sys) / (r.rps * seconds)) * 1e6;
        const rss = await rssMiB(app.proc.pid!);
        await app.stop();
        if (r.errors) console.log(`  ${client} ${mode} round ${round}: ${r.errors}`);
        // Best of the rounds, each figure on its own: the most req/s (with its latencies), the least CPU.
        const prev = best[mode];
        best[mode] = prev === undefined ? { r, cpuUs, rss } : { r: r.rps > prev.r.rps ? r : prev.r, cpuUs: Math.min(cpuUs, prev.cpuUs), rss: Math.max(rss, prev.rss) };
      }
    }
    for (const mode of ['without', 'with'] as const) {
      const { r, cpuUs, rss } = best[mode]!;
      const diff = mode === 'with' ? `  (${cpuUs - best.without!.cpuUs >= 0 ? '+' : ''}${(cpuUs - best.without!.cpuUs).toFixed(1)} µs, ${(((r.rps / best.without!.r.rps) - 1) * 100).toFixed(1)}% req/s)` : '';
      console.log(`${client.padEnd(7)} ${mode.padEnd(8)} ${r.rps.toFixed(0).padStart(9)}  ${r.p50.toFixed(3).padStart(8)}  ${r.p99.toFixed(3).padStart(8)}  ${cpuUs.toFixed(1).padStart(11)}  ${rss.toFixed(0).padStart(8)}${diff}`);
    }
  }
} finally {
  await peers.stop();
  await rm(dir, { recursive: true, force: true });
}
