/**
 * Issue 5's acceptance with real processes: `dyeline daemon` (file source) → snapshot → one
 * `dyeline agent` per app (apps forward colour and trace headers by hand), every process
 * exporting OTLP/HTTP to the test receiver — gateway and payments as protobuf, the orders pods
 * as JSON, the daemon as protobuf. Chain: gateway → orders → payments; gateway dyes
 * `x-user-group: beta` canary; orders has a canary instance, payments has none (fallback
 * no-instance). Requests enter at gateway's inbound listener, like an ingress would send them.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppProcess, startAgentProcess, startApp } from '../support/apps.ts';
import { OtlpSpanKind, type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../support/otlp-receiver.ts';
import { type DyelineProcess, getJson, startDaemon } from '../support/process.ts';
import { find, scrape, type Sample } from '../support/prometheus.ts';
import { waitFor } from '../support/wait.ts';

const CHAIN = '/chain?via=orders,payments';

const RULES = `apiVersion: dyeline.io/v1
kind: Lane
metadata: { name: canary }
spec:
  color: canary
  priority: 10
  dye:
    entry: [gateway]
    match:
      - headers: { x-user-group: { exact: beta } }
---
apiVersion: dyeline.io/v1
kind: Service
metadata: { name: orders }
spec:
  timeoutMs: 5000
  # A small breaker so the circuit scenario opens it quickly; outlier ejection out of the way.
  circuitBreaker: { volumeThreshold: 5, windowMs: 2000, errorThresholdPercentage: 50, resetTimeoutMs: 1000 }
  outlierDetection: { consecutiveFailures: 1000 }
`;

interface Pod {
  app: AppProcess;
  agent: DyelineProcess;
  inbound: string;
  status: string;
  admin: string;
}

let dir: string;
let rules: string;
let snapshot: string;
let receiver: OtlpReceiver;
let daemon: DyelineProcess;
const pods: Pod[] = [];
let gateway: Pod;
let gatewayPool: Pool;

/** OTLP settings of one process: fast batches, the given protocol. */
const otlpEnv = (protocol: 'http/protobuf' | 'http/json'): NodeJS.ProcessEnv => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
  OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
  OTEL_BSP_SCHEDULE_DELAY: '50',
});

async function startPod(service: string, color: string, protocol: 'http/protobuf' | 'http/json'): Promise<Pod> {
  const app = await startApp(service, color, `${service}-${color}`);
  const agent = await startPodAgent(service, color, app.port, protocol).catch(async (err: unknown) => {
    await app.stop();
    throw err;
  });
  await app.setOutbound(agent.listeners.get('outbound')!);
  return { app, agent, inbound: agent.listeners.get('inbound')!, status: agent.listeners.get('status')!, admin: agent.listeners.get('admin')! };
}

/** The agent of a pod; `inbound` pins its inbound listener (a restart on the same address). */
function startPodAgent(service: string, color: string, appPort: number, protocol: 'http/protobuf' | 'http/json', inbound?: string): Promise<DyelineProcess> {
  return startAgentProcess({ service, color, appPort, snapshot, env: otlpEnv(protocol), extraArgs: inbound === undefined ? [] : ['--inbound', inbound] });
}

function instanceDoc(p: Pod): string {
  const i = p.inbound.lastIndexOf(':');
  const labels = p.app.color === 'stable' ? '' : `, labels: { color: ${p.app.color} }`;
  return `apiVersion: dyeline.io/v1\nkind: Instance\nmetadata: { name: ${p.app.instance} }\nspec: { service: ${p.app.service}, address: ${p.inbound.slice(0, i)}, port: ${p.inbound.slice(i + 1)}${labels} }\n`;
}

/** A request into gateway's inbound listener (what an ingress sends). */
async function enter(headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const res = await gatewayPool.request({ path: CHAIN, method: 'GET', headers: { host: 'gateway', ...headers } });
  return { status: res.statusCode, body: await res.body.text() };
}

