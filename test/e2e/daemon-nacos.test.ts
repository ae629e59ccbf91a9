/**
 * `dyeline daemon --source nacos://...` as a real process against the test Nacos, over each
 * transport (`transport=http`, `transport=grpc`, and the default `auto`, which picks gRPC here):
 * config changes and instance register/deregister reach the snapshot; Nacos down keeps the last
 * content (and /status says connected:false); credentials from DYELINE_NACOS_USERNAME/PASSWORD
 * appear in neither the logs nor /status.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Snapshot } from '../../shared/schema/snapshot.ts';
import { readSnapshotFile } from '../../shared/snapshot-file.ts';
import { daemonStatus, snapshotWhere as waitForSnapshot, statusWhere } from '../support/daemon-state.ts';
import { type TestNacosNode, startNacosNode } from '../support/nacos-grpc-server.ts';
import type { NacosTestServerOptions } from '../support/nacos-server.ts';
import { nacosMd5 } from '../support/nacos-state.ts';
import { type DyelineProcess, startDaemon } from '../support/process.ts';
import { waitFor } from '../support/wait.ts';

const lane = (name: string) => `apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: ${name} }\nspec: { color: ${name} }\n`;
const RULES_V1 = `${lane('canary')}---\napiVersion: dyeline.io/v1\nkind: Service\nmetadata: { name: orders }\nspec: { timeoutMs: 3000 }\n`;
const RULES_V2 = `${RULES_V1}---\n${lane('blue')}`;

let dir: string;
let snapshotPath: string;
const running: DyelineProcess[] = [];
const servers: TestNacosNode[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-daemon-nacos-'));
  snapshotPath = join(dir, 'run', 'snapshot.json');
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
  await rm(dir, { recursive: true, force: true });
});

/** A test Nacos (HTTP and gRPC) that tells HTTP clients to re-read instance lists every 200 ms (its `cacheMillis`). */
async function nacos(opts: NacosTestServerOptions = {}): Promise<TestNacosNode> {
  const s = await startNacosNode({ http: { cacheMillis: 200, ...opts } });
  servers.push(s);
  return s;
}

/** Each transport, with what a refused connection looks like in /status. */
const TRANSPORTS = [
  { transport: 'http', param: '&transport=http', grpc: false, downError: /ECONNREFUSED|ECONNRESET|socket hang up|failed to req API/ },
  { transport: 'grpc', param: '&transport=grpc', grpc: true, downError: /UNAVAILABLE|ECONNREFUSED|ECONNRESET|bi-stream/ },
  { transport: 'auto (gRPC)', param: '', grpc: true, downError: /UNAVAILABLE|ECONNREFUSED|ECONNRESET|bi-stream/ },
];

async function start(uri: string, env: NodeJS.ProcessEnv = {}): Promise<DyelineProcess> {
  const d = await startDaemon({ sources: [uri], snapshot: snapshotPath, env });
  running.push(d);
  return d;
}

const snapshotWhere = (pred: (s: Snapshot) => boolean, what: string, timeoutMs?: number) => waitForSnapshot(snapshotPath, pred, what, timeoutMs);

const ids = (s: Snapshot) =>
  [
    ...s.lanes.map((e) => `Lane/${e.document.metadata.name}`),
    ...s.services.map((e) => `Service/${e.document.metadata.name}`),
    ...s.instances.map((e) => `Instance/${e.document.spec.service}/${e.document.spec.address}:${e.document.spec.port}`),
  ].sort();

