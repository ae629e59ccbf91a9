/**
 * The etcd source against a real etcd: initial read, live puts/deletes, etcd restarts,
 * disconnects with changes behind the source's back, compaction, several endpoints.
 */
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EtcdSource, type EtcdSourceConfig } from '../../daemon/sources/etcd.ts';
import { parseSourceUri } from '../../daemon/config.ts';
import { pino } from 'pino';
import type { Logger } from '../../shared/log.ts';
import { EtcdServer, freePort } from '../support/etcd.ts';
import { RecordingSink } from '../support/recording-sink.ts';
import { memoryLog } from '../support/memory-log.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';
import { waitFor } from '../support/wait.ts';

const LANE = `apiVersion: dyeline.io/v1
kind: Lane
metadata: { name: canary }
spec: { color: canary }
`;
const SERVICE = JSON.stringify({ apiVersion: 'dyeline.io/v1', kind: 'Service', metadata: { name: 'orders' }, spec: {} });

let etcd: EtcdServer;
const proxies: TcpProxy[] = [];
const sources: EtcdSource[] = [];
let n = 0;

beforeAll(async () => {
  etcd = await EtcdServer.start();
});
afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  if (!etcd.running) await etcd.start();
});
afterAll(async () => {
  await etcd?.cleanup();
});

/** A fresh prefix per test, so tests do not see each other's keys. */
function prefix(): string {
  return `/dyeline-test-${++n}/`;
}

async function proxy(): Promise<TcpProxy> {
  const p = await TcpProxy.start(etcd.endpoint);
  proxies.push(p);
  return p;
}

/** Starts a source on `hosts` under `p` with a quick backoff; resolves once start() returns. */
async function startSource(
  hosts: string[],
  p: string,
  opts: { env?: NodeJS.ProcessEnv; log?: Logger; pageSize?: number } = {},
): Promise<{ source: EtcdSource; sink: RecordingSink }> {
  const config = parseSourceUri(`etcd://${hosts.join(',')}?prefix=${p}`, opts.env ?? {});
  if (config.kind !== 'etcd') throw new Error('not an etcd config');
  const source = new EtcdSource(config as EtcdSourceConfig, { backoff: { initialMs: 50, maxMs: 1_000 }, log: opts.log, pageSize: opts.pageSize });
  sources.push(source);
  const sink = new RecordingSink();
  await source.start(sink);
  return { source, sink };
}

function instance(service: string, id: string, address: string, port: number, labels?: Record<string, string>) {
  return [{ apiVersion: 'dyeline.io/v1', kind: 'Instance', metadata: { name: id }, spec: { service, address, port, ...(labels ? { labels } : {}) } }];
}