const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  dir = await mkdtemp(join(tmpdir(), 'dyeline-telemetry-'));
  rules = join(dir, 'rules');
  snapshot = join(dir, 'run', 'snapshot.json');
  await mkdir(rules);
  await writeFile(join(rules, 'rules.yaml'), RULES);
  daemon = await startDaemon({ sources: [`file://${rules}`], snapshot, env: otlpEnv('http/protobuf') });
  const topology: [string, string, 'http/protobuf' | 'http/json'][] = [
    ['gateway', 'stable', 'http/protobuf'],
    ['orders', 'stable', 'http/json'],
    ['orders', 'canary', 'http/json'],
    ['payments', 'stable', 'http/protobuf'],
  ];
  for (let i = 0; i < topology.length; i += 2) {
    pods.push(...(await Promise.all(topology.slice(i, i + 2).map(([s, c, p]) => startPod(s, c, p)))));
  }
  gateway = pods[0]!;
  await writeFile(join(rules, 'instances.yaml'), pods.map(instanceDoc).join('---\n'));
  for (const p of pods) {
    await waitFor(async () => (await fetch(`http://${p.status}/readyz`)).status === 200, { timeoutMs: 20_000, what: `${p.app.instance} ready` });
    await waitFor(async () => {
      const c = await getJson<{ services: { name: string; instances: unknown[] }[] }>(p.admin, '/clusters');
      return c.body.services.reduce((n, s) => n + s.instances.length, 0) === pods.length;
    }, { timeoutMs: 20_000, what: `${p.app.instance} sees every instance` });
  }
  gatewayPool = new Pool(`http://${gateway.inbound}`, { connections: 8 });
}, 120_000);

