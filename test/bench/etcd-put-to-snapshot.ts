/**
 * Benchmark: an etcd put → the new snapshot on disk, with a real etcd and a real daemon
 * process. Each put is sequential and timed from the put() call until the snapshot file on
 * disk carries a newer version (noticed by fs.watch on its directory, with a poll as backup).
 * The time includes the put's own round trip (etcd fsyncs its WAL), the watch delivery, the
 * daemon's coalescing delay (5 ms), validation, merge, and the atomic write with fsync.
 *
 *   node test/bench/etcd-put-to-snapshot.ts [puts=300] [baseInstances=200]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSnapshotFile } from '../../shared/snapshot-file.ts';
import { EtcdServer } from '../support/etcd.ts';
import { type DyelineProcess, startDaemon } from '../support/process.ts';
import { machine, pct } from './machine.ts';
import { num, report, table } from './report.ts';
import { nextVersion, summary } from './snapshot-version.ts';

const [puts = 300, baseInstances = 200] = process.argv.slice(2).map(Number);
const P = '/dyeline-bench/';

async function main(): Promise<void> {
  console.log(`machine: ${machine()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`etcd put → snapshot on disk: ${puts} sequential puts over ${baseInstances} instances + 20 rules already present`);
  const etcd = await EtcdServer.start();
  const dir = await mkdtemp(join(tmpdir(), 'dyeline-bench-etcd-'));
  const snapshot = join(dir, 'run', 'snapshot.json');
  let daemon: DyelineProcess | undefined;
  try {
    for (let i = 0; i < 20; i++) {
      await etcd.put(`${P}rules/Lane/lane-${i}`, `apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: lane-${i} }\nspec: { color: lane-${i}, priority: ${i} }\n`);
    }
    for (let i = 0; i < baseInstances; i++) {
      await etcd.put(`${P}instances/svc-${i % 20}/i-${i}`, JSON.stringify({ address: `10.0.${i >> 8}.${i & 255}`, port: 8080, labels: { color: `lane-${i % 20}` } }));
    }
    daemon = await startDaemon({ sources: [`etcd://${etcd.endpoint}?prefix=${P}`], snapshot });
    const first = await nextVersion(snapshot, 0, 20_000);
    let version = first.version;

    const total: number[] = [];
    const putOnly: number[] = [];
    const by = { watch: 0, poll: 0 };
    for (let i = 0; i < puts; i++) {
      const key = i % 2 === 0 ? `${P}instances/svc-${i % 20}/i-${i % baseInstances}` : `${P}rules/Lane/lane-${i % 20}`;
      const value =
        i % 2 === 0
          ? JSON.stringify({ address: `10.1.${i >> 8}.${i & 255}`, port: 9000 + (i % 1000), labels: { color: `lane-${i % 20}` } })
          : `apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: lane-${i % 20} }\nspec: { color: lane-${i % 20}, priority: ${1000 + i} }\n`;
      const waiting = nextVersion(snapshot, version);
      const t0 = performance.now();
      await etcd.put(key, value);
      putOnly.push(performance.now() - t0);
      const next = await waiting;
      total.push(performance.now() - t0);
      by[next.by]++;
      version = next.version;
    }

    const final = await readSnapshotFile(snapshot);
    const lastRulePut = (puts - 1) % 2 === 1 ? puts - 1 : puts - 2;
    const lastLane = final?.lanes.find((e) => e.document.metadata.name === `lane-${lastRulePut % 20}`);
    if (!final || final.instances.length !== baseInstances || lastLane?.document.spec.priority !== 1000 + lastRulePut) {
      throw new Error('final snapshot does not reflect the last puts');
    }
    console.log(summary('put → snapshot on disk', total));
    console.log(summary('  of which put() itself', putOnly));
    const writes = daemon.logs.filter((l) => l.msg === 'snapshot written' && typeof l.ms === 'number' && Number(l.version) > first.version).map((l) => l.ms as number);
    // The daemon's figure also covers the directory fsync after the rename, which readers do not wait for.
    if (writes.length > 0) console.log(summary('  daemon build+write+fsync', writes));
    console.log(`snapshot versions ${first.version} → ${version} (${version - first.version} writes for ${puts} puts); noticed by fs.watch ${by.watch}, by poll ${by.poll}`);
    const row = (label: string, ms: number[]) => {
      const s = [...ms].sort((a, b) => a - b);
      return [label, num(pct(s, 50), 1), num(pct(s, 90), 1), num(pct(s, 99), 1), num(s.at(-1), 1)];
    };
    report(`## Config sync: etcd put → snapshot on disk

\`test/bench/etcd-put-to-snapshot.ts ${puts} ${baseInstances}\`: ${puts} sequential puts (rules and instances alternately) over ${baseInstances} instances + 20 rules,
timed from the put until the file on disk carries the new version; ${version - first.version} writes for ${puts} puts.

${table(['', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'], [row('put → snapshot on disk', total), row('of which the put itself', putOnly), ...(writes.length > 0 ? [row("the daemon's build + write + fsync", writes)] : [])])}`);
  } finally {
    await daemon?.stop('SIGTERM');
    await etcd.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
