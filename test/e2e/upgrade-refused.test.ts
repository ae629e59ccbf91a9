/**
 * A refused Upgrade (the upstream answers anything but 101) must not leave a raw tunnel: the
 * client gets the upstream's answer, and bytes it sends after it never reach the upstream
 * unrouted (a request smuggled behind a refused WebSocket handshake). Real agent process, on its
 * outbound listener (to a known service) and on its inbound listener (to the app); the upstream
 * is a raw TCP server that refuses every upgrade and records every byte it receives.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentProcess } from '../support/apps.ts';
import type { DyelineProcess } from '../support/process.ts';
import { instance, service, snapshotText } from '../support/snapshot-builder.ts';
import { waitFor } from '../support/wait.ts';

let dir: string;
let agent: DyelineProcess;
let upstream: Server;
let upstreamPort: number;
/** Everything each upstream connection received, in order of connection. */
const received: string[] = [];
/** Answer of the upstream to an upgrade request; `accept` makes it a 101 echo tunnel. */
let answer: 'refuse' | 'accept' = 'refuse';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-upgrade-'));
  upstream = createServer((s: Socket) => {
    const i = received.push('') - 1;
    let headDone = false;
    s.on('error', () => {});
    s.setEncoding('latin1');
    s.on('data', (c: string) => {
      received[i] += c;
      if (headDone || !received[i]!.includes('\r\n\r\n')) return;
      headDone = true;
      if (answer === 'accept') {
        s.write('HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n');
        return;
      }
      // Refuse, and keep the connection open (keep-alive), as an HTTP server may.
      s.write('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 7\r\n\r\nno ws!\n');
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = (upstream.address() as { port: number }).port;
  const snapshot = join(dir, 'snapshot.json');
  await writeFile(snapshot, snapshotText([service('chat'), instance('chat-1', 'chat', '127.0.0.1', { port: upstreamPort })]));
  agent = await startAgentProcess({ service: 'web', appPort: upstreamPort, snapshot });
}, 30_000);

afterAll(async () => {
  await agent?.stop();
  upstream?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Sends an upgrade request, then — once the answer head is in — `after`; returns what came back. */
async function upgradeThenSend(address: string, host: string, after: string): Promise<{ answer: string; closed: boolean }> {
  const i = address.lastIndexOf(':');
  const s = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
  s.on('error', () => {});
  s.setEncoding('latin1');
  let got = '';
  let closed = false;
  s.on('data', (c: string) => (got += c));
  s.once('close', () => (closed = true));
  await new Promise((r) => s.once('connect', r));
  s.write(`GET /ws HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
  await waitFor(() => got.includes('\r\n\r\n'), { timeoutMs: 5_000, what: 'an answer to the upgrade' });
  if (!closed) s.write(after);
  // Give the bytes time to travel (or the agent time to close).
  await new Promise((r) => setTimeout(r, 500));
  s.destroy();
  return { answer: got, closed };
}

const SMUGGLED = 'GET /internal/admin HTTP/1.1\r\nHost: chat\r\nX-Smuggled: 1\r\n\r\n';

describe('a refused upgrade leaves no raw tunnel', () => {
  for (const listener of ['outbound', 'inbound'] as const) {
    it(`${listener}: the client gets the 403, and bytes it sends after it never reach the upstream`, async () => {
      answer = 'refuse';
      const before = received.length;
      const r = await upgradeThenSend(agent.listeners.get(listener)!, 'chat', SMUGGLED);
      expect(r.answer).toMatch(/^HTTP\/1\.1 403 /);
      expect(r.answer).toContain('no ws!');
      const seen = received.slice(before).join('');
      expect(seen).toContain('GET /ws HTTP/1.1');
      expect(seen).not.toContain('X-Smuggled');
    });
  }

  it('an accepted upgrade still tunnels bytes both ways', async () => {
    answer = 'accept';
    const before = received.length;
    const r = await upgradeThenSend(agent.listeners.get('outbound')!, 'chat', 'hello over the tunnel');
    expect(r.answer).toMatch(/^HTTP\/1\.1 101 /);
    await waitFor(() => received.slice(before).join('').includes('hello over the tunnel'), { timeoutMs: 2_000, what: 'tunnelled bytes at the upstream' });
  });
});
