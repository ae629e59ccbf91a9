/**
 * The registration channel end to end in one process: the agent's AgentRegistration, the
 * daemon's RegistrationServer on a real Unix socket, and the EtcdRegistrar against a real etcd.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentRegistration } from '../../../agent/registration/client.ts';
import { EtcdRegistrar } from '../../../daemon/registration/etcd.ts';
import { RegistrationServer } from '../../../daemon/registration/server.ts';
import { createLogger } from '../../../shared/log.ts';
import { EtcdServer } from '../../support/etcd.ts';
import { waitFor } from '../../support/wait.ts';

const log = createLogger({ test: 'registration' });
log.level = 'silent';
const P = '/reg-test/';
let etcd: EtcdServer;
let dir: string;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  etcd = await EtcdServer.start();
  dir = mkdtempSync(join(tmpdir(), 'dyeline-reg-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await etcd.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function daemonSide(socketPath: string, ttlSeconds = 3) {
  const client = new Etcd3({ hosts: `http://${etcd.endpoint}` });
  const registrar = new EtcdRegistrar({ target: `etcd://${etcd.endpoint}?prefix=${P}`, prefix: P, client: () => client, log, ttlSeconds, callTimeoutMs: 1000 });
  const server = new RegistrationServer({ socketPath, registrar, log });
  await server.start();
  const stop = async () => {
    await server.stop();
    client.close();
  };
  cleanups.push(stop);
  return { server, stop };
}

async function app(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return { server, port: (server.address() as { port: number }).port };
}

function agentSide(socketPath: string, appPort: number, id = 'pod-1') {
  const reg = new AgentRegistration({ socketPath, id, instance: { service: 'orders', address: '10.1.2.3', port: 15006, labels: { color: 'canary' } }, appPort, log, probeMs: 50, reconnectMaxMs: 200 });
  reg.start();
  cleanups.push(() => reg.stop(500));
  return reg;
}

/** The key's value and lease, or undefined. */
async function entry(key: string): Promise<{ value: unknown; lease: string } | undefined> {
  const res = await etcd.etcd().kv.range({ key: Buffer.from(`${P}instances/${key}`) });
  const kv = res.kvs[0];
  return kv ? { value: JSON.parse(kv.value.toString()), lease: String(kv.lease) } : undefined;
}

describe('registration through the daemon into etcd', () => {
  it('registers once the app accepts, under a lease, and deregisters on stop before resolving', async () => {
    const socket = join(dir, 'a.sock');
    await daemonSide(socket);
    const { port } = await app();
    const reg = agentSide(socket, port);
    await waitFor(() => reg.status().state === 'registered', { what: 'registered' });
    const e = await entry('orders/pod-1');
    expect(e?.value).toEqual({ address: '10.1.2.3', port: 15006, weight: 100, labels: { color: 'canary' } });
    expect(e?.lease).not.toBe('0');
    const ttl = await etcd.etcd().leaseClient.leaseTimeToLive({ ID: e!.lease });
    expect(Number(ttl.grantedTTL)).toBe(3);
    expect(await reg.stop(2000)).toBe(true);
    expect(await entry('orders/pod-1')).toBeUndefined();
  });

  it('waits for the app, follows it going away and coming back', async () => {
    const socket = join(dir, 'b.sock');
    await daemonSide(socket);
    const held = await app();
    const port = held.port;
    await new Promise((r) => held.server.close(r));
    const reg = agentSide(socket, port);
    await waitFor(() => reg.status().state === 'waiting-for-app', { what: 'waiting for the app' });
    await new Promise((r) => setTimeout(r, 300));
    expect(await entry('orders/pod-1')).toBeUndefined();
    const again = createServer((s) => s.end());
    await new Promise<void>((r) => again.listen(port, '127.0.0.1', r));
    await waitFor(async () => (await entry('orders/pod-1')) !== undefined, { what: 'registered once the app listens' });
    await new Promise((r) => again.close(r));
    await waitFor(async () => (await entry('orders/pod-1')) === undefined, { what: 'deregistered once the app is gone' });
  });

  it('removes the instance when the agent connection drops (agent killed), keeps it when the daemon stops', async () => {
    const socket = join(dir, 'c.sock');
    const { server } = await daemonSide(socket);
    // An agent as a kill -9 leaves it: it registered, then its socket closes without a word.
    const raw = connect(socket);
    await new Promise((r) => raw.once('connect', r));
    raw.write(`${JSON.stringify({ op: 'register', id: 'pod-killed', instance: { service: 'orders', address: '10.1.2.4', port: 15006, labels: {} } })}\n`);
    await waitFor(async () => (await entry('orders/pod-killed')) !== undefined, { what: 'registered' });
    raw.destroy();
    await waitFor(async () => (await entry('orders/pod-killed')) === undefined, { what: 'removed when the connection closed' });
    const { port } = await app();
    const reg = agentSide(socket, port, 'pod-stays');
    await waitFor(() => reg.status().state === 'registered', { what: 'registered' });
    await server.stop();
    expect(await entry('orders/pod-stays')).toBeDefined();
  });

  it('a daemon restart loses nothing: the agent reconnects and the key stays under a live lease', async () => {
    const socket = join(dir, 'd.sock');
    const first = await daemonSide(socket);
    const { port } = await app();
    const reg = agentSide(socket, port, 'pod-restart');
    await waitFor(async () => (await entry('orders/pod-restart')) !== undefined, { what: 'registered' });
    const before = (await entry('orders/pod-restart'))!.lease;
    await first.stop();
    await daemonSide(socket);
    await waitFor(async () => (await entry('orders/pod-restart'))?.lease !== before, { what: 're-registered under a new lease' });
    await waitFor(() => reg.status().state === 'registered', { what: 'registered again' });
    // Past the old lease's TTL (3 s) the key is still there.
    await new Promise((r) => setTimeout(r, 4000));
    expect(await entry('orders/pod-restart')).toBeDefined();
  });

  it('an etcd restart loses nothing', async () => {
    const socket = join(dir, 'e.sock');
    await daemonSide(socket);
    const { port } = await app();
    const reg = agentSide(socket, port, 'pod-etcd');
    await waitFor(async () => (await entry('orders/pod-etcd')) !== undefined, { what: 'registered' });
    await etcd.kill9();
    await new Promise((r) => setTimeout(r, 4000)); // longer than the TTL
    await etcd.start();
    await waitFor(async () => (await entry('orders/pod-etcd')) !== undefined, { timeoutMs: 15_000, what: 'still (or again) registered' });
    await new Promise((r) => setTimeout(r, 4000));
    expect(await entry('orders/pod-etcd')).toBeDefined();
    expect(reg.status().state).toBe('registered');
  });
});
