/**
 * Issue 4's acceptance with real processes and sockets: a `dyeline agent` (outbound only) in
 * front of upstream processes whose failures the test switches (test/support/fault-app.ts),
 * under steady load from this process. Figures (time from the first failure to the breaker
 * opening, requests, errors, time for lane traffic to come back) are printed at the end.
 *
 * orders:    s1, s2 (stable), c1 (canary), x1 (lane `strict`, fallback: none)
 * inventory: i1..i4 (stable) — for the ejection cap
 * billing:   two pods (agent + app) behind the client agent — for SIGTERM under load
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentInput } from '../../shared/schema/documents.ts';
import { startAgentProcess } from '../support/apps.ts';
import { type FaultApp, type FaultMode, startFaultApp } from '../support/faults.ts';
import { failures, type Shot, startLoad } from '../support/load.ts';
import { type DyelineProcess, getJson } from '../support/process.ts';
import { instance, lane, service, snapshotText } from '../support/snapshot-builder.ts';
import { waitFor } from '../support/wait.ts';

const BREAKER = { volumeThreshold: 10, windowMs: 1000, errorThresholdPercentage: 50, resetTimeoutMs: 1000, slowCallMs: 150, slowCallPercentage: 50 };
/**
 * orders: the breaker is what the canary scenarios measure, so outlier ejection is set not to
 * interfere (a lone canary instance ejected after 5 failures would starve its breaker of
 * samples); EJECTING turns it on for the scenario where ejection does the protecting.
 */
const ORDERS = {
  timeoutMs: 2000,
  retry: { attempts: 2, perTryTimeoutMs: 400, on: ['5xx'] },
  circuitBreaker: BREAKER,
  outlierDetection: { consecutiveFailures: 1000, baseEjectionMs: 500, maxEjectionMs: 1000, maxEjectionPercent: 50 },
};
const EJECTING = { ...ORDERS, outlierDetection: { ...ORDERS.outlierDetection, consecutiveFailures: 5 } };
/** How late lane traffic may come back after the canary recovers, beyond resetTimeoutMs. */
const RETURN_SLACK_MS = 600;

let dir: string;
let snapshot: string;
let version = 0;
let agent: DyelineProcess;
let outbound: string;
let admin: string;
let status: string;
const apps = new Map<string, FaultApp>();
const extra: DyelineProcess[] = [];
const figures: Record<string, unknown>[] = [];

const app = (name: string) => apps.get(name)!;
const at = (a: FaultApp) => ({ port: a.port });

function docs(more: DocumentInput[] = [], orders: typeof ORDERS = ORDERS): DocumentInput[] {
  return [
    lane('canary'),
    lane('strict', { fallback: 'none' }),
    service('orders', orders),
    instance('orders-s1', 'orders', '127.0.0.1', at(app('s1'))),
    instance('orders-s2', 'orders', '127.0.0.1', at(app('s2'))),
    instance('orders-c1', 'orders', '127.0.0.1', { ...at(app('c1')), color: 'canary' }),
    instance('orders-x1', 'orders', '127.0.0.1', { ...at(app('x1')), color: 'strict' }),
    service('inventory', {
      retry: { attempts: 1, on: ['5xx'] },
      circuitBreaker: { errorThresholdPercentage: 100, volumeThreshold: 1_000_000 },
      outlierDetection: { consecutiveFailures: 3, baseEjectionMs: 3000, maxEjectionPercent: 50 },
    }),
    ...['i1', 'i2', 'i3', 'i4'].map((n) => instance(`inventory-${n}`, 'inventory', '127.0.0.1', at(app(n)))),
    ...more,
  ];
}

/** Writes the snapshot and waits until the agent routes with it. */
async function publish(d: DocumentInput[], also: DyelineProcess[] = []): Promise<void> {
  const v = ++version;
  await writeFile(snapshot, snapshotText(d, v));
  for (const a of [agent, ...also]) {
    const adm = a.listeners.get('admin')!;
    await waitFor(async () => (await getJson<{ snapshotVersion: number }>(adm, '/config')).body.snapshotVersion === v, { timeoutMs: 10_000, what: `snapshot ${v}` });
  }
}

