/**
 * The daemon with the file source (the embedded default), as a real process: rules on disk →
 * validated snapshot; invalid documents reported and contained; restarts keep content.
 */
import { spawnSync } from 'node:child_process';
import { chmod, chown, mkdtemp, mkdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Snapshot } from '../../shared/schema/snapshot.ts';
import { readSnapshotFile } from '../../shared/snapshot-file.ts';
import { snapshotWhere as waitForSnapshot, statusWhere } from '../support/daemon-state.ts';
import { DYELINE_BIN, type DyelineProcess, getJson, startDaemon } from '../support/process.ts';
import { waitFor } from '../support/wait.ts';

const lane = (name: string, color: string, extra = '') =>
  `apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: ${name} }\nspec: { color: ${color}${extra} }\n`;
const instance = (name: string, service: string, port: number, color?: string) =>
  `apiVersion: dyeline.io/v1\nkind: Instance\nmetadata: { name: ${name} }\nspec: { service: ${service}, address: 127.0.0.1, port: ${port}${color ? `, labels: { color: ${color} }` : ''} }\n`;

let dir: string;
let rules: string;
let snapshotPath: string;
const running: DyelineProcess[] = [];

async function start(): Promise<DyelineProcess> {
  const d = await startDaemon({ sources: [`file://${rules}`], snapshot: snapshotPath });
  running.push(d);
  return d;
}

const snapshotWhere = (pred: (s: Snapshot) => boolean, what: string) => waitForSnapshot(snapshotPath, pred, what, 10_000);

const names = (s: Snapshot) => [...s.lanes, ...s.services, ...s.instances].map((e) => e.document.metadata.name).sort();

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-daemon-file-'));
  rules = join(dir, 'rules');
  snapshotPath = join(dir, 'run', 'snapshot.json');
  await mkdir(rules);
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
  await rm(dir, { recursive: true, force: true });
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')));
});