describe.each(TRANSPORTS)('dyeline daemon (Nacos source, transport $transport)', ({ param, grpc, downError }) => {
  const uriOf = (server: TestNacosNode, services = 'orders') => `nacos://${server.address}?group=DYELINE&dataId=rules.yaml&services=${services}${param}`;

  it('config changes and instance register/deregister reach the snapshot', async () => {
    const server = await nacos();
    server.http.publishConfig('rules.yaml', 'DYELINE', RULES_V1);
    server.http.registerInstance('orders', { ip: '127.0.0.1', port: 8001, metadata: { color: 'canary' } });
    const uri = uriOf(server);
    const d = await start(uri);

    const s1 = await snapshotWhere((s) => ids(s).length === 3, 'first snapshot');
    expect(ids(s1)).toEqual(['Instance/orders/127.0.0.1:8001', 'Lane/canary', 'Service/orders']);
    const source = (await daemonStatus(d)).sources[0]!;
    expect(source).toMatchObject({ kind: 'nacos', connected: true });
    // The transport in use: gRPC connections (config and naming) at Nacos, or none.
    expect(server.grpc.connections.map((c) => c.module).sort()).toEqual(grpc ? ['config', 'naming'] : []);
    expect(s1.lanes[0]!.provenance).toMatchObject({ source: source.uri, key: 'config:DYELINE/rules.yaml', md5: nacosMd5(RULES_V1) });
    expect(s1.instances[0]!.provenance).toMatchObject({ source: source.uri, key: 'naming:orders' });
    expect(s1.instances[0]!.document).toMatchObject({
      metadata: { name: '127.0.0.1#8001#DEFAULT#DEFAULT_GROUP@@orders' },
      spec: { service: 'orders', address: '127.0.0.1', port: 8001, weight: 100, labels: { color: 'canary' }, healthy: true },
    });
    expect((await fetch(`http://${d.listeners.get('status')}/readyz`)).status).toBe(200);

    server.http.publishConfig('rules.yaml', 'DYELINE', RULES_V2);
    const s2 = await snapshotWhere((s) => s.lanes.length === 2, 'config change in snapshot');
    expect(s2.version).toBeGreaterThan(s1.version);
    expect(s2.lanes.map((l) => l.provenance.md5)).toEqual([nacosMd5(RULES_V2), nacosMd5(RULES_V2)]);

    server.http.registerInstance('orders', { ip: '127.0.0.1', port: 8002, weight: 0.5 });
    const s3 = await snapshotWhere((s) => s.instances.length === 2, 'registered instance in snapshot');
    expect(s3.instances.find((i) => i.document.spec.port === 8002)!.document.spec.weight).toBe(50);

    server.http.deregisterInstance('orders', '127.0.0.1', 8001);
    const s4 = await snapshotWhere((s) => s.instances.length === 1, 'deregistered instance gone from snapshot');
    expect(s4.instances[0]!.document.spec.port).toBe(8002);
    server.http.deregisterInstance('orders', '127.0.0.1', 8002);
    await snapshotWhere((s) => s.instances.length === 0 && s.lanes.length === 2, 'last instance gone, rules kept');
  });

  it('Nacos down: the snapshot keeps the last content and /status shows connected:false; back up: changes flow again', async () => {
    const server = await nacos();
    server.http.publishConfig('rules.yaml', 'DYELINE', RULES_V1);
    server.http.registerInstance('orders', { ip: '127.0.0.1', port: 8001 });
    const d = await start(uriOf(server));
    const before = await snapshotWhere((s) => ids(s).length === 3, 'first snapshot');

    await server.stop();
    const down = await statusWhere(d, (s) => !s.connected, 'disconnected in /status');
    expect(down.sources[0]!.error).toMatch(downError);
    // Several retry periods later the snapshot still holds every document.
    await new Promise((r) => setTimeout(r, 2000));
    const during = await readSnapshotFile(snapshotPath);
    expect(ids(during!)).toEqual(ids(before));
    expect(during!.sources[0]).toMatchObject({ kind: 'nacos' });
    expect((await fetch(`http://${d.listeners.get('status')}/readyz`)).status).toBe(200);

    await server.start();
    await statusWhere(d, (s) => s.connected, 'reconnected in /status');
    server.http.registerInstance('orders', { ip: '127.0.0.1', port: 8002 });
    server.http.publishConfig('rules.yaml', 'DYELINE', RULES_V2);
    const after = await snapshotWhere((s) => s.instances.length === 2 && s.lanes.length === 2, 'changes after reconnect');
    expect(after.version).toBeGreaterThan(during!.version);
  });

  it('credentials from DYELINE_NACOS_USERNAME/PASSWORD work and appear in neither logs nor /status', async () => {
    const user = 'dyeline-e2e-user-k2';
    const password = 'Pw-e2e!7q secret';
    const server = await nacos({ username: user, password });
    server.http.publishConfig('rules.yaml', 'DYELINE', RULES_V1);
    server.http.registerInstance('orders', { ip: '127.0.0.1', port: 8001 });

    const debug = { DYELINE_LOG_LEVEL: 'debug' };
    const good = await start(uriOf(server), { ...debug, DYELINE_NACOS_USERNAME: user, DYELINE_NACOS_PASSWORD: password });
    await snapshotWhere((s) => ids(s).length === 3, 'snapshot with credentials');
    // The client did authenticate: Nacos saw the user on the wire.
    expect(server.http.requests.some((r) => r.params.username === user && r.status === 200)).toBe(true);

    const badSnapshot = join(dir, 'bad', 'snapshot.json');
    const bad = await startDaemon({
      sources: [uriOf(server)],
      snapshot: badSnapshot,
      env: { ...debug, DYELINE_NACOS_USERNAME: user, DYELINE_NACOS_PASSWORD: 'wrong-Pw-e2e' },
    });
    running.push(bad);
    const refused = await statusWhere(bad, (s) => !s.connected && /403/.test(s.error ?? ''), '403 in /status');
    // The log line may reach stdout after /status has the state (pino writes asynchronously).
    await waitFor(() => bad.logs.some((l) => JSON.stringify(l).includes('403')), { what: '403 in the log' });

    const seen = [
      JSON.stringify(await daemonStatus(good)),
      JSON.stringify(refused),
      JSON.stringify(good.logs),
      JSON.stringify(bad.logs),
      good.stderr(),
      bad.stderr(),
    ].join('\n');
    for (const secret of [user, password, 'wrong-Pw-e2e', encodeURIComponent(password), encodeURIComponent(user)]) {
      expect(seen).not.toContain(secret);
    }
  });
});
