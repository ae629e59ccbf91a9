/**
 * Benchmark: what dyeline/propagate costs an app. An app (propagate-app.ts) answers each inbound
 * request after one outbound GET to nginx (200 "ok"), with the http module, fetch or undici. Two
 * copies run side by side, one started with `--import propagate/propagate.mjs`, and wrk loads
 * them in turns (short runs, alternating, so that the load other programs put on the machine
 * falls on both alike) with the four propagation headers on every request, so the preload has
 * work to do on every call. Prints the machine first, then per client and set-up the median
 * req/s and the median app CPU time per request over the runs, and the median of the per-turn
 * differences (with − without).
 *
 *   node test/bench/propagate.ts [seconds=2] [connections=32] [turns=10]
 *
 * Needs wrk and nginx (found or installed by scripts/ensure-debian.sh, see peers.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnLines } from '../support/line-process.ts';
import { machine, pct } from './machine.ts';
import { Peers, freePort, rssMiB, waitHttp, wrk } from './peers.ts';

const [seconds = 2, connections = 32, turns = 10] = process.argv.slice(2).map(Number);
const APP = fileURLToPath(new URL('./propagate-app.ts', import.meta.url));
const PRELOAD = fileURLToPath(new URL('../../propagate/propagate.mjs', import.meta.url));
const HEADERS = [
  'x-traffic-color: canary',
  'baggage: traffic_color=canary,user=42',
  'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  'tracestate: vendor=opaque',
];
const median = (xs: number[]) => pct([...xs].sort((a, b) => a - b), 50);
/** The app's user + system CPU time so far, µs (its own process.cpuUsage()). */
async function appCpuUs(url: string): Promise<number> {
  const { user, system } = (await (await fetch(`${url}__cpu`)).json()) as { user: number; system: number };
  return user + system;
}

const dir = await mkdtemp(join(tmpdir(), 'dyeline-bench-propagate-'));
const peers = new Peers(dir);
try {
  console.log(`machine: ${machine()}`);
  console.log(`wrk -t1 -c${connections}, ${turns} turns of ${seconds}s per set-up, alternating → app (1 process) → one GET to nginx 200 "ok"; 4 propagation headers on every request\n`);
  const upPort = await freePort();
  await peers.nginx(`  server { listen 127.0.0.1:${upPort}; location / { return 200 "ok\\n"; } }`);
  await waitHttp(`http://127.0.0.1:${upPort}/`);

  console.log('client  preload    req/s   CPU µs/req   RSS MiB');
  for (const client of ['http', 'fetch', 'undici']) {
    const apps = await Promise.all(
      (['without', 'with'] as const).map(async (mode) => {
        const args = mode === 'with' ? ['--import', PRELOAD, APP] : [APP];
        const app = spawnLines(process.execPath, args, { env: { UPSTREAM: `127.0.0.1:${upPort}`, BENCH_CLIENT: client, NODE_USE_ENV_PROXY: '', HTTP_PROXY: '', http_proxy: '' } });
        peers.track(app.proc);
        const address = String((await app.waitForLine((l) => l.msg === 'listening', { timeoutMs: 15_000, what: 'bench app' })).address);
        return { mode, app, url: `http://${address}/`, rps: [] as number[], cpu: [] as number[] };
      }),
    );
    for (const a of apps) await wrk(a.url, { seconds: 2, connections, headers: HEADERS }); // warm-up (JIT)
    for (let turn = 0; turn < turns; turn++) {
      for (const a of turn % 2 === 0 ? apps : [...apps].reverse()) {
        const cpu0 = await appCpuUs(a.url);
        const r = await wrk(a.url, { seconds, connections, headers: HEADERS });
        const cpu1 = await appCpuUs(a.url);
        if (r.errors) console.log(`  ${client} ${a.mode} turn ${turn}: ${r.errors}`);
        a.rps.push(r.rps);
        a.cpu.push((cpu1 - cpu0) / (r.rps * seconds));
      }
    }
    for (const a of apps) {
      console.log(`${client.padEnd(7)} ${a.mode.padEnd(8)} ${median(a.rps).toFixed(0).padStart(7)}  ${median(a.cpu).toFixed(1).padStart(11)}  ${(await rssMiB(a.app.proc.pid!)).toFixed(0).padStart(8)}`);
    }
    const [without, withIt] = apps as [(typeof apps)[0], (typeof apps)[0]];
    const dCpu = median(withIt.cpu.map((c, i) => c - without.cpu[i]!));
    const dRps = median(withIt.rps.map((r, i) => (r / without.rps[i]! - 1) * 100));
    console.log(`${client.padEnd(7)} preload cost: ${dCpu >= 0 ? '+' : ''}${dCpu.toFixed(1)} µs CPU per request, ${dRps >= 0 ? '+' : ''}${dRps.toFixed(1)}% req/s (medians of the per-turn differences)\n`);
    await Promise.all(apps.map((a) => a.app.stop()));
  }
} finally {
  await peers.stop();
  await rm(dir, { recursive: true, force: true });
}
