/**
 * Issue 14's acceptance for dyeline/propagate, with real processes: four services written in
 * common Node styles — edge (plain http) → orders (Express) → stock (Fastify) → billing (plain
 * http) — none with a line of forwarding code, each run with `node --import propagate.mjs` behind
 * its own `dyeline agent` (tests/support/proxied-pod.ts) and calling the next service with fetch,
 * http.request and undici at once (test/support/zero-code-app.ts). orders has a canary instance,
 * stock a blue one, billing both. Requests enter at edge's inbound listener, as from an ingress.
 * A fifth app, `bare`, is the same plain-http app without the preload: the control. The agents run
 * with lane-leak recovery off, so that only the preload can keep a request in its lane.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProxiedPod, startProxiedPod } from '../support/proxied-pod.ts';
import { lane, service } from '../support/snapshot-builder.ts';
import { publishMesh, publishSnapshot } from '../support/static-mesh.ts';
import { waitFor } from '../support/wait.ts';
import type { ZeroCodeHop } from '../support/zero-code-app.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PRELOAD = join(ROOT, 'propagate/propagate.mjs');
const APP = join(ROOT, 'test/support/zero-code-app.ts');
const CHAIN = '/chain?via=orders,stock,billing';
const STYLES: Record<string, string> = { edge: 'http', orders: 'express', stock: 'fastify', billing: 'http', bare: 'http' };
const TOPOLOGY: [string, string][] = [
  ['edge', 'stable'],
  ['orders', 'stable'],
  ['orders', 'canary'],
  ['stock', 'stable'],
  ['stock', 'blue'],
  ['billing', 'stable'],
  ['billing', 'canary'],
  ['billing', 'blue'],
  ['bare', 'stable'],
];
/** The lane each service serves a colour from (canary falls back to stable at stock, blue at orders). */
const SERVED: Record<string, Record<string, string>> = {
  canary: { edge: 'stable', orders: 'canary', stock: 'stable', billing: 'canary' },
  blue: { edge: 'stable', orders: 'stable', stock: 'blue', billing: 'blue' },
  none: { edge: 'stable', orders: 'stable', stock: 'stable', billing: 'stable' },
};

let dir: string;
let snapshot: string;
const pods: ProxiedPod[] = [];
const entry = new Map<string, Pool>();

/** Every hop of a chain answer, depth first. */
function hops(hop: ZeroCodeHop, out: ZeroCodeHop[] = []): ZeroCodeHop[] {
  out.push(hop);
  for (const [client, next] of Object.entries(hop.calls ?? {})) {
    if (!('service' in next)) throw new Error(`${hop.service} → ${client} failed: ${JSON.stringify(next)}`);
    hops(next, out);
  }
  return out;
}

async function send(service: string, headers: Record<string, string>): Promise<ZeroCodeHop> {
  const res = await entry.get(service)!.request({ path: CHAIN, method: 'GET', headers });
  const text = await res.body.text();
  expect(res.statusCode, text).toBe(200);
  return JSON.parse(text) as ZeroCodeHop;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-zero-code-'));
  snapshot = join(dir, 'snapshot.json');
  // The Services set their per-try timeout: this file studies propagation, not the resilience
  // defaults, which cut (or hedge, while cold) tries slower than a lane's usual latency — and a
  // burst of 960 hops on 2 cores makes healthy answers that slow (docs/resilience.md#hedging-while-cold).
  const services = [...new Set(TOPOLOGY.map(([s]) => s))].map((s) => service(s, { retry: { perTryTimeoutMs: 15_000 } }));
  const lanes = [lane('canary'), lane('blue'), ...services];
  await publishSnapshot(snapshot, lanes, 1);
  // Two at a time: the machine has two cores.
  for (let i = 0; i < TOPOLOGY.length; i += 2) {
    const started = await Promise.all(
      TOPOLOGY.slice(i, i + 2).map(([service, color]) =>
        // Lane-leak recovery off: the lane must hold through the preload alone.
        startProxiedPod({ service, color, snapshot, command: service === 'bare' ? [APP] : ['--import', PRELOAD, APP], env: { APP_STYLE: STYLES[service] }, agentArgs: ['--leak-window-ms', '0'] }),
      ),
    );
    pods.push(...started);
  }
  await publishMesh(snapshot, lanes, pods.map((p) => ({ name: `${p.service}-${p.color}`, service: p.service, color: p.color, inbound: p.inbound, admin: p.admin })), 2);
  for (const p of pods) {
    await waitFor(async () => (await fetch(`http://${p.status}/readyz`)).status === 200, { timeoutMs: 20_000, what: `${p.service}-${p.color} ready` });
  }
  for (const s of ['edge', 'bare']) entry.set(s, new Pool(`http://${pods.find((p) => p.service === s)!.inbound}`, { connections: 8 }));
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([...entry.values()].map((p) => p.close()));
  await Promise.allSettled(pods.map((p) => p.stop()));
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('zero-code propagation: http, Express and Fastify apps with no forwarding code, under dyeline/propagate', () => {
  it('a 4-service chain keeps the lane and one trace id end to end over fetch, http.request and undici, under concurrent requests of different colours', async () => {
    const colours = ['canary', 'blue', 'none'] as const;
    const sent = Array.from({ length: 24 }, (_, i) => ({ colour: colours[i % 3]!, traceId: (i + 1).toString(16).padStart(32, 'c') }));
    const answers = await Promise.all(
      sent.map(({ colour, traceId }) => {
        const headers: Record<string, string> = { traceparent: `00-${traceId}-00f067aa0ba902b7-01` };
        if (colour !== 'none') headers['x-traffic-color'] = colour;
        return send('edge', headers);
      }),
    );
    for (const [i, answer] of answers.entries()) {
      const { colour, traceId } = sent[i]!;
      const all = hops(answer);
      // 1 + 3 + 9 + 27: every call of every client reached the next service.
      expect(all, `request ${i}`).toHaveLength(40);
      const parents = new Set<string>();
      for (const hop of all) {
        const where = `request ${i} (${colour}) at ${hop.service}`;
        expect(hop.style, where).toBe(STYLES[hop.service]);
        expect(hop.color, where).toBe(SERVED[colour]![hop.service]);
        expect(hop.received.color, where).toBe(colour === 'none' ? undefined : colour);
        expect(hop.received.baggage, where).toBe(colour === 'none' ? undefined : `traffic_color=${colour}`);
        const [, trace, parent] = hop.received.traceparent!.split('-');
        expect(trace, where).toBe(traceId);
        parents.add(parent!);
      }
      // Each hop is its own span (the agents' server spans), all in the one trace.
      expect(parents.size, `request ${i}`).toBe(40);
    }
  }, 120_000);

  it('the same app without the preload loses the lane at its first call (the control)', async () => {
    const answer = await send('bare', { 'x-traffic-color': 'canary', traceparent: `00-${'d'.repeat(32)}-00f067aa0ba902b7-01` });
    expect(answer.received.color).toBe('canary');
    for (const next of Object.values(answer.calls!)) {
      const hop = next as ZeroCodeHop;
      expect([hop.service, hop.color, hop.received.color]).toEqual(['orders', 'stable', undefined]);
      expect(hop.received.traceparent!.split('-')[1]).not.toBe('d'.repeat(32));
    }
  });
});
