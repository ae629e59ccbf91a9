/**
 * Benchmark: build and write a snapshot of 10,000 services × 10 instances + 2,000 rules
 * through the daemon's real pipeline (validate each document → merge → assemble → atomic
 * write), then one incremental change at that scale, then what an agent pays to verify it.
 *
 *   node test/bench/snapshot-build.ts [services=10000] [instancesPerService=10] [rules=2000]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Daemon } from '../../daemon/daemon.ts';
import type { DaemonMetrics } from '../../daemon/metrics.ts';
import type { Source, SourceItem, SourceSink } from '../../daemon/sources/source.ts';
import { decodeSnapshot, readSnapshotFile } from '../../shared/snapshot-file.ts';
import { machine } from './machine.ts';
import { num, report, table } from './report.ts';

const [services = 10_000, perService = 10, rules = 2_000] = process.argv.slice(2).map(Number);

class MemorySource implements Source {
  readonly kind = 'file' as const;
  readonly uri = 'file:///bench';
  sink!: SourceSink;
  async start(sink: SourceSink) {
    this.sink = sink;
  }
  async stop() {}
}

const noMetrics: DaemonMetrics = { sourceUp() {}, snapshotVersion() {}, written() {}, writeFailed() {}, rejected() {} };

function instanceItem(s: number, n: number): SourceItem {
  const docs = [];
  for (let i = 0; i < n; i++) {
    docs.push({
      apiVersion: 'dyeline.io/v1',
      kind: 'Instance',
      metadata: { name: `svc-${s}-${i}` },
      spec: { service: `svc-${s}`, address: `10.${(s >> 8) & 255}.${s & 255}.${i + 1}`, port: 8080, weight: 100, labels: i === 0 ? { color: 'canary', version: 'v2' } : { version: 'v1' } },
    });
  }
  return { key: `naming:svc-${s}`, documents: docs };
}

function rulesText(count: number): string {
  const lanes = Math.min(50, Math.floor(count / 10));
  const out: string[] = [];
  for (let l = 0; l < lanes; l++) {
    out.push(`apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: lane-${l} }\nspec:\n  color: lane-${l}\n  priority: ${l}\n  dye:\n    match:\n      - headers: { x-lane: { exact: lane-${l} } }\n      - headers: { x-user-id: { hashPercent: 1 } }\n`);
  }
  for (let r = 0; r < count - lanes; r++) {
    out.push(`apiVersion: dyeline.io/v1\nkind: Service\nmetadata: { name: svc-${r} }\nspec:\n  split: { stable: 90, lane-${r % lanes}: 10 }\n  splitKey: header:x-user-id\n  timeoutMs: 3000\n  retry: { attempts: 2, perTryTimeoutMs: 1000 }\n`);
  }
  return out.join('---\n');
}

async function main() {
  console.log(`# snapshot build — ${machine()}`);
  console.log(`# ${services} services × ${perService} instances + ${rules} rules`);
  const dir = await mkdtemp(join(tmpdir(), 'dyeline-bench-'));
  const path = join(dir, 'snapshot.json');
  const src = new MemorySource();
  const daemon = new Daemon([src], { snapshotPath: path, coalesceMs: 0 }, pino({ level: 'silent' }), noMetrics);
  await daemon.init();
  await daemon.start();
  const items: SourceItem[] = [{ key: 'rules.yaml', text: rulesText(rules) }];
  for (let s = 0; s < services; s++) items.push(instanceItem(s, perService));

  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  src.sink.replaceAll(items, '1');
  const tValidated = performance.now();
  const waitVersion = async (v: number) => {
    for (;;) {
      if (daemon.snapshotVersion >= v) return;
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  await waitVersion(1);
  const t1 = performance.now();
  global.gc?.();
  const heap1 = process.memoryUsage().heapUsed;
  const rss1 = process.memoryUsage().rss;
  const bytes = (await readFile(path)).length;
  const status = daemon.status();
  if (status.sources[0]!.rejected.length > 0) throw new Error(`unexpected rejections: ${JSON.stringify(status.sources[0]!.rejected.slice(0, 3))}`);

  // One instance changes at this scale: the incremental cost of a put.
  const inc: number[] = [];
  for (let k = 0; k < 5; k++) {
    const item = instanceItem(k, perService);
    (item.documents![1] as { spec: { weight: number } }).spec.weight = 50 + k;
    const ts = performance.now();
    src.sink.put(item, String(2 + k));
    await waitVersion(2 + k);
    inc.push(performance.now() - ts);
  }

  const tr0 = performance.now();
  const snap = decodeSnapshot(await readFile(path));
  const tr1 = performance.now();
  const docs = snap.lanes.length + snap.services.length + snap.instances.length;
  await readSnapshotFile(path);

  console.log(`documents in snapshot:       ${docs}`);
  console.log(`snapshot size:               ${(bytes / 2 ** 20).toFixed(1)} MiB`);
  console.log(`validate all documents:      ${(tValidated - t0).toFixed(0)} ms`);
  console.log(`merge + assemble + write:    ${(t1 - tValidated).toFixed(0)} ms`);
  console.log(`full build, total:           ${(t1 - t0).toFixed(0)} ms`);
  console.log(`heap held by the daemon:     ${((heap1 - heap0) / 2 ** 20).toFixed(0)} MiB (rss +${((rss1 - rss0) / 2 ** 20).toFixed(0)} MiB)`);
  console.log(`one instance put → written:  ${inc.map((x) => x.toFixed(0)).join(', ')} ms`);
  console.log(`agent verify+parse+schema:   ${(tr1 - tr0).toFixed(0)} ms`);
  report(`## Scale: the daemon

\`test/bench/snapshot-build.ts ${services} ${perService} ${rules}\` (in-process, the daemon's own pipeline): ${num(services)} services × ${perService} instances + ${num(rules)}
rules, ${num(docs)} documents, a ${(bytes / 2 ** 20).toFixed(1)} MiB snapshot.

${table(
  ['stage', 'time'],
  [
    ['validate every document', `${num(tValidated - t0)} ms`],
    ['merge + assemble + atomic write', `${num(t1 - tValidated)} ms`],
    ['one instance changed at this scale → written', `${num(Math.min(...inc))}–${num(Math.max(...inc))} ms`],
    ['the agent: verify + parse + schema', `${num(tr1 - tr0)} ms`],
  ],
)}

Daemon heap held for it: ${num((heap1 - heap0) / 2 ** 20)} MiB.`);
  await daemon.stop();
  await rm(dir, { recursive: true, force: true });
}

await main();