describe('dyeline daemon (file source)', () => {
  it('mirrors rule files into the snapshot as they are added, changed and removed', async () => {
    await writeFile(join(rules, 'lanes.yaml'), lane('canary', 'canary'));
    const d = await start();
    const admin = d.listeners.get('admin')!;
    const status = d.listeners.get('status')!;
    const s1 = await snapshotWhere((s) => s.lanes.length === 1, 'first snapshot');
    expect(s1.version).toBe(1);
    expect(s1.lanes[0]!.provenance).toMatchObject({ source: `file://${rules}`, key: join(rules, 'lanes.yaml') });
    expect((await fetch(`http://${status}/readyz`)).status).toBe(200);

    await mkdir(join(rules, 'instances'));
    await writeFile(join(rules, 'instances', 'orders.yaml'), [instance('orders-1', 'orders', 8001), instance('orders-2', 'orders', 8002, 'canary')].join('---\n'));
    const s2 = await snapshotWhere((s) => s.instances.length === 2, 'instances');
    expect(s2.version).toBeGreaterThan(s1.version);
    expect(s2.instances[1]!.document.spec).toMatchObject({ port: 8002, labels: { color: 'canary' }, weight: 100, healthy: true });

    await writeFile(join(rules, 'lanes.yaml'), lane('canary', 'canary', ', priority: 7'));
    await snapshotWhere((s) => s.lanes[0]?.document.spec.priority === 7, 'changed lane');

    await rm(join(rules, 'instances', 'orders.yaml'));
    const s4 = await snapshotWhere((s) => s.instances.length === 0, 'removed instances');
    expect(names(s4)).toEqual(['canary']);

    // The file is renamed into place before /status takes the new version: wait for it there too.
    const st = await waitFor(
      async () => {
        const r = await getJson<{ snapshotVersion: number; sources: { kind: string; connected: boolean; rejected: unknown[] }[] }>(admin, '/status');
        return r.body.snapshotVersion === s4.version ? r : undefined;
      },
      { what: `/status at snapshot version ${s4.version}` },
    );
    expect(st.body.snapshotVersion).toBe(s4.version);
    expect(st.body.sources[0]).toMatchObject({ kind: 'file', connected: true, rejected: [] });
    const raw = await fetch(`http://${admin}/snapshot`).then((r) => r.text());
    expect(raw).toBe(await readFile(snapshotPath, 'utf8'));
  });

  it('rejects invalid documents precisely, keeps their previous version and applies everything else', async () => {
    await writeFile(join(rules, 'lanes.yaml'), lane('canary', 'canary', ', priority: 3'));
    const d = await start();
    await snapshotWhere((s) => s.lanes.length === 1, 'first snapshot');
    // Break the lane, add a valid one and a service splitting onto a lane that does not exist.
    await writeFile(join(rules, 'lanes.yaml'), lane('canary', 'canary', ', priority: high, colour: red'));
    await writeFile(join(rules, 'blue.yaml'), lane('blue', 'blue'));
    await writeFile(
      join(rules, 'svc.yaml'),
      'apiVersion: dyeline.io/v1\nkind: Service\nmetadata: { name: orders }\nspec: { split: { stable: 50, purple: 50 } }\n',
    );
    const s = await snapshotWhere((x) => x.lanes.length === 2, 'valid lane applied');
    expect(s.lanes.find((e) => e.document.metadata.name === 'canary')!.document.spec.priority).toBe(3);
    expect(s.services).toHaveLength(0);
    const st = await statusWhere(d, (src) => src.rejected.length >= 2, 'rejections in /status', 10_000);
    const reasons = st.sources[0]!.rejected;
    const laneRej = reasons.find((r) => r.key === join(rules, 'lanes.yaml'))!;
    expect(laneRej.reason).toMatch(/Lane\/canary: .*spec\.priority: .*number/);
    expect(laneRej.reason).toMatch(/spec\.colour: unknown field/);
    expect(laneRej.reason).toMatch(/previous version kept/);
    expect(reasons.find((r) => r.key === join(rules, 'svc.yaml'))!.reason).toMatch(/spec\.split\.purple: unknown lane "purple"/);
    const logged = await d.waitForLog((l) => l.msg === 'document rejected' && String(l.key).endsWith('lanes.yaml'));
    expect(logged.reason).toMatch(/spec\.priority/);
    const metrics = await fetch(`http://${d.listeners.get('status')!}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/dyeline_documents_rejected_total\{source="file:\/\/[^"]+"\} [2-9]/);
  });

  it('coalesces a burst of changes into few writes', async () => {
    const d = await start();
    await snapshotWhere(() => true, 'empty snapshot');
    const before = (await readSnapshotFile(snapshotPath))!.version;
    await Promise.all(Array.from({ length: 40 }, (_, i) => writeFile(join(rules, `i${i}.yaml`), instance(`i${i}`, 'orders', 9000 + i))));
    const s = await snapshotWhere((x) => x.instances.length === 40, 'all 40 instances');
    // 40 files written within a few ms: far fewer than 40 snapshots.
    expect(s.version - before).toBeLessThanOrEqual(5);
    const writes = await fetch(`http://${d.listeners.get('status')!}/metrics`).then((r) => r.text());
    expect(writes).toMatch(/dyeline_snapshot_writes_total \d+/);
  });

  it('after kill -9 serves the snapshot on disk at once and keeps the content of a source that is down', async () => {
    await writeFile(join(rules, 'lanes.yaml'), lane('canary', 'canary'));
    const d1 = await start();
    const s1 = await snapshotWhere((s) => s.lanes.length === 1, 'first snapshot');
    await d1.stop('SIGKILL');
    // The source directory disappears while the daemon is down.
    await rename(rules, `${rules}.away`);
    const d2 = await start();
    expect((await fetch(`http://${d2.listeners.get('status')!}/readyz`)).status).toBe(200);
    const st = await statusWhere(d2, (src) => Boolean(src.error), 'source reported down', 10_000);
    expect(st.sources[0]).toMatchObject({ connected: false, seeded: true });
    // Nothing was dropped: the snapshot is untouched.
    expect((await readSnapshotFile(snapshotPath))!.version).toBe(s1.version);
    // The source comes back with new content: the daemon catches up, versions continue.
    await rename(`${rules}.away`, rules);
    await writeFile(join(rules, 'blue.yaml'), lane('blue', 'blue'));
    const s2 = await snapshotWhere((s) => s.lanes.length === 2, 'caught up');
    expect(s2.version).toBeGreaterThan(s1.version);
  });

  it('a rule file that cannot be read (EACCES) keeps its last content instead of being treated as deleted', async () => {
    // The daemon runs as nobody, so file permissions bind it (the tests run as root).
    const NOBODY = 65534;
    await chmod(dir, 0o755);
    await chmod(rules, 0o755);
    await mkdir(join(dir, 'run'));
    await chown(join(dir, 'run'), NOBODY, NOBODY);
    const file = join(rules, 'lanes.yaml');
    await writeFile(file, lane('canary', 'canary'));
    await writeFile(join(rules, 'other.yaml'), lane('blue', 'blue'));
    const d = await startDaemon({ sources: [`file://${rules}`], snapshot: snapshotPath, uid: NOBODY, gid: NOBODY });
    running.push(d);
    await snapshotWhere((s) => s.lanes.length === 2, 'first snapshot');
    // Rewritten with permissions the daemon cannot read (a new mtime: the daemon must read it again).
    await chmod(file, 0o000);
    await utimes(file, new Date(), new Date(Date.now() + 5_000));
    // A change elsewhere makes the daemon rescan and write: the unreadable file must still count.
    await writeFile(join(rules, 'other.yaml'), lane('blue', 'blue', ', priority: 3'));
    const s = await snapshotWhere((x) => x.lanes.some((l) => l.document.spec.priority === 3), 'the other change applied');
    expect(names(s)).toEqual(['blue', 'canary']);
    const st = await statusWhere(d, (src) => Boolean(src.error) || src.rejected.length > 0, 'the unreadable file reported', 10_000);
    expect(JSON.stringify(st.sources[0])).toMatch(/lanes\.yaml.*(EACCES|permission denied)/i);
    // Readable again (unchanged): still there, and the problem is gone.
    await chmod(file, 0o644);
    await statusWhere(d, (src) => !src.error && src.rejected.length === 0, 'problem cleared', 10_000);
    expect(names((await readSnapshotFile(snapshotPath))!)).toEqual(['blue', 'canary']);
  });

  it('continues the version sequence past a damaged snapshot file', async () => {
    await mkdir(join(dir, 'run'));
    await writeFile(snapshotPath, '{"checksum":"sha256:00","apiVersion":"dyeline.io/v1","kind":"Snapshot","version":41,"gener');
    await writeFile(join(rules, 'lanes.yaml'), lane('canary', 'canary'));
    const d = await start();
    const s = await snapshotWhere((x) => x.lanes.length === 1, 'rewritten snapshot');
    expect(s.version).toBe(42);
    await d.waitForLog((l) => l.msg === 'snapshot on disk is unusable; starting empty');
  });

  it('exits 2 with one line naming a bad flag', () => {
    const r = spawnSync(process.execPath, [DYELINE_BIN, 'daemon', '--source', 'ftp://x', '--snapshot', '/tmp/x.json'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--source: unknown scheme "ftp"/);
    const r2 = spawnSync(process.execPath, [DYELINE_BIN, 'daemon', '--source', 'file:///tmp', '--status', 'nope'], { encoding: 'utf8' });
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/--status: expected HOST:PORT/);
    const r3 = spawnSync(process.execPath, [DYELINE_BIN, 'daemon', '--source', 'etcd://u:p@127.0.0.1:2379'], { encoding: 'utf8' });
    expect(r3.status).toBe(2);
    expect(r3.stderr).toMatch(/credentials are not allowed/);
    const r4 = spawnSync(process.execPath, [DYELINE_BIN, 'daemon'], { encoding: 'utf8', env: { ...process.env, DYELINE_STATUS: 'bad' } });
    expect(r4.status).toBe(2);
  });
});
