/**
 * Benchmark: one hop through the agent's outbound listener vs direct to the same upstream, and
 * vs two peer proxies with a keep-alive upstream pool: nginx and HAProxy (one worker/thread each,
 * as the agent is one Node process). Load from wrk (one thread). The upstream is nginx answering
 * a small 200 so the figures are the proxies' own cost. Prints the machine first, then req/s and
 * p50/p99 latency of each target at 1 and at N connections, the agent's CPU time per request and
 * RSS, and the agent's ratios to direct, nginx and HAProxy.
 *
 *   node test/bench/proxy.ts [seconds=8] [connections=32]
 *   (BENCH_AGENT_NODE_OPTIONS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles the agent)
 *
 * Needs wrk, nginx and haproxy (found or installed by scripts/ensure-debian.sh, see peers.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { instance, service, snapshotText } from '../support/snapshot-builder.ts';
import { machine } from './machine.ts';
import { Peers, type WrkResult, cpuSeconds, freePort, rssMiB, waitHttp, wrk } from './peers.ts';

const [seconds = 8, connections = 32] = process.argv.slice(2).map(Number);
const BIN = fileURLToPath(new URL('../../bin/dyeline.js', import.meta.url));
/** Warm-up of the agent before each measured run (JIT): as long as a run, at most 3 s. */
const warmSeconds = Math.min(seconds, 3);

interface Row {
  target: 'direct' | 'dyeline agent' | 'nginx proxy' | 'haproxy proxy';
  conns: number;
  r: WrkResult;
  note: string;
}

const dir = await mkdtemp(join(tmpdir(), 'dyeline-bench-proxy-'));
const peers = new Peers(dir);
try {
  console.log(`machine: ${machine()}`);
  console.log(`wrk -t1 -d${seconds}s at 1 and ${connections} connections; upstream: nginx (1 worker) answering 200 "ok"; proxies: dyeline agent (1 process), nginx (1 worker), HAProxy (nbthread 1), all keep-alive to the upstream\n`);
  const [upPort, nginxPort, haproxyPort, outPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  await peers.nginx(`  upstream up { server 127.0.0.1:${upPort}; keepalive 64; }
  server { listen 127.0.0.1:${upPort}; location / { return 200 "ok\\n"; } }
  server { listen 127.0.0.1:${nginxPort}; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } }`);
  await peers.haproxy(haproxyPort, upPort);
  await waitHttp(`http://127.0.0.1:${upPort}/`);
  await waitHttp(`http://127.0.0.1:${nginxPort}/`);
  await waitHttp(`http://127.0.0.1:${haproxyPort}/`);

  const snapshot = join(dir, 'snapshot.json');
  await writeFile(snapshot, snapshotText([service('echo', { timeoutMs: 5000 }), instance('echo-1', 'echo', '127.0.0.1', { port: upPort })]));
  const agent = peers.track(
    spawn(
      process.execPath,
      [BIN, 'agent', '--service', 'bench', '--snapshot', snapshot, '--outbound', `127.0.0.1:${outPort}`, '--status', '127.0.0.1:0', '--admin', '127.0.0.1:0'],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DYELINE_LOG_LEVEL: 'warn', NODE_OPTIONS: process.env.BENCH_AGENT_NODE_OPTIONS ?? '' } },
    ),
  );
  await waitHttp(`http://127.0.0.1:${outPort}/`, { host: 'echo' });

  const rows: Row[] = [];
  for (const conns of [1, connections]) {
    const run = (port: number, headers: string[] = []) => wrk(`http://127.0.0.1:${port}/`, { seconds, connections: conns, headers });
    rows.push({ target: 'direct', conns, r: run(upPort), note: '' });
    wrk(`http://127.0.0.1:${outPort}/`, { seconds: warmSeconds, connections: conns, headers: ['Host: echo'] });
    const cpu0 = await cpuSeconds(agent.pid!);
    const r = run(outPort, ['Host: echo']);
    const cpu1 = await cpuSeconds(agent.pid!);
    const us = (s: number) => ((s / (r.rps * seconds)) * 1e6).toFixed(0);
    rows.push({ target: 'dyeline agent', conns, r, note: `CPU ${us(cpu1.user - cpu0.user)} µs user + ${us(cpu1.sys - cpu0.sys)} µs sys per request, RSS ${(await rssMiB(agent.pid!)).toFixed(0)} MiB` });
    rows.push({ target: 'nginx proxy', conns, r: run(nginxPort), note: '' });
    rows.push({ target: 'haproxy proxy', conns, r: run(haproxyPort), note: '' });
  }

  console.log('target         conns      req/s    p50 ms    p99 ms');
  for (const { target, conns, r, note } of rows) {
    const errors = r.errors ? `  (${r.errors})` : '';
    console.log(`${target.padEnd(14)} ${String(conns).padStart(5)}  ${r.rps.toFixed(0).padStart(9)}  ${r.p50.toFixed(3).padStart(8)}  ${r.p99.toFixed(3).padStart(8)}  ${note}${errors}`);
  }

  // Agent ÷ peer: req/s below 1 means the agent serves less; latency above 1 means it is slower.
  const find = (target: Row['target'], conns: number) => rows.find((x) => x.target === target && x.conns === conns)!.r;
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`.padStart(8);
  console.log('\nratios         conns      req/s       p50       p99');
  for (const conns of [1, connections]) {
    const a = find('dyeline agent', conns);
    for (const peer of ['direct', 'nginx proxy', 'haproxy proxy'] as const) {
      const p = find(peer, conns);
      console.log(`${`agent/${peer.split(' ')[0]}`.padEnd(14)} ${String(conns).padStart(5)}  ${x(a.rps, p.rps).padStart(9)}  ${x(a.p50, p.p50)}  ${x(a.p99, p.p99)}`);
    }
  }
  const direct1 = find('direct', 1);
  const agent1 = find('dyeline agent', 1);
  console.log(`\nagent hop adds ${(agent1.p50 - direct1.p50).toFixed(3)} ms at p50 with one connection`);
} finally {
  await peers.stop();
  await rm(dir, { recursive: true, force: true });
}
