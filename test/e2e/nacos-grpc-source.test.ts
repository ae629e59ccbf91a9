/**
 * The Nacos source over gRPC against the test Nacos: changes arrive by push alone; a connection
 * cut, a silent network partition, an expired token, a server that forgot the connection (301)
 * and a server lost from the list each keep the content and catch up after; transport=auto picks
 * gRPC on Nacos 2/3 and HTTP v1 on Nacos 1.x. (The suite shared with HTTP: nacos-source.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseSourceUri } from '../../daemon/config.ts';
import { type NacosSourceConfig, nacosSource } from '../../daemon/sources/nacos.ts';
import type { NacosAutoSource } from '../../daemon/sources/nacos/auto-source.ts';
import { NacosGrpcSource, type NacosGrpcSourceOptions } from '../../daemon/sources/nacos/grpc-source.ts';
import { type NacosGrpcTestServerOptions, type TestNacosNode, startNacosNode } from '../support/nacos-grpc-server.ts';
import { NacosTestServer, type NacosTestServerOptions } from '../support/nacos-server.ts';
import { NacosState } from '../support/nacos-state.ts';
import { RecordingSink } from '../support/recording-sink.ts';

const lane = (name: string, priority = 0) => `apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: ${name} }\nspec: { color: ${name}, priority: ${priority} }\n`;
const CONFIG = 'config:DYELINE/rules.yaml';

/** Quick retries; health checks as quick as the partition test needs. */
const FAST: NacosGrpcSourceOptions = {
  serviceListMs: 300,
  retryMinMs: 50,
  retryMaxMs: 300,
  rpc: { retryMinMs: 50, retryMaxMs: 300, healthCheckIdleMs: 300, healthCheckTimeoutMs: 500 },
};

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function node(opts: { state?: NacosState; http?: NacosTestServerOptions; grpc?: NacosGrpcTestServerOptions } = {}): Promise<TestNacosNode> {
  const n = await startNacosNode(opts);
  cleanups.push(() => n.stop());
  return n;
}

async function startSource(uri: string, env: NodeJS.ProcessEnv = {}, opts: NacosGrpcSourceOptions = FAST) {
  const cfg = parseSourceUri(uri, env) as NacosSourceConfig;
  const source = new NacosGrpcSource(cfg, opts);
  const sink = new RecordingSink();
  await source.start(sink);
  cleanups.push(() => source.stop());
  return { source, sink };
}

const uriOf = (n: TestNacosNode | string, services = 'orders') =>
  `nacos://${typeof n === 'string' ? n : n.address}?group=DYELINE&dataId=rules.yaml&services=${services}&transport=grpc`;
const addresses = (sink: RecordingSink) =>
  ((sink.content.get('naming:orders')?.documents ?? []) as { spec: { address: string; port: number } }[]).map((d) => `${d.spec.address}:${d.spec.port}`).sort();

/** Publishes a config and an instance while the source cannot see them, for the catch-up checks. */
function changeBehindItsBack(n: TestNacosNode): void {
  n.state.publishConfig('rules.yaml', 'DYELINE', lane('gap', 7));
  n.http.registerInstance('orders', { ip: '10.0.0.2', port: 8080 });
}

/** After an outage: caught up, one replaceAll in all, nothing deleted, connected again. */
async function caughtUp(sink: RecordingSink): Promise<void> {
  await sink.until((s) => s.connected === true && s.content.get(CONFIG)?.text === lane('gap', 7) && addresses(s).length === 2, 'caught up');
  expect(sink.callsOf('replaceAll')).toHaveLength(1);
  expect(sink.callsOf('delete')).toEqual([]);
}

async function seeded(opts: Parameters<typeof node>[0] = {}) {
  const n = await node(opts);
  n.state.publishConfig('rules.yaml', 'DYELINE', lane('canary'));
  n.http.registerInstance('orders', { ip: '10.0.0.1', port: 8080 });
  return n;
}

