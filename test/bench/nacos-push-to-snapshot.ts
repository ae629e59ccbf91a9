/**
 * Benchmark: a Nacos change → the new snapshot on disk, over the gRPC transport (server push) in
 * plaintext and over TLS (the test Nacos serves both on its gRPC port, as Nacos does with
 * `compatibility`), and over HTTP v1 (config long polling, instance polling every `cacheMillis`, Nacos's 3000 ms), with
 * a real daemon process against the test Nacos (HTTP and gRPC front-ends over one state, in this
 * process). Each change is sequential and timed from the change in Nacos until the snapshot file
 * carries a newer version; the final snapshot is checked against the last changes.
 *
 *   node test/bench/nacos-push-to-snapshot.ts [changes=100] [httpInstanceChanges=20]
 *
 * `httpInstanceChanges` is smaller because each one waits for the next poll (about 1.5 s on average).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSnapshotFile } from '../../shared/snapshot-file.ts';
import { type TlsSet, tlsSet } from '../support/certs.ts';
import { type TestNacosNode, startNacosNode } from '../support/nacos-grpc-server.ts';
import { type DyelineProcess, startDaemon } from '../support/process.ts';
import { machine } from './machine.ts';
import { nextVersion, summary } from './snapshot-version.ts';

const [changes = 100, httpInstanceChanges = 20] = process.argv.slice(2).map(Number);
const LANES = 20;
const SERVICES = 10;
const PER_SERVICE = 20;

const lane = (i: number, priority: number) => `apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: lane-${i} }\nspec: { color: lane-${i}, priority: ${priority} }\n`;
const rules = (changed: number, priority: number) =>
  Array.from({ length: LANES }, (_, i) => lane(i, i === changed ? priority : i)).join('---\n');

/** Weight of instance change `i`: never the instance's previous weight (1 at first), at most 91 (× 100 in dyeline). */
const weightOf = (i: number) => (i % 90) + 2;

/** Times `n` changes made by `change(i)`, each until the snapshot version moves past the last. */
async function timeChanges(snapshot: string, start: number, n: number, change: (i: number) => void): Promise<{ ms: number[]; version: number }> {
  const ms: number[] = [];
  let version = start;
  for (let i = 0; i < n; i++) {
    const waiting = nextVersion(snapshot, version, 15_000);
    const t0 = performance.now();
    change(i);
    version = (await waiting).version;
    ms.push(performance.now() - t0);
  }
  return { ms, version };
}

async function run(nacos: TestNacosNode, transport: 'grpc' | 'http', instanceChanges: number, tls?: TlsSet): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), `dyeline-bench-nacos-${transport}-`));
  const snapshot = join(dir, 'run', 'snapshot.json');
  let daemon: DyelineProcess | undefined;
  try {
    // The same starting point for each transport.
    nacos.state.publishConfig('rules.yaml', 'DYELINE', rules(-1, 0));
    for (let s = 0; s < SERVICES; s++) {
      for (let i = 0; i < PER_SERVICE; i++) nacos.http.registerInstance(`svc-${s}`, { ip: `10.0.${s}.${i + 1}`, port: 8080, metadata: { color: 'stable' } });
    }
    daemon = await startDaemon({
      sources: [`nacos://${nacos.address}?group=DYELINE&dataId=rules.yaml&services=*&transport=${transport}${tls ? '&tls=true' : ''}`],
      snapshot,
      env: tls ? { DYELINE_NACOS_CA_FILE: tls.caFile } : {},
    });
    const first = await nextVersion(snapshot, 0, 30_000);
    const initial = await readSnapshotFile(snapshot);
    if (initial?.lanes.length !== LANES || initial.instances.length !== SERVICES * PER_SERVICE) throw new Error(`first snapshot of ${transport} is incomplete`);

    const config = await timeChanges(snapshot, first.version, changes, (i) => nacos.state.publishConfig('rules.yaml', 'DYELINE', rules(i % LANES, 1000 + i)));
    const weights = await timeChanges(snapshot, config.version, instanceChanges, (i) =>
      nacos.http.registerInstance(`svc-${i % SERVICES}`, { ip: `10.0.${i % SERVICES}.1`, port: 8080, weight: weightOf(i), metadata: { color: 'stable' } }),
    );

    const final = await readSnapshotFile(snapshot);
    const lastLane = final?.lanes.find((e) => e.document.metadata.name === `lane-${(changes - 1) % LANES}`);
    const last = instanceChanges - 1;
    const lastInstance = final?.instances.find((e) => e.document.spec.service === `svc-${last % SERVICES}` && e.document.spec.address === `10.0.${last % SERVICES}.1`);
    if (lastLane?.document.spec.priority !== 1000 + changes - 1 || lastInstance?.document.spec.weight !== weightOf(last) * 100) {
      throw new Error(`final snapshot of ${transport} does not reflect the last changes`);
    }
    const how = transport === 'grpc' ? `gRPC push${tls ? ' over TLS' : ''}` : 'HTTP v1';
    console.log(summary(`config → snapshot (${how})`, config.ms));
    console.log(summary(`instance → snapshot (${how})`, weights.ms));
    const writes = daemon.logs.filter((l) => l.msg === 'snapshot written' && typeof l.ms === 'number' && Number(l.version) > first.version).map((l) => l.ms as number);
    // The daemon's own part: validation, merge, build and the atomic write with its fsyncs.
    if (writes.length > 0) console.log(summary('  of which daemon build+write', writes));
    console.log(`  ${changes} config changes, ${instanceChanges} instance changes; snapshot versions ${first.version} → ${weights.version}`);
  } finally {
    await daemon?.stop('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`machine: ${machine()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`Nacos change → snapshot on disk: ${LANES} lanes in one config, ${SERVICES} services × ${PER_SERVICE} instances (services=*)`);
  const certs = await mkdtemp(join(tmpdir(), 'dyeline-bench-nacos-tls-'));
  const tls = tlsSet(certs);
  const nacos = await startNacosNode({ grpc: { tls: { set: tls } } });
  try {
    await run(nacos, 'grpc', changes);
    await run(nacos, 'grpc', changes, tls);
    await run(nacos, 'http', httpInstanceChanges);
  } finally {
    await nacos.stop();
    await rm(certs, { recursive: true, force: true });
  }
}

await main();
