/**
 * Shutdown of an in-process agent: readiness turns 503 at once, new connections are refused,
 * in-flight requests finish, bounded by the drain timeout.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { send, startTestAgent, startUpstream, type TestAgent } from '../../support/agent-harness.ts';
import { instance, service } from '../../support/snapshot-builder.ts';
import { waitFor } from '../../support/wait.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(drainTimeoutMs: number) {
  const held: (() => void)[] = [];
  const up = await startUpstream((_req, res) => held.push(() => res.end('done')));
  cleanup.push(() => up.close());
  const agent: TestAgent = await startTestAgent([service('slow', { timeoutMs: 30_000 }), instance('slow-1', 'slow', '127.0.0.1', { port: up.port })], { drainTimeoutMs });
  cleanup.push(() => agent.stop());
  const out = agent.address('outbound');
  const i = out.lastIndexOf(':');
  const inFlight = new Promise<{ status: number; body: string } | Error>((resolve) => {
    const req = request({ host: out.slice(0, i), port: Number(out.slice(i + 1)), path: '/', headers: { host: 'slow' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', resolve);
    });
    req.on('error', resolve);
    req.end();
  });
  await waitFor(() => held.length === 1, { timeoutMs: 5000, what: 'request in flight' });
  return { agent, held, inFlight, out };
}

describe('agent shutdown', () => {
  it('turns /readyz 503 at once, refuses new connections, lets in-flight requests finish', async () => {
    const { agent, held, inFlight, out } = await setup(5000);
    const stopped = agent.agent.stop();
    expect(agent.agent.ctx.draining).toBe(true);
    const ready = await send(agent.address('status'), { path: '/readyz' });
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body).reason).toBe('draining');
    await expect(send(out, { headers: { host: 'slow' } })).rejects.toThrow(/ECONNREFUSED/);
    held[0]!();
    expect(await inFlight).toEqual({ status: 200, body: 'done' });
    await stopped;
  });

  it('gives up on in-flight requests after the drain timeout', async () => {
    const { agent, inFlight } = await setup(300);
    const t0 = Date.now();
    await agent.agent.stop();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(await inFlight).toBeInstanceOf(Error);
  });
});
