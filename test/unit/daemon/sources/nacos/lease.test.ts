/**
 * The Nacos source's lease against the test Nacos over both transports (its casMd5 as Nacos's):
 * one holder at a time, renewals, takeover once the holder has been silent for the time to live
 * (timed on the taker's own clock), release, a foreign lease config, and many controllers racing
 * for a free or silent lease (exactly one wins each round). Over HTTP v1 against a Nacos that
 * ignores casMd5 (before 2.3) no lease is ever held.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSourceUri } from '../../../../../daemon/config.ts';
import type { NacosConfigApi } from '../../../../../daemon/sources/nacos/config-api.ts';
import { createConfigApi } from '../../../../../daemon/sources/nacos/open-config-api.ts';
import type { NacosSourceConfig } from '../../../../../daemon/sources/nacos/config.ts';
import { NacosLease, leaseDataId } from '../../../../../daemon/sources/nacos/lease.ts';
import { createLogger } from '../../../../../shared/log.ts';
import { NacosGrpcTestServer } from '../../../../support/nacos-grpc-server.ts';
import { expectRenewedThenTakenOver } from '../../../../support/lease-contract.ts';
import { NacosTestServer } from '../../../../support/nacos-server.ts';

const log = createLogger({ component: 'test' }, { write: () => true } as never);
let http: NacosTestServer;
let grpc: NacosGrpcTestServer;
const apis: NacosConfigApi[] = [];
let now = 1_000_000;
const clock = () => now;
let dataIds = 0;

beforeAll(async () => {
  http = await new NacosTestServer().start();
  grpc = await new NacosGrpcTestServer(http.state).start();
});
afterAll(async () => {
  for (const a of apis.splice(0)) await a.close();
  await grpc?.stop();
  await http?.stop();
});

function api(transport: 'grpc' | 'http' | 'auto', server = http, grpcPort = grpc.port): { api: NacosConfigApi; dataId: string } {
  const dataId = `lease-test-${++dataIds}.yaml`;
  const config = parseSourceUri(`nacos://${server.address}?dataId=${dataId}&transport=${transport}&grpcPort=${grpcPort}`, {}) as NacosSourceConfig;
  const a = createConfigApi(config, { log, tls: undefined });
  apis.push(a);
  return { api: a, dataId: leaseDataId(dataId) };
}

describe.each(['grpc', 'http'] as const)('nacos lease over %s', (transport) => {
  const lease = (c: { api: NacosConfigApi; dataId: string }, id: string) => new NacosLease(c.api, c.dataId, id, 15_000, { clock });

  it('has one holder; the other sees who holds it; the config holds {holder, renewedAt, ttlMs}', async () => {
    const c = api(transport);
    const [a, b] = [lease(c, 'a'), lease(c, 'b')];
    expect(await a.hold()).toBe(true);
    expect(await b.hold()).toBe(false);
    expect(b.holder).toBe('a');
    expect(JSON.parse(http.state.config(c.dataId, 'DYELINE')!.content)).toEqual({ holder: 'a', renewedAt: now, ttlMs: 15_000 });
  });

  it('is kept by renewing and taken once its holder has been silent for longer than the time to live', async () => {
    const c = api(transport);
    await expectRenewedThenTakenOver(lease(c, 'a'), lease(c, 'b'), (ms) => (now += ms));
  });

  it('times silence from when the taker first saw the lease, whatever renewedAt says', async () => {
    const c = api(transport);
    // A holder whose clock is far behind: its renewedAt looks ancient to everyone else.
    const behind = new NacosLease(c.api, c.dataId, 'behind', 15_000, { clock: () => now - 3_600_000 });
    expect(await behind.hold()).toBe(true);
    const b = lease(c, 'b');
    expect(await b.hold()).toBe(false);
    now += 15_001;
    expect(await b.hold()).toBe(true);
  });

  it('is given up on release so that another takes it at once; a non-holder cannot release it', async () => {
    const c = api(transport);
    const [a, b] = [lease(c, 'a'), lease(c, 'b')];
    await a.hold();
    await b.release();
    expect(await b.hold()).toBe(false);
    await a.release();
    expect(await b.hold()).toBe(true);
    expect(b.holder).toBe('b');
  });

  it('takes over a lease config it cannot parse', async () => {
    const c = api(transport);
    http.state.publishConfig(c.dataId, 'DYELINE', 'not a lease');
    expect(await lease(c, 'a').hold()).toBe(true);
  });

  it('lets exactly one of 8 racing controllers take a free or silent lease, round after round', async () => {
    const c = api(transport);
    for (let round = 0; round < 15; round++) {
      const leases = Array.from({ length: 8 }, (_, i) => lease(c, `c${round}-${i}`));
      // The first round races for an absent config (a create), later ones for a silent holder.
      if (round > 0) {
        expect((await Promise.all(leases.map((l) => l.hold()))).filter(Boolean), `round ${round} before the TTL`).toHaveLength(0);
        now += 15_001;
      }
      const held = await Promise.all(leases.map((l) => l.hold()));
      expect(held.filter(Boolean), `round ${round}`).toHaveLength(1);
      const winner = held.indexOf(true);
      expect((await Promise.all(leases.map((l) => l.hold()))).map((h, i) => h === (i === winner))).toEqual(Array(8).fill(true));
      for (const l of leases) expect(l.holder).toBe(`c${round}-${winner}`);
    }
  });

  it('says not held, without throwing, when Nacos cannot be reached', async () => {
    const down = await new NacosTestServer().start();
    const c = api(transport, down, down.port);
    await down.stop();
    const l = lease(c, 'a');
    expect(await l.hold()).toBe(false);
    expect(l.holder).toBeUndefined();
  }, 20_000);
});

it('over HTTP v1, a Nacos that ignores casMd5 (before 2.3) never gives the lease', async () => {
  const old = await new NacosTestServer({ v1Cas: false }).start();
  try {
    const c = api('http', old);
    const a = new NacosLease(c.api, c.dataId, 'a', 15_000, { clock });
    expect(await a.hold()).toBe(false);
    expect(await c.api.honoursCas()).toBe(false);
    expect(old.state.config(c.dataId, 'DYELINE')).toBeUndefined();
    // The probe's scratch config is removed again.
    expect(old.requestsTo('/nacos/v1/cs/configs').filter((r) => r.method === 'DELETE')).toHaveLength(1);
  } finally {
    await old.stop();
  }
});

describe('transport=auto', () => {
  it('holds the lease over gRPC when the gRPC port answers', async () => {
    const before = grpc.requestsOf('ConfigPublishRequest').length;
    const c = api('auto');
    expect(await new NacosLease(c.api, c.dataId, 'a', 15_000, { clock }).hold()).toBe(true);
    expect(grpc.requestsOf('ConfigPublishRequest').length).toBe(before + 1);
  });

  it('holds the lease over HTTP v1 when only the HTTP port answers', async () => {
    const v1 = await new NacosTestServer().start();
    try {
      // The gRPC port is the HTTP port + 1000 here; nothing listens there.
      const config = parseSourceUri(`nacos://${v1.address}?dataId=auto-http.yaml`, {}) as NacosSourceConfig;
      const a = createConfigApi(config, { log, tls: undefined });
      apis.push(a);
      expect(await new NacosLease(a, leaseDataId('auto-http.yaml'), 'a', 15_000, { clock }).hold()).toBe(true);
      expect(v1.requestsTo('/nacos/v1/cs/configs').filter((r) => r.method === 'POST' && r.params.dataId === 'auto-http.yaml.rollout-lease')).toHaveLength(1);
    } finally {
      await v1.stop();
    }
  });
});