interface Clusters {
  services: { name: string; subsets: { lane: string; circuit: string }[]; instances: { name: string; ejected: boolean }[] }[];
}

async function clusters(): Promise<Clusters> {
  return (await getJson<Clusters>(admin, '/clusters')).body;
}

async function circuitOf(svc: string, laneName: string): Promise<string> {
  return (await clusters()).services.find((s) => s.name === svc)!.subsets.find((s) => s.lane === laneName)!.circuit;
}

async function ejected(svc: string): Promise<string[]> {
  return (await clusters()).services.find((s) => s.name === svc)!.instances.filter((i) => i.ejected).map((i) => i.name);
}

/** Waits until every orders circuit is closed and nothing is ejected (the state between scenarios). */
async function settle(): Promise<void> {
  await waitFor(
    async () => {
      const c = (await clusters()).services.find((s) => s.name === 'orders')!;
      return c.subsets.every((s) => s.circuit === 'closed') && c.instances.every((i) => !i.ejected);
    },
    { timeoutMs: 15_000, what: 'orders circuits closed, nothing ejected' },
  );
}

/** Heals the canary: answers ok, and coloured requests until its circuit is closed again. */
async function healCanary(): Promise<void> {
  await app('c1').set('ok');
  await waitFor(
    async () => {
      await warm('canary', 5);
      return (await circuitOf('orders', 'canary')) === 'closed';
    },
    { timeoutMs: 10_000, what: 'canary circuit closed' },
  );
}

/** A warm-up of coloured requests that closes half-open circuits. */
async function warm(color: string, n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await get('orders', { 'x-traffic-color': color });
}

