/**
 * Benchmark: config sync measured at the agents — an etcd put of a rule → every agent on the
 * node routing by it. A real etcd, one daemon (etcd source) and N agents (default 20) on its
 * snapshot, all from dist/dyeline.mjs, agents as `dyeline inject` runs them. Each put flips one
 * Service's split between {stable: 100} and {canary: 100}; the time to each agent is taken from
 * the agent's own `snapshot loaded` log line (its clock: the moment the new table is swapped in
 * and new requests route by it), and every agent is then asked once through its outbound
 * listener to prove it routes to the new lane (`x-dyeline-served-color`). The daemon's
 * `snapshot written` line splits the time into daemon and agent. Also reported: the daemon's and
 * the agents' idle RSS.
 *
 *   node test/bench/config-sync.ts [puts=100] [agents=20]
 */
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_NODE_OPTIONS } from '../../deploy/node-options.ts';
import { IMAGE_NODE_FLAGS } from '../../scripts/build.ts';
import { EtcdServer } from '../support/etcd.ts';
import { machine, pct } from './machine.ts';
import { Peers, dyelineEntry, freePort, residentMiB, waitHttp } from './peers.ts';
import { num, numRange, report, table } from './report.ts';

const [puts = 100, agentCount = 20] = process.argv.slice(2).map(Number);
const P = '/dyeline-bench/';
// The harness of the e2e tests, run on the entry the benches use, as the image runs it.
process.env.DYELINE_TEST_ENTRY = dyelineEntry();
process.env.DYELINE_TEST_NODE_FLAGS = IMAGE_NODE_FLAGS.join(' ');
const { startDaemon, startDyeline } = await import('../support/process.ts');
type Proc = Awaited<ReturnType<typeof startDyeline>>;

