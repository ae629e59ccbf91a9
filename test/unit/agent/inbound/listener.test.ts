/**
 * The inbound listener with real sockets: forwarding to the app, dyeing at entry services,
 * colour/baggage/trace on the request to the app, and errors when the app is down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, echo, raw, send, startTestAgent, startUpstream, type TestAgent } from '../../../support/agent-harness.ts';
import { lane, service } from '../../../support/snapshot-builder.ts';

type Upstream = Awaited<ReturnType<typeof startUpstream>>;

let app: Upstream;
let entry: TestAgent;
let inner: TestAgent;

const seen = (a: Answer) => (JSON.parse(a.body) as { headers: Record<string, string>; url: string }).headers;
const DOCS = [
  lane('canary', {
    priority: 10,
    dye: { entry: ['gateway'], match: [{ headers: { 'x-user-group': { exact: 'beta' } } }, { query: { lane: { exact: 'canary' } } }] },
  }),
  lane('blue', { priority: 5, dye: { entry: ['gateway'], match: [{ cookies: { tester: { present: true } } }] } }),
  service('gateway', { timeoutMs: 400 }),
];

beforeAll(async () => {
  app = await startUpstream((req, res) => {
    if (req.url === '/hang') return;
    echo('app')(req, res);
  });
  app.server.on('upgrade', (req, socket) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nx-seen-color: ${req.headers['x-traffic-color']}\r\nx-seen-trace: ${req.headers.traceparent}\r\n\r\n`);
    socket.on('data', (d: Buffer) => socket.write(d));
    socket.on('end', () => socket.end());
  });
  entry = await startTestAgent(DOCS, { service: 'gateway', appPort: app.port });
  inner = await startTestAgent(DOCS, { service: 'orders', appPort: app.port });
});

afterAll(async () => {
  await entry?.stop();
  await inner?.stop();
  await app?.close();
});

describe('inbound listener', () => {
  it('forwards to the app with the path, the Host and a continued trace', async () => {
    const a = await send(entry.address('inbound'), { path: '/a/b?c=d', headers: { host: 'gateway', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00' } });
    expect(a.status).toBe(200);
    expect(a.headers['x-upstream']).toBe('app');
    expect(JSON.parse(a.body).url).toBe('/a/b?c=d');
    const h = seen(a);
    expect(h.host).toBe('gateway');
    expect(h.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/);
    expect(h['x-traffic-color']).toBeUndefined();
    expect(h['x-dyeline-hops']).toBe('1');
  });

  it('dyes uncoloured requests at entry services by the lanes\' rules, by priority', async () => {
    const beta = seen(await send(entry.address('inbound'), { headers: { host: 'gateway', 'x-user-group': 'beta', cookie: 'tester=1' } }));
    expect(beta['x-traffic-color']).toBe('canary');
    expect(beta.baggage).toBe('traffic_color=canary');
    expect(seen(await send(entry.address('inbound'), { path: '/?lane=canary', headers: { host: 'gateway' } }))['x-traffic-color']).toBe('canary');
    expect(seen(await send(entry.address('inbound'), { headers: { host: 'gateway', cookie: 'tester=yes' } }))['x-traffic-color']).toBe('blue');
    expect(seen(await send(entry.address('inbound'), { headers: { host: 'gateway', 'x-user-group': 'alpha' } }))['x-traffic-color']).toBeUndefined();
  });

  it('never re-dyes a coloured request, and dyes nothing at services that are not entries', async () => {
    const coloured = seen(await send(entry.address('inbound'), { headers: { host: 'gateway', 'x-user-group': 'beta', baggage: 'u=1,traffic_color=green' } }));
    expect(coloured['x-traffic-color']).toBe('green');
    expect(coloured.baggage).toBe('u=1,traffic_color=green');
    expect(seen(await send(inner.address('inbound'), { headers: { host: 'orders', 'x-user-group': 'beta' } }))['x-traffic-color']).toBeUndefined();
  });

  it('drops an invalid colour before the app sees it (and dyes the request as uncoloured)', async () => {
    const h = seen(await send(entry.address('inbound'), { headers: { host: 'gateway', 'x-traffic-color': 'Bad!', 'x-user-group': 'beta' } }));
    expect(h['x-traffic-color']).toBe('canary');
    const plain = seen(await send(inner.address('inbound'), { headers: { host: 'orders', 'x-traffic-color': 'Bad!' } }));
    expect(plain['x-traffic-color']).toBeUndefined();
  });

  it('tunnels WebSocket upgrades to the app, dyed and traced', async () => {
    const text = await raw(entry.address('inbound'), 'GET /ws HTTP/1.1\r\nhost: gateway\r\nconnection: upgrade\r\nupgrade: websocket\r\nx-user-group: beta\r\n\r\n', (t) => t.includes('\r\n\r\n'));
    expect(text).toMatch(/^HTTP\/1.1 101/);
    expect(text).toContain('x-seen-color: canary');
    expect(text).toMatch(/x-seen-trace: 00-[0-9a-f]{32}-[0-9a-f]{16}-01/);
  });

  it('answers 504 after the service timeout and 502 when the app port is closed', async () => {
    const t = await send(entry.address('inbound'), { path: '/hang', headers: { host: 'gateway' } });
    expect(t.status).toBe(504);
    expect(t.headers['x-dyeline-error']).toBe('timeout');
    const dead = await startUpstream(() => {});
    await dead.close();
    const orphan = await startTestAgent(DOCS, { service: 'lonely', appPort: dead.port });
    try {
      const a = await send(orphan.address('inbound'), { headers: { host: 'lonely' } });
      expect(a.status).toBe(502);
      expect(a.headers['x-dyeline-error']).toBe('connect-failure');
      const ready = await send(orphan.address('status'), { path: '/readyz' });
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body).reason).toContain('does not accept connections');
    } finally {
      await orphan.stop();
    }
  });
});
