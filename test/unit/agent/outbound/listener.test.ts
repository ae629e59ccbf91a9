/**
 * The outbound listener with real sockets: routing to snapshot instances, pass-through,
 * CONNECT, header hygiene, the loop guard, agent-made errors, streaming and aborts.
 */
import { once } from 'node:events';
import { request } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instance, lane, service } from '../../../support/snapshot-builder.ts';
import { type Answer, echo, raw, send, startTestAgent, startUpstream, type TestAgent } from '../../../support/agent-harness.ts';
import { waitFor } from '../../../support/wait.ts';

type Upstream = Awaited<ReturnType<typeof startUpstream>>;

let agent: TestAgent;
let out: string;
let stable: Upstream;
let canary: Upstream;
let plain: Upstream;
let slow: Upstream;
let tcpEcho: TcpServer;
let tcpEchoPort: number;
let closedPort: number;
let ws: Upstream;
/** Ends a held response of the slow upstream, by request path. */
const releaseSlow = new Map<string, () => void>();
const slowSeen: { aborted: boolean }[] = [];

const json = (a: Answer) => JSON.parse(a.body) as { name: string; method: string; url: string; headers: Record<string, string>; bytes: number };

beforeAll(async () => {
  stable = await startUpstream(echo('orders-stable'));
  canary = await startUpstream(echo('orders-canary'));
  plain = await startUpstream(echo('plain'));
  slow = await startUpstream((req, res) => {
    const seen = { aborted: false };
    slowSeen.push(seen);
    res.on('close', () => {
      if (!res.writableFinished) seen.aborted = true;
    });
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first;');
      releaseSlow.set('/stream', () => res.end('last'));
      return;
    }
    if (req.url === '/upload') {
      let bytes = 0;
      let firstAt = 0;
      req.on('data', (c: Buffer) => {
        if (bytes === 0) {
          firstAt = Date.now();
          res.writeHead(200, { 'x-first-chunk-at': String(firstAt) });
          res.flushHeaders();
        }
        bytes += c.length;
      });
      req.on('end', () => res.end(String(bytes)));
      return;
    }
    releaseSlow.set(req.url ?? '/', () => res.end('late'));
  });
  ws = await startUpstream((req, res) => res.end(`plain ${req.headers.upgrade ?? 'none'}`));
  ws.server.on('upgrade', (req, socket, head: Buffer) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nx-seen-color: ${req.headers['x-traffic-color']}\r\nx-seen-key: ${req.headers['sec-websocket-key']}\r\n\r\n`);
    if (head.length > 0) socket.write(head);
    socket.on('data', (d: Buffer) => socket.write(d));
    socket.on('end', () => socket.end());
  });
  tcpEcho = createTcpServer((s) => s.pipe(s));
  await new Promise<void>((r) => tcpEcho.listen(0, '127.0.0.1', r));
  tcpEchoPort = (tcpEcho.address() as { port: number }).port;
  const c = await startUpstream(() => {});
  closedPort = c.port;
  await c.close();

  agent = await startTestAgent([
    lane('canary'),
    lane('strict', { fallback: 'none' }),
    service('orders', { timeoutMs: 2000 }),
    instance('orders-1', 'orders', '127.0.0.1', { port: stable.port }),
    instance('orders-2', 'orders', '127.0.0.1', { port: canary.port, color: 'canary' }),
    service('slow', { timeoutMs: 300 }),
    instance('slow-1', 'slow', '127.0.0.1', { port: slow.port }),
    service('longslow', { timeoutMs: 10_000 }),
    instance('longslow-1', 'longslow', '127.0.0.1', { port: slow.port }),
    instance('dead-1', 'dead', '127.0.0.1', { port: closedPort }),
    service('chat'),
    instance('chat-1', 'chat', '127.0.0.1', { port: stable.port }),
    instance('chat-2', 'chat', '127.0.0.1', { port: ws.port, color: 'canary' }),
  ]);
  out = agent.address('outbound');
});

afterAll(async () => {
  for (const r of releaseSlow.values()) r();
  await agent?.stop();
  await Promise.all([stable, canary, plain, slow, ws].map((u) => u?.close()));
  tcpEcho?.close();
});

describe('outbound listener: routing', () => {
  it('routes origin-form and absolute-form requests by service name and colour', async () => {
    const a = await send(out, { path: '/x?y=1', headers: { host: 'orders' } });
    expect(a.status).toBe(200);
    expect(a.headers['x-upstream']).toBe('orders-stable');
    expect(a.headers['x-dyeline-served-color']).toBe('stable');
    expect(a.headers['x-dyeline-fallback']).toBeUndefined();
    expect(json(a).url).toBe('/x?y=1');
    expect(json(a).headers.host).toBe('orders');

    const b = await send(out, { path: 'http://orders.shop.svc.cluster.local:8080/z', headers: { 'x-traffic-color': 'canary' } });
    expect(b.headers['x-upstream']).toBe('orders-canary');
    expect(b.headers['x-dyeline-served-color']).toBe('canary');
    expect(json(b).url).toBe('/z');
    expect(json(b).headers).toMatchObject({ host: 'orders.shop.svc.cluster.local:8080', 'x-traffic-color': 'canary', baggage: 'traffic_color=canary', 'x-dyeline-hops': '1' });
  });

  it('falls back with x-dyeline-fallback, and answers 503 for a strict lane with no instance', async () => {
    const a = await send(out, { headers: { host: 'orders', baggage: 'k=v,traffic_color=blue' } });
    expect(a.headers['x-dyeline-served-color']).toBe('stable');
    expect(a.headers['x-dyeline-fallback']).toBe('no-instance');
    expect(json(a).headers).toMatchObject({ 'x-traffic-color': 'blue', baggage: 'k=v,traffic_color=blue' });

    const s = await send(out, { headers: { host: 'orders', cookie: 'traffic_color=strict' } });
    expect(s.status).toBe(503);
    expect(s.headers['x-dyeline-error']).toBe('no-instance');
    expect(JSON.parse(s.body)).toMatchObject({ error: 'no-instance' });
  });

  it('counts and drops invalid colours: routed as uncoloured, never forwarded', async () => {
    const before = await metric('dyeline_invalid_color_total');
    const a = await send(out, { headers: { host: 'orders', 'x-traffic-color': 'NOT VALID', baggage: 'a=1,traffic_color=NOT%20VALID' } });
    expect(a.headers['x-dyeline-served-color']).toBe('stable');
    expect(json(a).headers['x-traffic-color']).toBeUndefined();
    expect(json(a).headers.baggage).toBe('a=1');
    expect(await metric('dyeline_invalid_color_total')).toBe(before + 1);
  });

  it('passes unknown hosts through as given, with colour and trace propagation', async () => {
    const a = await send(out, { path: `http://127.0.0.1:${plain.port}/p`, headers: { 'x-traffic-color': 'canary', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } });
    expect(a.status).toBe(200);
    expect(a.headers['x-upstream']).toBe('plain');
    expect(a.headers['x-dyeline-served-color']).toBeUndefined();
    const h = json(a).headers;
    expect(h['x-traffic-color']).toBe('canary');
    expect(h.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(h.traceparent).not.toContain('b7ad6b7169203331');
    const b = await send(out, { path: '/q', headers: { host: `localhost:${plain.port}` } });
    expect(b.headers['x-upstream']).toBe('plain');
  });

  it('strips hop-by-hop headers both ways', async () => {
    const hop = await startUpstream((req, res) => {
      res.writeHead(200, { connection: 'x-secret', 'x-secret': 'hidden', 'keep-alive': 'timeout=99', 'x-kept': '1', 'content-type': 'application/json' });
      res.end(JSON.stringify(req.headers));
    });
    try {
      const a = await send(out, {
        path: `http://127.0.0.1:${hop.port}/`,
        headers: { connection: 'x-private', 'x-private': '1', 'proxy-authorization': 'Basic eA==', te: 'trailers', 'x-end-to-end': 'yes' },
      });
      const seen = JSON.parse(a.body) as Record<string, string>;
      expect(seen['x-private']).toBeUndefined();
      expect(seen['proxy-authorization']).toBeUndefined();
      expect(seen.te).toBeUndefined();
      expect(seen['x-end-to-end']).toBe('yes');
      expect(a.headers['x-secret']).toBeUndefined();
      expect(a.headers['keep-alive']).not.toBe('timeout=99');
      expect(a.headers['x-kept']).toBe('1');
    } finally {
      await hop.close();
    }
  });
});