async function get(host: string, headers: Record<string, string> = {}, method = 'GET', body?: string) {
  const res = await request(`http://${outbound}/`, { method: method as 'GET', headers: { host, ...headers }, body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`http://${status}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) && want.every((w) => line.includes(w))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

function logTime(line: Record<string, unknown>): number {
  return Date.parse(String(line.time));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-resilience-'));
  snapshot = join(dir, 'snapshot.json');
  const names: [string, string][] = [['s1', 'stable'], ['s2', 'stable'], ['c1', 'canary'], ['x1', 'strict'], ['i1', 'stable'], ['i2', 'stable'], ['i3', 'stable'], ['i4', 'stable']];
  for (let i = 0; i < names.length; i += 2) {
    const started = await Promise.all(names.slice(i, i + 2).map(([n, c]) => startFaultApp(n, c)));
    for (const a of started) apps.set(a.instance, a);
  }
  await writeFile(snapshot, snapshotText(docs(), ++version));
  agent = await startAgentProcess({ service: 'web', snapshot });
  outbound = agent.listeners.get('outbound')!;
  admin = agent.listeners.get('admin')!;
  status = agent.listeners.get('status')!;
  await waitFor(async () => (await fetch(`http://${status}/readyz`)).status === 200, { timeoutMs: 10_000, what: 'agent ready' });
}, 60_000);

afterAll(async () => {
  if (figures.length > 0) console.log(`\nresilience figures:\n${figures.map((f) => JSON.stringify(f)).join('\n')}`);
  await Promise.allSettled([agent?.stop(), ...extra.map((p) => p.stop()), ...[...apps.values()].map((a) => a.stop())]);
  await rm(dir, { recursive: true, force: true });
}, 60_000);

/**
 * The canary starts failing with `mode` under steady coloured GET load, then recovers.
 * Returns what the client saw, when the lane was protected (the breaker opened, or with
 * `by: 'ejection'` the canary instance was ejected) and when the lane came back.
 */
async function failingCanary(mode: FaultMode, delayMs = 0, by: 'breaker' | 'ejection' = 'breaker') {
  const c1 = app('c1');
  await c1.set('ok');
  await settle();
  await warm('canary');
  const load = startLoad({ address: outbound, host: 'orders', headers: { 'x-traffic-color': 'canary' }, rps: 200, maxRequests: 4000, maxMs: 25_000 });
  try {
    await waitFor(() => load.shots.filter((s) => s.servedColor === 'canary').length >= 40, { timeoutMs: 5_000, what: 'canary serving under load' });
    const logsBefore = agent.logs.length;
    const failAt = await c1.set(mode, delayMs);
    const openedLine = (): Record<string, unknown> | undefined => agent.logs.slice(logsBefore).find((l) => l.msg === 'circuit opened' && l.upstream === 'orders' && l.subset === 'canary');
    const ejectedLine = (): Record<string, unknown> | undefined => agent.logs.slice(logsBefore).find((l) => l.msg === 'instance ejected' && l.endpoint === c1.address);
    const protectedLine = await waitFor(by === 'breaker' ? openedLine : ejectedLine, { timeoutMs: 10_000, what: by === 'breaker' ? 'canary circuit opened' : 'canary instance ejected' });
    const protectedAt = logTime(protectedLine);
    const firstFailure = c1.firstFailure() ?? failAt;
    if (by === 'breaker') expect(await circuitOf('orders', 'canary')).not.toBe('closed');
    // Keep the canary broken for a while under load: every request still answered by stable.
    await waitFor(() => load.shots.filter((s) => s.sentAt > protectedAt).length >= 100, { timeoutMs: 10_000, what: 'load after the lane was protected' });
    const opened = openedLine();
    const ejected = ejectedLine();
    const recoveredAt = await c1.set('ok');
    const back = await waitFor(() => load.shots.find((s) => s.sentAt >= recoveredAt && s.servedColor === 'canary'), {
      timeoutMs: BREAKER.resetTimeoutMs + 5_000,
      what: 'lane traffic back on the canary',
    });
    // Once back, the lane stays on the canary.
    await waitFor(() => load.shots.filter((s) => s.sentAt > back.doneAt).length >= 40, { timeoutMs: 5_000, what: 'load after recovery' });
    const shots = await load.stop();
    const after = shots.filter((s) => s.sentAt > back.doneAt + 100);
    return {
      shots,
      failAt,
      firstFailure,
      opened,
      openedAt: opened === undefined ? undefined : logTime(opened),
      ejectedAt: ejected === undefined ? undefined : logTime(ejected),
      recoveredAt,
      back,
      after,
    };
  } finally {
    await load.stop();
  }
}

function report(mode: string, r: Awaited<ReturnType<typeof failingCanary>>): Record<string, unknown> {
  const count = (p: (s: Shot) => boolean) => r.shots.filter(p).length;
  const f = {
    scenario: `canary ${mode}`,
    requests: r.shots.length,
    clientErrors: failures(r.shots).length,
    timeToOpenMs: r.openedAt === undefined ? null : r.openedAt - r.firstFailure,
    timeToEjectMs: r.ejectedAt === undefined ? null : r.ejectedAt - r.firstFailure,
    timeToFirstFallbackMs: (r.shots.find((s) => s.sentAt >= r.firstFailure && s.fallback !== '')?.doneAt ?? NaN) - r.firstFailure,
    openedOn: r.opened?.cause ?? null,
    windowAtOpen: r.opened === undefined ? null : { calls: r.opened.calls, failures: r.opened.failures, slow: r.opened.slow },
    retriedToStable: count((s) => s.fallback === 'error'),
    circuitOpenFallbacks: count((s) => s.fallback === 'circuit-open'),
    noInstanceFallbacks: count((s) => s.fallback === 'no-instance'),
    laneBackAfterRecoveryMs: r.back.doneAt - r.recoveredAt,
    maxLatencyMs: Math.max(...r.shots.map((s) => s.doneAt - s.sentAt)),
  };
  figures.push(f);
  return f;
}

describe('auto-degradation under steady load (real agent process, real upstream processes)', () => {
  for (const [mode, delayMs, cause] of [
    ['500', 0, 'error-rate'],
    ['refuse', 0, 'error-rate'],
    // A hung try counts as slow once in flight past slowCallMs (150 ms), before its 400 ms timeout.
    ['hang', 0, 'slow-calls'],
    ['slow', 250, 'slow-calls'],
  ] as const) {
    it(`a canary that starts failing (${mode}) costs the client nothing; the lane comes back within resetTimeoutMs`, async () => {
      const r = await failingCanary(mode, delayMs);
      const f = report(mode, r);
      expect(failures(r.shots)).toEqual([]);
      expect(r.opened!.cause).toBe(cause);
      expect(f.timeToOpenMs).toBeGreaterThanOrEqual(0);
      expect(f.timeToOpenMs).toBeLessThan(5_000);
      // Served by stable while it failed: retried there after an error, or sent there because the
      // canary's circuit was open or its one instance ejected.
      const diverted = r.shots.filter((s) => s.sentAt >= r.firstFailure && s.sentAt < r.recoveredAt);
      expect(diverted.length).toBeGreaterThan(0);
      expect(diverted.every((s) => s.servedColor === 'canary' || (s.servedColor === 'stable' && s.fallback !== ''))).toBe(true);
      expect(r.shots.some((s) => s.fallback === (mode === 'slow' ? 'circuit-open' : 'error') && s.servedColor === 'stable')).toBe(true);
      expect(r.back.doneAt - r.recoveredAt).toBeLessThanOrEqual(BREAKER.resetTimeoutMs + RETURN_SLACK_MS);
      expect(r.after.length).toBeGreaterThan(0);
      expect(r.after.every((s) => s.servedColor === 'canary' && s.fallback === '')).toBe(true);
    }, 60_000);
  }

  it('with outlier ejection on, ejecting the failing canary instance protects the lane just as well', async () => {
    await publish(docs([], EJECTING));
    try {
      const r = await failingCanary('500', 0, 'ejection');
      const f = report('500 (outlier ejection on)', r);
      expect(failures(r.shots)).toEqual([]);
      expect(f.timeToEjectMs).toBeGreaterThanOrEqual(0);
      expect(r.shots.some((s) => s.fallback === 'no-instance' && s.servedColor === 'stable')).toBe(true);
      expect(r.back.doneAt - r.recoveredAt).toBeLessThanOrEqual(BREAKER.resetTimeoutMs + RETURN_SLACK_MS);
      expect(r.after.every((s) => s.servedColor === 'canary' && s.fallback === '')).toBe(true);
    } finally {
      await publish(docs());
    }
  }, 60_000);

  it('exposes breaker state in /clusters and dyeline_circuit_state, and counts fallbacks by reason', async () => {
    expect(await metric('dyeline_fallbacks_total', { upstream: 'orders', from: 'canary', to: 'stable', reason: 'circuit-open' })).toBeGreaterThan(0);
    expect(await metric('dyeline_fallbacks_total', { upstream: 'orders', from: 'canary', to: 'stable', reason: 'error' })).toBeGreaterThan(0);
    expect(await metric('dyeline_circuit_state', { upstream: 'orders', subset: 'canary' })).toBe(0);
    await app('c1').set('500');
    await waitFor(async () => {
      await get('orders', { 'x-traffic-color': 'canary' });
      return (await circuitOf('orders', 'canary')) === 'open';
    }, { timeoutMs: 10_000, what: 'circuit open' });
    expect(await metric('dyeline_circuit_state', { upstream: 'orders', subset: 'canary' })).toBe(2);
    const half = await waitFor(async () => ((await circuitOf('orders', 'canary')) === 'half-open' ? true : undefined), { timeoutMs: 5_000, intervalMs: 10, what: 'half-open' });
    expect(half).toBe(true);
    await app('c1').set('ok');
    await warm('canary');
    await waitFor(async () => (await circuitOf('orders', 'canary')) === 'closed', { timeoutMs: 5_000, what: 'closed again' });
  }, 30_000);

  it('never replays a POST that reached an upstream; retries one that never connected; replays a small PUT body', async () => {
    const c1 = app('c1');
    await c1.set('ok');
    await settle();
    for (const a of apps.values()) await a.resetCounts();
    // The canary reads each request, then drops the connection.
    await c1.set('reset');
    const ids: string[] = [];
    const answers: { id: string; status: number; error: string; served: string }[] = [];
    for (let i = 0; i < 30; i++) {
      const id = `post-reset-${i}`;
      ids.push(id);
      const r = await get('orders', { 'x-traffic-color': 'canary', 'x-request-id': id, 'content-type': 'text/plain' }, 'POST', `order ${i}`);
      answers.push({ id, status: r.status, error: String(r.headers['x-dyeline-error'] ?? ''), served: String(r.headers['x-dyeline-served-color'] ?? '') });
    }
    // Refused connections: the POST never reached anyone, so it goes to stable.
    await healCanary();
    await c1.set('refuse');
    for (let i = 0; i < 10; i++) {
      const id = `post-refused-${i}`;
      ids.push(id);
      const r = await get('orders', { 'x-traffic-color': 'canary', 'x-request-id': id }, 'POST', `order ${i}`);
      answers.push({ id, status: r.status, error: String(r.headers['x-dyeline-error'] ?? ''), served: String(r.headers['x-dyeline-served-color'] ?? '') });
      expect(r.status).toBe(200);
      expect(r.headers['x-dyeline-served-color']).toBe('stable');
    }
    const seen = new Map<string, number>();
    for (const a of apps.values()) for (const [id, n] of Object.entries((await a.counts()).posts)) seen.set(id, (seen.get(id) ?? 0) + n);
    for (const id of ids) expect({ id, times: seen.get(id) ?? 0 }).toEqual({ id, times: 1 });
    const atCanary = Object.keys((await c1.counts()).posts);
    expect(atCanary.length).toBeGreaterThan(0);
    for (const id of atCanary) expect(answers.find((a) => a.id === id)).toMatchObject({ status: 502, error: 'upstream-reset' });
    expect(answers.filter((a) => a.id.startsWith('post-refused')).every((a) => a.status === 200)).toBe(true);
    figures.push({ scenario: 'POST', posts: ids.length, reachedFailingCanary: atCanary.length, answered502: answers.filter((a) => a.status === 502).length, replayed: [...seen.values()].filter((n) => n > 1).length });

    // An idempotent PUT with a small body is replayed whole on stable after a canary 500.
    await healCanary();
    await c1.set('500');
    const body = 'x'.repeat(10_000);
    const put = await get('orders', { 'x-traffic-color': 'canary', 'content-type': 'text/plain' }, 'PUT', body);
    expect(put.status).toBe(200);
    expect(put.headers['x-dyeline-fallback']).toBe('error');
    expect(JSON.parse(put.text)).toMatchObject({ color: 'stable', method: 'PUT', bytes: body.length });
    expect((await c1.counts()).byMethod.PUT).toBe(1);
    await healCanary();
  }, 60_000);

  it('never ejects more than maxEjectionPercent of the instances', async () => {
    for (const n of ['i1', 'i2', 'i3']) await app(n).set('500');
    const load = startLoad({ address: outbound, host: 'inventory', rps: 150, maxRequests: 1500, maxMs: 20_000 });
    let most = 0;
    let polls = 0;
    try {
      const until = Date.now() + 3_000;
      while (Date.now() < until && polls < 1000) {
        polls++;
        most = Math.max(most, (await ejected('inventory')).length);
      }
    } finally {
      await load.stop();
      for (const n of ['i1', 'i2', 'i3']) await app(n).set('ok');
    }
    expect(most).toBe(2); // 50 % of 4: reached, never exceeded
    expect(await metric('dyeline_ejections_capped_total', { upstream: 'inventory' })).toBeGreaterThan(0);
    figures.push({ scenario: 'ejection cap', instances: 4, failing: 3, maxEjectionPercent: 50, mostEjectedSeen: most, polls, requests: load.shots.length });
  }, 60_000);

  it('a strict lane (fallback: none) never leaves its lane: 503 when it cannot serve', async () => {
    const x1 = app('x1');
    await x1.set('refuse');
    const seen: { status: number; error: string; served: string }[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await get('orders', { 'x-traffic-color': 'strict' });
      seen.push({ status: r.status, error: String(r.headers['x-dyeline-error'] ?? ''), served: String(r.headers['x-dyeline-served-color'] ?? '') });
    }
    expect(seen.every((s) => s.served !== 'stable' && s.status !== 200)).toBe(true);
    expect(seen.some((s) => s.status === 503 && s.error === 'no-instance')).toBe(true);
    expect(seen.every((s) => (s.status === 502 && s.error === 'connect-failure') || (s.status === 503 && s.error === 'no-instance'))).toBe(true);
    figures.push({ scenario: 'strict lane', requests: seen.length, answered502: seen.filter((s) => s.status === 502).length, answered503: seen.filter((s) => s.status === 503).length });
    await x1.set('ok');
  }, 30_000);

  it('a hanging upstream with no retry left answers 504 with x-dyeline-error: timeout, at the deadline', async () => {
    for (const n of ['s1', 's2']) await app(n).set('hang');
    try {
      const t0 = Date.now();
      const r = await get('orders');
      const took = Date.now() - t0;
      expect(r.status).toBe(504);
      expect(r.headers['x-dyeline-error']).toBe('timeout');
      expect(JSON.parse(r.text)).toMatchObject({ error: 'timeout' });
      // One try of 400 ms on each stable instance (a retry never goes back to an instance it
      // tried), well within the 2 s overall deadline.
      expect(took).toBeGreaterThanOrEqual(780);
      expect(took).toBeLessThan(2000);
    } finally {
      for (const n of ['s1', 's2']) await app(n).set('ok');
    }
  }, 30_000);
});

describe('SIGTERM under load', () => {
  it('the draining agent finishes every request in flight, then exits 0', async () => {
    // inventory: no breaker to trip on slow calls; every instance answers in 300 ms.
    for (const n of ['i1', 'i2', 'i3', 'i4']) {
      await app(n).set('slow', 300);
      await app(n).resetCounts();
    }
    const victim = await startAgentProcess({ service: 'web2', snapshot, extraArgs: ['--drain-timeout-ms', '5000'] });
    extra.push(victim);
    const vStatus = victim.listeners.get('status')!;
    await waitFor(async () => (await fetch(`http://${vStatus}/readyz`)).status === 200, { timeoutMs: 10_000, what: 'victim ready' });
    const load = startLoad({ address: victim.listeners.get('outbound')!, host: 'inventory', rps: 100, maxInflight: 64, maxRequests: 2000, maxMs: 20_000 });
    try {
      await waitFor(() => load.shots.length >= 100 && load.inflight() >= 20, { timeoutMs: 10_000, what: 'load in flight' });
      const stopping = load.stop(); // no new requests from here; those in flight must all finish
      const inflight = load.inflight();
      // In flight means the agent has them: every request sent has reached an upstream (each
      // takes 300 ms there), none is still on its way to the agent.
      const sent = load.shots.length + inflight;
      await waitFor(async () => {
        let n = 0;
        for (const a of ['i1', 'i2', 'i3', 'i4']) n += (await app(a).counts()).n;
        return n >= sent;
      }, { timeoutMs: 2_000, intervalMs: 5, what: 'every request sent at an upstream' });
      expect(load.inflight()).toBeGreaterThan(10);
      const t0 = Date.now();
      victim.proc.kill('SIGTERM');
      const notReady = await waitFor(async () => {
        try {
          return (await fetch(`http://${vStatus}/readyz`)).status === 503;
        } catch {
          return undefined;
        }
      }, { timeoutMs: 2_000, intervalMs: 5, what: '/readyz 503 while draining' }).catch(() => false);
      const shots = await stopping;
      const code = await victim.exited;
      const drainMs = Date.now() - t0;
      expect(code).toBe(0);
      expect(failures(shots)).toEqual([]);
      expect(drainMs).toBeLessThan(5_000);
      figures.push({ scenario: 'SIGTERM, client agent', inFlightAtSigterm: inflight, requests: shots.length, clientErrors: failures(shots).length, readyz503Seen: notReady, exitCode: code, drainMs });
    } finally {
      await load.stop();
      for (const n of ['i1', 'i2', 'i3', 'i4']) await app(n).set('ok');
    }
  }, 60_000);

  it('a draining pod\'s app can still call other services while it finishes its in-flight requests', async () => {
    const p1 = await startFaultApp('p1', 'stable');
    apps.set('p1', p1);
    const pod = await startAgentProcess({ service: 'payments', appPort: p1.port, snapshot, extraArgs: ['--drain-timeout-ms', '5000'] });
    extra.push(pod);
    // The app answers each request after calling inventory through its own agent, 400 ms in.
    await p1.callOut(pod.listeners.get('outbound')!, 'inventory', 400);
    const podStatus = pod.listeners.get('status')!;
    await waitFor(async () => (await fetch(`http://${podStatus}/readyz`)).status === 200, { timeoutMs: 10_000, what: 'payments pod ready' });
    const inboundAddress = pod.listeners.get('inbound')!;
    // A warm-up call: the app holds a keep-alive connection to its agent's outbound listener.
    expect((await request(`http://${inboundAddress}/`)).statusCode).toBe(200);
    const n = 10;
    const calls = Array.from({ length: n }, () =>
      request(`http://${inboundAddress}/`, { headers: { connection: 'close' } }).then(
        async (r) => ({ status: r.statusCode, body: await r.body.text() }),
        (err: Error) => ({ status: 0, body: String(err) }),
      ),
    );
    await waitFor(async () => (await p1.counts()).n >= n + 1, { timeoutMs: 5_000, what: 'requests at the app' });
    const t0 = Date.now();
    pod.proc.kill('SIGTERM');
    const answers = await Promise.all(calls);
    const code = await pod.exited;
    const drainMs = Date.now() - t0;
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    for (const a of answers) expect(JSON.parse(a.body)).toMatchObject({ called: 200 });
    expect(code).toBe(0);
    expect(drainMs).toBeLessThan(5_000);
    figures.push({ scenario: 'SIGTERM, app calling out while draining', inFlight: n, answered200: answers.filter((a) => a.status === 200).length, exitCode: code, drainMs });
  }, 60_000);

  it('an upstream pod draining under load costs the caller nothing (in-flight finish there, the caller retries elsewhere)', async () => {
    const b1 = await startFaultApp('b1', 'stable');
    const b2 = await startFaultApp('b2', 'stable');
    apps.set('b1', b1);
    apps.set('b2', b2);
    for (const b of [b1, b2]) await b.set('slow', 100);
    const pods = await Promise.all([b1, b2].map((b) => startAgentProcess({ service: 'billing', appPort: b.port, snapshot, extraArgs: ['--drain-timeout-ms', '5000'] })));
    extra.push(...pods);
    const inbound = (p: DyelineProcess) => Number(p.listeners.get('inbound')!.split(':')[1]);
    await publish(
      docs([
        service('billing', { retry: { attempts: 2, on: ['connect-failure', 'reset', '503'] } }),
        instance('billing-1', 'billing', '127.0.0.1', { port: inbound(pods[0]) }),
        instance('billing-2', 'billing', '127.0.0.1', { port: inbound(pods[1]) }),
      ]),
      pods,
    );
    const load = startLoad({ address: outbound, host: 'billing', rps: 150, maxInflight: 64, maxRequests: 3000, maxMs: 20_000 });
    try {
      await waitFor(() => load.shots.length >= 150, { timeoutMs: 10_000, what: 'billing load' });
      const t0 = Date.now();
      pods[0].proc.kill('SIGTERM');
      const code = await pods[0].exited;
      const drainMs = Date.now() - t0;
      await waitFor(() => load.shots.filter((s) => s.sentAt > t0 + drainMs).length >= 150, { timeoutMs: 10_000, what: 'load after the drain' });
      const shots = await load.stop();
      expect(code).toBe(0);
      expect(failures(shots)).toEqual([]);
      const counts = await b1.counts();
      figures.push({ scenario: 'SIGTERM, upstream pod', requests: shots.length, clientErrors: failures(shots).length, servedByDrainedPod: counts.n, exitCode: code, drainMs });
    } finally {
      await load.stop();
    }
  }, 60_000);
});
