/**
 * The Nacos source against the test Nacos (real sockets), over each transport: HTTP v1 (the
 * unmodified nacos client: long polling, instance polling) and gRPC (server push). The same
 * suite runs on both: first sync, config changes, instance register/deregister, services=*, Nacos
 * down (nothing deleted, connected:false) and back, auth without leaking credentials, stop().
 * gRPC-only outages (cut, partition, token expiry, forgotten connection, fail-over) and
 * transport=auto: nacos-grpc-source.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseSourceUri } from '../../daemon/config.ts';
import type { NacosSourceConfig } from '../../daemon/sources/nacos.ts';
import { NacosGrpcSource } from '../../daemon/sources/nacos/grpc-source.ts';
import { NacosHttpSource } from '../../daemon/sources/nacos/http-source.ts';
import type { Source } from '../../daemon/sources/source.ts';
import { type TestNacosNode, startNacosNode } from '../support/nacos-grpc-server.ts';
import type { NacosTestServerOptions } from '../support/nacos-server.ts';
import { nacosMd5 } from '../support/nacos-state.ts';
import { RecordingSink } from '../support/recording-sink.ts';

const RULES_V1 = `apiVersion: dyeline.io/v1
kind: Lane
metadata: { name: canary }
spec: { color: canary }
---
apiVersion: dyeline.io/v1
kind: Service
metadata: { name: orders }
spec: { timeoutMs: 3000 }
`;
const RULES_V2 = RULES_V1.replace('timeoutMs: 3000', 'timeoutMs: 1500');

/** What differs between the transports in this suite. */
interface Transport {
  name: 'http' | 'grpc';
  /** The source with quick polling and retries, so tests run in seconds; the protocol is the same. */
  create(cfg: NacosSourceConfig, slowPolling: boolean): Source;
  /** Whether the source has its config listener registered at Nacos. */
  listening(nacos: TestNacosNode): boolean;
  /** Requests Nacos has received so far, both front-ends. */
  traffic(nacos: TestNacosNode): number;
  /** Whether the source holds no connection or pending request at Nacos. */
  idle(nacos: TestNacosNode): boolean;
  /** What a refused connection looks like in the source's error. */
  downError: RegExp;
}

const TRANSPORTS: Transport[] = [
  {
    name: 'http',
    create: (cfg, slowPolling) =>
      new NacosHttpSource(cfg, { pollMs: slowPolling ? 60_000 : 150, serviceListMs: 300, requestTimeoutMs: 1000, retryMinMs: 100, retryMaxMs: 400 }),
    listening: (n) => n.http.heldPolls === 1,
    traffic: (n) => n.http.requests.length,
    idle: (n) => n.http.heldPolls === 0,
    downError: /ECONNREFUSED|socket hang up|failed to req API|ECONNRESET/,
  },
  {
    name: 'grpc',
    // Pushes need no polling: slowPolling changes nothing here.
    create: (cfg) => new NacosGrpcSource(cfg, { serviceListMs: 300, retryMinMs: 100, retryMaxMs: 400, rpc: { retryMinMs: 100, retryMaxMs: 400 } }),
    listening: (n) => n.grpc.requestsOf('ConfigBatchListenRequest').some((r) => r.errorCode === 0),
    traffic: (n) => n.http.requests.length + n.grpc.requests.length,
    idle: (n) => n.grpc.connections.length === 0,
    downError: /UNAVAILABLE|ECONNREFUSED|ECONNRESET|bi-stream/,
  },
];

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type InstanceDoc = { metadata: { name: string }; spec: { service: string; address: string; port: number; weight: number; labels: Record<string, string>; healthy: boolean } };
const docsOf = (sink: RecordingSink, key: string) => (sink.content.get(key)?.documents ?? []) as InstanceDoc[];
const addressesOf = (sink: RecordingSink, key: string) => docsOf(sink, key).map((d) => `${d.spec.address}:${d.spec.port}`).sort();

