/**
 * A try's one deadline timer, with real sockets: `timeoutMs` bounds the wait for the answer head
 * (504 `timeout`), then the longest pause between body chunks (the response is cut); a body
 * that keeps coming is relayed whole however long it takes in all, and so is one the client
 * holds back for longer than the deadline (agent/forward/exchange.ts).
 */
import { request as httpRequest, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Exchange, type ExchangeSink } from '../../../../agent/forward/exchange.ts';
import { respondError } from '../../../../agent/forward/respond.ts';
import { newEndpointState } from '../../../../agent/routing/endpoint-states.ts';
import { asDyelineError, DyelineError, ErrorCode } from '../../../../shared/errors.ts';
import { startUpstream } from '../../../support/agent-harness.ts';

const TIMEOUT_MS = 500;
const state = newEndpointState('up');
let upstream: Awaited<ReturnType<typeof startUpstream>>;
let pool: Pool;
let front: Server;
let port: number;
const ended: Exchange[] = [];

/** What the upstream does, by path: the gaps (ms) before its head and before each of its chunks. */
const PLANS: Record<string, { head: number; chunks: number[] }> = {
  // The head after 2/3 of the deadline, then a chunk 2/3 of it later: never a pause of a whole deadline.
  '/late-head': { head: 330, chunks: [330, 0] },
  // Six chunks 250 ms apart (half the deadline): 1.5 s in all, three times the deadline.
  '/slow-steady': { head: 0, chunks: [250, 250, 250, 250, 250, 250] },
  // One chunk, then silence.
  '/stall': { head: 0, chunks: [0, 5_000] },
  // No head at all.
  '/silent': { head: 5_000, chunks: [] },
};

/** The body of `/big`: more than loopback sockets and stream buffers hold, so a client that stops reading pauses it. */
const BIG_MIB = 32;

beforeAll(async () => {
  upstream = await startUpstream(async (req, res) => {
    if (req.url === '/big') {
      req.resume();
      const mib = Buffer.alloc(1 << 20, 0x61);
      res.writeHead(200, { 'content-length': BIG_MIB << 20 });
      for (let i = 0; i < BIG_MIB; i++) if (!res.write(mib)) await new Promise((r) => res.once('drain', r));
      res.end();
      return;
    }
    const plan = PLANS[req.url!]!;
    req.resume();
    await sleep(plan.head);
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.flushHeaders();
    for (const [i, gap] of plan.chunks.entries()) {
      await sleep(gap);
      if (res.destroyed) return;
      res.write(`chunk${i};`);
    }
    res.end();
  });
  pool = new Pool(`http://127.0.0.1:${upstream.port}`);
  const sink: ExchangeSink = {
    responseHeaders() {},
    failed(ex, err) {
      respondError(ex.res, asDyelineError(err, ex.endpointKey));
      return false;
    },
    finished(ex) {
      ended.push(ex);
    },
  };
  front = createServer((req: IncomingMessage, res: ServerResponse) => {
    const ex = new Exchange(req, res, sink, performance.now());
    ex.dispatch(pool, 'up', state, { path: req.url!, headers: ['host', 'up'], timeoutMs: TIMEOUT_MS });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  port = (front.address() as { port: number }).port;
});

afterAll(async () => {
  front?.close();
  await pool?.destroy();
  await upstream?.close();
});

/**
 * GET `path` through the exchange: status, the body received, whether it was cut, and the
 * exchange. With `holdMs`, the client stops reading at the first bytes for that long.
 */
async function get(path: string, holdMs = 0): Promise<{ status: number; body: string; cut: boolean; ms: number; ex: Exchange }> {
  const t0 = performance.now();
  const before = ended.length;
  const r = await new Promise<{ status: number; body: string; cut: boolean }>((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      let held = holdMs === 0;
      res.setEncoding('utf8').on('data', (c: string) => {
        body += c;
        if (held) return;
        held = true;
        res.pause();
        setTimeout(() => res.resume(), holdMs);
      });
      res.on('end', () => resolve({ status: res.statusCode!, body, cut: false }));
      res.on('error', () => resolve({ status: res.statusCode!, body, cut: true }));
    })
      .on('error', reject)
      .end();
  });
  const ms = performance.now() - t0;
  for (let i = 0; i < 100 && ended.length === before; i++) await sleep(10);
  expect(ended.length).toBe(before + 1);
  return { ...r, ms, ex: ended.at(-1)! };
}

describe('a try’s deadline', () => {
  it('answers 504 timeout when no head comes within timeoutMs', async () => {
    const r = await get('/silent');
    expect(r.status).toBe(504);
    expect(r.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(r.ms).toBeLessThan(TIMEOUT_MS + 1_000);
    expect((r.ex.error as DyelineError).code).toBe(ErrorCode.Timeout);
    expect(state.inflight).toBe(0);
  });

  it('after the head, cuts the response when the upstream pauses mid-body for timeoutMs', async () => {
    const r = await get('/stall');
    expect(r.status).toBe(200);
    expect(r.cut).toBe(true);
    expect(r.body).toBe('chunk0;');
    expect(r.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(r.ms).toBeLessThan(TIMEOUT_MS + 1_000);
    expect(r.ex.error).toBeInstanceOf(DyelineError);
    expect((r.ex.error as DyelineError).code).toBe(ErrorCode.Timeout);
    expect(r.ex.error!.message).toBe(`up sent no response data for ${TIMEOUT_MS} ms`);
    expect(state.inflight).toBe(0);
  });

  it('relays a body that keeps coming, however long it takes in all', async () => {
    const r = await get('/slow-steady');
    expect(r).toMatchObject({ status: 200, cut: false, body: 'chunk0;chunk1;chunk2;chunk3;chunk4;chunk5;' });
    expect(r.ms).toBeGreaterThan(2 * TIMEOUT_MS);
    expect(r.ex.error).toBeUndefined();
  });

  it('does not count a pause the client imposes (backpressure) against the upstream', async () => {
    const r = await get('/big', 3 * TIMEOUT_MS);
    expect(r.status).toBe(200);
    expect(r.cut).toBe(false);
    expect(r.body.length).toBe(BIG_MIB << 20);
    expect(r.ms).toBeGreaterThan(3 * TIMEOUT_MS);
    expect(r.ex.error).toBeUndefined();
    expect(state.inflight).toBe(0);
  });

  it('counts the body’s pause from the head, not from the request', async () => {
    const r = await get('/late-head');
    expect(r).toMatchObject({ status: 200, cut: false, body: 'chunk0;chunk1;' });
    expect(r.ex.error).toBeUndefined();
    expect(state.inflight).toBe(0);
  });
});