describe('outbound listener: CONNECT', () => {
  it('serves plain HTTP inside a tunnel like origin-form requests, every request on the connection', async () => {
    const text = await raw(
      out,
      'CONNECT orders:80 HTTP/1.1\r\nhost: orders:80\r\n\r\n' +
        'GET /one HTTP/1.1\r\nhost: orders\r\nx-traffic-color: canary\r\n\r\n' +
        'GET /two HTTP/1.1\r\nhost: orders\r\n\r\n',
      (t) => (t.match(/\r\n0\r\n\r\n/g) ?? []).length >= 2,
    );
    expect(text).toMatch(/^HTTP\/1.1 200 Connection Established\r\n\r\n/);
    const responses = text.split('HTTP/1.1 200 OK').slice(1);
    expect(responses).toHaveLength(2);
    expect(responses[0]).toContain('x-upstream: orders-canary');
    expect(responses[0]).toContain('"url":"/one"');
    expect(responses[1]).toContain('x-upstream: orders-stable');
    expect(responses[1]).toContain('"url":"/two"');
  });

  it('tunnels anything else as TCP to host:port', async () => {
    const tls = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]);
    const text = await raw(out, Buffer.concat([Buffer.from(`CONNECT 127.0.0.1:${tcpEchoPort} HTTP/1.1\r\nhost: x\r\n\r\n`), tls]), (t) => t.length >= 39 + tls.length);
    expect(text.slice(0, 39)).toBe('HTTP/1.1 200 Connection Established\r\n\r\n');
    expect(Buffer.from(text.slice(39), 'latin1')).toEqual(tls);
  });

  it('answers a CONNECT without a port with 400', async () => {
    const text = await raw(out, 'CONNECT orders HTTP/1.1\r\nhost: orders\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1.1 400/);
    expect(text).toContain('x-dyeline-error: bad-request');
  });
});

