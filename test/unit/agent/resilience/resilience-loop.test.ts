/**
 * The outbound retry loop through an in-process agent and real loopback upstreams: which
 * failures are retried, where to, with what body, and what is answered when nothing is left.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpRequest } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { HEDGE_AFTER_MS, MIN_SAMPLES, TIMEOUT_FLOOR_MS } from '../../../../agent/resilience/latency.ts';
import type { DocumentInput } from '../../../../shared/schema/documents.ts';
import { send, startTestAgent, startUpstream, type TestAgent } from '../../../support/agent-harness.ts';
import { instance, lane, service } from '../../../support/snapshot-builder.ts';
import { idleIo, waitFor, waitForIo } from '../../../support/wait.ts';

type Behaviour = 'ok' | '503' | '500' | 'reset' | 'hang' | 'slow' | 'slow-reset';

/** What a `slow` upstream waits before answering 200, ms. */
const SLOW_MS = 1000;

/** An upstream that counts requests and body bytes, and behaves as told. */
async function upstream(name: string) {
  const seen: { method: string; bytes: number; id: string }[] = [];
  let behaviour: Behaviour = 'ok';
  const u = await startUpstream((req: IncomingMessage, res: ServerResponse) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', bytes, id: String(req.headers['x-request-id'] ?? '') });
      switch (behaviour) {
        case '503':
        case '500':
          res.writeHead(Number(behaviour), { 'content-type': 'text/plain', 'x-upstream': name });
          res.end(`${name} says ${behaviour}`);
          return;
        case 'reset':
          req.socket.destroy();
          return;
        case 'hang':
          return;
        case 'slow-reset':
          setTimeout(() => req.socket.destroy(), SLOW_MS);
          return;
        case 'slow':
          setTimeout(() => {
            res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name });
            res.end(JSON.stringify({ name, bytes }));
          }, SLOW_MS);
          return;
        default:
          res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name });
          res.end(JSON.stringify({ name, bytes }));
      }
    });
  });
  return {
    ...u,
    name,
    seen,
    set(b: Behaviour) {
      behaviour = b;
    },
  };
}

type Up = Awaited<ReturnType<typeof upstream>>;
let ups: Up[] = [];
let agent: TestAgent;
const [s1, s2, s3, c1] = ['s1', 's2', 's3', 'c1'];
const up = (n: string) => ups.find((u) => u.name === n)!;

/**
 * The mesh; breakers and outlier ejection are kept out of the way (huge thresholds) and so is
 * the retry budget (a floor of 1,000 retries, reset after each test) unless a test says
 * otherwise, so each test sees only the retry loop. The retry policy is the one these tests
 * were written for (connect-failure, reset, 503): the default retries every 5xx.
 */
function docs(spec: Extract<DocumentInput, { kind: 'Service' }>['spec'] = {}): DocumentInput[] {
  return [
    lane('canary'),
    service('orders', {
      timeoutMs: 3000,
      circuitBreaker: { volumeThreshold: 1_000_000 },
      outlierDetection: { consecutiveFailures: 1_000_000 },
      ...spec,
      retry: { on: ['connect-failure', 'reset', '503'], ...spec.retry },
    }),
    instance('o-s1', 'orders', '127.0.0.1', { port: up(s1).port }),
    instance('o-s2', 'orders', '127.0.0.1', { port: up(s2).port }),
    instance('o-s3', 'orders', '127.0.0.1', { port: up(s3).port }),
    instance('o-c1', 'orders', '127.0.0.1', { port: up(c1).port, color: 'canary' }),
  ];
}

const call = (opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}) =>
  send(agent.address('outbound'), { method: opts.method, path: '/x', headers: { host: 'orders', ...opts.headers }, body: opts.body });

const total = () => ups.reduce((n, u) => n + u.seen.length, 0);

/** Publishes `mesh` with every lane's breaker and latency dropped first (a snapshot without its instances). */
async function publishFresh(mesh: DocumentInput[]): Promise<void> {
  await agent.publish(mesh.filter((d) => d.kind !== 'Instance'));
  await agent.publish(mesh);
}

beforeAll(async () => {
  ups = await Promise.all([s1, s2, s3, c1].map((n) => upstream(n)));
  agent = await startTestAgent(docs());
  agent.agent.resilience.resetBudgets({ minRetries: 1000 });
});

