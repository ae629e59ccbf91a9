/**
 * The gRPC test Nacos's protocol (nacos-grpc-server.ts): auth refusals in the handler's response
 * type, config listen answers and pushes only to listeners, naming pushes carrying the ServiceInfo,
 * service list pages, and ephemeral instances leaving with their connection.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NacosRpcClient } from '../../../daemon/sources/nacos/grpc-client.ts';
import type { NacosPayload } from '../../../daemon/sources/nacos/grpc-payload.ts';
import type { NacosResponse } from '../../../daemon/sources/nacos/grpc-protocol.ts';
import { type TestNacosNode, startNacosNode } from '../../support/nacos-grpc-server.ts';
import { waitFor } from '../../support/wait.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(http: { username?: string; password?: string } = {}) {
  const node = await startNacosNode({ http });
  cleanups.push(() => node.stop());
  return node;
}

/** A connected client of `module` that records every push it answers. */
async function connect(node: TestNacosNode, module: 'config' | 'naming') {
  const rpc = new NacosRpcClient({ servers: [{ host: '127.0.0.1', port: node.grpc.port }], module, namespace: '', timing: { healthCheckIdleMs: 60_000 } });
  const pushes: NacosPayload['body'][] = [];
  rpc.handle('ConfigChangeNotifyRequest', (b) => (pushes.push(b), { type: 'ConfigChangeNotifyResponse', body: {} }));
  rpc.handle('NotifySubscriberRequest', (b) => (pushes.push(b), { type: 'NotifySubscriberResponse', body: {} }));
  cleanups.push(() => rpc.stop());
  rpc.start();
  await waitFor(() => rpc.connected || undefined, { what: `${module} connected` });
  return { rpc, pushes };
}

describe('Nacos gRPC test server', () => {
  it('auth on: a secured request without a valid token gets its own response type with errorCode 403; health checks need none', async () => {
    const node = await setup({ username: 'u', password: 'p' });
    const { rpc } = await connect(node, 'config');
    await expect(rpc.request('ConfigQueryRequest', { dataId: 'd', group: 'g', tenant: '' })).rejects.toMatchObject({
      nacosCode: 403,
      responseType: 'ConfigQueryResponse',
      message: expect.stringMatching(/user not found!/),
    });
    await expect(rpc.request('ConfigQueryRequest', { dataId: 'd', group: 'g', tenant: '' }, { headers: { accessToken: 'forged' } })).rejects.toThrow(/token invalid!/);
    await rpc.request('HealthCheckRequest', {});
  });

  it('config: listen answers the configs whose md5 differs, pushes reach listeners only, listen:false stops them', async () => {
    const node = await setup();
    node.state.publishConfig('a', 'G', 'x: 1');
    const listener = await connect(node, 'config');
    const other = await connect(node, 'config');
    const ctx = (md5: string) => ({ configListenContexts: [{ dataId: 'a', group: 'G', tenant: '', md5 }] });
    expect(await listener.rpc.request('ConfigBatchListenRequest', { listen: true, ...ctx('') })).toMatchObject({ changedConfigs: [{ dataId: 'a', group: 'G' }] });
    expect(await listener.rpc.request('ConfigBatchListenRequest', { listen: true, ...ctx(node.state.md5Of('a\x02G\x02')) })).toMatchObject({ changedConfigs: [] });
    node.state.publishConfig('a', 'G', 'x: 2');
    await waitFor(() => listener.pushes.length === 1 || undefined, { what: 'push' });
    expect(listener.pushes[0]).toMatchObject({ dataId: 'a', group: 'G', tenant: '', module: 'config', requestId: expect.any(String) });
    await listener.rpc.request('ConfigBatchListenRequest', { listen: false, ...ctx('') });
    node.state.publishConfig('a', 'G', 'x: 3');
    node.state.removeConfig('a', 'G');
    await new Promise((r) => setTimeout(r, 100));
    expect(listener.pushes).toHaveLength(1);
    expect(other.pushes).toHaveLength(0);
    expect(node.grpc.pushTotals).toEqual({ pushes: 1, acks: 1 });
  });

  it('naming: pushes carry the enabled hosts; service lists page; instances leave with their connection', async () => {
    const node = await setup();
    const watcher = await connect(node, 'naming');
    const res = await watcher.rpc.request<NacosResponse & { serviceInfo: { name: string; groupName: string; hosts: unknown[] } }>('SubscribeServiceRequest', {
      namespace: 'public',
      serviceName: 'orders',
      groupName: 'DEFAULT_GROUP',
      subscribe: true,
    });
    expect(res.serviceInfo).toMatchObject({ name: 'orders', groupName: 'DEFAULT_GROUP', hosts: [] });

    const owner = await connect(node, 'naming');
    await owner.rpc.request('InstanceRequest', { namespace: 'public', serviceName: 'orders', groupName: 'DEFAULT_GROUP', type: 'registerInstance', instance: { ip: '10.0.0.1', port: 80 } });
    node.http.registerInstance('orders', { ip: '10.0.0.2', port: 80, enabled: false });
    await waitFor(() => watcher.pushes.length === 2 || undefined, { what: 'two pushes' });
    expect(watcher.pushes[1]).toMatchObject({
      namespace: 'public',
      serviceName: 'orders',
      groupName: 'DEFAULT_GROUP',
      serviceInfo: { hosts: [expect.objectContaining({ ip: '10.0.0.1', instanceId: '10.0.0.1#80#DEFAULT#DEFAULT_GROUP@@orders', ephemeral: true })] },
    });

    for (let i = 0; i < 3; i++) node.http.registerInstance(`svc-${i}`, { ip: '10.1.0.1', port: 80 });
    const page = (pageNo: number) => watcher.rpc.request('ServiceListRequest', { namespace: 'public', groupName: 'DEFAULT_GROUP', pageNo, pageSize: 3 });
    expect(await page(1)).toMatchObject({ count: 4, serviceNames: ['orders', 'svc-0', 'svc-1'] });
    expect(await page(2)).toMatchObject({ count: 4, serviceNames: ['svc-2'] });

    owner.rpc.stop();
    await waitFor(() => node.state.instances('public', 'DEFAULT_GROUP@@orders').length === 1 || undefined, { what: 'owner instances gone' });
    await waitFor(() => watcher.pushes.length === 3 || undefined, { what: 'push of the removal' });
    expect((watcher.pushes[2]!.serviceInfo as { hosts: unknown[] }).hosts).toEqual([]);
  });
});