describe.each(TRANSPORTS)('Nacos source over $name', (transport) => {
  async function startServer(opts: NacosTestServerOptions = {}): Promise<TestNacosNode> {
    const server = await startNacosNode({ http: opts });
    cleanups.push(() => server.stop());
    return server;
  }

  async function startSource(uri: string, env: NodeJS.ProcessEnv = {}, slowPolling = false) {
    const cfg = parseSourceUri(`${uri}&transport=${transport.name}`, env) as NacosSourceConfig;
    const source = transport.create(cfg, slowPolling);
    const sink = new RecordingSink();
    await source.start(sink);
    cleanups.push(() => source.stop());
    return { source, sink };
  }

  it('first sync: one replaceAll with the config and the mapped instances, then connected', async () => {
    const server = await startServer();
    server.http.publishConfig('rules.yaml', 'DYELINE', RULES_V1);
    server.http.registerInstance('orders', { ip: '10.0.0.1', port: 8080, metadata: { color: 'canary', zone: 'a' } });
    server.http.registerInstance('orders', { ip: '10.0.0.2', port: 8080, weight: 0.5, healthy: false });
    server.http.registerInstance('orders', { ip: '10.0.0.3', port: 8080, enabled: false });
    const { sink } = await startSource(`nacos://${server.address}?group=DYELINE&dataId=rules.yaml&services=orders,payments`);

    await sink.until((s) => s.connected === true, 'connected');
    const replaces = sink.callsOf('replaceAll');
    expect(replaces).toHaveLength(1);
    expect(sink.calls.findIndex((c) => c.op === 'replaceAll')).toBeLessThan(sink.calls.findIndex((c) => c.op === 'setConnected'));
    const keys = replaces[0]!.items.map((i) => i.key).sort();
    expect(keys).toEqual(['config:DYELINE/rules.yaml', 'naming:orders', 'naming:payments']);

    const config = sink.content.get('config:DYELINE/rules.yaml')!;
    expect(config.text).toBe(RULES_V1);
    expect(config.md5).toBe(nacosMd5(RULES_V1));
    expect(docsOf(sink, 'naming:payments')).toEqual([]);
    expect(docsOf(sink, 'naming:orders')).toEqual([
      {
        apiVersion: 'dyeline.io/v1',
        kind: 'Instance',
        metadata: { name: '10.0.0.1#8080#DEFAULT#DEFAULT_GROUP@@orders' },
        spec: { service: 'orders', address: '10.0.0.1', port: 8080, weight: 100, labels: { color: 'canary', zone: 'a' }, healthy: true },
      },
      {
        apiVersion: 'dyeline.io/v1',
        kind: 'Instance',
        metadata: { name: '10.0.0.2#8080#DEFAULT#DEFAULT_GROUP@@orders' },
        spec: { service: 'orders', address: '10.0.0.2', port: 8080, weight: 50, labels: {}, healthy: false },
      },
    ]);
  });

  it('a config change is put as soon as Nacos tells (long poll or push); a removed config is deleted', async () => {
    const server = await startServer();
    server.http.publishConfig('rules.yaml', 'DYELINE', RULES_V1);
    // Slow instance polling: only the long poll can deliver the change quickly.
    const { sink } = await startSource(`nacos://${server.address}?group=DYELINE&dataId=rules.yaml&services=`, {}, true);
    await sink.until((s) => s.connected === true, 'connected');
    await sink.until(() => transport.listening(server), 'listening');

    const t0 = Date.now();
    server.http.publishConfig('rules.yaml', 'DYELINE', RULES_V2);
    await sink.until((s) => s.content.get('config:DYELINE/rules.yaml')?.text === RULES_V2, 'config v2 put');
    expect(Date.now() - t0).toBeLessThan(2000);
    const put = sink.callsOf('put').at(-1)!;
    expect(put.item).toEqual({ key: 'config:DYELINE/rules.yaml', text: RULES_V2, md5: nacosMd5(RULES_V2) });

    server.http.removeConfig('rules.yaml', 'DYELINE');
    await sink.until((s) => !s.content.has('config:DYELINE/rules.yaml'), 'config deleted');
    expect(sink.callsOf('delete').map((c) => c.key)).toEqual(['config:DYELINE/rules.yaml']);
  });

  it('instance register, change and deregister are each put; the last deregistration leaves an empty list', async () => {
    const server = await startServer();
    server.http.registerInstance('orders', { ip: '10.0.0.1', port: 8080 });
    const { sink } = await startSource(`nacos://${server.address}?group=DYELINE&dataId=rules.yaml&services=orders`);
    await sink.until((s) => s.connected === true, 'connected');
    expect(sink.content.has('config:DYELINE/rules.yaml')).toBe(false);
    expect(addressesOf(sink, 'naming:orders')).toEqual(['10.0.0.1:8080']);

    server.http.registerInstance('orders', { ip: '10.0.0.2', port: 8080, metadata: { color: 'canary' } });
    await sink.until((s) => addressesOf(s, 'naming:orders').length === 2, 'registered instance put');
    server.http.setHealthy('orders', '10.0.0.2', 8080, false);
    await sink.until((s) => docsOf(s, 'naming:orders').some((d) => d.spec.healthy === false), 'health change put');
    server.http.deregisterInstance('orders', '10.0.0.1', 8080);
    await sink.until((s) => addressesOf(s, 'naming:orders').join() === '10.0.0.2:8080', 'deregistered instance put');
    server.http.deregisterInstance('orders', '10.0.0.2', 8080);
    await sink.until((s) => s.content.get('naming:orders')?.documents?.length === 0, 'last instance deregistered');
    expect(sink.callsOf('delete')).toEqual([]);
    // Every change was a put of the whole service; nothing was put twice for the same content.
    const puts = sink.callsOf('put').map((c) => JSON.stringify(c.item.documents));
    expect(new Set(puts).size).toBe(puts.length);
  });

  it('services=* mirrors every service of DEFAULT_GROUP and picks up new ones within the listing period', async () => {
    const server = await startServer();
    server.http.registerInstance('orders', { ip: '10.0.0.1', port: 8080 });
    server.http.registerInstance('hidden', { ip: '10.0.9.9', port: 1 }, { groupName: 'OTHER' });
    const { sink } = await startSource(`nacos://${server.address}?dataId=rules.yaml&services=*`);
    await sink.until((s) => s.connected === true, 'connected');
    expect([...sink.content.keys()].sort()).toEqual(['naming:orders']);

    const t0 = Date.now();
    server.http.registerInstance('payments', { ip: '10.0.1.1', port: 9090 });
    await sink.until((s) => addressesOf(s, 'naming:payments').join() === '10.0.1.1:9090', 'new service put');
    expect(Date.now() - t0).toBeLessThan(300 + 2000);
  });

  it('Nacos down: connected:false with the reason, nothing deleted or emptied; back up: reconnects and catches up', async () => {
    const server = await startServer();
    server.http.publishConfig('rules.yaml', 'DYELINE', RULES_V1);
    server.http.registerInstance('orders', { ip: '10.0.0.1', port: 8080 });
    const { sink } = await startSource(`nacos://${server.address}?group=DYELINE&dataId=rules.yaml&services=orders`);
    await sink.until((s) => s.connected === true, 'connected');
    const before = sink.snapshot();
    const mark = sink.calls.length;

    await server.stop();
    await sink.until((s) => s.connected === false, 'disconnected');
    expect(sink.error).toMatch(transport.downError);
    // Stay down for several poll periods and retries: still nothing removed, nothing replaced.
    await new Promise((r) => setTimeout(r, 1500));
    expect(sink.snapshot()).toEqual(before);
    expect(sink.calls.slice(mark).filter((c) => c.op !== 'setConnected')).toEqual([]);

    // Changes made while the source could not see them arrive after reconnecting.
    server.http.publishConfig('rules.yaml', 'DYELINE', RULES_V2);
    server.http.registerInstance('orders', { ip: '10.0.0.2', port: 8080 });
    await server.start();
    await sink.until((s) => s.connected === true, 'reconnected');
    await sink.until(
      (s) => s.content.get('config:DYELINE/rules.yaml')?.text === RULES_V2 && addressesOf(s, 'naming:orders').length === 2,
      'caught up after reconnect',
    );
    expect(sink.callsOf('replaceAll')).toHaveLength(1);
    expect(sink.callsOf('delete')).toEqual([]);
  });

  it('Nacos unreachable from the start: start() resolves, connected:false, no content until it comes up', async () => {
    const server = await startServer();
    server.http.publishConfig('rules.yaml', 'DYELINE', RULES_V1);
    await server.stop();
    const { sink } = await startSource(`nacos://${server.address}?group=DYELINE&dataId=rules.yaml&services=orders`);
    await sink.until((s) => s.connected === false, 'disconnected');
    expect(sink.callsOf('replaceAll')).toEqual([]);
    await server.start();
    await sink.until((s) => s.connected === true, 'connected');
    expect(sink.content.get('config:DYELINE/rules.yaml')?.text).toBe(RULES_V1);
  });

  it('with auth: syncs with the right credentials; a wrong password is reported without any credential', async () => {
    const server = await startServer({ username: 'dye-user-q7', password: 'pw-Z9x!secret' });
    server.http.publishConfig('rules.yaml', 'DYELINE', RULES_V1);
    server.http.registerInstance('orders', { ip: '10.0.0.1', port: 8080 });
    const uri = `nacos://${server.address}?group=DYELINE&dataId=rules.yaml&services=orders`;

    const good = await startSource(uri, { DYELINE_NACOS_USERNAME: 'dye-user-q7', DYELINE_NACOS_PASSWORD: 'pw-Z9x!secret' });
    await good.sink.until((s) => s.connected === true, 'connected with credentials');
    expect(good.sink.content.get('config:DYELINE/rules.yaml')?.text).toBe(RULES_V1);

    const bad = await startSource(uri, { DYELINE_NACOS_USERNAME: 'dye-user-q7', DYELINE_NACOS_PASSWORD: 'wrong-pw-K4' });
    await bad.sink.until((s) => s.connected === false && /403/.test(s.error ?? ''), 'refused with 403');
    expect(bad.sink.content.size).toBe(0);
    const reported = JSON.stringify(bad.sink.calls) + JSON.stringify(good.sink.calls);
    for (const secret of ['dye-user-q7', 'wrong-pw-K4', 'pw-Z9x!secret', encodeURIComponent('pw-Z9x!secret')]) {
      expect(reported).not.toContain(secret);
    }
    expect(bad.source.uri).not.toContain('dye-user-q7');
  });

  it('stop() ends the polling or connections: no more requests reach Nacos', async () => {
    const server = await startServer();
    server.http.publishConfig('rules.yaml', 'DYELINE', RULES_V1);
    server.http.registerInstance('orders', { ip: '10.0.0.1', port: 8080 });
    const { source, sink } = await startSource(`nacos://${server.address}?group=DYELINE&dataId=rules.yaml&services=orders`);
    await sink.until((s) => s.connected === true, 'connected');
    await source.stop();
    await sink.until(() => transport.idle(server), 'nothing held at Nacos', 3000);
    const count = transport.traffic(server);
    await new Promise((r) => setTimeout(r, 800));
    expect(transport.traffic(server)).toBe(count);
    expect(transport.idle(server)).toBe(true);
  });
});