describe('outbound listener: Upgrade', () => {
  it('tunnels a WebSocket upgrade to the routed instance with colour and trace headers; declines h2c', async () => {
    {
      const text = await raw(
        out,
        'GET /socket HTTP/1.1\r\nhost: chat\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-key: abc==\r\nx-traffic-color: canary\r\n\r\nping!',
        (t) => t.endsWith('ping!'),
      );
      expect(text).toMatch(/^HTTP\/1.1 101 Switching Protocols\r\n/);
      expect(text).toContain('x-seen-color: canary');
      expect(text).toContain('x-seen-key: abc==');
      const h2c = await send(out, { path: '/', headers: { host: 'chat', 'x-traffic-color': 'canary', connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA' } });
      expect(h2c.status).toBe(200);
      expect(h2c.body).toBe('plain none');
    }
  });

  it('answers an upgrade for a service without instances with 503', async () => {
    const text = await raw(out, 'GET /socket HTTP/1.1\r\nhost: orders\r\nconnection: Upgrade\r\nupgrade: websocket\r\ncookie: traffic_color=strict\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1.1 503/);
    expect(text).toContain('x-dyeline-error: no-instance');
  });
});

describe('outbound listener: agent-made errors', () => {
  it('508 when the hop count reaches the limit, and on a real loop through itself', async () => {
    const a = await send(out, { headers: { host: 'orders', 'x-dyeline-hops': '32' } });
    expect(a.status).toBe(508);
    expect(a.headers['x-dyeline-error']).toBe('loop-detected');
    const loop = await send(out, { path: `http://${out}/` });
    expect(loop.status).toBe(508);
    expect(JSON.parse(loop.body)).toMatchObject({ error: 'loop-detected' });
  });

  it('502 when the instance refuses connections', async () => {
    const a = await send(out, { headers: { host: 'dead' } });
    expect(a.status).toBe(502);
    expect(a.headers['x-dyeline-error']).toBe('connect-failure');
    expect(a.headers['content-type']).toContain('application/json');
  });

  it('504 after the service timeoutMs', async () => {
    const t0 = Date.now();
    const a = await send(out, { path: '/hang', headers: { host: 'slow' } });
    expect(a.status).toBe(504);
    expect(a.headers['x-dyeline-error']).toBe('timeout');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('400 for a malformed request, 431 for headers too large', async () => {
    const bad = await raw(out, 'GET /x HTTP/1.1\r\nhost: orders\r\nbad header\r\n\r\n');
    expect(bad).toMatch(/^HTTP\/1.1 400/);
    expect(bad).toContain('x-dyeline-error: bad-request');
    const noHost = await raw(out, 'GET /x HTTP/1.0\r\n\r\n');
    expect(noHost).toMatch(/^HTTP\/1.1 400/);
    expect(noHost).toContain('origin-form request without a Host header');
    const big = await raw(out, `GET /x HTTP/1.1\r\nhost: orders\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1.1 431/);
    expect(big).toContain('x-dyeline-error: headers-too-large');
  });
});

describe('outbound listener: streaming', () => {
  it('streams the response: the client reads the first chunk before the upstream ends', async () => {
    const i = out.lastIndexOf(':');
    const req = request({ host: out.slice(0, i), port: Number(out.slice(i + 1)), path: '/stream', headers: { host: 'longslow' }, agent: false });
    req.end();
    const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
    const [first] = (await once(res, 'data')) as [Buffer];
    expect(first.toString()).toBe('first;');
    // In flight on the endpoint while the body is open (the balancer's load signal).
    const inflight = agent.agent.ctx.table!.service('longslow')!.endpoints[0]!.state;
    expect(inflight.inflight).toBe(1);
    releaseSlow.get('/stream')!();
    let rest = '';
    for await (const c of res) rest += String(c);
    expect(rest).toBe('last');
    await waitFor(() => inflight.inflight === 0, { timeoutMs: 2000, what: 'inflight back to 0' });
  });

  it('streams the request body: the upstream sees the first chunk before the client finishes', async () => {
    const i = out.lastIndexOf(':');
    const req = request({ host: out.slice(0, i), port: Number(out.slice(i + 1)), method: 'POST', path: '/upload', headers: { host: 'longslow', 'transfer-encoding': 'chunked' }, agent: false });
    const chunk = Buffer.alloc(64 * 1024, 97);
    req.write(chunk);
    // The upstream answers headers on its first chunk; the client has not ended the body yet.
    const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
    expect(res.headers['x-first-chunk-at']).toBeDefined();
    for (let k = 0; k < 15; k++) req.write(chunk);
    req.end();
    let body = '';
    for await (const c of res) body += String(c);
    expect(Number(body)).toBe(16 * 64 * 1024);
  });

  it('propagates backpressure: a client that does not read stops the upstream well before the body is buffered', async () => {
    let written = 0;
    let blocked = false;
    const chunk = Buffer.alloc(256 * 1024, 120);
    const big = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const pump = (): void => {
        // Bounded: at most 256 MiB, far more than any socket buffer.
        while (written < 256 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) {
            blocked = true;
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    try {
      const i = out.lastIndexOf(':');
      const req = request({ host: out.slice(0, i), port: Number(out.slice(i + 1)), path: `http://127.0.0.1:${big.port}/big`, agent: false });
      req.end();
      const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
      res.pause();
      await waitFor(() => blocked, { timeoutMs: 5000, what: 'upstream blocked' });
      // Every buffer on the way (socket buffers, undici, the response stream) fills, then the
      // upstream stays stopped: written stops growing, far below the 256 MiB it would send.
      let last = -1;
      await waitFor(
        () => {
          const still = written === last;
          last = written;
          return still;
        },
        { timeoutMs: 10_000, intervalMs: 250, what: 'upstream stopped writing' },
      );
      expect(written).toBeLessThan(64 * 1024 * 1024);
      res.destroy();
    } finally {
      await big.close();
    }
  });

  it('relays HEAD and 204 responses without a body', async () => {
    const head = await send(out, { method: 'HEAD', headers: { host: 'orders' } });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    const none = await startUpstream((_req, res) => {
      res.writeHead(204, { 'x-none': '1' });
      res.end();
    });
    try {
      const a = await send(out, { path: `http://127.0.0.1:${none.port}/` });
      expect(a.status).toBe(204);
      expect(a.headers['x-none']).toBe('1');
      expect(a.body).toBe('');
    } finally {
      await none.close();
    }
  });

  it('aborts the upstream request when the client goes away', async () => {
    const n = slowSeen.length;
    const i = out.lastIndexOf(':');
    const req = request({ host: out.slice(0, i), port: Number(out.slice(i + 1)), path: '/hang', headers: { host: 'longslow' }, agent: false });
    req.on('error', () => {});
    req.end();
    await waitFor(() => slowSeen.length > n, { timeoutMs: 2000, what: 'upstream got the request' });
    req.destroy();
    await waitFor(() => slowSeen[n]!.aborted, { timeoutMs: 2000, what: 'upstream request aborted' });
    const state = agent.agent.ctx.table!.service('longslow')!.endpoints[0]!.state;
    await waitFor(() => state.inflight === 0, { timeoutMs: 2000, what: 'inflight released' });
  });
});

async function metric(name: string): Promise<number> {
  const text = (await send(agent.address('status'), { path: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}
