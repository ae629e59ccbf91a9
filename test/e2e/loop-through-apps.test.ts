/**
 * A routing loop that passes through apps: ping's app calls pong, pong's app calls ping, forever.
 * The apps forward the trace and colour headers (as docs/reference.md#colour-and-trace-propagation
 * asks) but not x-dyeline-hops, so the hop header alone never grows past 2. The agents must still
 * cut the loop (508 loop-detected) within --max-hops hops, by the trace the request carries
 * (docs/reference.md#hop-count), while an ordinary chain through the same apps is untouched.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pod, startPod } from '../support/apps.ts';
import { getJson } from '../support/process.ts';
import { instance, service, snapshotText } from '../support/snapshot-builder.ts';
import { waitFor } from '../support/wait.ts';

let dir: string;
let ping: Pod;
let pong: Pod;

interface Answer {
  service: string;
  next?: { status: number; body: unknown };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-loop-'));
  const snapshot = join(dir, 'snapshot.json');
  await writeFile(snapshot, snapshotText([service('ping')], 1));
  const started = await Promise.allSettled([startPod('ping', 'stable', snapshot), startPod('pong', 'stable', snapshot)]);
  if (started[0].status === 'fulfilled') ping = started[0].value;
  if (started[1].status === 'fulfilled') pong = started[1].value;
  for (const s of started) if (s.status === 'rejected') throw s.reason;
  const port = (p: Pod) => Number(p.inbound.slice(p.inbound.lastIndexOf(':') + 1));
  await writeFile(snapshot, snapshotText([service('ping'), service('pong'), instance('ping-1', 'ping', '127.0.0.1', { port: port(ping) }), instance('pong-1', 'pong', '127.0.0.1', { port: port(pong) })], 2));
  for (const p of [ping, pong]) {
    await waitFor(async () => (await getJson<{ snapshotVersion: number }>(p.admin, '/config')).body.snapshotVersion === 2, { timeoutMs: 10_000, what: 'snapshot 2' });
  }
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([ping?.stop(), pong?.stop()]);
  await rm(dir, { recursive: true, force: true });
}, 30_000);

/** Depth of nested answers, and the status the innermost call got. */
function deepest(a: Answer): { depth: number; status: number; body: unknown } {
  let depth = 0;
  let cur: Answer = a;
  for (;;) {
    const next = cur.next;
    if (next === undefined) return { depth, status: 200, body: undefined };
    depth++;
    if (next.status !== 200 || typeof next.body !== 'object' || next.body === null) return { depth, status: next.status, body: next.body };
    cur = next.body as Answer;
  }
}

describe('a loop through apps that do not forward x-dyeline-hops', () => {
  it('is cut with 508 loop-detected within --max-hops hops (32), by the trace it carries', async () => {
    const t0 = Date.now();
    const res = await request(`http://${ping.inbound}/chain?bounce=pong,ping`, { headersTimeout: 8_000, bodyTimeout: 8_000 });
    const answer = (await res.body.json()) as Answer;
    const took = Date.now() - t0;
    const d = deepest(answer);
    expect(res.statusCode).toBe(200);
    expect(d.status).toBe(508);
    expect(d.body).toMatchObject({ error: 'loop-detected' });
    // Each app call is two agent hops (outbound, then the next inbound): 32 hops, 16 app calls at most.
    expect(d.depth).toBeLessThanOrEqual(16);
    expect(took).toBeLessThan(5_000);
  }, 20_000);

  it('an ordinary chain through the same apps is untouched', async () => {
    const res = await request(`http://${ping.inbound}/chain?via=pong,ping,pong,ping`);
    const d = deepest((await res.body.json()) as Answer);
    expect(d).toEqual({ depth: 4, status: 200, body: undefined });
  });
});
