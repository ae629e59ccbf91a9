/**
 * The reconnecting Nacos gRPC client against the test Nacos (real sockets, a grpc-js server):
 * the set-up handshake, requests refused before the set-up ack, server restart, connection cut,
 * silent network partition (health checks), 301 after the server forgot the connection,
 * ConnectResetRequest, fail-over across the server list, token expiry, and ephemeral instances
 * registered again after a reconnection.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { type GrpcServer, NacosRpcClient, type RpcTiming } from '../../../../../daemon/sources/nacos/grpc-client.ts';
import { queryConfig } from '../../../../../daemon/sources/nacos/grpc-config.ts';
import { NacosRegistrations, subscribeService } from '../../../../../daemon/sources/nacos/grpc-naming.ts';
import { decodePayload, encodePayload } from '../../../../../daemon/sources/nacos/grpc-payload.ts';
import { NacosRpcError } from '../../../../../daemon/sources/nacos/grpc-protocol.ts';
import { NacosLogin } from '../../../../../daemon/sources/nacos/login.ts';
import { type NacosGrpcTestServerOptions, type TestNacosNode, startNacosNode } from '../../../../support/nacos-grpc-server.ts';
import { NacosState } from '../../../../support/nacos-state.ts';
import { waitFor } from '../../../../support/wait.ts';

/** Quick retries; health checks only where a test is about them (a loaded machine can miss a tight one). */
const FAST: Partial<RpcTiming> = { requestTimeoutMs: 3000, serverCheckTimeoutMs: 2000, setupTimeoutMs: 3000, healthCheckIdleMs: 60_000, retryMinMs: 50, retryMaxMs: 200 };
const REF = { dataId: 'rules.yaml', group: 'DYELINE', tenant: '' };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function node(opts: { state?: NacosState; grpc?: NacosGrpcTestServerOptions; http?: ConstructorParameters<typeof NacosState>[0] & { v3Login?: boolean } } = {}): Promise<TestNacosNode> {
  const n = await startNacosNode({ state: opts.state, grpc: opts.grpc, http: opts.http });
  cleanups.push(() => n.stop());
  return n;
}

const at = (n: TestNacosNode): GrpcServer => ({ host: '127.0.0.1', port: n.grpc.port });

function client(servers: GrpcServer[], o: Partial<ConstructorParameters<typeof NacosRpcClient>[0]> = {}) {
  const rpc = new NacosRpcClient({ servers, module: 'config', namespace: '', timing: FAST, firstServer: 0, ...o });
  const events: string[] = [];
  rpc.onConnected((c) => events.push(`connected ${c.address}`));
  rpc.onDisconnected((why) => events.push(`lost ${why}`));
  cleanups.push(() => rpc.stop());
  rpc.start();
  return { rpc, events, connects: () => events.filter((e) => e.startsWith('connected')).length };
}

const until = (what: string, fn: () => boolean, timeoutMs = 10_000) => waitFor(() => fn() || undefined, { what, timeoutMs });

