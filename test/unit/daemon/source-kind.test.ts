/**
 * The daemon with a source kind the test suite registers (`memory://`, test/support/memory-source.ts):
 * parsed, created and run by the daemon's own code; its outages reported once (one log line, /status,
 * dyeline_source_up) while its last content stays in the snapshot; its secrets censored in the log
 * because the kind declares them.
 */
import type { Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { statusServer } from '../../../daemon/admin.ts';
import { parseDaemonConfig } from '../../../daemon/config.ts';
import { Daemon } from '../../../daemon/daemon.ts';
import { daemonMetrics } from '../../../daemon/metrics.ts';
import { createSource, registerSourceKind, sourceSecretPaths } from '../../../daemon/sources/registry.ts';
import { createLogger } from '../../../shared/log.ts';
import { createMetrics, type Metrics } from '../../../shared/metrics.ts';
import { boundAddress, listen } from '../../../shared/net.ts';
import { snapshotWhere } from '../../support/daemon-state.ts';
import { memoryBackend, memorySource, registerMemorySource } from '../../support/memory-source.ts';
import { memoryLog } from '../../support/memory-log.ts';
import { find, scrape } from '../../support/prometheus.ts';
import { waitFor } from '../../support/wait.ts';

const lane = (name: string) => `apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: ${name} }\nspec: { color: ${name} }\n`;

beforeAll(() => registerMemorySource());

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startDaemon(uri: string) {
  const dir = await mkdtemp(join(tmpdir(), 'dyeline-source-kind-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const config = parseDaemonConfig({ source: [uri], snapshot: join(dir, 'snapshot.json'), status: '127.0.0.1:0', admin: '127.0.0.1:0' }, {});
  const { log, lines } = memoryLog({ component: 'daemon' }, 'debug');
  const metrics: Metrics = createMetrics('dyeline-daemon');
  const sources = await Promise.all(config.sources.map((s) => createSource(s, log)));
  const daemon = new Daemon(sources, { snapshotPath: config.snapshot }, log, daemonMetrics(metrics));
  await daemon.init();
  const status: Server = statusServer(daemon, metrics, log);
  await listen(status, config.status);
  cleanups.push(() => metrics.shutdown());
  cleanups.push(() => status.close());
  cleanups.push(() => daemon.stop());
  await daemon.start();
  const sourceUp = async () => find(await scrape(boundAddress(status)), 'dyeline_source_up', { source: uri })[0]?.value;
  return { daemon, lines, snapshot: config.snapshot, sourceUp };
}

describe('a source kind registered by the test suite', () => {
  it('is one more scheme: a second registration of it is refused', () => {
    expect(() => registerSourceKind(memorySource)).toThrow(/"memory" is already registered/);
  });

  it('runs through the daemon; an outage is reported once and keeps the last content', async () => {
    const backend = memoryBackend('outage');
    backend.put({ key: 'lanes/canary', text: lane('canary') });
    const { daemon, lines, snapshot, sourceUp } = await startDaemon('memory://outage');
    const s1 = await snapshotWhere(snapshot, (s) => s.lanes.length === 1, 'first snapshot');
    expect(s1.sources).toMatchObject([{ kind: 'memory', uri: 'memory://outage', synced: true }]);
    expect(await sourceUp()).toBe(1);

    const readsBefore = backend.reads;
    backend.fail('backend gone');
    await waitFor(() => daemon.status().sources[0]!.connected === false, { what: 'disconnected in /status' });
    expect(daemon.status().sources[0]).toMatchObject({ error: 'backend gone', synced: true });
    expect(await sourceUp()).toBe(0);
    // Retried with backoff, the same failure is logged once.
    await waitFor(() => backend.reads >= readsBefore + 4, { what: 'retries', timeoutMs: 5_000 });
    const connectionLines = () => lines.filter((l) => /connected/.test(String(l.msg)));
    expect(connectionLines()).toMatchObject([
      { level: 'info', msg: 'memory connected', source: 'memory://outage' },
      { level: 'warn', msg: 'memory disconnected; keeping its last known content', source: 'memory://outage', error: 'backend gone' },
    ]);
    expect((await snapshotWhere(snapshot, () => true, 'snapshot')).lanes).toHaveLength(1);

    backend.put({ key: 'lanes/blue', text: lane('blue') });
    backend.recover();
    await snapshotWhere(snapshot, (s) => s.lanes.length === 2, 'content after the outage');
    expect(daemon.status().sources[0]).toMatchObject({ connected: true, error: null });
    expect(await sourceUp()).toBe(1);
    expect(connectionLines().map((l) => l.msg)).toEqual(['memory connected', 'memory disconnected; keeping its last known content', 'memory connected']);
  });

  it('declares its secret fields, and the daemon log censors them', () => {
    const configs = { memory: { name: 'x', apiKey: 'key-1' }, etcd: { password: 'pw-1', username: 'user-1' }, nacos: { password: 'pw-2', accessToken: 'at-1' } };
    const logged = (secretPaths?: string[]) => {
      const lines: string[] = [];
      createLogger({}, { write: (l: string) => void lines.push(l) }, secretPaths).info(configs, 'configs');
      return lines.join('');
    };
    // shared/log.ts alone knows no source kind ...
    expect(logged()).toContain('key-1');
    expect(logged()).toContain('pw-1');
    // ... the daemon's logger takes each kind's declaration.
    expect(sourceSecretPaths()).toEqual(expect.arrayContaining(['memory.apiKey', 'etcd.password', 'etcd.username', 'nacos.password', 'nacos.accessToken']));
    const text = logged(sourceSecretPaths());
    for (const secret of ['key-1', 'pw-1', 'user-1', 'pw-2', 'at-1']) expect(text).not.toContain(secret);
    expect(JSON.parse(text)).toMatchObject({ memory: { name: 'x', apiKey: '[redacted]' } });
  });
});