afterAll(async () => {
  await gatewayPool?.close();
  await Promise.allSettled([...pods.flatMap((p) => [p.agent.stop(), p.app.stop()]), daemon?.stop()]);
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

/** The five hop spans of one chain request, in order. */
function chainOf(spans: ReceivedSpan[]): ReceivedSpan[] {
  const pick = (service: string, kind: number) => {
    const s = spans.filter((x) => x.serviceName === service && x.kind === kind);
    expect(s, `${service} ${kind === OtlpSpanKind.SERVER ? 'SERVER' : 'CLIENT'} spans`).toHaveLength(1);
    return s[0]!;
  };
  return [
    pick('gateway', OtlpSpanKind.SERVER),
    pick('gateway', OtlpSpanKind.CLIENT),
    pick('orders', OtlpSpanKind.SERVER),
    pick('orders', OtlpSpanKind.CLIENT),
    pick('payments', OtlpSpanKind.SERVER),
  ];
}

describe('telemetry across a dyed request (real processes)', () => {
  it('one trace, correct parent links, lane attributes on every span, fallback visible, JSON and protobuf both received', async () => {
    const traceId = hex(32);
    const root = hex(16);
    const r = await enter({ 'x-user-group': 'beta', traceparent: `00-${traceId}-${root}-01` });
    expect(r.status).toBe(200);
    const spans = await receiver.waitForTrace(traceId, 5);
    const [gwIn, gwOut, ordIn, ordOut, payIn] = chainOf(spans);
    expect(spans).toHaveLength(5);
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([traceId]));
    // Parent links: ingress → gateway SERVER → gateway CLIENT → orders SERVER → orders CLIENT → payments SERVER.
    expect(gwIn!.parentSpanId).toBe(root);
    expect(gwOut!.parentSpanId).toBe(gwIn!.spanId);
    expect(ordIn!.parentSpanId).toBe(gwOut!.spanId);
    expect(ordOut!.parentSpanId).toBe(ordIn!.spanId);
    expect(payIn!.parentSpanId).toBe(ordOut!.spanId);
    // The lane on every span.
    for (const s of spans) expect(s.attributes['dyeline.color'], `${s.serviceName} ${s.name}`).toBe('canary');
    expect(gwOut!.attributes).toMatchObject({ 'dyeline.upstream': 'orders', 'dyeline.served_color': 'canary', 'dyeline.instance': 'orders-canary', 'http.response.status_code': 200 });
    expect(gwOut!.attributes['dyeline.fallback']).toBeUndefined();
    expect(ordIn!.attributes).toMatchObject({ 'dyeline.served_color': 'canary', 'url.path': '/chain', 'http.request.method': 'GET' });
    // payments has no canary instance: served by stable, and the span says why.
    expect(ordOut!.attributes).toMatchObject({ 'dyeline.upstream': 'payments', 'dyeline.served_color': 'stable', 'dyeline.fallback': 'no-instance' });
    expect(payIn!.attributes).toMatchObject({ 'dyeline.served_color': 'stable' });
    expect(gwOut!.name).toBe('GET orders');
    expect(gwIn!.name).toBe('GET');
    // Both encodings arrived (orders exports JSON, gateway and payments protobuf).
    expect(ordIn!.encoding).toBe('json');
    expect(gwIn!.encoding).toBe('protobuf');
    expect(receiver.requests.some((q) => q.encoding === 'json' && q.status === 200)).toBe(true);
    expect(receiver.requests.some((q) => q.encoding === 'protobuf' && q.status === 200)).toBe(true);
  });

  it('a new trace (no traceparent) and a B3 parent: the same shape, rooted at the gateway or at the B3 span', async () => {
    await enter({ 'x-user-group': 'beta', 'x-request-id': 'new-trace' });
    const gwRoots = await receiver.waitForSpans((s) => s.serviceName === 'gateway' && s.kind === OtlpSpanKind.SERVER && s.parentSpanId === '', 1);
    const fresh = await receiver.waitForTrace(gwRoots[0]!.traceId, 5);
    chainOf(fresh);

    const traceId = hex(32);
    const b3Span = hex(16);
    await enter({ b3: `${traceId}-${b3Span}-1` });
    const spans = await receiver.waitForTrace(traceId, 5);
    const [gwIn] = chainOf(spans);
    expect(gwIn!.parentSpanId).toBe(b3Span);
    // Uncoloured: no lane attribute, stable served everywhere.
    for (const s of spans) expect(s.attributes['dyeline.color']).toBeUndefined();
  });

  it('sampling honours the incoming sampled flag: a trace flagged 00 exports nothing', async () => {
    const unsampled = hex(32);
    await enter({ 'x-user-group': 'beta', traceparent: `00-${unsampled}-${hex(16)}-00` });
    const after = hex(32);
    await enter({ 'x-user-group': 'beta', traceparent: `00-${after}-${hex(16)}-01` });
    // Every agent exports in order: once the later trace is complete, the earlier one would be there too.
    await receiver.waitForTrace(after, 5);
    expect(receiver.spans.filter((s) => s.traceId === unsampled)).toEqual([]);
  });

  it('a request log line carries the trace id and span id of its span', async () => {
    const traceId = hex(32);
    await enter({ 'x-user-group': 'beta', traceparent: `00-${traceId}-${hex(16)}-01` });
    const [gwIn, , ordIn] = chainOf(await receiver.waitForTrace(traceId, 5));
    const gwLine = await gateway.agent.waitForLog((l) => l.msg === 'request' && l.trace_id === traceId && l.direction === 'inbound');
    expect(gwLine).toMatchObject({ span_id: gwIn!.spanId, color: 'canary', status: 200, path: '/chain' });
    const ordersCanary = pods.find((p) => p.app.instance === 'orders-canary')!;
    const ordLine = await ordersCanary.agent.waitForLog((l) => l.msg === 'request' && l.trace_id === traceId && l.direction === 'inbound');
    expect(ordLine).toMatchObject({ span_id: ordIn!.spanId, color: 'canary', served_color: 'canary' });
  });

  it('the daemon exports its snapshot writes as dyeline-daemon', async () => {
    const [w] = await receiver.waitForSpans((s) => s.serviceName === 'dyeline-daemon' && s.name === 'snapshot write');
    expect(w!.attributes['dyeline.snapshot.version']).toBeGreaterThan(0);
  });

  it('/metrics scraped during load has the contract series with colour, served colour and fallback labels', async () => {
    const ordersStable = pods.find((p) => p.app.instance === 'orders-stable')!;
    const ordersCanary = pods.find((p) => p.app.instance === 'orders-canary')!;
    let running = true;
    const load = (async () => {
      let n = 0;
      while (running && n < 2000) {
        await Promise.all([enter({ 'x-user-group': 'beta' }), enter({}), enter({ 'x-traffic-color': 'Not_Valid!' })]);
        n++;
      }
    })();
    let gw: Sample[] = [];
    let oc: Sample[] = [];
    try {
      await waitFor(async () => {
        [gw, oc] = await Promise.all([scrape(gateway.status), scrape(ordersCanary.status)]);
        return find(oc, 'dyeline_requests_total', { direction: 'outbound', upstream: 'payments', fallback: 'no-instance' }).length > 0 && find(gw, 'dyeline_invalid_color_total')[0]!.value > 0;
      }, { timeoutMs: 20_000, what: 'load visible in the metrics' });
    } finally {
      running = false;
      await load;
    }
    // gateway: inbound dyed canary; outbound to orders served canary (dyed) and stable (uncoloured)
    expect(find(gw, 'dyeline_requests_total', { direction: 'inbound', upstream: 'gateway', color: 'canary', served_color: 'stable', code: '200', fallback: '' })[0]!.value).toBeGreaterThan(0);
    expect(find(gw, 'dyeline_requests_total', { direction: 'outbound', upstream: 'orders', color: 'canary', served_color: 'canary', code: '200' })[0]!.value).toBeGreaterThan(0);
    expect(find(gw, 'dyeline_requests_total', { direction: 'outbound', upstream: 'orders', color: '', served_color: 'stable' })[0]!.value).toBeGreaterThan(0);
    expect(find(gw, 'dyeline_invalid_color_total')[0]!.value).toBeGreaterThan(0);
    // orders canary: to payments, requested canary, served stable, fallback no-instance
    expect(find(oc, 'dyeline_requests_total', { direction: 'outbound', upstream: 'payments', color: 'canary', served_color: 'stable', code: '200', fallback: 'no-instance' })[0]!.value).toBeGreaterThan(0);
    expect(find(oc, 'dyeline_request_duration_seconds_count', { direction: 'outbound', upstream: 'payments', served_color: 'stable' })[0]!.value).toBeGreaterThan(0);
    expect(find(oc, 'dyeline_request_duration_seconds_bucket', { direction: 'inbound', upstream: 'orders', served_color: 'canary', le: '+Inf' })[0]!.value).toBeGreaterThan(0);
    // snapshot: version, age, checksum — the same rules on every sidecar of the node
    const os = await scrape(ordersStable.status);
    for (const s of [gw, oc, os]) {
      expect(find(s, 'dyeline_snapshot_version')[0]!.value).toBeGreaterThan(0);
      expect(find(s, 'dyeline_snapshot_age_seconds')[0]!.value).toBeGreaterThanOrEqual(0);
    }
    expect(find(oc, 'dyeline_snapshot_info')[0]!.labels.checksum).toBe(find(os, 'dyeline_snapshot_info')[0]!.labels.checksum);
    // The tracing pipeline's own health is visible too (spans processed by the batch processor).
    expect(find(gw, 'otel_sdk_processor_span_processed_total').length).toBeGreaterThan(0);
  });

  it('circuit state transitions show in /metrics under load (closed → open → closed), with circuit-open fallbacks in metrics and spans', async () => {
    const ordersCanary = pods.find((p) => p.app.instance === 'orders-canary')!;
    const seen: number[] = [];
    const state = async () => {
      const v = find(await scrape(gateway.status), 'dyeline_circuit_state', { upstream: 'orders', subset: 'canary' })[0]?.value;
      if (v !== undefined && seen[seen.length - 1] !== v) seen.push(v);
      return v;
    };
    expect(await state()).toBe(0);
    let running = true;
    const statuses: number[] = [];
    const load = (async () => {
      for (let n = 0; running && n < 5000; n++) statuses.push((await enter({ 'x-user-group': 'beta' })).status);
    })();
    try {
      // The canary pod's agent goes away: connect failures at the gateway open orders/canary.
      await ordersCanary.agent.stop();
      await waitFor(async () => (await state()) === 2, { timeoutMs: 20_000, what: 'orders/canary circuit open' });
      const open = await waitFor(async () => {
        const m = await scrape(gateway.status);
        return find(m, 'dyeline_requests_total', { direction: 'outbound', upstream: 'orders', color: 'canary', served_color: 'stable', fallback: 'circuit-open' }).length > 0 ? m : undefined;
      }, { timeoutMs: 10_000, what: 'circuit-open fallbacks counted' });
      expect(find(open, 'dyeline_requests_total', { direction: 'outbound', upstream: 'orders', color: 'canary', served_color: 'stable', fallback: 'circuit-open' })[0]!.value).toBeGreaterThan(0);
      expect(find(open, 'dyeline_fallbacks_total', { upstream: 'orders', from: 'canary', to: 'stable', reason: 'circuit-open' })[0]!.value).toBeGreaterThan(0);
      const [fallbackSpan] = await receiver.waitForSpans((x) => x.serviceName === 'gateway' && x.kind === OtlpSpanKind.CLIENT && x.attributes['dyeline.fallback'] === 'circuit-open');
      expect(fallbackSpan!.attributes).toMatchObject({ 'dyeline.color': 'canary', 'dyeline.served_color': 'stable', 'dyeline.upstream': 'orders' });
      // Back on the same address: the half-open probe succeeds and the circuit closes.
      ordersCanary.agent = await startPodAgent('orders', 'canary', ordersCanary.app.port, 'http/json', ordersCanary.inbound);
      ordersCanary.status = ordersCanary.agent.listeners.get('status')!;
      await ordersCanary.app.setOutbound(ordersCanary.agent.listeners.get('outbound')!);
      await waitFor(async () => (await state()) === 0, { timeoutMs: 20_000, what: 'orders/canary circuit closed again' });
    } finally {
      running = false;
      await load;
    }
    expect(seen[0]).toBe(0);
    expect(seen).toContain(2);
    expect(seen[seen.length - 1]).toBe(0);
    // The lane kept answering: fallbacks, not errors, while the canary was away.
    expect(statuses.filter((x) => x !== 200).length).toBeLessThan(statuses.length / 10);
  });

  it('a collector that refuses every export never affects traffic: answers unchanged, one warning line, spans flow again after', async () => {
    const before = gateway.agent.logs.length;
    receiver.failNext(1_000_000, 400);
    try {
      for (let i = 0; i < 40; i++) expect((await enter({ 'x-user-group': 'beta' })).status).toBe(200);
      await gateway.agent.waitForLog((l) => l.msg === 'telemetry: span export failed (traffic is not affected)' && gateway.agent.logs.indexOf(l) >= before);
      for (let i = 0; i < 40; i++) expect((await enter({})).status).toBe(200);
      // Logged once per minute at most, however many exports fail.
      await waitFor(() => receiver.requests.filter((q) => q.status === 400).length >= 3, { timeoutMs: 10_000, what: 'several refused exports' });
      expect(gateway.agent.logs.slice(before).filter((l) => String(l.msg).startsWith('telemetry:'))).toHaveLength(1);
    } finally {
      receiver.failNext(0);
    }
    const traceId = hex(32);
    await enter({ 'x-user-group': 'beta', traceparent: `00-${traceId}-${hex(16)}-01` });
    chainOf(await receiver.waitForTrace(traceId, 5));
  });
});
