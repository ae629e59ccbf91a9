/**
 * Lane-leak recovery in one agent with real sockets (docs/reference.md#lane-leak-recovery): a
 * trace that arrives coloured on the inbound listener is remembered; an outbound call of the app
 * that carries that trace but no colour is routed and forwarded in the lane and counted; nothing
 * else is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, echo, send, startTestAgent, startUpstream, type TestAgent } from '../../../support/agent-harness.ts';
import { scrape, total } from '../../../support/prometheus.ts';
import { instance, lane } from '../../../support/snapshot-builder.ts';

type Upstream = Awaited<ReturnType<typeof startUpstream>>;
const WINDOW_MS = 1500;

let agent: TestAgent;
let app: Upstream;
let stable: Upstream;
let canary: Upstream;
let outside: Upstream;
let nextTrace = 0;

const json = (a: Answer) => JSON.parse(a.body) as { name: string; headers: Record<string, string> };

/** Sends a request in through the inbound listener; returns the traceparent the app was given. */
async function arrive(headers: Record<string, string>): Promise<string> {
  const traceId = (++nextTrace).toString(16).padStart(32, 'a');
  const a = await send(agent.address('inbound'), { headers: { host: 'web', traceparent: `00-${traceId}-00f067aa0ba902b7-01`, ...headers } });
  const given = json(a).headers.traceparent!;
  expect(given.split('-')[1]).toBe(traceId);
  return given;
}

/** The app's call to orders through the outbound listener, with `headers` only. */
const callOrders = (headers: Record<string, string>) => send(agent.address('outbound'), { headers: { host: 'orders', ...headers } });
const leaks = async (upstream: string) => total(await scrape(agent.address('status')), 'dyeline_lane_leaks_total', { upstream });

beforeAll(async () => {
  app = await startUpstream(echo('app'));
  stable = await startUpstream(echo('orders-stable'));
  canary = await startUpstream(echo('orders-canary'));
  outside = await startUpstream(echo('outside'));
  const docs = [lane('canary'), lane('blue'), instance('o-s', 'orders', '127.0.0.1', { port: stable.port }), instance('o-c', 'orders', '127.0.0.1', { port: canary.port, color: 'canary' })];
  agent = await startTestAgent(docs, { service: 'web', appPort: app.port, leakWindowMs: WINDOW_MS, leakTraces: 3 });
});

afterAll(async () => {
  await agent?.stop();
  await Promise.all([app, stable, canary, outside].map((u) => u?.close()));
});

describe('lane-leak recovery', () => {
  it('puts a call that carries only the traceparent back into the lane its trace arrived in, and counts it', async () => {
    const given = await arrive({ 'x-traffic-color': 'canary' });
    const before = await leaks('orders');
    const a = await callOrders({ traceparent: given });
    expect(a.headers['x-dyeline-served-color']).toBe('canary');
    const h = json(a).headers;
    expect([json(a).name, h['x-traffic-color'], h.baggage, h.traceparent!.split('-')[1]]).toEqual(['orders-canary', 'canary', 'traffic_color=canary', given.split('-')[1]]);
    expect((await leaks('orders')) - before).toBe(1);
  });

  it('recognises the trace in B3 too, and in calls to hosts outside the snapshot (upstream "passthrough")', async () => {
    const given = await arrive({ baggage: 'traffic_color=canary' });
    const [, traceId, spanId] = given.split('-');
    expect((await callOrders({ b3: `${traceId}-${spanId}-1` })).headers['x-dyeline-served-color']).toBe('canary');
    const before = await leaks('passthrough');
    const a = await send(agent.address('outbound'), { path: `http://127.0.0.1:${outside.port}/x`, headers: { traceparent: given } });
    expect(json(a).headers['x-traffic-color']).toBe('canary');
    expect((await leaks('passthrough')) - before).toBe(1);
  });

  it('leaves alone a call that has a colour, one whose trace arrived uncoloured or is unknown, and one that carries no trace', async () => {
    const coloured = await arrive({ 'x-traffic-color': 'canary' });
    const uncoloured = await arrive({});
    const before = await leaks('orders');
    // An app may leave the lane on purpose with an explicit colour.
    expect((await callOrders({ traceparent: coloured, 'x-traffic-color': 'stable' })).headers['x-dyeline-served-color']).toBe('stable');
    expect(json(await callOrders({ traceparent: uncoloured })).headers['x-traffic-color']).toBeUndefined();
    expect((await callOrders({ traceparent: `00-${'f'.repeat(32)}-00f067aa0ba902b7-01` })).headers['x-dyeline-served-color']).toBe('stable');
    expect((await callOrders({})).headers['x-dyeline-served-color']).toBe('stable');
    expect(await leaks('orders')).toBe(before);
  });

  it('forgets a trace after the window, and the oldest trace once more than --leak-traces arrived', async () => {
    const old = await arrive({ 'x-traffic-color': 'canary' });
    await new Promise((r) => setTimeout(r, WINDOW_MS + 50));
    expect((await callOrders({ traceparent: old })).headers['x-dyeline-served-color']).toBe('stable');
    const first = await arrive({ 'x-traffic-color': 'canary' });
    const rest = [await arrive({ 'x-traffic-color': 'blue' }), await arrive({ 'x-traffic-color': 'canary' }), await arrive({ 'x-traffic-color': 'canary' })];
    expect((await callOrders({ traceparent: first })).headers['x-dyeline-served-color']).toBe('stable');
    // blue has no orders instance: served by stable after the lane's fallback, but coloured blue.
    const blue = await callOrders({ traceparent: rest[0]! });
    expect([blue.headers['x-dyeline-fallback'], json(blue).headers['x-traffic-color']]).toEqual(['no-instance', 'blue']);
    expect((await callOrders({ traceparent: rest[2]! })).headers['x-dyeline-served-color']).toBe('canary');
  });
});
