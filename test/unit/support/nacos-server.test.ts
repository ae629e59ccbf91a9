/**
 * The Nacos test server's protocol: config md5 semantics, long-poll timing (Nacos's
 * max(10000, timeout − 500) hold), naming list/register semantics, auth, and the unmodified
 * `nacos` npm client working against it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NacosTestServer, javaUrlEncode, nacosMd5 } from '../../support/nacos-server.ts';
import { waitFor } from '../../support/wait.ts';

const require = createRequire(import.meta.url);
// The client as shipped: nacos-config's DataClient and nacos-naming's NacosNamingClient.
const nacos = require('nacos') as {
  DataClient: new (opts: Record<string, unknown>) => {
    getConfig(dataId: string, group: string): Promise<string | null>;
    subscribe(info: { dataId: string; group: string }, listener: (content: string | null) => void): void;
    on(event: 'error', fn: (err: Error) => void): void;
    close(): void;
  };
  NacosNamingClient: new (opts: Record<string, unknown>) => {
    ready(): Promise<void>;
    registerInstance(service: string, inst: Record<string, unknown>, group?: string): Promise<void>;
    deregisterInstance(service: string, inst: Record<string, unknown>, group?: string): Promise<void>;
    getAllInstances(service: string, group?: string, clusters?: string, subscribe?: boolean): Promise<{ ip: string; port: number; metadata: Record<string, string> }[]>;
    subscribe(service: string, listener: (hosts: { ip: string }[]) => void): void;
    close(): Promise<void>;
  };
};
const quietLogger = { info() {}, warn() {}, error() {}, debug() {} };

const WORD = '\x02';
const LINE = '\x01';

async function form(address: string, path: string, params: Record<string, string>, opts: { method?: string; headers?: Record<string, string> } = {}) {
  const res = await fetch(`http://${address}${path}`, {
    method: opts.method ?? 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf8', ...opts.headers },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

async function get(address: string, path: string, params: Record<string, string>) {
  const res = await fetch(`http://${address}${path}?${new URLSearchParams(params).toString()}`);
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** A listener call as the v1 client makes it. */
function listen(address: string, probe: string, timeoutMs: number | undefined, extra: Record<string, string> = {}) {
  const headers: Record<string, string> = { ...extra };
  if (timeoutMs !== undefined) headers['Long-Pulling-Timeout'] = String(timeoutMs);
  return form(address, '/nacos/v1/cs/configs/listener', { 'Listening-Configs': probe }, { headers });
}

/** The client's decoding of a listener answer: decodeURIComponent, split ^1 then ^2. */
function changedKeys(body: string): string[][] {
  return decodeURIComponent(body.trim())
    .split(LINE)
    .filter(Boolean)
    .map((l) => l.split(WORD));
}