describe('Nacos source over gRPC', () => {
  it('changes arrive by push alone: one query per config notification, no re-subscription, nothing polled', async () => {
    const n = await seeded();
    const { sink } = await startSource(uriOf(n), {}, { ...FAST, rpc: { ...FAST.rpc, healthCheckIdleMs: 60_000 } });
    await sink.until((s) => s.connected === true, 'connected');
    for (let i = 1; i <= 5; i++) {
      n.state.publishConfig('rules.yaml', 'DYELINE', lane('canary', i));
      await sink.until((s) => s.content.get(CONFIG)?.text === lane('canary', i), `config change ${i}`);
      n.http.registerInstance('orders', { ip: '10.0.0.1', port: 8080, weight: i + 1 });
      await sink.until((s) => (s.content.get('naming:orders')?.documents?.[0] as { spec: { weight: number } })?.spec.weight === (i + 1) * 100, `instance change ${i}`);
    }
    const queries = n.grpc.requestsOf('ConfigQueryRequest');
    expect(queries).toHaveLength(6);
    expect(queries.slice(1).every((q) => q.headers.notify === 'true')).toBe(true);
    expect(n.grpc.requestsOf('SubscribeServiceRequest')).toHaveLength(1);
    expect(n.http.requests).toEqual([]);
    expect(n.grpc.pushTotals.acks).toBe(n.grpc.pushTotals.pushes);
    expect(n.grpc.pushTotals.pushes).toBe(10);
    expect(n.grpc.connections.map((c) => c.module).sort()).toEqual(['config', 'naming']);
  });

  it('connection cut: content kept, changes made meanwhile are read after the reconnection', async () => {
    const n = await seeded();
    const { sink } = await startSource(uriOf(n));
    await sink.until((s) => s.connected === true, 'connected');
    n.grpc.partition(true);
    n.grpc.killConnections();
    await sink.until((s) => s.connected === false, 'disconnected');
    expect(sink.content.get(CONFIG)?.text).toBe(lane('canary'));
    changeBehindItsBack(n);
    n.grpc.partition(false);
    await caughtUp(sink);
  });

  it('silent network partition: the health check notices, content kept, caught up when the network heals', async () => {
    const n = await seeded();
    const { sink } = await startSource(uriOf(n));
    await sink.until((s) => s.connected === true, 'connected');
    n.grpc.partition(true);
    changeBehindItsBack(n);
    await sink.until((s) => s.connected === false && /health check failed/.test(s.error ?? ''), 'health check failed', 10_000);
    expect(sink.content.get(CONFIG)?.text).toBe(lane('canary'));
    n.grpc.partition(false);
    await caughtUp(sink);
  });

  it('token expiry: the refused read logs in again and the change still arrives; no credential in any report', async () => {
    const n = await seeded({ http: { username: 'grpc-user-e5', password: 'grpc-Pw!9 secret' } });
    const { sink } = await startSource(uriOf(n), { DYELINE_NACOS_USERNAME: 'grpc-user-e5', DYELINE_NACOS_PASSWORD: 'grpc-Pw!9 secret' });
    await sink.until((s) => s.connected === true, 'connected');
    n.state.expireTokens();
    n.state.publishConfig('rules.yaml', 'DYELINE', lane('after-expiry'));
    await sink.until((s) => s.content.get(CONFIG)?.text === lane('after-expiry'), 'change after expiry');
    expect(n.grpc.requestsOf('ConfigQueryRequest').map((q) => q.errorCode)).toEqual([0, 403, 0]);
    expect(n.http.requests.filter((r) => r.path === '/nacos/v1/auth/users/login' && r.status === 200)).toHaveLength(2);
    expect(JSON.stringify(sink.calls)).not.toMatch(/grpc-user-e5|grpc-Pw/);
  });

  it('a server that forgot the connection answers 301: the source reconnects and reads again', async () => {
    const n = await seeded();
    const { sink } = await startSource(uriOf(n));
    await sink.until((s) => s.connected === true, 'connected');
    n.grpc.dropRegistrations();
    // The server no longer pushes to the forgotten connections: only the re-read shows these.
    changeBehindItsBack(n);
    await caughtUp(sink);
    expect(n.grpc.requests.some((r) => r.errorCode === 301)).toBe(true);
  });

  it('a server of the list goes down: the source moves to the next one and catches up', async () => {
    const state = new NacosState();
    const a = await seeded({ state });
    const b = await node({ state });
    const { sink } = await startSource(`nacos://${a.address},${b.address}?group=DYELINE&dataId=rules.yaml&services=orders&transport=grpc`, {}, { ...FAST, firstServer: 0 });
    await sink.until((s) => s.connected === true, 'connected');
    expect(b.grpc.connections).toEqual([]);
    await a.stop();
    changeBehindItsBack(a);
    await caughtUp(sink);
    expect(b.grpc.connections.map((c) => c.module).sort()).toEqual(['config', 'naming']);
    // Pushes now come from the other server.
    state.publishConfig('rules.yaml', 'DYELINE', lane('from-b'));
    await sink.until((s) => s.content.get(CONFIG)?.text === lane('from-b'), 'push from b');
  });
});

describe('transport=auto', () => {
  async function autoSource(uri: string) {
    const cfg = parseSourceUri(uri, {}) as NacosSourceConfig;
    expect(cfg.transport).toBe('auto');
    const source = (await nacosSource.create(cfg, { log: (await import('pino')).pino({ level: 'silent' }) })) as NacosAutoSource;
    const sink = new RecordingSink();
    await source.start(sink);
    cleanups.push(() => source.stop());
    return { source, sink };
  }

  it('Nacos 2/3: gRPC; Nacos 1.x: HTTP v1 — the same items either way', async () => {
    const n = await seeded();
    const grpc = await autoSource(`nacos://${n.address}?group=DYELINE&dataId=rules.yaml&services=orders`);
    await grpc.sink.until((s) => s.connected === true, 'connected over gRPC');
    expect(grpc.source.transport).toBe('grpc');
    expect(n.grpc.connections.length).toBe(2);

    const v1 = await new NacosTestServer({ state: n.state }).start();
    cleanups.push(() => v1.stop());
    const http = await autoSource(`nacos://${v1.address}?group=DYELINE&dataId=rules.yaml&services=orders`);
    await http.sink.until((s) => s.connected === true, 'connected over HTTP');
    expect(http.source.transport).toBe('http');
    expect(http.sink.snapshot()).toEqual(grpc.sink.snapshot());
  });

  it('Nacos 3.2 without the legacy adapter, gRPC port unreachable: down with both reasons, gRPC once it answers', async () => {
    const n = await seeded({ http: { v1Api: false, v3Login: true } });
    await n.grpc.stop();
    const { source, sink } = await autoSource(`nacos://${n.address}?group=DYELINE&dataId=rules.yaml&services=orders`);
    await sink.until((s) => s.connected === false && /no v1 HTTP API \(404\)/.test(s.error ?? ''), 'undecided');
    expect(sink.content.size).toBe(0);
    await n.grpc.start();
    await sink.until((s) => s.connected === true, 'connected');
    expect(source.transport).toBe('grpc');
    expect(sink.content.get(CONFIG)?.text).toBe(lane('canary'));
  });
});
