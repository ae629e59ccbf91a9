/**
 * Soak: steady mixed traffic through a small mesh for a long time (not in `npm test`), sampling
 * each dyeline process's RSS, V8 heap, open fds and event-loop delay, and saying whether each
 * stays flat (slope of a least-squares line over the run after the warm-up).
 *
 *   node test/bench/soak.ts [--minutes 10] [--rps 60] [--sample-seconds 5]
 *
 * The mesh: a daemon (file source) and three pods (app + agent): frontend (entry of lane canary,
 * dyed by header x-canary: 1), orders stable and orders canary. Traffic into the frontend's
 * inbound: GET chains frontend → orders (undyed, and dyed into the canary), POSTs with a 1 KiB
 * body, and Upgrade tunnels echoing bytes — through the frontend's inbound, and through its
 * outbound to orders. Every 15 s a rule file changes, so the daemon writes and the agents reload.
 * Access logs on (the default), each process's stdout to a file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { type AppProcess, startApp } from '../support/apps.ts';
import { freePort } from '../support/ports.ts';
import { seededRandom } from '../support/snapshot-builder.ts';
import { waitFor } from '../support/wait.ts';
import { machine } from './machine.ts';

const { values: args } = parseArgs({
  options: { minutes: { type: 'string', default: '10' }, rps: { type: 'string', default: '60' }, 'sample-seconds': { type: 'string', default: '5' } },
});
const MINUTES = Number(args.minutes);
const RPS = Number(args.rps);
const SAMPLE_MS = Number(args['sample-seconds']) * 1000;
/** Samples before this share of the run are the warm-up (JIT, pools filling) and left out of the fit. */
const WARM_SHARE = 0.15;
const BIN = fileURLToPath(new URL('../../bin/dyeline.js', import.meta.url));
const PROBE = fileURLToPath(new URL('./soak-probe.ts', import.meta.url));

const dir = await mkdtemp(join(tmpdir(), 'dyeline-soak-'));
const children: ChildProcess[] = [];
const apps: AppProcess[] = [];

/** Spawns `dyeline <args>` with the probe loaded; stdout and stderr to files in the run dir. */
function dyeline(name: string, dyelineArgs: string[]): ChildProcess {
  const out = openSync(join(dir, `${name}.log`), 'w');
  const child = spawn(process.execPath, [BIN, ...dyelineArgs], {
    stdio: ['ignore', out, out],
    env: { ...process.env, NODE_OPTIONS: `--import ${PROBE}`, DYELINE_SOAK_PROBE: join(dir, `${name}.probe.jsonl`), DYELINE_SOAK_PROBE_MS: String(SAMPLE_MS) },
  });
  children.push(child);
  return child;
}

const lane = (priority: number) =>
  `apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: canary }\nspec:\n  color: canary\n  priority: ${priority}\n  dye:\n    entry: [frontend]\n    match: [ { headers: { x-canary: { exact: "1" } } } ]\n`;
const inst = (name: string, svc: string, port: number, color?: string) =>
  `apiVersion: dyeline.io/v1\nkind: Instance\nmetadata: { name: ${name} }\nspec: { service: ${svc}, address: 127.0.0.1, port: ${port}${color ? `, labels: { color: ${color} }` : ''} }\n`;

interface Pod {
  name: string;
  inbound: number;
  outbound: number;
  status: number;
}