afterEach(async () => {
  for (const u of ups) {
    u.set('ok');
    u.seen.length = 0;
  }
  await agent.publish(docs());
  agent.agent.resilience.resetBudgets({ minRetries: 1000 });
  for (const b of agent.agent.resilience.breakers.values()) b.reset();
  for (const ep of agent.agent.ctx.table!.service('orders')!.endpoints) Object.assign(ep.state, { ejectedUntil: 0, consecutiveFailures: 0, ejections: 0 });
});

afterAll(async () => {
  await agent?.stop();
  await Promise.all(ups.map((u) => u.close()));
});

describe('outbound retries (policy: connect-failure, reset, 503; 2 attempts)', () => {
  it('drops a 503 answer and retries on another instance; relays the last answer when every instance fails', async () => {
    up(s1).set('503');
    up(s2).set('503');
    let served = 0;
    for (let i = 0; i < 20; i++) {
      const r = await call();
      expect(r.status).toBe(200);
      expect(r.headers['x-upstream']).toBe('s3');
      served++;
    }
    expect(served).toBe(20);
    // Never twice on the same instance within one request.
    expect(up(s3).seen.length).toBe(20);
    expect(total()).toBeLessThanOrEqual(60);

    up(s3).set('503');
    for (const u of ups) u.seen.length = 0;
    const r = await call();
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/^s[123] says 503$/);
    expect(r.headers['x-dyeline-error']).toBeUndefined();
    expect([up(s1), up(s2), up(s3)].map((u) => u.seen.length)).toEqual([1, 1, 1]);
  });

  it('does not retry an answer the policy does not name (500) and relays it as is', async () => {
    for (const n of [s1, s2, s3]) up(n).set('500');
    const r = await call();
    expect(r.status).toBe(500);
    expect(total()).toBe(1);
  });

  it('never sends a POST again once it reached an upstream; retries GET after a reset', async () => {
    for (const n of [s1, s2, s3]) up(n).set('reset');
    const post = await call({ method: 'POST', headers: { 'x-request-id': 'p1' }, body: 'order' });
    expect(post.status).toBe(502);
    expect(post.headers['x-dyeline-error']).toBe('upstream-reset');
    expect(ups.flatMap((u) => u.seen).filter((s) => s.id === 'p1')).toHaveLength(1);
    for (const u of ups) u.seen.length = 0;
    const get = await call();
    expect(get.status).toBe(502);
    expect(total()).toBe(3); // the first try and two retries, each on a different instance
  });

  it('retries a streamed POST after a connect failure: its body was never read', async () => {
    await agent.publish([
      ...docs(),
      // A dead instance: nothing listens there.
      instance('o-dead', 'orders', '127.0.0.1', { port: 1 }),
    ]);
    for (let i = 0; i < 30; i++) {
      const body = Buffer.alloc(200_000, 1); // too large to buffer: streamed from the client
      const r = await call({ method: 'POST', headers: { 'x-request-id': `c${i}` }, body });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ bytes: body.length });
    }
    // Every POST reached exactly one live instance, whole; some were first sent to the dead one.
    const ids = ups.flatMap((u) => u.seen).map((s) => s.id);
    expect(new Set(ids).size).toBe(30);
    expect(ids).toHaveLength(30);
    const dead = agent.agent.ctx.table!.service('orders')!.endpoints.find((e) => e.name === 'o-dead')!;
    expect(dead.state.consecutiveFailures + dead.state.ejections).toBeGreaterThan(0);
  });

  it('replays a small idempotent body whole; does not retry a large or chunked one whose body already streamed', async () => {
    await agent.publish(docs({ retry: { on: ['5xx'] } }));
    for (const n of [s1, s2]) up(n).set('500');
    const small = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 10; i++) {
      const r = await call({ method: 'PUT', body: small });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ name: 's3', bytes: small.length });
    }
    for (const u of ups) u.seen.length = 0;
    // Over 64 KiB: streamed, so a 500 is relayed (never replayed).
    up(s3).set('500');
    const large = await call({ method: 'PUT', body: 'y'.repeat(64 * 1024 + 1) });
    expect(large.status).toBe(500);
    expect(total()).toBe(1);
    for (const u of ups) u.seen.length = 0;
    // Chunked (no Content-Length): streamed too.
    const chunked = await new Promise<number>((resolve, reject) => {
      const [host, port] = agent.address('outbound').split(':');
      const req = httpRequest({ host, port: Number(port), method: 'PUT', path: '/x', headers: { host: 'orders', 'transfer-encoding': 'chunked' }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write('a');
      req.end('b');
    });
    expect(chunked).toBe(500);
    expect(total()).toBe(1);
  });

  it('after a canary failure retries on the fallback lane: x-dyeline-fallback: error', async () => {
    up(c1).set('503');
    const r = await call({ headers: { 'x-traffic-color': 'canary' } });
    expect(r.status).toBe(200);
    expect(r.headers['x-dyeline-served-color']).toBe('stable');
    expect(r.headers['x-dyeline-fallback']).toBe('error');
    expect(up(c1).seen).toHaveLength(1);
  });

  it('spends no retries with budgetPercent 0, and none beyond attempts', async () => {
    await agent.publish(docs({ retry: { budgetPercent: 0 } }));
    for (const n of [s1, s2, s3]) up(n).set('503');
    const r = await call();
    expect(r.status).toBe(503);
    expect(total()).toBe(1);
    await agent.publish(docs({ retry: { attempts: 1 } }));
    for (const u of ups) u.seen.length = 0;
    expect((await call()).status).toBe(503);
    expect(total()).toBe(2);
  });

  it('times each try out at perTryTimeoutMs and answers 504 when the overall deadline is spent', async () => {
    await agent.publish(docs({ timeoutMs: 500, retry: { perTryTimeoutMs: 200, on: ['timeout'] } }));
    for (const n of [s1, s2, s3]) up(n).set('hang');
    // A fake clock drives the deadlines (the agent's timers and performance.now); sockets stay
    // real. Time stands still while a try travels, so each step is checked exactly: a loaded
    // machine can delay the I/O, never the verdict.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      let answered = false;
      const answer = call().finally(() => (answered = true));
      await waitForIo(() => total() === 1, { what: 'first try' });
      await vi.advanceTimersByTimeAsync(199);
      await idleIo(30);
      expect([total(), answered]).toEqual([1, false]);
      // 200 ms: the first try times out, the second is sent with 200 ms of its own.
      await vi.advanceTimersByTimeAsync(1);
      await waitForIo(() => total() === 2, { what: 'second try' });
      await vi.advanceTimersByTimeAsync(199);
      await idleIo(30);
      expect([total(), answered]).toEqual([2, false]);
      // 400 ms: the third try gets what is left of the deadline, 100 ms.
      await vi.advanceTimersByTimeAsync(1);
      await waitForIo(() => total() === 3, { what: 'third try' });
      await vi.advanceTimersByTimeAsync(99);
      await idleIo(30);
      expect([total(), answered]).toEqual([3, false]);
      // 500 ms: the deadline. No fourth try.
      await vi.advanceTimersByTimeAsync(1);
      const r = await answer;
      expect(r.status).toBe(504);
      expect(r.headers['x-dyeline-error']).toBe('timeout');
      await idleIo(30);
      expect(total()).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it('gives a half-open probe slot back when the client goes away, so the lane is not stuck', async () => {
    await agent.publish(docs({ circuitBreaker: { volumeThreshold: 3, resetTimeoutMs: 200, slowCallMs: 60_000 }, retry: { attempts: 0 } }));
    up(c1).set('500');
    for (let i = 0; i < 3; i++) await call({ headers: { 'x-traffic-color': 'canary' } });
    const breaker = agent.agent.resilience.breakers.get('orders', 'canary')!;
    expect(breaker.state).toBe('open');
    up(c1).set('hang');
    await waitFor(() => breaker.state === 'half-open', { timeoutMs: 3000, what: 'half-open' });
    // Three probes that hang, then their clients give up.
    const [host, port] = agent.address('outbound').split(':');
    const reqs = Array.from({ length: 3 }, () => {
      const req = httpRequest({ host, port: Number(port), path: '/x', headers: { host: 'orders', 'x-traffic-color': 'canary' }, agent: false });
      req.on('error', () => {});
      req.end();
      return req;
    });
    await waitFor(() => up(c1).seen.length >= 3 + 3, { timeoutMs: 3000, what: 'probes at the canary' });
    expect(breaker.isOpen()).toBe(true);
    for (const r of reqs) r.destroy();
    await waitFor(() => !breaker.isOpen(), { timeoutMs: 3000, what: 'probe slots back' });
    up(c1).set('ok');
    for (let i = 0; i < 3; i++) expect((await call({ headers: { 'x-traffic-color': 'canary' } })).headers['x-dyeline-served-color']).toBe('canary');
    expect(breaker.state).toBe('closed');
  });
});