describe('etcd source', () => {
  it('reads the prefix in full, then follows puts and deletes of rules and instances', async () => {
    const p = prefix();
    await etcd.put(`${p}rules/Lane/canary`, LANE);
    await etcd.put(`${p}instances/orders/orders-1`, JSON.stringify({ address: '10.0.0.5', port: 8080, labels: { color: 'canary' } }));
    await etcd.put(`${p}instances/orders/bad-json`, '{"address": "10.0.0.6", port: 80');
    await etcd.put(`${p}instances/orders/extra`, JSON.stringify({ address: '10.0.0.7', port: 80, zone: 'a' }));
    await etcd.put(`${p}instances/orders`, JSON.stringify({ address: '10.0.0.8', port: 80 }));
    await etcd.put(`${p}other/thing`, 'not ours');
    await etcd.put(`${p.slice(0, -1)}-sibling/rules/Lane/x`, LANE);
    const before = await etcd.revision();

    const { sink } = await startSource([etcd.endpoint], p);
    await sink.until((s) => s.callsOf('replaceAll').length === 1, 'initial replaceAll');
    const [first] = sink.callsOf('replaceAll');
    expect(BigInt(first!.revision!)).toBeGreaterThanOrEqual(before);
    expect(sink.connected).toBe(true);
    expect([...sink.content.keys()].sort()).toEqual(
      [`${p}instances/orders`, `${p}instances/orders/bad-json`, `${p}instances/orders/extra`, `${p}instances/orders/orders-1`, `${p}rules/Lane/canary`].sort(),
    );
    expect(sink.content.get(`${p}rules/Lane/canary`)).toMatchObject({ text: LANE });
    expect(sink.content.get(`${p}instances/orders/orders-1`)?.documents).toEqual(instance('orders', 'orders-1', '10.0.0.5', 8080, { color: 'canary' }));
    expect(sink.content.get(`${p}instances/orders/bad-json`)?.problems?.[0]?.message).toMatch(/not valid JSON/);
    expect(sink.content.get(`${p}instances/orders/extra`)?.problems).toEqual([{ path: 'zone', message: expect.stringMatching(/unknown field/) }]);
    expect(sink.content.get(`${p}instances/orders`)?.problems?.[0]?.message).toMatch(/instances\/<service>\/<id>/);
    // Each item carries its own mod revision.
    expect(Number(sink.content.get(`${p}rules/Lane/canary`)?.revision)).toBeGreaterThan(0);

    // Live changes.
    const r1 = await etcd.put(`${p}rules/Service/orders`, SERVICE);
    const r2 = await etcd.put(`${p}instances/orders/orders-1`, JSON.stringify({ address: '10.0.0.9', port: 9090, weight: 5 }));
    const r3 = await etcd.delete(`${p}rules/Lane/canary`);
    await etcd.put(`${p}other/thing`, 'still not ours');
    await sink.until((s) => !s.content.has(`${p}rules/Lane/canary`), 'delete of the lane');
    expect(sink.content.get(`${p}rules/Service/orders`)).toEqual({ key: `${p}rules/Service/orders`, text: SERVICE, revision: r1.toString() });
    expect(sink.content.get(`${p}instances/orders/orders-1`)?.documents).toEqual([
      { apiVersion: 'dyeline.io/v1', kind: 'Instance', metadata: { name: 'orders-1' }, spec: { service: 'orders', address: '10.0.0.9', port: 9090, weight: 5 } },
    ]);
    const puts = sink.callsOf('put');
    expect(puts.map((c) => c.revision)).toEqual([r1.toString(), r2.toString()]);
    expect(sink.callsOf('delete')).toMatchObject([{ key: `${p}rules/Lane/canary`, revision: r3.toString() }]);
    expect(sink.callsOf('replaceAll')).toHaveLength(1);
  });

  it('reports the loss of a stopped etcd, reconnects after its restart and resumes without a full read', async () => {
    const p = prefix();
    await etcd.put(`${p}rules/Lane/canary`, LANE);
    const { sink } = await startSource([etcd.endpoint], p);
    await sink.until((s) => s.connected === true && s.content.size === 1, 'initial sync');

    await etcd.stop();
    await sink.until((s) => s.connected === false, 'disconnected report', 5_000);
    expect(sink.error).toContain(etcd.endpoint);

    await etcd.start();
    await sink.until((s) => s.connected === true, 'reconnect', 15_000);
    const rev = await etcd.put(`${p}rules/Service/orders`, SERVICE);
    await sink.until((s) => s.content.has(`${p}rules/Service/orders`), 'put after restart');
    expect(sink.content.get(`${p}rules/Service/orders`)?.revision).toBe(rev.toString());
    expect(sink.callsOf('replaceAll')).toHaveLength(1);
  });

  it('notices a hung etcd (open connection, no answers) through gRPC keepalive, and resumes when it answers again', async () => {
    const p = prefix();
    const { sink } = await startSource([etcd.endpoint], p);
    await sink.until((s) => s.connected === true, 'connected');
    const t0 = Date.now();
    etcd.freeze();
    try {
      // keepalive ping every 6 s, 3 s to answer: noticed within ~9 s.
      await sink.until((s) => s.connected === false, 'disconnected report for a hung etcd', 14_000);
      expect(Date.now() - t0).toBeLessThan(13_000);
    } finally {
      etcd.thaw();
    }
    await sink.until((s) => s.connected === true, 'reconnect after thaw', 15_000);
    await etcd.put(`${p}rules/Lane/canary`, LANE);
    await sink.until((s) => s.content.has(`${p}rules/Lane/canary`), 'put after thaw');
    expect(sink.callsOf('replaceAll')).toHaveLength(1);
  });

  it('resumes from the last revision after a disconnect: changes made meanwhile arrive once, in order', async () => {
    const p = prefix();
    const px = await proxy();
    await etcd.put(`${p}rules/Lane/canary`, LANE);
    await etcd.put(`${p}instances/orders/a`, JSON.stringify({ address: '10.0.0.1', port: 80 }));
    const { sink } = await startSource([px.endpoint], p);
    await sink.until((s) => s.connected === true && s.content.size === 2, 'initial sync');
    const mark = sink.calls.length;

    px.cut();
    await sink.until((s) => s.connected === false, 'disconnected report', 5_000);
    const r1 = await etcd.put(`${p}rules/Service/orders`, SERVICE);
    const r2 = await etcd.delete(`${p}instances/orders/a`);
    const r3 = await etcd.put(`${p}instances/orders/b`, JSON.stringify({ address: '10.0.0.2', port: 80 }));
    px.restore();

    await sink.until((s) => s.content.has(`${p}instances/orders/b`), 'changes made while disconnected', 15_000);
    expect(sink.connected).toBe(true);
    expect(sink.callsOf('replaceAll', mark)).toHaveLength(0);
    const changes = sink.calls.slice(mark).filter((c) => c.op === 'put' || c.op === 'delete');
    expect(changes.map((c) => [c.op, c.revision])).toEqual([
      ['put', r1.toString()],
      ['delete', r2.toString()],
      ['put', r3.toString()],
    ]);
    expect(Object.keys(sink.snapshot()).sort()).toEqual([`${p}instances/orders/b`, `${p}rules/Lane/canary`, `${p}rules/Service/orders`]);
  });

  it('never moves its resume revision past the last event delivered, whatever progress notifications say (etcd issue 15220)', async () => {
    // An etcd that sends a progress notification every 100 ms to watches that ask. Before etcd
    // 3.4.26 / 3.5.8 a notification may carry a revision ahead of events a catching-up watch has
    // not delivered yet; resuming from it would skip them. The resume point follows events only.
    const noisy = await EtcdServer.start({ extraArgs: ['--experimental-watch-progress-notify-interval', '100ms'] });
    try {
      const px = await TcpProxy.start(noisy.endpoint);
      proxies.push(px);
      const p = prefix();
      const last = await noisy.put(`${p}rules/Lane/canary`, LANE);
      const mem = memoryLog();
      const { sink } = await startSource([px.endpoint], p, { log: mem.log });
      await sink.until((x) => x.connected === true && x.content.size === 1, 'initial sync');
      // The store moves on outside the prefix; notifications report its revision.
      let storeRevision = last;
      for (let i = 0; i < 20; i++) storeRevision = await noisy.put(`/elsewhere/${i}`, 'x');
      await new Promise((r) => setTimeout(r, 600));
      const mark = mem.lines.length;
      px.cut();
      await sink.until((x) => x.connected === false, 'disconnected', 5_000);
      px.restore();
      const line = await waitFor(() => mem.lines.slice(mark).find((l) => l.msg === 'etcd connected'), { timeoutMs: 15_000, what: 'reconnected' });
      expect(storeRevision).toBeGreaterThan(last);
      expect(line.revision).toBe(last.toString());
      // Nothing was lost or read twice: the resumed watch goes on from there.
      const r = await noisy.put(`${p}rules/Service/orders`, SERVICE);
      await sink.until((x) => x.content.has(`${p}rules/Service/orders`), 'a put after the resume');
      expect(sink.calls.filter((c) => c.op === 'put').map((c) => c.revision)).toEqual([r.toString()]);
    } finally {
      await noisy.cleanup();
    }
  }, 60_000);

  it('re-reads the prefix in full when history was compacted past its revision while disconnected', async () => {
    const p = prefix();
    const px = await proxy();
    await etcd.put(`${p}rules/Lane/canary`, LANE);
    await etcd.put(`${p}instances/orders/a`, JSON.stringify({ address: '10.0.0.1', port: 80 }));
    const { sink } = await startSource([px.endpoint], p);
    await sink.until((s) => s.connected === true && s.content.size === 2, 'initial sync');
    const mark = sink.calls.length;

    px.cut();
    await sink.until((s) => s.connected === false, 'disconnected report', 5_000);
    await etcd.put(`${p}rules/Service/orders`, SERVICE);
    await etcd.delete(`${p}instances/orders/a`);
    await etcd.put(`${p}instances/orders/b`, JSON.stringify({ address: '10.0.0.2', port: 80 }));
    await etcd.put(`${p}instances/orders/b`, JSON.stringify({ address: '10.0.0.3', port: 81 }));
    const compactedAt = await etcd.compact();
    px.restore();

    await sink.until((s) => s.callsOf('replaceAll', mark).length === 1, 'full re-read after compaction', 15_000);
    const [resync] = sink.callsOf('replaceAll', mark);
    expect(BigInt(resync!.revision!)).toBeGreaterThanOrEqual(compactedAt);
    expect(sink.content.has(`${p}instances/orders/a`)).toBe(false);
    expect(sink.content.get(`${p}instances/orders/b`)?.documents).toEqual(instance('orders', 'b', '10.0.0.3', 81));
    expect(Object.keys(sink.snapshot()).sort()).toEqual(Object.keys(await etcd.getPrefix(p)).sort());

    // And it keeps watching from the re-read revision.
    await etcd.put(`${p}rules/Lane/beta`, LANE.replaceAll('canary', 'beta'));
    await sink.until((s) => s.content.has(`${p}rules/Lane/beta`), 'put after the re-read');
    expect(sink.callsOf('replaceAll', mark)).toHaveLength(1);
  });

  it('uses the live endpoint when another is dead, and fails over between endpoints without a full read', async () => {
    const p = prefix();
    await etcd.put(`${p}rules/Lane/canary`, LANE);
    const dead = `127.0.0.1:${await freePort()}`;
    const { sink: s1 } = await startSource([dead, etcd.endpoint], p);
    await s1.until((s) => s.connected === true && s.content.size === 1, 'sync through the live endpoint', 15_000);

    const a = await proxy();
    const b = await proxy();
    const { sink: s2 } = await startSource([a.endpoint, b.endpoint], p);
    await s2.until((s) => s.connected === true && s.content.size === 1, 'sync through endpoint a');
    const mark = s2.calls.length;
    a.cut();
    await etcd.put(`${p}rules/Service/orders`, SERVICE);
    await s2.until((s) => s.content.has(`${p}rules/Service/orders`), 'put through endpoint b', 15_000);
    expect(s2.callsOf('replaceAll', mark)).toHaveLength(0);
    await s1.until((s) => s.content.has(`${p}rules/Service/orders`), 'put on the first source');
  });

  it('starts while etcd is unreachable without throwing, and syncs once it is reachable', async () => {
    const p = prefix();
    const px = await proxy();
    px.cut();
    await etcd.put(`${p}rules/Lane/canary`, LANE);
    const { sink } = await startSource([px.endpoint], p);
    await sink.until((s) => s.connected === false, 'disconnected report', 5_000);
    expect(sink.callsOf('replaceAll')).toHaveLength(0);
    px.restore();
    await sink.until((s) => s.callsOf('replaceAll').length === 1, 'first sync', 15_000);
    expect(sink.content.has(`${p}rules/Lane/canary`)).toBe(true);
    expect(sink.connected).toBe(true);
  });

  it('reads a prefix larger than one page completely, at one revision', async () => {
    const p = prefix();
    for (let i = 0; i < 25; i++) await etcd.put(`${p}instances/svc/i-${String(i).padStart(2, '0')}`, JSON.stringify({ address: '10.0.0.1', port: 1000 + i }));
    await etcd.put(`${p}other/x`, 'ignored');
    await etcd.put(`${p}rules/Lane/canary`, LANE);
    const { sink } = await startSource([etcd.endpoint], p, { pageSize: 4 });
    await sink.until((s) => s.callsOf('replaceAll').length === 1, 'paged full read');
    const [read] = sink.callsOf('replaceAll');
    expect(read!.items).toHaveLength(26);
    expect(new Set(read!.items.map((i) => i.key)).size).toBe(26);
    expect(read!.revision).toBe((await etcd.revision()).toString());
  });

  it('stops promptly and reports nothing after stop()', async () => {
    const p = prefix();
    const { source, sink } = await startSource([etcd.endpoint], p);
    await sink.until((s) => s.connected === true, 'connected');
    const t0 = Date.now();
    await source.stop();
    expect(Date.now() - t0).toBeLessThan(2_000);
    const count = sink.calls.length;
    await etcd.put(`${p}rules/Lane/canary`, LANE);
    // A second source sees the put, so it was delivered by etcd; the stopped one stays silent.
    const { sink: other } = await startSource([etcd.endpoint], p);
    await other.until((s) => s.content.has(`${p}rules/Lane/canary`), 'put seen by a live source');
    expect(sink.calls.length).toBe(count);
  });
});