async function pod(name: string, svc: string, color: string, snapshot: string, ports: { inbound: number; outbound: number; status: number }): Promise<Pod> {
  const app = await startApp(svc, color, name);
  apps.push(app);
  dyeline(name, [
    'agent', '--service', svc, '--color', color, '--snapshot', snapshot, '--app-port', String(app.port),
    '--inbound', `127.0.0.1:${ports.inbound}`, '--outbound', `127.0.0.1:${ports.outbound}`, '--status', `127.0.0.1:${ports.status}`, '--admin', '127.0.0.1:0',
  ]);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${ports.status}/readyz`)).status === 200, { timeoutMs: 20_000, what: `${name} ready` });
  await app.setOutbound(`127.0.0.1:${ports.outbound}`);
  return { name, ...ports };
}

/** One Upgrade tunnel: 101, a few echoed bytes, closed. Resolves with an error text, or '' when all went well. */
function tunnel(port: number, host: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    let got = '';
    const t = setTimeout(() => done('timeout'), 5_000);
    const done = (err: string) => {
      clearTimeout(t);
      s.destroy();
      resolve(err);
    };
    s.setEncoding('latin1');
    s.on('error', (e) => done(String(e)));
    s.once('connect', () => s.write(`GET /ws HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`));
    s.on('data', (c: string) => {
      got += c;
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!got.startsWith('HTTP/1.1 101')) return done(got.split('\r\n', 1)[0]!);
      const body = got.slice(end + 4);
      if (body === '') s.write('ping-pong');
      else if (body === 'ping-pong') done('');
    });
  });
}

interface Sample {
  t: number;
  rssMiB: number;
  heapUsedMiB: number;
  fds: number;
  eldMeanMs: number;
  eldP99Ms: number;
  eldMaxMs: number;
}

/** Least-squares slope (per minute) of y over t (epoch ms). */
function slopePerMinute(ts: number[], ys: number[]): number {
  const n = ts.length;
  const mt = ts.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (ts[i]! - mt) * (ys[i]! - my);
    den += (ts[i]! - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60_000;
}

/** How much a metric may drift over the fitted span and still be flat: absolute floor, or a share of its mean. */
const TOLERANCE: Record<string, { abs: number; share: number; unit: string }> = {
  rssMiB: { abs: 4, share: 0.05, unit: 'MiB' },
  heapUsedMiB: { abs: 2, share: 0.1, unit: 'MiB' },
  fds: { abs: 2, share: 0, unit: '' },
  eldP99Ms: { abs: 2, share: 0.25, unit: 'ms' },
};

try {
  console.log(`machine: ${machine()}`);
  console.log(`soak: ${MINUTES} min at ${RPS} requests/s, samples every ${SAMPLE_MS / 1000} s, warm-up ${Math.round(WARM_SHARE * 100)} % left out of the fit; run dir ${dir}\n`);
  const rules = join(dir, 'rules');
  await mkdir(rules);
  const snapshot = join(dir, 'snapshot.json');
  const ports = async () => ({ inbound: await freePort(), outbound: await freePort(), status: await freePort() });
  const [fp, sp, cp] = [await ports(), await ports(), await ports()];
  await writeFile(join(rules, 'lane.yaml'), lane(10));
  await writeFile(
    join(rules, 'mesh.yaml'),
    [
      'apiVersion: dyeline.io/v1\nkind: Service\nmetadata: { name: orders }\nspec: {}\n',
      inst('frontend-1', 'frontend', fp.inbound),
      inst('orders-stable-1', 'orders', sp.inbound),
      inst('orders-canary-1', 'orders', cp.inbound, 'canary'),
    ].join('---\n'),
  );
  const daemonStatus = await freePort();
  dyeline('daemon', ['daemon', '--source', `file://${rules}`, '--snapshot', snapshot, '--status', `127.0.0.1:${daemonStatus}`, '--admin', '127.0.0.1:0']);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${daemonStatus}/readyz`)).status === 200, { timeoutMs: 20_000, what: 'daemon ready' });
  const frontend = await pod('frontend', 'frontend', 'stable', snapshot, fp);
  await pod('orders-stable', 'orders', 'stable', snapshot, sp);
  await pod('orders-canary', 'orders', 'canary', snapshot, cp);

  const pool = new Pool(`http://127.0.0.1:${frontend.inbound}`, { connections: 64 });
  const random = seededRandom(42);
  const counts: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const fallbacks: Record<string, number> = {};
  const latencies: number[] = [];
  let inflight = 0;
  const body = 'x'.repeat(1024);
  const count = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

  const one = async (): Promise<void> => {
    const r = random();
    const t0 = performance.now();
    inflight++;
    let kind: string;
    let err = '';
    try {
      if (r < 0.05) {
        kind = 'upgrade via inbound';
        err = await tunnel(frontend.inbound, 'frontend');
      } else if (r < 0.1) {
        kind = 'upgrade via outbound';
        err = await tunnel(frontend.outbound, 'orders');
      } else {
        const dyed = random() < 0.4;
        const post = r < 0.3;
        kind = `${post ? 'POST' : 'GET'} ${dyed ? 'dyed' : 'undyed'}`;
        const res = await pool.request({
          path: post ? '/submit' : '/chain?via=orders',
          method: post ? 'POST' : 'GET',
          headers: { host: 'frontend', ...(dyed ? { 'x-canary': '1' } : {}), ...(post ? { 'content-type': 'text/plain' } : {}) },
          body: post ? body : undefined,
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        });
        const text = await res.body.text();
        if (res.statusCode !== 200) err = `status ${res.statusCode}`;
        else if (!post) {
          const next = (JSON.parse(text) as { next?: { status: number; servedColor: string | null; fallback: string | null } }).next;
          if (next?.status !== 200) err = `chain ${next?.status}`;
          else if ((next.servedColor === 'canary') !== dyed) {
            // Served outside its lane: a fallback the agent names (a canary try that took too long) is counted, not an error.
            if (next.fallback) count(fallbacks, `${kind}: ${next.fallback}`);
            else err = `dyed ${dyed} served ${next.servedColor}`;
          }
        }
      }
    } catch (e) {
      kind ??= 'request';
      err = (e as { code?: string }).code ?? String(e);
    }
    latencies.push(performance.now() - t0);
    inflight--;
    count(counts, kind!);
    if (err !== '') count(errors, `${kind!}: ${err}`);
  };

  const started = performance.now();
  const endAt = started + MINUTES * 60_000;
  let sent = 0;
  let skipped = 0;
  let priority = 10;
  const ruleTimer = setInterval(() => void writeFile(join(rules, 'lane.yaml'), lane((priority = priority === 10 ? 11 : 10))), 15_000);
  const progress = setInterval(() => {
    const done = Object.values(counts).reduce((a, b) => a + b, 0);
    console.log(`  ${Math.round((performance.now() - started) / 1000)} s: ${done} requests, ${Object.values(errors).reduce((a, b) => a + b, 0)} errors, ${inflight} in flight`);
  }, 60_000);
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      if (now >= endAt) {
        clearInterval(tick);
        resolve();
        return;
      }
      const owed = Math.floor(((now - started) * RPS) / 1000) - sent - skipped;
      for (let i = 0; i < owed; i++) {
        if (inflight >= 256) {
          skipped++;
          continue;
        }
        sent++;
        void one();
      }
    }, 5);
  });
  clearInterval(ruleTimer);
  clearInterval(progress);
  await waitFor(() => inflight === 0, { timeoutMs: 15_000, what: 'requests in flight to finish' });
  await pool.close();

  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const sorted = latencies.sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!.toFixed(1);
  console.log(`\ntraffic: ${total} requests in ${MINUTES} min (${skipped} ticks skipped), p50 ${pct(50)} ms, p99 ${pct(99)} ms`);
  console.log(`  by kind: ${JSON.stringify(counts)}`);
  console.log(`  errors: ${JSON.stringify(errors)}`);
  console.log(`  served by the fallback lane (x-dyeline-fallback): ${JSON.stringify(fallbacks)}`);

  const rows: string[] = ['| process | metric | first | last | min | max | slope /min | drift over the fit | trend |', '|---|---|---|---|---|---|---|---|---|'];
  let allFlat = true;
  for (const name of ['frontend', 'orders-stable', 'orders-canary', 'daemon']) {
    const samples = readFileSync(join(dir, `${name}.probe.jsonl`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Sample);
    const from = samples[0]!.t + (samples.at(-1)!.t - samples[0]!.t) * WARM_SHARE;
    const fit = samples.filter((s) => s.t >= from);
    const spanMin = (fit.at(-1)!.t - fit[0]!.t) / 60_000;
    for (const metric of Object.keys(TOLERANCE) as (keyof Sample)[]) {
      const ys = fit.map((s) => s[metric]);
      const all = samples.map((s) => s[metric]);
      const slope = slopePerMinute(fit.map((s) => s.t), ys);
      const drift = slope * spanMin;
      const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
      const tol = TOLERANCE[metric]!;
      const bound = Math.max(tol.abs, tol.share * mean);
      // A leak grows; a metric that settles lower after a noisy start is not one.
      const verdict = drift > bound ? 'GROWS' : drift < -bound ? 'falls' : 'flat';
      allFlat &&= verdict !== 'GROWS';
      const f = (v: number) => `${v.toFixed(metric === 'fds' ? 0 : 1)}${tol.unit ? ` ${tol.unit}` : ''}`;
      rows.push(`| ${name} | ${metric} | ${f(all[0]!)} | ${f(all.at(-1)!)} | ${f(Math.min(...all))} | ${f(Math.max(...all))} | ${slope.toFixed(3)} | ${drift.toFixed(2)} | ${verdict} |`);
    }
  }
  console.log(`\n${rows.join('\n')}`);
  console.log(`\n${allFlat ? 'no metric grows' : 'a metric GROWS: see the rows marked so'}; ${Object.keys(errors).length === 0 ? 'no errors' : 'errors above'}`);
  process.exitCode = allFlat && Object.keys(errors).length === 0 ? 0 : 1;
} finally {
  for (const c of children) c.kill('SIGTERM');
  await Promise.allSettled(apps.map((a) => a.stop()));
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
  await rm(dir, { recursive: true, force: true });
}
