/**
 * Benchmark: one hop through the agent's outbound listener vs direct to the same upstream,
 * and vs nginx as a peer proxy (keep-alive upstream pool), with wrk. The upstream is nginx
 * answering a small 200 so the figures are the proxies' own cost. Prints the machine first,
 * then req/s, p50/p99 latency, and the agent's CPU time per 1,000 requests and RSS.
 *
 *   node test/bench/proxy.ts [seconds=8] [connections=32]
 *   (BENCH_AGENT_NODE_OPTIONS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles the agent)
 *
 * Needs wrk and nginx (Debian: apt-get install -y wrk nginx).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { instance, service, snapshotText } from '../support/snapshot-builder.ts';
import { machine } from './machine.ts';

const [seconds = 8, connections = 32] = process.argv.slice(2).map(Number);
const BIN = fileURLToPath(new URL('../../bin/dyeline.js', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function status(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    get(url, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', () => resolve(0));
  });
}

async function waitHttp(url: string, headers: Record<string, string> = {}): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if ((await status(url, headers)) === 200) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  errors: string;
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

function wrk(url: string, conns: number, headers: string[] = []): WrkResult {
  const args = ['-t1', `-c${conns}`, `-d${seconds}s`, '--latency', ...headers.flatMap((h) => ['-H', h]), url];
  const out = execFileSync('wrk', args, { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
  const p99 = toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const errors = [/Non-2xx or 3xx responses: \d+/.exec(out)?.[0], /Socket errors: [^\n]+/.exec(out)?.[0]].filter(Boolean).join('; ');
  return { rps, p50, p99, errors };
}

/** [user, system] CPU seconds of a process (clock ticks of 10 ms). */
async function cpuSeconds(pid: number): Promise<[number, number]> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(f[11]) / 100, Number(f[12]) / 100];
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
}

const children: ChildProcess[] = [];
const dir = await mkdtemp(join(tmpdir(), 'dyeline-bench-proxy-'));
try {
  console.log(`machine: ${machine()}`);
  console.log(`wrk -t1 -c${connections} -d${seconds}s; upstream: nginx (1 worker) answering 200 "ok"\n`);
  const [upPort, nginxProxyPort] = [await freePort(), await freePort()];
  await mkdir(join(dir, 'nginx'), { recursive: true });
  await writeFile(
    join(dir, 'nginx', 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx/nginx.pid;
error_log ${dir}/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/nginx/body; proxy_temp_path ${dir}/nginx/proxy;
  fastcgi_temp_path ${dir}/nginx/fcgi; uwsgi_temp_path ${dir}/nginx/uwsgi; scgi_temp_path ${dir}/nginx/scgi;
  keepalive_requests 1000000;
  upstream up { server 127.0.0.1:${upPort}; keepalive 64; }
  server { listen 127.0.0.1:${upPort}; location / { return 200 "ok\\n"; } }
  server { listen 127.0.0.1:${nginxProxyPort}; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
`,
  );
  const nginx = spawn('nginx', ['-p', join(dir, 'nginx'), '-c', join(dir, 'nginx', 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'inherit' });
  children.push(nginx);
  await waitHttp(`http://127.0.0.1:${upPort}/`);

  const snapshot = join(dir, 'snapshot.json');
  await writeFile(snapshot, snapshotText([service('echo', { timeoutMs: 5000 }), instance('echo-1', 'echo', '127.0.0.1', { port: upPort })]));
  const outPort = await freePort();
  const agent = spawn(
    process.execPath,
    [BIN, 'agent', '--service', 'bench', '--snapshot', snapshot, '--outbound', `127.0.0.1:${outPort}`, '--status', '127.0.0.1:0', '--admin', '127.0.0.1:0'],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DYELINE_LOG_LEVEL: 'warn', NODE_OPTIONS: process.env.BENCH_AGENT_NODE_OPTIONS ?? '' } },
  );
  children.push(agent);
  await waitHttp(`http://127.0.0.1:${outPort}/`, { host: 'echo' });

  const rows: [string, WrkResult, string][] = [];
  for (const conns of [1, connections]) {
    rows.push([`direct            c=${conns}`, wrk(`http://127.0.0.1:${upPort}/`, conns), '']);
    // Warm up the agent (JIT) before the measured run.
    wrk(`http://127.0.0.1:${outPort}/`, conns, ['Host: echo']);
    const cpu0 = await cpuSeconds(agent.pid!);
    const r = wrk(`http://127.0.0.1:${outPort}/`, conns, ['Host: echo']);
    const cpu1 = await cpuSeconds(agent.pid!);
    const n = r.rps * seconds;
    const us = (i: 0 | 1) => (((cpu1[i] - cpu0[i]) / n) * 1e6).toFixed(0);
    rows.push([`dyeline agent     c=${conns}`, r, `agent CPU ${us(0)} µs user + ${us(1)} µs sys per request, RSS ${(await rssMiB(agent.pid!)).toFixed(0)} MiB`]);
    rows.push([`nginx proxy       c=${conns}`, wrk(`http://127.0.0.1:${nginxProxyPort}/`, conns), '']);
  }
  console.log('target                    req/s      p50 ms   p99 ms');
  for (const [name, r, extra] of rows) {
    console.log(`${name}  ${r.rps.toFixed(0).padStart(9)}  ${r.p50.toFixed(3).padStart(8)} ${r.p99.toFixed(3).padStart(8)}  ${extra}${r.errors ? `  (${r.errors})` : ''}`);
  }
  const direct1 = rows[0]![1];
  const agent1 = rows[1]![1];
  console.log(`\nagent hop adds ${(agent1.p50 - direct1.p50).toFixed(3)} ms at p50 with one connection`);
} finally {
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  await rm(dir, { recursive: true, force: true });
}