describe('etcd source with authentication', () => {
  let secured: EtcdServer;
  let writer: Etcd3;
  const PASSWORD = 'S3cret-pw-for-test';

  beforeAll(async () => {
    // Tokens expire after 2 s, so a reconnect presents an expired one.
    secured = await EtcdServer.start({ extraArgs: ['--auth-token-ttl', '2'] });
    const admin = secured.etcd();
    await (await admin.user('root').create('root-pw')).addRole('root');
    await (await admin.user('dyeline').create(PASSWORD)).addRole('root');
    await admin.auth.authEnable({});
    writer = new Etcd3({ hosts: secured.endpoint, auth: { username: 'root', password: 'root-pw' } });
  });
  afterAll(async () => {
    writer?.close();
    await secured?.cleanup();
  });

  it('authenticates with DYELINE_ETCD_USERNAME/PASSWORD, survives token expiry across a reconnect, and never logs the password', async () => {
    const lines: string[] = [];
    // Plain pino at debug, without the production redaction: the source itself must not log secrets.
    const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    const p = prefix();
    await writer.put(`${p}rules/Lane/canary`).value(LANE);
    const px = await TcpProxy.start(secured.endpoint);
    proxies.push(px);
    const env = { DYELINE_ETCD_USERNAME: 'dyeline', DYELINE_ETCD_PASSWORD: PASSWORD };
    const { source, sink } = await startSource([px.endpoint], p, { env, log });
    expect(source.uri).not.toContain(PASSWORD);
    await sink.until((s) => s.connected === true && s.content.size === 1, 'authenticated sync');

    px.cut();
    await sink.until((s) => s.connected === false, 'disconnected report', 5_000);
    // Let the token expire while cut off, and change something meanwhile.
    await new Promise((r) => setTimeout(r, 3_000));
    await writer.put(`${p}rules/Service/orders`).value(SERVICE);
    px.restore();
    await sink.until((s) => s.content.has(`${p}rules/Service/orders`), 'put after the token expired', 15_000);
    expect(sink.callsOf('replaceAll')).toHaveLength(1);
    expect(lines.some((l) => l.includes('etcd disconnected'))).toBe(true);
    expect(lines.join('')).not.toContain(PASSWORD);
  });

  it('reports a wrong password as disconnected with the reason, without the password', async () => {
    const lines: string[] = [];
    // Plain pino at debug, without the production redaction: the source itself must not log secrets.
    const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    const env = { DYELINE_ETCD_USERNAME: 'dyeline', DYELINE_ETCD_PASSWORD: 'Wrong-pw-for-test' };
    const { sink } = await startSource([secured.endpoint], prefix(), { env, log });
    await sink.until((s) => s.connected === false, 'disconnected report', 10_000);
    expect(sink.error).toMatch(/authentication failed/);
    expect(sink.error).not.toContain('Wrong-pw-for-test');
    expect(sink.callsOf('replaceAll')).toHaveLength(0);
    await sink.until(() => lines.length > 0, 'a log line');
    expect(lines.join('')).not.toContain('Wrong-pw-for-test');
  });
});
