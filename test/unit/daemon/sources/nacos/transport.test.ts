/** transport=auto against test Nacos servers of each generation, in plaintext and over TLS. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { chooseTransport, grpcServers } from '../../../../../daemon/sources/nacos/transport.ts';
import { tlsSet } from '../../../../support/certs.ts';
import { startNacosNode } from '../../../../support/nacos-grpc-server.ts';
import { NacosTestServer } from '../../../../support/nacos-server.ts';
import { TlsTerminator } from '../../../../support/tls-terminator.ts';

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

  it('tls: gRPC over TLS first, then https; a server that speaks neither over TLS is not taken in plaintext', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dyeline-transport-tls-'));
    stops.push(async () => rmSync(dir, { recursive: true, force: true }));
    const set = tlsSet(join(dir, 'certs'));
    const tls = { ca: readFileSync(set.caFile) };
    const node = await startNacosNode({ grpc: { tls: { set } } });
    stops.push(() => node.stop());
    expect(await chooseTransport([node.address], grpcServers([node.address]), 3000, tls)).toBe('grpc');
    expect(node.grpc.accepted).toEqual({ tls: 1, plaintext: 0 });
    // An https front with no gRPC port behind it: HTTP v1 over https.
    const front = await TlsTerminator.start((await new NacosTestServer().start()).address, set);
    stops.push(() => front.close());
    expect(await chooseTransport([front.endpoint], grpcServers([front.endpoint]), 3000, tls)).toBe('http');
    // A plaintext Nacos: neither port completes a TLS handshake.
    const plain = await startNacosNode();
    stops.push(() => plain.stop());
    await expect(chooseTransport([plain.address], grpcServers([plain.address]), 3000, tls)).rejects.toThrow(/no Nacos gRPC port nor v1 HTTP API answered/);
    expect(plain.http.requests).toEqual([]);
    expect(plain.grpc.requests).toEqual([]);
  });
});
