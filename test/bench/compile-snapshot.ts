/**
 * How long the agent takes to take in a large snapshot: 10,000 services × 10 instances and
 * 20 lanes × 100 dye rules (2,000 rules), timed per stage — checksum, JSON + schema (decode),
 * compile — plus routing throughput on the compiled table.
 *
 *   node test/bench/compile-snapshot.ts [services=10000] [instancesPerService=10] [lanes=20] [rulesPerLane=100]
 */
import { compileSnapshot } from '../../agent/routing/compile.ts';
import { EndpointStates } from '../../agent/routing/endpoint-states.ts';
import { P2CBalancer } from '../../agent/routing/balancer.ts';
import { route } from '../../agent/routing/router.ts';
import { loadSnapshotBytes } from '../../agent/snapshot/load.ts';
import { verifySnapshotChecksum } from '../../shared/snapshot-file.ts';
import { decodeSnapshot, encodeSnapshot } from '../../shared/snapshot-file.ts';
import { Instance, Lane, Service } from '../../shared/schema/documents.ts';
import type { SnapshotBody } from '../../shared/schema/snapshot.ts';
import { requestView, seededRandom } from '../support/snapshot-builder.ts';
import { machine } from './machine.ts';
import { num, report, table as mdTable } from './report.ts';

const [S = 10_000, I = 10, L = 20, R = 100] = process.argv.slice(2).map(Number);

console.log(`machine: ${machine()}`);
console.log(`snapshot: ${S} services × ${I} instances, ${L} lanes × ${R} dye rules`);

const provenance = { source: 'file:///bench', key: '/bench/rules.yaml' };
const colors = Array.from({ length: L }, (_, i) => `lane-${i}`);
const matchers = [
  (i: number) => ({ headers: { 'x-user-id': { exact: `user-${i}` } } }),
  (i: number) => ({ headers: { 'x-tenant': { prefix: `tenant-${i}-` } }, cookies: { beta: { present: true } } }),
  (i: number) => ({ query: { q: { regex: `v${i}\\.[0-9]+` } } }),
  (i: number) => ({ headers: { [`x-h${i}`]: { hashPercent: 5 } } }),
];
const body: SnapshotBody = {
  apiVersion: 'dyeline.io/v1',
  kind: 'Snapshot',
  version: 1,
  generatedAt: new Date().toISOString(),
  sources: [{ uri: 'file:///bench', kind: 'file', synced: true, revision: null, syncedAt: null }],
  lanes: colors.map((color, li) => ({
    provenance,
    document: Lane.parse({
      apiVersion: 'dyeline.io/v1',
      kind: 'Lane',
      metadata: { name: color },
      spec: {
        color,
        priority: li,
        fallback: li % 5 === 0 || li === 0 ? 'stable' : colors[li - 1],
        dye: { ...(li % 2 === 0 ? { entry: Array.from({ length: 10 }, (_, k) => `svc-${k * 7 + li}`) } : {}), match: Array.from({ length: R }, (_, r) => matchers[r % 4](li * R + r)) },
      },
    }),
  })),
  services: Array.from({ length: S / 10 }, (_, k) => ({
    provenance,
    document: Service.parse({
      apiVersion: 'dyeline.io/v1',
      kind: 'Service',
      metadata: { name: `svc-${k * 10}` },
      spec: k % 2 === 0 ? { split: { stable: 90, [colors[k % L]]: 10 }, splitKey: 'header:x-user-id' } : { subsets: { stable: { version: 'v1' } } },
    }),
  })),
  instances: [],
  rollouts: [],
  laneStates: [],
};
for (let s = 0; s < S; s++) {
  for (let i = 0; i < I; i++) {
    const color = i < 2 ? colors[(s + i) % L] : undefined;
    body.instances.push({
      provenance,
      document: Instance.parse({
        apiVersion: 'dyeline.io/v1',
        kind: 'Instance',
        metadata: { name: `svc-${s}-${i}` },
        spec: { service: `svc-${s}`, address: `10.${(s >> 8) & 255}.${s & 255}.${i + 1}`, port: 8080, weight: 100, labels: { version: 'v1', ...(color ? { color } : {}) } },
      }),
    });
  }
}