/** The served colour of one GET through an agent's outbound listener to service `svc`. */
function servedColor(outbound: string): Promise<string> {
  const [host, port] = [outbound.slice(0, outbound.lastIndexOf(':')), Number(outbound.slice(outbound.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', headers: { host: 'svc' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.headers['x-dyeline-served-color'] ?? `status ${res.statusCode}`)));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Waits for a `msg` log line of `p` whose version is above `after`; resolves with the line's own time (ms since epoch). */
async function loggedAfter(p: Proc, msg: string, after: number): Promise<{ at: number; version: number }> {
  const line = await p.waitForLog((l) => l.msg === msg && Number(l.version) > after, 10_000);
  return { at: Date.parse(String(line.time)), version: Number(line.version) };
}

const service = (split: string) => `apiVersion: dyeline.io/v1\nkind: Service\nmetadata: { name: svc }\nspec: { split: { ${split}: 100 } }\n`;

const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s.at(-1)! };
};

const dir = await mkdtemp(join(tmpdir(), 'dyeline-bench-sync-'));
const peers = new Peers(dir);
const etcd = await EtcdServer.start();
const procs: Proc[] = [];
try {
  console.log(`machine: ${machine()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`etcd put → ${agentCount} agents routing by it: ${puts} sequential puts, one daemon (etcd source)\n`);
  const [stablePort, canaryPort] = [await freePort(), await freePort()];
  await peers.nginx(`  server { listen 127.0.0.1:${stablePort}; location / { return 200 "stable\\n"; } }
  server { listen 127.0.0.1:${canaryPort}; location / { return 200 "canary\\n"; } }`);
  await waitHttp(`http://127.0.0.1:${stablePort}/`);

  // A small mesh's worth of rules: the lane, the flipped service, and 20 more services × 5 instances.
  await etcd.put(`${P}rules/Lane/canary`, 'apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: canary }\nspec: { color: canary }\n');
  await etcd.put(`${P}rules/Service/svc`, service('stable'));
  await etcd.put(`${P}instances/svc/stable-1`, JSON.stringify({ address: '127.0.0.1', port: stablePort }));
  await etcd.put(`${P}instances/svc/canary-1`, JSON.stringify({ address: '127.0.0.1', port: canaryPort, labels: { color: 'canary' } }));
  for (let i = 0; i < 100; i++) await etcd.put(`${P}instances/other-${i % 20}/i-${i}`, JSON.stringify({ address: `10.0.0.${i}`, port: 8080 }));

  const snapshot = join(dir, 'run', 'snapshot.json');
  const daemon = await startDaemon({ sources: [`etcd://${etcd.endpoint}?prefix=${P}`], snapshot });
  procs.push(daemon);
  let version = (await loggedAfter(daemon, 'snapshot written', 0)).version;

  const agents: { p: Proc; outbound: string }[] = [];
  for (let i = 0; i < agentCount; i++) {
    const p = await startDyeline(
      ['agent', '--service', `client-${i}`, '--snapshot', snapshot, '--outbound', '127.0.0.1:0', '--status', '127.0.0.1:0', '--admin', '127.0.0.1:0'],
      { env: { NODE_OPTIONS: AGENT_NODE_OPTIONS, DYELINE_ACCESS_LOG: 'false', DYELINE_LOG_LEVEL: 'info' }, listeners: ['outbound'], timeoutMs: 30_000 },
    );
    procs.push(p);
    agents.push({ p, outbound: p.listeners.get('outbound')! });
  }
  for (const a of agents) {
    const c = await servedColor(a.outbound);
    if (c !== 'stable') throw new Error(`agent ${a.outbound} serves ${c} before the first put`);
  }
  await new Promise((r) => setTimeout(r, 2000));
  const daemonIdle = await residentMiB(daemon.proc.pid!);
  const agentIdle = await Promise.all(agents.map((a) => residentMiB(a.p.proc.pid!)));
  const agentsIdle = `${numRange(agentIdle.map((r) => r.rss))} MiB (anonymous ${numRange(agentIdle.map((r) => r.anon))} MiB)`;

  const toAgent: number[] = [];
  const toLastAgent: number[] = [];
  const toDaemon: number[] = [];
  for (let i = 0; i < puts; i++) {
    const lane = i % 2 === 0 ? 'canary' : 'stable';
    const t0 = performance.timeOrigin + performance.now();
    await etcd.put(`${P}rules/Service/svc`, service(lane));
    const written = await loggedAfter(daemon, 'snapshot written', version);
    const loaded = await Promise.all(agents.map((a) => loggedAfter(a.p, 'snapshot loaded', version)));
    version = written.version;
    toDaemon.push(written.at - t0);
    const times = loaded.map((l) => l.at - t0);
    toAgent.push(...times);
    toLastAgent.push(Math.max(...times));
    const colors = await Promise.all(agents.map((a) => servedColor(a.outbound)));
    const wrong = colors.filter((c) => c !== lane);
    if (wrong.length > 0) throw new Error(`put ${i}: ${wrong.length} agents do not route to ${lane} after loading the snapshot (${wrong[0]})`);
  }

  const a = summary(toAgent);
  const last = summary(toLastAgent);
  const d = summary(toDaemon);
  const f = (x: number) => num(x, 0).padStart(5);
  console.log(`put → snapshot written (daemon)   p50 ${f(d.p50)}  p90 ${f(d.p90)}  p99 ${f(d.p99)}  max ${f(d.max)} ms`);
  console.log(`put → agent routing by it         p50 ${f(a.p50)}  p90 ${f(a.p90)}  p99 ${f(a.p99)}  max ${f(a.max)} ms  (${toAgent.length} agent loads)`);
  console.log(`put → the last of ${agentCount} agents          p50 ${f(last.p50)}  p90 ${f(last.p90)}  p99 ${f(last.p99)}  max ${f(last.max)} ms`);
  console.log(`idle RSS: daemon ${num(daemonIdle.rss)} MiB (anonymous ${num(daemonIdle.anon)}); agents ${agentsIdle}`);
  console.log(`every agent routed to the new lane after each of the ${puts} puts (${puts * agentCount} checks)`);

  report(`## Config sync, measured at the agents

\`test/bench/config-sync.ts ${puts} ${agentCount}\`. A real etcd, one daemon (etcd source) and ${agentCount} agents on its
snapshot, all from \`dist/dyeline.mjs\` as the image runs it (\`node ${IMAGE_NODE_FLAGS.join(' ')}\`; agents with \`NODE_OPTIONS=${AGENT_NODE_OPTIONS}\`). ${puts} sequential puts each flip a
Service's split between stable and canary; the time to an agent is taken from its own \`snapshot
loaded\` line — the moment its new routing table is swapped in — and after every put each agent
is asked once through its outbound listener and must answer from the new lane (all
${puts * agentCount} did). Included: etcd's own put (WAL fsync), the watch, the daemon's 2 ms coalescing,
validation, merge and atomic write, the agents' 20 ms debounce of directory events, read,
checksum, schema and compile.

${table(
  ['etcd put →', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
  [
    ['snapshot written by the daemon', num(d.p50), num(d.p90), num(d.p99), num(d.max)],
    [`an agent routing by it (${toAgent.length} loads)`, num(a.p50), num(a.p90), num(a.p99), num(a.max)],
    [`the last of the ${agentCount} agents`, num(last.p50), num(last.p90), num(last.p99), num(last.max)],
  ],
)}

Idle RSS in this set-up (${2 + 100} instances, 2 rules): the daemon ${num(daemonIdle.rss)} MiB, of which ${num(daemonIdle.anon)} MiB anonymous
(goal ≤ 60 MiB: ${daemonIdle.rss <= 60 ? 'met' : 'not met'}); the agents ${agentsIdle}.`);
} finally {
  await Promise.all(procs.map((p) => p.stop('SIGTERM', 5_000)));
  await peers.stop();
  await etcd.cleanup();
  await rm(dir, { recursive: true, force: true });
}