describe('timings derived from the lane when the Service sets none (docs/resilience.md#defaults)', () => {
  /** Sends a request and gives up (closes it) after `ms`; resolves when closed. */
  function giveUpAfter(ms: number, headers: Record<string, string>): Promise<void> {
    const [host, port] = agent.address('outbound').split(':');
    const req = httpRequest({ host, port: Number(port), path: '/x', headers: { host: 'orders', ...headers }, agent: false });
    req.on('error', () => {});
    req.end();
    return new Promise((r) => setTimeout(() => (req.destroy(), r()), ms));
  }

  it("a canary try gets 2 × the lane's latency (at least 250 ms) before the request moves on to stable; a POST keeps the whole deadline", async () => {
    await agent.publish(docs({ retry: { on: ['connect-failure', 'reset', 'timeout', '5xx'] } }));
    for (let i = 0; i < 20; i++) expect((await call({ headers: { 'x-traffic-color': 'canary' } })).headers['x-dyeline-served-color']).toBe('canary');
    up(c1).set('hang');
    const t0 = performance.now();
    const r = await call({ headers: { 'x-traffic-color': 'canary' } });
    const ms = performance.now() - t0;
    expect(r.status).toBe(200);
    expect(r.headers['x-dyeline-fallback']).toBe('error');
    expect(ms).toBeGreaterThanOrEqual(240);
    expect(ms).toBeLessThan(1000);
    // A POST cannot move on after reaching the canary: it keeps the service deadline (3 s here).
    const p0 = performance.now();
    const post = await call({ method: 'POST', headers: { 'x-traffic-color': 'canary' }, body: 'x' });
    expect(post.status).toBe(504);
    expect(performance.now() - p0).toBeGreaterThanOrEqual(2900);
  });

  it('a try still in flight past the slow-call threshold counts as slow: the breaker opens before any of them ends', async () => {
    await agent.publish(docs({ timeoutMs: 5000, retry: { attempts: 0 }, circuitBreaker: { volumeThreshold: 3, slowCallMs: 100, slowCallPercentage: 50, windowMs: 10_000 } }));
    up(c1).set('hang');
    const pending = Array.from({ length: 3 }, () => giveUpAfter(2000, { 'x-traffic-color': 'canary' }));
    const breaker = () => agent.agent.resilience.breakers.get('orders', 'canary');
    await waitFor(() => breaker()?.state === 'open', { timeoutMs: 1500, what: 'canary circuit open while its calls hang' });
    expect(up(c1).seen.length).toBe(3);
    await Promise.all(pending);
  });

  it('a client that gave up past the slow-call threshold counts as a slow call; one that gave up before it does not', async () => {
    await agent.publish(docs({ timeoutMs: 5000, retry: { attempts: 0 }, circuitBreaker: { volumeThreshold: 1000, slowCallMs: 300 } }));
    up(c1).set('hang');
    await giveUpAfter(100, { 'x-traffic-color': 'canary' });
    const b = agent.agent.resilience.breakers.get('orders', 'canary')!;
    await new Promise((r) => setTimeout(r, 50));
    expect(b.counts(Date.now())).toMatchObject({ calls: 0, slow: 0 });
    // In flight past 300 ms: counted slow by then (still in flight); giving up later changes nothing.
    await giveUpAfter(600, { 'x-traffic-color': 'canary' });
    await new Promise((r) => setTimeout(r, 50));
    expect(b.counts(Date.now())).toMatchObject({ calls: 1, slow: 1 });
  });

  it("a canary slow since its first answer is left at 2 × FALLBACK_SLACK × stable's latency (at least 250 ms), not at the deadline", async () => {
    await publishFresh(docs({ retry: { on: ['connect-failure', 'reset', 'timeout', '5xx'] } }));
    // Stable's latency is learned from undyed traffic; the canary has answered nothing yet.
    for (let i = 0; i < 20; i++) expect((await call()).headers['x-dyeline-served-color']).toBe('stable');
    up(c1).set('slow');
    const t0 = performance.now();
    const r = await call({ headers: { 'x-traffic-color': 'canary' } });
    // The canary would answer 200 after SLOW_MS: an answer before it, from stable after an error, is the cut.
    expect(r.status).toBe(200);
    expect(r.headers['x-dyeline-served-color']).toBe('stable');
    expect(r.headers['x-dyeline-fallback']).toBe('error');
    expect(performance.now() - t0).toBeLessThan(SLOW_MS);
    expect(up(c1).seen).toHaveLength(1);
  });

  it('answers slower than the derived threshold do not teach a lane that can fall back; a lane with nothing to fall back to learns them', async () => {
    await publishFresh(docs({ retry: { on: ['connect-failure', 'reset', 'timeout', '5xx'] } }));
    for (let i = 0; i < 20; i++) expect((await call({ headers: { 'x-traffic-color': 'canary' } })).headers['x-dyeline-served-color']).toBe('canary');
    const canary = agent.agent.resilience.breakers.get('orders', 'canary')!;
    const taught = canary.latency.samples(Date.now());
    expect(taught).toBeGreaterThanOrEqual(8);
    // The canary slows down. POSTs cannot move on: they wait for its answers, which are slow.
    up(c1).set('slow');
    const posts = await Promise.all(Array.from({ length: 20 }, () => call({ method: 'POST', headers: { 'x-traffic-color': 'canary' }, body: 'x' })));
    expect(posts.map((p) => p.headers['x-dyeline-served-color'])).toEqual(Array(20).fill('canary'));
    expect(canary.latency.samples(Date.now())).toBe(taught);
    expect(canary.counts(Date.now()).slow).toBeGreaterThanOrEqual(20);
    // Stable is the end of the chain: what it does is what the service does.
    for (const n of [s1, s2, s3]) up(n).set('slow');
    const stable = agent.agent.resilience.breakers.get('orders', 'stable');
    const before = stable?.latency.samples(Date.now()) ?? 0;
    const gets = await Promise.all(Array.from({ length: 10 }, () => call()));
    expect(gets.map((g) => g.status)).toEqual(Array(10).fill(200));
    expect(agent.agent.resilience.breakers.get('orders', 'stable')!.latency.samples(Date.now())).toBe(before + 10);
  });

  it('a move to the fallback lane does not draw on the retry budget: with budgetPercent 0 the canary failure still goes to stable', async () => {
    await agent.publish(docs({ retry: { budgetPercent: 0, on: ['5xx'] } }));
    agent.agent.resilience.resetBudgets();
    up(c1).set('500');
    up(s1).set('500');
    up(s2).set('500');
    up(s3).set('500');
    const r = await call({ headers: { 'x-traffic-color': 'canary' } });
    // canary (500) → stable once (free: a new lane); no second try on stable (budget 0).
    expect(r.status).toBe(500);
    expect(r.headers['x-dyeline-served-color']).toBe('stable');
    expect(total()).toBe(2);
  });
});