describe('Nacos test server: config', () => {
  const server = new NacosTestServer();
  beforeAll(async () => {
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('GET answers the content with Content-MD5 = hex md5 of the UTF-8 content, 404 when absent, 400 without group', async () => {
    const content = 'kind: Lane\nname: ünïcode\n';
    server.publishConfig('rules.yaml', 'DYELINE', content);
    const ok = await get(server.address, '/nacos/v1/cs/configs', { dataId: 'rules.yaml', group: 'DYELINE', tenant: '' });
    expect(ok.status).toBe(200);
    expect(ok.text).toBe(content);
    expect(ok.headers.get('content-md5')).toBe(nacosMd5(content));
    expect(nacosMd5(content)).toMatch(/^[0-9a-f]{32}$/);
    const absent = await get(server.address, '/nacos/v1/cs/configs', { dataId: 'nope.yaml', group: 'DYELINE' });
    expect(absent.status).toBe(404);
    const bad = await get(server.address, '/nacos/v1/cs/configs', { dataId: 'rules.yaml' });
    expect(bad.status).toBe(400);
  });

  it('POST publishes and DELETE removes; blank content is refused', async () => {
    const pub = await form(server.address, '/nacos/v1/cs/configs', { dataId: 'p.yaml', group: 'G', content: 'a: 1' });
    expect(pub).toMatchObject({ status: 200, text: 'true' });
    expect(server.getConfig('p.yaml', 'G')).toBe('a: 1');
    const blank = await form(server.address, '/nacos/v1/cs/configs', { dataId: 'p.yaml', group: 'G', content: '  ' });
    expect(blank.status).toBe(400);
    const del = await fetch(`http://${server.address}/nacos/v1/cs/configs?dataId=p.yaml&group=G`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(server.getConfig('p.yaml', 'G')).toBeUndefined();
  });

  it('a listener with a stale md5 is answered at once with the URL-encoded changed key', async () => {
    server.publishConfig('a.yaml', 'G', 'v1');
    const t0 = Date.now();
    const res = await listen(server.address, `a.yaml${WORD}G${WORD}stale${LINE}`, 30_000);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(res.status).toBe(200);
    expect(res.text).toBe(`${javaUrlEncode(`a.yaml${WORD}G${LINE}`)}\n`);
    expect(res.text.startsWith('a.yaml%02G%01')).toBe(true);
    expect(changedKeys(res.text)).toEqual([['a.yaml', 'G']]);
  });

  it("an absent config's md5 is the empty string: '' is up to date and held, anything else changed", async () => {
    const changed = await listen(server.address, `absent.yaml${WORD}G${WORD}${nacosMd5('old')}${LINE}`, 30_000);
    expect(changedKeys(changed.text)).toEqual([['absent.yaml', 'G']]);

    const held = listen(server.address, `absent.yaml${WORD}G${WORD}${LINE}`, 30_000);
    await waitFor(() => server.heldPolls === 1, { what: 'held long poll' });
    server.publishConfig('absent.yaml', 'G', 'now here');
    const res = await held;
    expect(changedKeys(res.text)).toEqual([['absent.yaml', 'G']]);
    expect(server.heldPolls).toBe(0);
  });

  it('the current md5 is held; a publish answers with that key (and its tenant); a removal too', async () => {
    server.publishConfig('t.yaml', 'G', 'one', 'ns-1');
    const probe = `t.yaml${WORD}G${WORD}${nacosMd5('one')}${WORD}ns-1${LINE}other.yaml${WORD}G${WORD}${LINE}`;
    const held = listen(server.address, probe, 30_000);
    await waitFor(() => server.heldPolls === 1, { what: 'held long poll' });
    server.publishConfig('t.yaml', 'G', 'two', 'ns-1');
    expect(changedKeys((await held).text)).toEqual([['t.yaml', 'G', 'ns-1']]);

    const held2 = listen(server.address, `t.yaml${WORD}G${WORD}${nacosMd5('two')}${WORD}ns-1${LINE}`, 30_000);
    await waitFor(() => server.heldPolls === 1, { what: 'held long poll' });
    server.removeConfig('t.yaml', 'G', 'ns-1');
    expect(changedKeys((await held2).text)).toEqual([['t.yaml', 'G', 'ns-1']]);
  });

  it('no-hangup and short polling answer at once and empty when nothing changed; a bad probe is 400', async () => {
    server.publishConfig('n.yaml', 'G', 'x');
    const probe = `n.yaml${WORD}G${WORD}${nacosMd5('x')}${LINE}`;
    const noHang = await listen(server.address, probe, 30_000, { 'Long-Pulling-Timeout-No-Hangup': 'true' });
    expect(noHang).toMatchObject({ status: 200, text: '' });
    const short = await listen(server.address, probe, undefined);
    expect(short).toMatchObject({ status: 200, text: '' });
    const bad = await listen(server.address, `a${WORD}b${WORD}c${WORD}d${WORD}e${LINE}`, 30_000);
    expect(bad.status).toBe(400);
    const missing = await form(server.address, '/nacos/v1/cs/configs/listener', {});
    expect(missing.status).toBe(400);
  });
});

describe('Nacos test server: long-poll timing', () => {
  const servers: NacosTestServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });

  it('holds for the client timeout minus the 500 ms margin, then answers empty', async () => {
    const server = await new NacosTestServer({ minLongPollMs: 100 }).start();
    servers.push(server);
    server.publishConfig('h.yaml', 'G', 'x');
    const t0 = Date.now();
    const res = await listen(server.address, `h.yaml${WORD}G${WORD}${nacosMd5('x')}${LINE}`, 1500);
    const elapsed = Date.now() - t0;
    expect(res).toMatchObject({ status: 200, text: '' });
    // Held 1500 − 500 ms: answered before the client's own 1500 ms timeout would fire.
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(1500);
  });

  it("never holds for less than Nacos's 10 s minimum, even when the client asks for less", async () => {
    const server = await new NacosTestServer().start();
    servers.push(server);
    server.publishConfig('m.yaml', 'G', 'x');
    const t0 = Date.now();
    const pending = listen(server.address, `m.yaml${WORD}G${WORD}${nacosMd5('x')}${LINE}`, 1000);
    let settled = false;
    void pending.then(() => (settled = true));
    await waitFor(() => server.heldPolls === 1, { what: 'held long poll' });
    // The client asked for 1000 ms: a server without the minimum would have answered by ~500 ms.
    await new Promise((r) => setTimeout(r, 1500));
    expect(settled).toBe(false);
    server.publishConfig('m.yaml', 'G', 'y');
    expect(changedKeys((await pending).text)).toEqual([['m.yaml', 'G']]);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe('Nacos test server: naming', () => {
  const server = new NacosTestServer({ cacheMillis: 700 });
  beforeAll(async () => {
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  const list = async (params: Record<string, string>) =>
    JSON.parse((await get(server.address, '/nacos/v1/ns/instance/list', params)).text) as {
      name: string;
      cacheMillis: number;
      hosts: { ip: string; port: number; weight: number; healthy: boolean; clusterName: string; instanceId: string; metadata: Record<string, string> }[];
    };

  it('register via the API; list by name with groupName or GROUP@@name, healthyOnly, clusters; disabled left out', async () => {
    const reg = (p: Record<string, string>) => form(server.address, '/nacos/v1/ns/instance', p);
    expect((await reg({ serviceName: 'orders', ip: '10.0.0.1', port: '8080', metadata: '{"color":"canary"}' })).text).toBe('ok');
    await reg({ serviceName: 'orders', ip: '10.0.0.2', port: '8080', healthy: 'false', weight: '2.5' });
    await reg({ serviceName: 'orders', ip: '10.0.0.3', port: '8080', clusterName: 'EU', metadata: 'zone=eu,tier=2' });
    await reg({ serviceName: 'orders', ip: '10.0.0.4', port: '8080', enable: 'false' });
    await reg({ serviceName: 'orders', groupName: 'OTHER', ip: '10.9.9.9', port: '1' });

    const all = await list({ serviceName: 'orders' });
    expect(all.name).toBe('DEFAULT_GROUP@@orders');
    expect(all.cacheMillis).toBe(700);
    expect(all.hosts.map((h) => h.ip).sort()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    expect(all.hosts.find((h) => h.ip === '10.0.0.1')).toMatchObject({
      instanceId: '10.0.0.1#8080#DEFAULT#DEFAULT_GROUP@@orders',
      weight: 1,
      healthy: true,
      metadata: { color: 'canary' },
    });
    expect(all.hosts.find((h) => h.ip === '10.0.0.2')).toMatchObject({ weight: 2.5, healthy: false });
    expect(all.hosts.find((h) => h.ip === '10.0.0.3')?.metadata).toEqual({ zone: 'eu', tier: '2' });

    expect((await list({ serviceName: 'DEFAULT_GROUP@@orders' })).hosts).toHaveLength(3);
    expect((await list({ serviceName: 'orders', healthyOnly: 'true' })).hosts.map((h) => h.ip).sort()).toEqual(['10.0.0.1', '10.0.0.3']);
    expect((await list({ serviceName: 'orders', clusters: 'EU' })).hosts.map((h) => h.ip)).toEqual(['10.0.0.3']);
    expect((await list({ serviceName: 'orders', groupName: 'OTHER' })).hosts.map((h) => h.ip)).toEqual(['10.9.9.9']);
    expect((await list({ serviceName: 'OTHER@@orders' })).hosts.map((h) => h.ip)).toEqual(['10.9.9.9']);
    expect((await list({ serviceName: 'orders', namespaceId: 'elsewhere' })).hosts).toEqual([]);
    expect((await list({ serviceName: 'never-registered' })).hosts).toEqual([]);

    const del = await fetch(`http://${server.address}/nacos/v1/ns/instance?serviceName=orders&ip=10.0.0.2&port=8080`, { method: 'DELETE' });
    expect(await del.text()).toBe('ok');
    expect((await list({ serviceName: 'orders' })).hosts.map((h) => h.ip).sort()).toEqual(['10.0.0.1', '10.0.0.3']);

    server.setHealthy('orders', '10.0.0.1', 8080, false);
    expect((await list({ serviceName: 'orders', healthyOnly: 'true' })).hosts.map((h) => h.ip)).toEqual(['10.0.0.3']);
    const badWeight = await reg({ serviceName: 'orders', ip: '10.0.0.5', port: '1', weight: '10001' });
    expect(badWeight.status).toBe(400);
  });

  it('service/list pages through one group; pageNo and pageSize are required', async () => {
    for (const name of ['svc-a', 'svc-b', 'svc-c']) server.registerInstance(name, { ip: '10.1.0.1', port: 80 }, { groupName: 'PAGED' });
    const page = async (pageNo: number) =>
      JSON.parse((await get(server.address, '/nacos/v1/ns/service/list', { pageNo: String(pageNo), pageSize: '2', groupName: 'PAGED' })).text) as {
        count: number;
        doms: string[];
      };
    expect(await page(1)).toEqual({ count: 3, doms: ['svc-a', 'svc-b'] });
    expect(await page(2)).toEqual({ count: 3, doms: ['svc-c'] });
    expect((await get(server.address, '/nacos/v1/ns/service/list', { groupName: 'PAGED' })).status).toBe(400);
  });
});

describe('Nacos test server: the nacos npm client, auth, down and up', () => {
  const server = new NacosTestServer({ username: 'dyeline-user', password: 's3cret-pw', cacheMillis: 300 });
  const closers: (() => unknown)[] = [];
  // The DataClient keeps a disk cache of what it read; keep it in a temp dir.
  const cacheDir = mkdtempSync(join(tmpdir(), 'dyeline-nacos-client-'));
  beforeAll(async () => {
    await server.start();
  });
  afterAll(async () => {
    for (const c of closers.splice(0)) await c();
    await server.stop();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('login returns a token that other calls accept; no or bad credentials are 403', async () => {
    const bad = await form(server.address, '/nacos/v1/auth/login', { username: 'dyeline-user', password: 'wrong' });
    expect(bad.status).toBe(403);
    const ok = await form(server.address, '/nacos/v1/auth/login', { username: 'dyeline-user', password: 's3cret-pw' });
    const body = JSON.parse(ok.text) as { accessToken: string; tokenTtl: number };
    expect(body.tokenTtl).toBe(18_000);
    server.publishConfig('auth.yaml', 'G', 'x');
    expect((await get(server.address, '/nacos/v1/cs/configs', { dataId: 'auth.yaml', group: 'G' })).status).toBe(403);
    expect((await get(server.address, '/nacos/v1/cs/configs', { dataId: 'auth.yaml', group: 'G', accessToken: 'forged' })).status).toBe(403);
    expect((await get(server.address, '/nacos/v1/cs/configs', { dataId: 'auth.yaml', group: 'G', accessToken: body.accessToken })).text).toBe('x');
    const bearer = await fetch(`http://${server.address}/nacos/v1/ns/instance/list?serviceName=x`, { headers: { authorization: `Bearer ${body.accessToken}` } });
    expect(bearer.status).toBe(200);
  });

  it('the DataClient reads and long-polls unchanged, with username/password', async () => {
    server.publishConfig('client.yaml', 'DYELINE', 'first');
    const client = new nacos.DataClient({ serverAddr: server.address, username: 'dyeline-user', password: 's3cret-pw', cacheDir });
    client.on('error', () => {});
    closers.push(() => client.close());
    expect(await client.getConfig('client.yaml', 'DYELINE')).toBe('first');
    const seen: (string | null)[] = [];
    client.subscribe({ dataId: 'client.yaml', group: 'DYELINE' }, (c) => seen.push(c));
    await waitFor(() => seen.includes('first') && server.heldPolls === 1, { what: 'subscribed and long-polling' });
    server.publishConfig('client.yaml', 'DYELINE', 'second');
    await waitFor(() => seen.includes('second'), { what: 'change delivered', timeoutMs: 5000 });
    const listeners = server.requestsTo('/nacos/v1/cs/configs/listener');
    expect(listeners.every((r) => r.headers['long-pulling-timeout'] === '30000')).toBe(true);
    // The held poll that carried the change was answered; the client has already polled again.
    expect(listeners.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(1);
    await waitFor(() => server.heldPolls === 1, { what: 'next long poll held' });
  });

  it('the NacosNamingClient registers, lists and gets UDP pushes unchanged', async () => {
    const client = new nacos.NacosNamingClient({ logger: quietLogger, serverList: server.address, namespace: 'public', username: 'dyeline-user', password: 's3cret-pw' });
    await client.ready();
    closers.push(() => client.close());
    await client.registerInstance('payments', { ip: '10.2.0.1', port: 9000, metadata: { color: 'blue' } });
    const hosts = await client.getAllInstances('payments');
    expect(hosts.map((h) => [h.ip, h.port, h.metadata.color])).toEqual([['10.2.0.1', 9000, 'blue']]);
    const pushes: number[] = [];
    client.subscribe('payments', (h) => pushes.push(h.length));
    await waitFor(() => pushes.includes(1), { what: 'first subscription callback' });
    const acks = server.pushAcks;
    server.registerInstance('payments', { ip: '10.2.0.2', port: 9000 });
    await waitFor(() => pushes.includes(2), { what: 'pushed change' });
    await waitFor(() => server.pushAcks > acks, { what: 'push ack' });
    await client.deregisterInstance('payments', { ip: '10.2.0.1', port: 9000 });
    expect(server.instances('payments').map((i) => i.ip)).toEqual(['10.2.0.2']);
  });

  it('stop() drops held long polls and refuses connections; start() comes back on the same port with the data', async () => {
    server.publishConfig('down.yaml', 'G', 'kept');
    const port = server.port;
    const held = form(
      server.address,
      '/nacos/v1/cs/configs/listener',
      { 'Listening-Configs': `down.yaml${WORD}G${WORD}${nacosMd5('kept')}${LINE}`, username: 'dyeline-user', password: 's3cret-pw' },
      { headers: { 'Long-Pulling-Timeout': '30000' } },
    );
    await waitFor(() => server.heldPolls >= 1, { what: 'held long poll' });
    await server.stop();
    await expect(held).rejects.toThrow();
    await expect(get(server.address, '/nacos/v1/cs/configs', { dataId: 'down.yaml', group: 'G' })).rejects.toThrow();
    await server.start();
    expect(server.port).toBe(port);
    const back = await get(server.address, '/nacos/v1/cs/configs', { dataId: 'down.yaml', group: 'G', username: 'dyeline-user', password: 's3cret-pw' });
    expect(back).toMatchObject({ status: 200, text: 'kept' });
  });
});
