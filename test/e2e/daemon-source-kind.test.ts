/**
 * A source kind registered by the test suite alone (`memory://`, test/support/memory-source.ts,
 * loaded into the process with `node --import`) runs through the real `dyeline daemon`: --help,
 * URI parsing, the snapshot, /status, /metrics and the log — no production file names it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SourceItem } from '../../daemon/sources/source.ts';
import { daemonStatus, snapshotWhere } from '../support/daemon-state.ts';
import { DYELINE_BIN, type DyelineProcess, startDaemon } from '../support/process.ts';

const PRELOAD = ['--import', fileURLToPath(new URL('../support/memory-source-preload.ts', import.meta.url))];

const LANE = 'apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: canary }\nspec: { color: canary }\n';
const BROKEN = 'apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: blue }\nspec: { color: blue, priority: high }\n';
const SEED: Record<string, SourceItem[]> = {
  demo: [
    { key: 'lanes/canary', text: LANE },
    { key: 'lanes/blue', text: BROKEN },
    {
      key: 'instances/orders',
      documents: [{ apiVersion: 'dyeline.io/v1', kind: 'Instance', metadata: { name: 'orders-1' }, spec: { service: 'orders', address: '127.0.0.1', port: 8001 } }],
    },
  ],
};

const dyeline = (nodeArgs: string[], ...args: string[]) => spawnSync(process.execPath, [...nodeArgs, DYELINE_BIN, ...args], { encoding: 'utf8' });

let dir: string;
const running: DyelineProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-source-kind-'));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
  await rm(dir, { recursive: true, force: true });
});

describe('a source kind registered by the test suite only', () => {
  it('is unknown to the daemon without its module, and listed in --help with it', () => {
    const without = dyeline([], 'daemon', '--source', 'memory://demo', '--snapshot', join(dir, 'snapshot.json'));
    expect(without.status).toBe(2);
    expect(without.stderr).toMatch(/unknown scheme "memory" \(file, etcd, nacos\)/);
    expect(dyeline([], 'daemon', '--help').stdout).not.toContain('memory://');

    const help = dyeline(PRELOAD, 'daemon', '--help');
    expect(help.status).toBe(0);
    const sources = help.stdout.slice(help.stdout.indexOf('\nSources'));
    expect(sources.match(/^ {2}[a-z]+:\/\//gm)).toEqual(['  file://', '  etcd://', '  nacos://', '  memory://']);
    expect(sources).toMatch(/^ {2}memory:\/\/<name>\n {6}credentials from DYELINE_TEST_MEMORY_API_KEY$/m);
    const bad = dyeline(PRELOAD, 'daemon', '--source', 'memory://demo?x=1', '--snapshot', join(dir, 'snapshot.json'));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown memory parameter "x"/);
  });

  it('runs through the daemon to the snapshot, /status, /metrics and the log', async () => {
    const snapshot = join(dir, 'run', 'snapshot.json');
    const apiKey = 'Ap1-key-for-test';
    const d = await startDaemon({
      sources: ['memory://demo'],
      snapshot,
      nodeArgs: PRELOAD,
      env: { DYELINE_TEST_MEMORY: JSON.stringify(SEED), DYELINE_TEST_MEMORY_API_KEY: apiKey },
    });
    running.push(d);
    const s = await snapshotWhere(snapshot, (x) => x.lanes.length === 1 && x.instances.length === 1, 'the memory source in the snapshot');
    // Without a registry among its sources the daemon registers agents into its own snapshot.
    expect(s.sources).toMatchObject([
      { uri: 'memory://demo', kind: 'memory', synced: true },
      { uri: 'registered://node', kind: 'registered', synced: true },
    ]);
    expect(s.lanes[0]!.provenance).toMatchObject({ source: 'memory://demo', key: 'lanes/canary' });
    expect(s.instances[0]!.document).toMatchObject({ metadata: { name: 'orders-1' }, spec: { service: 'orders', port: 8001, weight: 100 } });

    const st = await daemonStatus(d);
    expect(st.sources[0]).toMatchObject({ kind: 'memory', uri: 'memory://demo', connected: true, error: null });
    expect(st.sources[0]!.rejected).toEqual([{ key: 'lanes/blue', reason: expect.stringMatching(/^Lane\/blue: spec\.priority: /) }]);
    const metrics = await fetch(`http://${d.listeners.get('status')!}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^dyeline_source_up\{source="memory:\/\/demo"\} 1$/m);
    expect(metrics).toMatch(/^dyeline_documents_rejected_total\{source="memory:\/\/demo"\} 1$/m);
    const connected = await d.waitForLog((l) => l.msg === 'memory connected');
    expect(connected.source).toBe('memory://demo');
    expect(d.logs.filter((l) => String(l.msg).includes('connected'))).toHaveLength(1);
    expect(JSON.stringify(d.logs)).not.toContain(apiKey);
  });
});
