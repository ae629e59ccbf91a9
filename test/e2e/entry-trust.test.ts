/**
 * Entry trust and header hygiene (docs/reference.md#entry-trust-and-header-hygiene), with real
 * agent processes and an echo upstream that answers with what it received:
 *   - `--accept-color mesh`: a colour on the inbound listener, in any carrier, is honoured only
 *     from a peer whose address is an instance address in the snapshot; from anyone else it is
 *     removed before dye rules run (which still apply) and counted in dyeline_untrusted_color_total;
 *     `--accept-color any` (the default) honours it from anyone;
 *   - the outbound listener never relays `x-dyeline-*` headers an upstream set;
 *   - an invalid colour is removed from every carrier (header, baggage, cookie, query) before
 *     the request is forwarded, on both listeners.
 * Mesh peers are 127.0.0.2 (an instance address in the snapshot); outsiders 127.0.0.1 (none).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentProcess } from '../support/apps.ts';
import type { DyelineProcess } from '../support/process.ts';
import { find, scrape } from '../support/prometheus.ts';
import { instance, lane, service, snapshotText } from '../support/snapshot-builder.ts';

const MESH_PEER = '127.0.0.2';
const OUTSIDER = '127.0.0.1';

let dir: string;
let echo: Server;
let echoPort: number;
let meshAgent: DyelineProcess;
let anyAgent: DyelineProcess;

interface Seen {
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-entry-trust-'));
  echo = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ url: req.url ?? '', headers: req.headers } satisfies Seen);
      // An upstream that tries to speak for the agent.
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-dyeline-fallback': 'circuit-open',
        'x-dyeline-served-color': 'gold',
        'x-dyeline-error': 'none',
        'x-dyeline-anything': 'forged',
        'x-app': 'kept',
      });
      res.end(body);
    });
  });
  // On every loopback address: the app of the agents (127.0.0.1) and the orders instance (127.0.0.3).
  await new Promise<void>((r) => echo.listen(0, '0.0.0.0', r));
  echoPort = (echo.address() as { port: number }).port;
  const snapshot = join(dir, 'snapshot.json');
  await writeFile(
    snapshot,
    snapshotText([
      lane('canary', { dye: { entry: ['web'], match: [{ headers: { 'x-beta': { exact: '1' } } }] } }),
      service('orders'),
      // The mesh: an instance at the peer address (its port does not matter for trust).
      instance('peer-1', 'payments', MESH_PEER, { port: 15006 }),
      instance('orders-1', 'orders', '127.0.0.3', { port: echoPort }),
    ]),
  );
  const started = await Promise.allSettled([
    startAgentProcess({ service: 'web', appPort: echoPort, snapshot, extraArgs: ['--accept-color', 'mesh'] }),
    startAgentProcess({ service: 'web', appPort: echoPort, snapshot }),
  ]);
  // Whatever started is stopped in afterAll, even when the other failed to start.
  if (started[0].status === 'fulfilled') meshAgent = started[0].value;
  if (started[1].status === 'fulfilled') anyAgent = started[1].value;
  for (const s of started) if (s.status === 'rejected') throw s.reason;
}, 30_000);

afterAll(async () => {
  await Promise.allSettled([meshAgent?.stop(), anyAgent?.stop()]);
  echo?.close();
  await rm(dir, { recursive: true, force: true });
});

/** One request from `from` (local address) to `address`; the echo's view and the response headers. */
function send(address: string, path: string, headers: Record<string, string>, from = OUTSIDER): Promise<{ status: number; seen: Seen; headers: Record<string, unknown> }> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: address.slice(0, i), port: Number(address.slice(i + 1)), path, headers, localAddress: from, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, seen: JSON.parse(text) as Seen, headers: res.headers });
        } catch (err) {
          reject(new Error(`not JSON (${res.statusCode}): ${text.slice(0, 200)}`, { cause: err }));
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every place a colour may travel in what the upstream received. */
function carriers(seen: Seen): string {
  return JSON.stringify([seen.headers['x-traffic-color'], seen.headers.baggage, seen.headers.cookie, seen.url]);
}

const CARRIERS: [string, string, Record<string, string>][] = [
  ['header', '/', { 'x-traffic-color': 'canary' }],
  ['baggage', '/', { baggage: 'user=1,traffic_color=canary' }],
  ['cookie', '/', { cookie: 'sid=1; traffic_color=canary' }],
  ['query', '/?a=1&traffic_color=canary', {}],
];

async function untrustedCount(agent: DyelineProcess): Promise<number> {
  return find(await scrape(agent.listeners.get('status')!), 'dyeline_untrusted_color_total').reduce((a, s) => a + s.value, 0);
}

describe('entry trust: --accept-color mesh', () => {
  for (const [carrier, path, headers] of CARRIERS) {
    it(`an outsider's colour in the ${carrier} is removed from every carrier and counted; a mesh peer's is honoured`, async () => {
      const inbound = meshAgent.listeners.get('inbound')!;
      const before = await untrustedCount(meshAgent);
      const outsider = await send(inbound, path, headers, OUTSIDER);
      expect(outsider.status).toBe(200);
      expect(outsider.seen.headers['x-traffic-color']).toBeUndefined();
      expect(carriers(outsider.seen)).not.toContain('canary');
      // Other entries of the carriers are kept.
      if (carrier === 'baggage') expect(outsider.seen.headers.baggage).toBe('user=1');
      if (carrier === 'cookie') expect(outsider.seen.headers.cookie).toBe('sid=1');
      if (carrier === 'query') expect(outsider.seen.url).toBe('/?a=1');
      expect(await untrustedCount(meshAgent)).toBe(before + 1);

      const peer = await send(inbound, path, headers, MESH_PEER);
      expect(peer.seen.headers['x-traffic-color']).toBe('canary');
      expect(await untrustedCount(meshAgent)).toBe(before + 1);
    });
  }

  it('dye rules still apply to an outsider whose own colour was removed', async () => {
    const r = await send(meshAgent.listeners.get('inbound')!, '/', { 'x-traffic-color': 'blue', 'x-beta': '1' }, OUTSIDER);
    expect(r.seen.headers['x-traffic-color']).toBe('canary');
  });

  it('--accept-color any (the default) honours a colour from anyone', async () => {
    const r = await send(anyAgent.listeners.get('inbound')!, '/', { 'x-traffic-color': 'canary' }, OUTSIDER);
    expect(r.seen.headers['x-traffic-color']).toBe('canary');
    expect(await untrustedCount(anyAgent)).toBe(0);
  });
});

describe('header hygiene', () => {
  it('the outbound listener never relays x-dyeline-* headers set by an upstream; its own are the only ones', async () => {
    const r = await send(anyAgent.listeners.get('outbound')!, '/', { host: 'orders' });
    expect(r.status).toBe(200);
    expect(r.headers['x-dyeline-served-color']).toBe('stable');
    expect(r.headers['x-dyeline-fallback']).toBeUndefined();
    expect(r.headers['x-dyeline-error']).toBeUndefined();
    expect(r.headers['x-dyeline-anything']).toBeUndefined();
    expect(r.headers['x-app']).toBe('kept');
  });

  for (const listener of ['outbound', 'inbound'] as const) {
    for (const [carrier, path, headers] of [
      ['header', '/', { 'x-traffic-color': 'Not A Colour!' }],
      ['baggage', '/', { baggage: 'user=1,traffic_color=BAD%21' }],
      ['cookie', '/', { cookie: 'sid=1; traffic_color=BAD!' }],
      ['query', '/?a=1&traffic_color=BAD%21', {}],
    ] as [string, string, Record<string, string>][]) {
      it(`${listener}: an invalid colour in the ${carrier} is removed from every carrier before forwarding`, async () => {
        const r = await send(anyAgent.listeners.get(listener)!, path, { host: 'orders', ...headers });
        expect(r.status).toBe(200);
        expect(r.seen.headers['x-traffic-color']).toBeUndefined();
        expect(carriers(r.seen)).not.toMatch(/traffic_color|BAD|Not A Colour/);
      });
    }
  }
});
