/**
 * Upgrades are hops like any request: they take the entry step and are counted by hop
 * telemetry (agent/telemetry/hop.ts) with the status the client got — the upstream's answer,
 * or the agent's refusal or failure — on both listeners.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerStatus } from '../../../../agent/forward/upgrade.ts';
import { raw, startTestAgent, startUpstream, type TestAgent } from '../../../support/agent-harness.ts';
import { find, scrape } from '../../../support/prometheus.ts';
import { instance, lane } from '../../../support/snapshot-builder.ts';
import { waitFor } from '../../../support/wait.ts';

type Upstream = Awaited<ReturnType<typeof startUpstream>>;

let ws: Upstream;
let closedPort: number;
let agent: TestAgent;

const upgrade = (host: string, more = '') => `GET /socket HTTP/1.1\r\nhost: ${host}\r\nconnection: Upgrade\r\nupgrade: websocket\r\n${more}\r\n`;

/** The value of dyeline_requests_total for `labels` (0 when absent). */
async function requests(labels: Record<string, string>): Promise<number> {
  return find(await scrape(agent.address('status')), 'dyeline_requests_total', labels)[0]?.value ?? 0;
}

beforeAll(async () => {
  ws = await startUpstream((_req, res) => res.end('plain'));
  ws.server.on('upgrade', (_req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(d));
    socket.on('end', () => socket.end());
  });
  const c = await startUpstream(() => {});
  closedPort = c.port;
  await c.close();
  agent = await startTestAgent(
    [lane('canary'), instance('chat-1', 'chat', '127.0.0.1', { port: ws.port, labels: { color: 'canary' } }), instance('gone-1', 'gone', '127.0.0.1', { port: closedPort })],
    { service: 'web', appPort: ws.port },
  );
});

afterAll(async () => {
  await agent?.stop();
  await ws?.close();
});

describe('upgrade hops', () => {
  it('reads the status of an answer head', () => {
    expect(answerStatus(Buffer.from('HTTP/1.1 101 Switching Protocols\r\n'))).toBe(101);
    expect(answerStatus(Buffer.from('HTTP/1.0 400 Bad Request\r\n'))).toBe(400);
    expect(answerStatus(Buffer.from('SSH-2.0-OpenSSH'))).toBe(0);
    expect(answerStatus(Buffer.from('HTTP/1.1'))).toBe(0);
  });

  it('counts a tunnelled upgrade with the upstream answer, on the outbound and the inbound listener', async () => {
    const text = await raw(agent.address('outbound'), upgrade('chat', 'x-traffic-color: canary\r\n'), (t) => t.includes('\r\n\r\n'));
    expect(text).toMatch(/^HTTP\/1.1 101/);
    const out = { direction: 'outbound', upstream: 'chat', color: 'canary', served_color: 'canary', code: '101', fallback: '' };
    await waitFor(async () => (await requests(out)) === 1, { timeoutMs: 5000, what: 'the outbound upgrade counted' });
    const samples = await scrape(agent.address('status'));
    expect(find(samples, 'dyeline_request_duration_seconds_count', { direction: 'outbound', upstream: 'chat', served_color: 'canary' })[0]?.value).toBe(1);

    const inbound = await raw(agent.address('inbound'), upgrade('web'), (t) => t.includes('\r\n\r\n'));
    expect(inbound).toMatch(/^HTTP\/1.1 101/);
    await waitFor(async () => (await requests({ direction: 'inbound', upstream: 'web', code: '101' })) === 1, { timeoutMs: 5000, what: 'the inbound upgrade counted' });
  });

  it('counts refused and failed upgrades with the status the client got', async () => {
    expect(await raw(agent.address('outbound'), upgrade('chat', 'x-dyeline-hops: 32\r\n'))).toMatch(/^HTTP\/1.1 508/);
    expect(await raw(agent.address('inbound'), upgrade('web', 'x-dyeline-hops: 40\r\n'))).toMatch(/^HTTP\/1.1 508/);
    expect(await raw(agent.address('outbound'), upgrade('gone'))).toMatch(/^HTTP\/1.1 502[^]*x-dyeline-error: connect-failure/);
    expect(await raw(agent.address('outbound'), 'GET /socket HTTP/1.1\r\nhost: bad host\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n')).toMatch(/^HTTP\/1.1 400/);
    expect(await requests({ direction: 'outbound', upstream: 'passthrough', code: '508' })).toBe(1); // refused before its service is known, like any request
    expect(await requests({ direction: 'inbound', upstream: 'web', code: '508' })).toBe(1);
    expect(await requests({ direction: 'outbound', upstream: 'gone', served_color: 'stable', code: '502' })).toBe(1);
    expect(await requests({ direction: 'outbound', upstream: 'passthrough', code: '400' })).toBe(1);
  });
});
