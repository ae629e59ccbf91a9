/**
 * The exchange's retry hooks with real sockets: a sink that retries on failure or drops an
 * answer gets exactly one response to the client, and in-flight counts return to zero.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Exchange, type ExchangeSink } from '../../../../agent/forward/exchange.ts';
import { respondError } from '../../../../agent/forward/respond.ts';
import { continueTrace } from '../../../../agent/propagation/trace.ts';
import { newEndpointState } from '../../../../agent/routing/endpoint-states.ts';
import { asDyelineError } from '../../../../shared/errors.ts';
import { send, startUpstream } from '../../../support/agent-harness.ts';

type Upstream = Awaited<ReturnType<typeof startUpstream>>;

let good: Upstream;
let unavailable: Upstream;
let deadPort: number;
let front: Server;
let address: string;
const pools: Pool[] = [];
const stateA = newEndpointState('a');
const stateB = newEndpointState('b');
let finished = 0;
let mode: 'retry-connect' | 'drop-503' | 'no-retry' = 'retry-connect';

function pool(port: number): Pool {
  const p = new Pool(`http://127.0.0.1:${port}`);
  pools.push(p);
  return p;
}

beforeAll(async () => {
  good = await startUpstream((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => res.end(`good:${req.method}:${body}`));
  });
  unavailable = await startUpstream((req, res) => {
    req.resume();
    res.writeHead(503, { 'x-from': 'unavailable' });
    res.end('unavailable body');
  });
  const dead = await startUpstream(() => {});
  deadPort = dead.port;
  await dead.close();
  const goodPool = pool(good.port);
  const deadPool = pool(deadPort);
  const unavailablePool = pool(unavailable.port);

  const sink: ExchangeSink & { retried: Set<Exchange> } = {
    retried: new Set(),
    responseHeaders(ex, _s, headers) {
      headers.push('x-upstream', ex.endpointKey);
    },
    upstreamStatus(ex, status) {
      return mode === 'drop-503' && status === 503 && !this.retried.has(ex);
    },
    failed(ex, err) {
      if (mode !== 'no-retry' && !this.retried.has(ex)) {
        this.retried.add(ex);
        ex.dispatch(goodPool, 'good', stateB, { path: '/', headers: ['host', 'x'], timeoutMs: 2000, body: Buffer.from('replayed') });
        return true;
      }
      respondError(ex.res, asDyelineError(err, ex.endpointKey));
      return false;
    },
    finished() {
      finished++;
    },
  };
  front = createServer((req: IncomingMessage, res: ServerResponse) => {
    const ex = new Exchange(req, res, sink, performance.now());
    ex.trace = continueTrace(req.headers);
    const first = mode === 'drop-503' ? unavailablePool : deadPool;
    ex.dispatch(first, mode === 'drop-503' ? 'unavailable' : 'dead', stateA, { path: '/', headers: ['host', 'x'], timeoutMs: 2000, body: Buffer.from('replayed') });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  address = `127.0.0.1:${(front.address() as { port: number }).port}`;
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  front?.close();
  await good?.close();
  await unavailable?.close();
});

describe('Exchange retry hooks', () => {
  it('retries a connect failure on another upstream from sink.failed', async () => {
    mode = 'retry-connect';
    const before = finished;
    const a = await send(address, { method: 'POST', body: 'ignored' });
    expect(a.status).toBe(200);
    expect(a.body).toBe('good:POST:replayed');
    expect(a.headers['x-upstream']).toBe('good');
    expect(finished).toBe(before + 1);
    expect(stateA.inflight).toBe(0);
    expect(stateB.inflight).toBe(0);
  });

  it('drops an answer the sink wants retried, and relays the retry instead', async () => {
    mode = 'drop-503';
    const a = await send(address, { method: 'PUT', body: 'ignored' });
    expect(a.status).toBe(200);
    expect(a.body).toBe('good:PUT:replayed');
    expect(a.headers['x-from']).toBeUndefined();
    expect(stateA.inflight).toBe(0);
    expect(stateB.inflight).toBe(0);
  });

  it('answers the failure when the sink does not retry', async () => {
    mode = 'no-retry';
    const a = await send(address, {});
    expect(a.status).toBe(502);
    expect(a.headers['x-dyeline-error']).toBe('connect-failure');
    expect(stateA.inflight).toBe(0);
  });
});