describe('NacosRpcClient', () => {
  it('sets up as Nacos expects: server check, bi-stream set-up with the module label, and only then requests', async () => {
    const n = await node({ grpc: { setupDelayMs: 300 } });
    n.state.publishConfig('rules.yaml', 'DYELINE', 'a: 1');
    const t0 = Date.now();
    const { rpc } = client([at(n)]);
    await until('connected', () => rpc.connected);
    // The client waited for the SetupAckRequest the server sends once it registered the connection.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(n.grpc.connections).toEqual([expect.objectContaining({ module: 'config', registered: true })]);
    expect(await queryConfig(rpc, REF, false)).toBe('a: 1');
    const seen = n.grpc.requests.filter((r) => r.type !== 'HealthCheckRequest');
    expect(seen.map((r) => `${r.type}→${r.answerType}`)).toEqual(['ServerCheckRequest→ServerCheckResponse', 'ConfigQueryRequest→ConfigQueryResponse']);
    expect(n.grpc.requests.every((r) => r.errorCode !== 301)).toBe(true);
    expect(rpc.connection!.connectionId).toBe(n.grpc.connections[0]!.id);
  });

  it('the test server answers 301 to a request on a connection that never set up, and 302 to an unknown type', async () => {
    const n = await node();
    const raw = new grpc.Client(n.grpc.address, grpc.credentials.createInsecure());
    cleanups.push(() => raw.close());
    const call = (type: string) =>
      new Promise<ReturnType<typeof decodePayload>>((resolve, reject) =>
        raw.makeUnaryRequest('/Request/request', (b: Buffer) => b, (b: Buffer) => b, encodePayload(type, {}), (err, res) => (err ? reject(err) : resolve(decodePayload(res!)))),
      );
    expect(await call('HealthCheckRequest')).toMatchObject({ type: 'ErrorResponse', body: { errorCode: 301, message: 'Connection is unregistered.' } });
    expect(await call('NoSuchRequest')).toMatchObject({ type: 'ErrorResponse', body: { errorCode: 302 } });
    expect(await call('ServerCheckRequest')).toMatchObject({ type: 'ServerCheckResponse', body: { resultCode: 200, supportAbilityNegotiation: true } });
  });

  it('a server without ability negotiation sends no SetupAckRequest: the client proceeds after a short pause', async () => {
    const n = await node({ grpc: { abilityNegotiation: false } });
    const { rpc } = client([at(n)]);
    await until('connected', () => rpc.connected);
    await rpc.request('HealthCheckRequest', { module: 'internal' });
  });

  it('server restart: the connection is lost, the client reconnects when the server is back (a new connection)', async () => {
    const n = await node();
    const { rpc, events, connects } = client([at(n)]);
    await until('connected', () => rpc.connected);
    const first = rpc.connection!.connectionId;
    await n.grpc.stop();
    await until('lost', () => !rpc.connected);
    await expect(rpc.request('HealthCheckRequest', {})).rejects.toThrow(/not connected to Nacos/);
    await n.grpc.start();
    await until('reconnected', () => connects() === 2 && rpc.connected);
    expect(rpc.connection!.connectionId).not.toBe(first);
    expect(events[1]).toMatch(/^lost connection to 127\.0\.0\.1:\d+ lost: bi-stream/);
  });

  it('connection cut: reconnects at once; the server forgot the old connection', async () => {
    const n = await node();
    const { rpc, connects } = client([at(n)]);
    await until('connected', () => rpc.connected);
    n.grpc.killConnections();
    await until('reconnected', () => connects() === 2 && rpc.connected);
    expect(n.grpc.connections).toHaveLength(1);
  });

  it('silent partition: the idle health check fails and the connection is dropped; back when the network heals', async () => {
    const n = await node();
    const { rpc, events, connects } = client([at(n)], { timing: { ...FAST, healthCheckIdleMs: 150, healthCheckTimeoutMs: 300 } });
    await until('connected', () => rpc.connected);
    await until('a health check answered', () => n.grpc.requestsOf('HealthCheckRequest').length > 0);
    n.grpc.partition(true);
    await until('lost by health check', () => events.some((e) => /health check failed/.test(e)));
    expect(rpc.connected).toBe(false);
    n.grpc.partition(false);
    await until('reconnected', () => connects() >= 2 && rpc.connected);
  });

  it('301 on a request (the server forgot the connection): the request fails and the client reconnects', async () => {
    const n = await node();
    n.state.publishConfig('rules.yaml', 'DYELINE', 'a: 1');
    const { rpc, connects } = client([at(n)]);
    await until('connected', () => rpc.connected);
    n.grpc.dropRegistrations();
    const err = await queryConfig(rpc, REF, false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NacosRpcError);
    expect(err).toMatchObject({ nacosCode: 301, responseType: 'ErrorResponse' });
    await until('reconnected', () => connects() === 2 && rpc.connected);
    expect(await queryConfig(rpc, REF, false)).toBe('a: 1');
  });

  it('fails over along the server list, and a ConnectResetRequest moves the client to the server it names', async () => {
    const state = new NacosState();
    const a = await node({ state });
    const b = await node({ state });
    await a.grpc.stop();
    const { rpc, events } = client([at(a), at(b)]);
    await until('connected to b', () => rpc.connection?.address === b.grpc.address);
    await a.grpc.start();
    b.grpc.resetConnections('127.0.0.1', String(a.http.port));
    await until('moved to a', () => rpc.connection?.address === a.grpc.address);
    expect(events.at(-2)).toMatch(/ConnectResetRequest/);
    expect(b.grpc.pushTotals).toEqual({ pushes: 1, acks: 1 });
  });

  it('auth: the token rides in the metadata; an expired token is renewed and the request sent again', async () => {
    const n = await node({ http: { username: 'u1', password: 'p1', v3Login: true } });
    n.state.publishConfig('rules.yaml', 'DYELINE', 'a: 1');
    const login = new NacosLogin({ servers: [n.address], username: 'u1', password: 'p1', timeoutMs: 1000 });
    const { rpc } = client([at(n)], { login });
    await until('connected', () => rpc.connected);
    await queryConfig(rpc, REF, false);
    n.state.expireTokens();
    expect(await queryConfig(rpc, REF, false)).toBe('a: 1');
    const queries = n.grpc.requestsOf('ConfigQueryRequest');
    expect(queries.map((q) => q.errorCode)).toEqual([0, 403, 0]);
    expect(new Set(queries.map((q) => q.headers.accessToken)).size).toBe(2);
    expect(n.http.requests.filter((r) => r.path === '/nacos/v3/auth/user/login')).toHaveLength(2);
    // Health checks need no token.
    await rpc.request('HealthCheckRequest', {});
  });

  it('naming needs a connection labelled naming; ephemeral instances are registered again after a reconnection', async () => {
    const n = await node();
    const cfg = client([at(n)]);
    await until('config connected', () => cfg.rpc.connected);
    await expect(subscribeService(cfg.rpc, '', 'DEFAULT_GROUP', 'orders')).rejects.toMatchObject({ nacosCode: -401 });

    const { rpc, connects } = client([at(n)], { module: 'naming' });
    const regs = new NacosRegistrations(rpc, '', 50);
    cleanups.push(() => regs.stop());
    await until('naming connected', () => rpc.connected);
    await regs.register({ service: 'orders', group: 'DEFAULT_GROUP' }, { ip: '10.0.0.9', port: 8080, metadata: { color: 'canary' } });
    expect(n.state.instances('public', 'DEFAULT_GROUP@@orders')).toEqual([
      expect.objectContaining({ ip: '10.0.0.9', port: 8080, ephemeral: true, metadata: { color: 'canary' }, instanceId: '10.0.0.9#8080#DEFAULT#DEFAULT_GROUP@@orders' }),
    ]);
    n.grpc.killConnections();
    // The server drops the instances of a closed connection; the client puts them back.
    await until('re-registered', () => connects() === 2 && n.state.instances('public', 'DEFAULT_GROUP@@orders').length === 1);
    await regs.deregister({ service: 'orders', group: 'DEFAULT_GROUP' }, { ip: '10.0.0.9', port: 8080 });
    expect(n.state.instances('public', 'DEFAULT_GROUP@@orders')).toEqual([]);
    n.grpc.killConnections();
    await until('reconnected', () => connects() === 3 && rpc.connected);
    await new Promise((r) => setTimeout(r, 200));
    expect(n.state.instances('public', 'DEFAULT_GROUP@@orders')).toEqual([]);
  });
});