const timings: [string, number][] = [];
function time<T>(label: string, fn: () => T): T {
  const t0 = performance.now();
  const v = fn();
  const ms = performance.now() - t0;
  timings.push([label, ms]);
  console.log(`${label.padEnd(44)} ${ms.toFixed(1).padStart(8)} ms`);
  return v;
}

const text = time('encode (daemon side)', () => encodeSnapshot(body));
const buf = Buffer.from(text);
console.log(`${'file size'.padEnd(44)} ${(buf.length / 2 ** 20).toFixed(1).padStart(8)} MiB`);
time('verify checksum (sha256)', () => verifySnapshotChecksum(buf));
const snapshot = time('decode (checksum + JSON + schema)', () => decodeSnapshot(buf));
const states = new EndpointStates();
const table = time('compile', () => compileSnapshot(snapshot, states));
time('recompile (states reused)', () => compileSnapshot(snapshot, states));
const again = loadSnapshotBytes(buf, states, table);
console.log(`same checksum → ${again.kind}`);

const random = seededRandom(1);
const balancer = new P2CBalancer(random);
const reqs = [requestView({ 'x-user-id': 'user-7' }), requestView({}), requestView({ 'x-tenant': 'tenant-3-a' }, { beta: '1' })];
const names = Array.from({ length: S }, (_, s) => `svc-${s}`);
const N = 1_000_000;
let served = 0;
function routeAndPick(spread: number): void {
  for (let i = 0; i < N; i++) {
    const color = i % 3 === 0 ? colors[i % L] : undefined;
    const d = route(table, names[i % spread], color, reqs[i % 3], random);
    const ep = d && d.candidates[0] ? balancer.pick(d.candidates[0]) : undefined;
    if (ep) served++;
  }
}
routeAndPick(50); // warm the route plans
time(`route + pick × ${N / 1e6}M over 50 upstreams`, () => routeAndPick(50));
routeAndPick(S);
time(`route + pick × ${N / 1e6}M over all ${S}`, () => routeAndPick(S));
const applicable = table.dyeTable.lanesFor(names[1]).reduce((n, l) => n + l.rules.length, 0);
time(`dye × ${N / 10 / 1e6}M, ${applicable} rules, none matches`, () => {
  for (let i = 0; i < N / 10; i++) table.dye(names[1], reqs[1], random);
});
time(`dye × ${N / 10 / 1e6}M, ${applicable} rules, first lane matches`, () => {
  for (let i = 0; i < N / 10; i++) table.dye(names[1], reqs[0], random);
});
console.log(`served ${served} of ${4 * N} routed requests; heap ${Math.round(process.memoryUsage().heapUsed / 2 ** 20)} MiB`);

const ms = (label: string) => timings.find(([l]) => l.startsWith(label))![1];
report(`## Scale: the agent

\`test/bench/compile-snapshot.ts ${S} ${I} ${L} ${R}\` (in-process, the agent's own modules): a snapshot of ${num(S)} services × ${I}
instances and ${L} lanes × ${R} dye rules (${(buf.length / 2 ** 20).toFixed(1)} MiB).

${mdTable(
  ['stage', 'time'],
  [
    ['verify checksum + JSON + schema', `${num(ms('decode'))} ms`],
    ['compile the routing table', `${num(ms('compile'))} ms`],
    ['route + pick an instance, over 50 upstreams', `${num((ms('route + pick × 1M over 50') * 1000) / N, 2)} µs/request`],
    [`route + pick an instance, over all ${num(S)}`, `${num((ms('route + pick × 1M over all') * 1000) / N, 2)} µs/request`],
  ],
)}`);