describe('hedging while a lane and its fallback lane are cold (docs/resilience.md#hedging-while-cold)', () => {
  const dyed = { 'x-traffic-color': 'canary' };
  const policy = { retry: { on: ['connect-failure', 'reset', 'timeout', '5xx'] } };
  const stableSeen = () => [s1, s2, s3].reduce((n, u) => n + up(u).seen.length, 0);
  const retriesByReason = async (reason: string): Promise<number> => {
    const text = await (await fetch(`http://${agent.address('status')}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('dyeline_retries_total{') && l.includes(`reason="${reason}"`));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  };

  it('a canary hanging from the first request: an idempotent request is also sent to stable after HEDGE_AFTER_MS, and stable answers; a POST is not hedged', async () => {
    await publishFresh(docs(policy));
    up(c1).set('hang');
    const hedges = await retriesByReason('hedge');
    const t0 = performance.now();
    const r = await call({ headers: dyed });
    const ms = performance.now() - t0;
    expect(r.status).toBe(200);
    expect(r.headers['x-dyeline-served-color']).toBe('stable');
    expect(r.headers['x-dyeline-fallback']).toBe('error');
    expect(ms).toBeGreaterThanOrEqual(HEDGE_AFTER_MS - 5);
    expect(ms).toBeLessThan(HEDGE_AFTER_MS + 700);
    expect(up(c1).seen).toHaveLength(1);
    expect(stableSeen()).toBe(1);
    expect(await retriesByReason('hedge')).toBe(hedges + 1);
    // The canary try lost the race: its breaker counts it as a slow call.
    expect(agent.agent.resilience.breakers.get('orders', 'canary')!.counts(Date.now())).toMatchObject({ calls: 1, slow: 1, failures: 0 });
    // A POST reached the canary and cannot be sent twice: it keeps the whole deadline (3 s here).
    const p0 = performance.now();
    expect((await call({ method: 'POST', headers: dyed, body: 'x' })).status).toBe(504);
    expect(performance.now() - p0).toBeGreaterThanOrEqual(2900);
    expect(stableSeen()).toBe(1);
  });

  it('the racing try that answers first wins: a cold canary answering after SLOW_MS is served although stable got the hedge', async () => {
    await publishFresh(docs(policy));
    for (const n of [c1, s1, s2, s3]) up(n).set('slow'); // stable would answer HEDGE_AFTER_MS + SLOW_MS after the request
    const t0 = performance.now();
    const r = await call({ headers: dyed });
    expect(r.status).toBe(200);
    expect(r.headers['x-dyeline-served-color']).toBe('canary');
    expect(r.headers['x-dyeline-fallback']).toBeUndefined();
    expect(JSON.parse(r.body).name).toBe(c1);
    expect(performance.now() - t0).toBeLessThan(HEDGE_AFTER_MS + SLOW_MS);
    expect(stableSeen()).toBe(1);
    // The canary's answer counts as its own (a call, not slow: its threshold is the deadline while cold).
    expect(agent.agent.resilience.breakers.get('orders', 'canary')!.counts(Date.now())).toMatchObject({ calls: 1, slow: 0, failures: 0 });
  });

  it('a hedge answered with a 5xx is dropped and the racing try is waited for', async () => {
    await publishFresh(docs(policy));
    up(c1).set('slow');
    for (const n of [s1, s2, s3]) up(n).set('500');
    const r = await call({ headers: dyed });
    expect(r.status).toBe(200);
    expect(r.headers['x-dyeline-served-color']).toBe('canary');
    expect(JSON.parse(r.body).name).toBe(c1);
    expect(stableSeen()).toBe(1);
    expect(agent.agent.resilience.breakers.get('orders', 'stable')!.counts(Date.now())).toMatchObject({ calls: 1, failures: 1 });
  });

  it('a racing try that fails while the hedge runs is counted a failure, and the hedge answers', async () => {
    await publishFresh(docs(policy));
    up(c1).set('slow-reset'); // the canary breaks the connection after SLOW_MS, while the hedge waits
    for (const n of [s1, s2, s3]) up(n).set('slow'); // stable answers HEDGE_AFTER_MS + SLOW_MS after the request
    const t0 = performance.now();
    const r = await call({ headers: dyed });
    expect(r.status).toBe(200);
    expect(r.headers['x-dyeline-served-color']).toBe('stable');
    expect(r.headers['x-dyeline-fallback']).toBe('error');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(HEDGE_AFTER_MS + SLOW_MS - 5);
    expect(up(c1).seen).toHaveLength(1);
    expect(stableSeen()).toBe(1);
    expect(agent.agent.resilience.breakers.get('orders', 'canary')!.counts(Date.now())).toMatchObject({ calls: 1, failures: 1 });
    expect(agent.agent.resilience.breakers.get('orders', 'stable')!.counts(Date.now())).toMatchObject({ calls: 1, failures: 0 });
  });

  it('a client that goes away while a hedge races ends both tries', async () => {
    await publishFresh(docs(policy));
    for (const n of [c1, s1, s2, s3]) up(n).set('hang');
    const [host, port] = agent.address('outbound').split(':');
    const req = httpRequest({ host, port: Number(port), path: '/x', headers: { host: 'orders', ...dyed }, agent: false });
    req.on('error', () => {});
    req.end();
    await waitFor(() => stableSeen() === 1, { timeoutMs: 3000, what: 'the hedge sent' });
    const eps = agent.agent.ctx.table!.service('orders')!.endpoints;
    expect(eps.reduce((n, ep) => n + ep.state.inflight, 0)).toBe(2);
    req.destroy();
    await waitFor(() => eps.every((ep) => ep.state.inflight === 0), { timeoutMs: 2000, what: 'both tries ended' });
  });

  it('the hedged answers make stable known: from then on the cold canary is cut at the derived timeout and hedging stops', async () => {
    await publishFresh(docs(policy));
    up(c1).set('hang');
    for (let i = 0; i < MIN_SAMPLES; i++) expect((await call({ headers: dyed })).headers['x-dyeline-served-color']).toBe('stable');
    const hedges = await retriesByReason('hedge');
    const t0 = performance.now();
    const r = await call({ headers: dyed });
    const ms = performance.now() - t0;
    expect(r.headers['x-dyeline-served-color']).toBe('stable');
    expect(r.headers['x-dyeline-fallback']).toBe('error');
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_FLOOR_MS - 10);
    expect(ms).toBeLessThan(HEDGE_AFTER_MS);
    expect(await retriesByReason('hedge')).toBe(hedges);
  });
});
