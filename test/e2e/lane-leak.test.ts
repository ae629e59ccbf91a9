/**
 * Issue 14's acceptance for lane-leak recovery, with real processes: apps (test/support/app-main.ts)
 * behind real agents on a static snapshot. `front` forwards only `traceparent` (the colour and
 * baggage are lost in it), `plain` is the same app behind an agent with recovery off
 * (`--leak-window-ms 0`), `mute` forwards nothing at all. Each calls orders (stable,
 * canary, blue), which forwards everything to payments (stable, canary). Requests enter at the
 * front agents' inbound listeners, as from an ingress.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pod, startPod } from '../support/apps.ts';
import { scrape, total } from '../support/prometheus.ts';
import { lane } from '../support/snapshot-builder.ts';
import { publishMesh, publishSnapshot } from '../support/static-mesh.ts';

interface Hop {
  service: string;
  color: string;
  received: Record<string, string | undefined>;
  next?: { status: number; servedColor: string | null; fallback: string | null; body: Hop | string };
}

const CHAIN = '/chain?via=orders,payments';
let dir: string;
const pods: Pod[] = [];
const entry = new Map<string, Pool>();

function podOf(service: string): Pod {
  return pods.find((p) => p.app.service === service)!;
}

/** The hops of a chain answer, in order. */
function hops(answer: Hop): Hop[] {
  const out: Hop[] = [];
  for (let h: Hop | undefined = answer; h !== undefined; h = typeof h.next?.body === 'object' ? h.next.body : undefined) out.push(h);
  return out;
}

async function send(service: string, headers: Record<string, string>): Promise<Hop[]> {
  const res = await entry.get(service)!.request({ path: CHAIN, method: 'GET', headers });
  const text = await res.body.text();
  expect(res.statusCode, text).toBe(200);
  return hops(JSON.parse(text) as Hop);
}

const leaks = async (service: string) => total(await scrape(podOf(service).status), 'dyeline_lane_leaks_total', { upstream: 'orders' });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-lane-leak-'));
  const snapshot = join(dir, 'snapshot.json');
  const lanes = [lane('canary'), lane('blue')];
  await publishSnapshot(snapshot, lanes, 1);
  const topology: [string, string, { appEnv?: NodeJS.ProcessEnv; agentArgs?: string[] }][] = [
    ['front', 'stable', { appEnv: { APP_FORWARD: 'traceparent' } }],
    ['plain', 'stable', { appEnv: { APP_FORWARD: 'traceparent' }, agentArgs: ['--leak-window-ms', '0'] }],
    ['mute', 'stable', { appEnv: { APP_FORWARD: '' } }],
    ['orders', 'stable', {}],
    ['orders', 'canary', {}],
    ['orders', 'blue', {}],
    ['payments', 'stable', {}],
    ['payments', 'canary', {}],
  ];
  // Two at a time: the machine has two cores.
  for (let i = 0; i < topology.length; i += 2) {
    pods.push(...(await Promise.all(topology.slice(i, i + 2).map(([s, c, opts]) => startPod(s, c, snapshot, `${s}-${c}`, opts)))));
  }
  await publishMesh(snapshot, lanes, pods.map((p) => ({ name: p.app.instance, service: p.app.service, color: p.app.color, inbound: p.inbound, admin: p.admin })), 2);
  for (const s of ['front', 'plain', 'mute']) entry.set(s, new Pool(`http://${podOf(s).inbound}`, { connections: 8 }));
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([...entry.values()].map((p) => p.close()));
  await Promise.allSettled(pods.map((p) => p.stop()));
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('lane-leak recovery: an app that forwards only traceparent', () => {
  it('stays in its lane: its agent re-colours the call from the trace id, counts the leak, and no request takes another one\'s lane', async () => {
    const before = await leaks('front');
    const colours = ['canary', 'blue', 'none'] as const;
    // With and without a caller's traceparent: without one, the agent's own new trace id is the one remembered.
    const sent = Array.from({ length: 30 }, (_, i) => ({ colour: colours[i % 3]!, traced: i % 2 === 0, traceId: (i + 1).toString(16).padStart(32, 'e') }));
    const answers = await Promise.all(
      sent.map(({ colour, traced, traceId }) => {
        const headers: Record<string, string> = {};
        if (colour !== 'none') headers['x-traffic-color'] = colour;
        if (traced) headers.traceparent = `00-${traceId}-00f067aa0ba902b7-01`;
        return send('front', headers);
      }),
    );
    for (const [i, h] of answers.entries()) {
      const { colour, traced, traceId } = sent[i]!;
      const where = `request ${i} (${colour}${traced ? ', traced' : ''})`;
      const expected = colour === 'canary' ? ['stable', 'canary', 'canary'] : colour === 'blue' ? ['stable', 'blue', 'stable'] : ['stable', 'stable', 'stable'];
      expect(h.map((x) => `${x.service}:${x.color}`), where).toEqual([`front:${expected[0]}`, `orders:${expected[1]}`, `payments:${expected[2]}`]);
      for (const x of h) expect(x.received['x-traffic-color'], `${where} at ${x.service}`).toBe(colour === 'none' ? undefined : colour);
      expect(new Set(h.map((x) => x.received.traceparent!.split('-')[1])).size, where).toBe(1);
      if (traced) expect(h[0]!.received.traceparent!.split('-')[1], where).toBe(traceId);
    }
    expect((await leaks('front')) - before).toBe(20);
  });

  it('leaks with recovery off, and cannot be healed when the app forwards nothing at all', async () => {
    for (const service of ['plain', 'mute']) {
      const h = await send(service, { 'x-traffic-color': 'canary' });
      expect(h.map((x) => `${x.service}:${x.color}`), service).toEqual([`${service}:stable`, 'orders:stable', 'payments:stable']);
      expect(h[1]!.received['x-traffic-color'], service).toBeUndefined();
      expect(await leaks(service), service).toBe(0);
    }
  });
});
