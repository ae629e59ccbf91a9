/** transport=auto against test Nacos servers of each generation. */
import { afterEach, describe, expect, it } from 'vitest';
import { chooseTransport, grpcServers } from '../../../../../daemon/sources/nacos/transport.ts';
import { startNacosNode } from '../../../../support/nacos-grpc-server.ts';
import { NacosTestServer } from '../../../../support/nacos-server.ts';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

const choose = (servers: string[], grpcPort?: number) => chooseTransport(servers, grpcServers(servers, grpcPort), 3000);

describe('chooseTransport', () => {
  it('Nacos 2/3: gRPC on the HTTP port + 1000, or on grpcPort', async () => {
    const node = await startNacosNode();
    stops.push(() => node.stop());
    expect(await choose([node.address])).toBe('grpc');
    const v1 = await new NacosTestServer().start();
    stops.push(() => v1.stop());
    // A v1-only server first in the list, its gRPC port given explicitly: the node's gRPC answers.
    expect(await choose([v1.address], node.grpc.port)).toBe('grpc');
  });

  it('Nacos 1.x (no gRPC port): HTTP v1; a down server in the list is skipped', async () => {
    const down = await new NacosTestServer().start();
    await down.stop();
    const v1 = await new NacosTestServer().start();
    stops.push(() => v1.stop());
    expect(await choose([down.address, v1.address])).toBe('http');
  });

  it('Nacos 3.2 without the legacy adapter and its gRPC port unreachable: undecided, with both reasons', async () => {
    const node = await startNacosNode({ http: { v1Api: false, v3Login: true } });
    stops.push(() => node.stop());
    await node.grpc.stop();
    await expect(choose([node.address])).rejects.toThrow(/ServerCheckRequest to 127\.0\.0\.1:\d+: UNAVAILABLE.*has no v1 HTTP API \(404\)/);
    await node.grpc.start();
    expect(await choose([node.address])).toBe('grpc');
  });

  it('nothing up: undecided', async () => {
    const down = await new NacosTestServer().start();
    await down.stop();
    await expect(choose([down.address])).rejects.toThrow(/no Nacos gRPC port nor v1 HTTP API answered: .*ECONNREFUSED/);
  });
});
