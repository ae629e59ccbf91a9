/**
 * Registration into Nacos in one process: AgentRegistration → RegistrationServer (a real Unix
 * socket) → NacosRegistrar over the v1 HTTP API (nacos-naming's NamingProxy) → the test Nacos
 * server: an ephemeral instance with the labels as metadata, kept alive by beats.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentRegistration } from '../../../agent/registration/client.ts';
import { NacosRegistrar } from '../../../daemon/registration/nacos.ts';
import { createV1NamingWriter } from '../../../daemon/registration/nacos-v1.ts';
import { RegistrationServer } from '../../../daemon/registration/server.ts';
import { NacosHttp } from '../../../daemon/sources/nacos-client.ts';
import { createLogger } from '../../../shared/log.ts';
import { NacosTestServer } from '../../support/nacos-server.ts';
import { waitFor } from '../../support/wait.ts';

const log = createLogger({ test: 'registration-nacos' });
log.level = 'silent';
const quiet = { info() {}, warn() {}, error() {}, debug() {} };
let nacos: NacosTestServer;
let dir: string;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  nacos = await new NacosTestServer().start();
  dir = mkdtempSync(join(tmpdir(), 'dyeline-reg-nacos-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await nacos.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function setUp(name: string, beatMs = 100) {
  const socketPath = join(dir, `${name}.sock`);
  const writer = createV1NamingWriter({ servers: [nacos.address], namespace: '', requestTimeoutMs: 2000, http: new NacosHttp(50), namingLogger: quiet });
  const server = new RegistrationServer({ socketPath, registrar: new NacosRegistrar({ target: `nacos://${nacos.address}`, writer, log, beatMs, retryMs: 100 }), log });
  await server.start();
  cleanups.push(() => server.stop());
  const app = createServer((s) => s.end());
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => app.close(r)));
  const reg = new AgentRegistration({
    socketPath,
    id: `${name}-1`,
    instance: { service: `svc-${name}`, address: '10.9.8.7', port: 15006, weight: 50, labels: { color: 'canary', version: 'v2' } },
    appPort: (app.address() as { port: number }).port,
    log,
    probeMs: 50,
  });
  reg.start();
  cleanups.push(() => reg.stop(500));
  return { reg, server, service: `svc-${name}` };
}

describe('registration through the daemon into Nacos', () => {
  it('registers an ephemeral instance with the labels as metadata, beats, and deregisters on stop', async () => {
    const { reg, service } = await setUp('a');
    await waitFor(() => reg.status().state === 'registered', { what: 'registered' });
    expect(reg.status().registry).toBe(`nacos://${nacos.address}`);
    const [inst] = nacos.instances(service);
    expect(inst).toMatchObject({ ip: '10.9.8.7', port: 15006, weight: 0.5, ephemeral: true, healthy: true, metadata: { color: 'canary', version: 'v2' } });
    // Beats at the interval Nacos answers (the test server says 5 s, as Nacos does).
    await waitFor(() => nacos.requestsTo('/nacos/v1/ns/instance/beat').some((r) => r.params.serviceName === `DEFAULT_GROUP@@${service}`), { timeoutMs: 8000, what: 'a beat' });
    expect(await reg.stop(2000)).toBe(true);
    expect(nacos.instances(service)).toEqual([]);
  });

  it('takes the instance back when Nacos lost it, and after Nacos was down', async () => {
    const { reg, service } = await setUp('b');
    await waitFor(() => nacos.instances(service).length === 1, { what: 'registered' });
    nacos.deregisterInstance(service, '10.9.8.7', 15006); // as an expiry during an outage would
    await waitFor(() => nacos.instances(service).length === 1, { what: 're-registered by the next beat' });
    await nacos.stop();
    await waitFor(() => reg.status().state === 'pending', { what: 'pending while Nacos is down' });
    expect(reg.status().error).toMatch(/nacos/);
    nacos.deregisterInstance(service, '10.9.8.7', 15006);
    await nacos.start();
    await waitFor(() => reg.status().state === 'registered' && nacos.instances(service).length === 1, { what: 'registered again' });
  });

  it('removes the instance when the agent goes away without a word, keeps it when the daemon stops', async () => {
    const { reg, server, service } = await setUp('c');
    await waitFor(() => nacos.instances(service).length === 1, { what: 'registered' });
    await server.stop();
    expect(nacos.instances(service)).toHaveLength(1);
    await waitFor(() => reg.status().state === 'connecting', { what: 'the agent noticed the daemon left' });
  });
});
