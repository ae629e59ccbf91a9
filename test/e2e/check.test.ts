/**
 * `dyeline check` against a live mesh of real processes (daemon, agents, apps, a real
 * Prometheus): passes on a healthy lane with every hop served where the lane has instances;
 * fails (exit 1) naming the hop when a hop with lane instances is served by stable, and naming
 * the SLO when the lane's error rate breaks it; cannot check (exit 2) through something that is
 * not an agent. Chain: gateway → frontend → orders → inventory → pricing; orders and pricing have
 * a canary, frontend and inventory none; billing (canary 500s, no retries) for the SLO.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../../check/check.ts';
import { LaneMesh } from '../support/lane-mesh.ts';
import { DYELINE_BIN } from '../support/process.ts';

// orders and inventory wait for the rest of the chain: their tries get the whole deadline (the
// derived per-try timeout of a lane with a fallback would cut them on a loaded machine, and this
// test is about what the check reports, not about timeouts).
const RULES = `apiVersion: dyeline.io/v1
kind: Lane
metadata: { name: canary }
spec: { color: canary }
---
apiVersion: dyeline.io/v1
kind: Service
metadata: { name: orders }
spec: { timeoutMs: 20000, retry: { perTryTimeoutMs: 20000 } }
---
apiVersion: dyeline.io/v1
kind: Service
metadata: { name: inventory }
spec: { timeoutMs: 20000, retry: { perTryTimeoutMs: 20000 } }
---
apiVersion: dyeline.io/v1
kind: Service
metadata: { name: pricing }
spec: { retry: { attempts: 2, on: [5xx] }, outlierDetection: { consecutiveFailures: 1000 } }
---
apiVersion: dyeline.io/v1
kind: Service
metadata: { name: billing }
spec: { retry: { attempts: 0 }, outlierDetection: { consecutiveFailures: 1000 } }
`;
const CHAIN = '/chain?via=orders,inventory,pricing';

let mesh: LaneMesh;

beforeAll(async () => {
  mesh = await LaneMesh.start({
    rules: RULES,
    prometheus: true,
    pods: [
      ['frontend', 'stable'],
      ['orders', 'stable'],
      ['orders', 'canary'],
      ['inventory', 'stable'],
      ['pricing', 'stable', 'fault'],
      ['pricing', 'canary', 'fault'],
      ['billing', 'stable', 'fault'],
      ['billing', 'canary', 'fault'],
    ],
  });
}, 180_000);

afterAll(async () => {
  await mesh?.stop();
}, 60_000);

const run = promisify(execFile);

/** Runs `dyeline check ... --json`; resolves with its exit code and report. */
async function check(...args: string[]): Promise<{ code: number; report: CheckReport; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [DYELINE_BIN, 'check', '--json', ...args], { timeout: 60_000 });
    return { code: 0, report: JSON.parse(stdout) as CheckReport, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, report: JSON.parse(e.stdout) as CheckReport, stderr: e.stderr };
  }
}

const hopsOf = (r: CheckReport) => r.hops.map((h) => `${h.depth} ${h.caller}>${h.service} ${Object.keys(h.served).join('|')} ${h.passed ? 'ok' : 'FAIL'}`);

/** Lane traffic for the SLO window: `n` coloured requests to `service` through the gateway. */
async function laneTraffic(service: string, path: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await mesh.get(service, path, { 'x-traffic-color': 'canary' });
}

describe('dyeline check', () => {
  it('passes on a healthy lane: every hop served by the lane where it has instances, SLOs met', async () => {
    // The lane's series are born with its first request, and increase() needs two samples of a
    // series: when one scrape first saw a hop's series with all 60 requests in it, that hop had
    // no lane traffic in the window. A few requests first, seen by two scrapes.
    await laneTraffic('frontend', CHAIN, 3);
    await new Promise((r) => setTimeout(r, 1200));
    await laneTraffic('frontend', CHAIN, 60);
    await new Promise((r) => setTimeout(r, 1200)); // two scrapes
    const { code, report } = await check('--via', mesh.gatewayOutbound, '--service', 'frontend', '--color', 'canary', '--path', CHAIN, '--requests', '5', '--prometheus', mesh.prom!.url, '--window-ms', '30000');
    expect(report.reasons).toEqual([]);
    expect(code).toBe(0);
    expect(report.verdict).toBe('pass');
    expect(hopsOf(report)).toEqual(['0 gateway>frontend stable ok', '1 frontend>orders canary ok', '2 orders>inventory stable ok', '3 inventory>pricing canary ok']);
    expect(report.hops[0]).toMatchObject({ requests: 5, fallbacks: { 'no-instance': 5 }, laneInstances: 0 });
    expect(report.hops[1]).toMatchObject({ served: { canary: 5 }, laneInstances: 1 });
    expect(report.slo).toMatchObject({ outcome: 'pass', errorRatePercent: 0 });
    // Measured on the services where the lane has instances.
    expect(report.slo!.services.map((s) => s.service)).toEqual(['orders', 'pricing']);
  });

  it('fails naming the hop when a hop with lane instances is served by stable', async () => {
    await mesh.pod('pricing', 'canary').fault!.set('500');
    try {
      const { code, report } = await check('--via', mesh.gatewayOutbound, '--service', 'frontend', '--color', 'canary', '--path', CHAIN, '--requests', '4');
      expect(code).toBe(1);
      expect(report.verdict).toBe('fail');
      expect(report.statuses).toEqual({ 200: 4 });
      expect(report.reasons).toEqual(['hop inventory → pricing: served by stable (fallback error) though lane canary has 1 instance(s) there (4 of 4)']);
      expect(report.failedTraces).toHaveLength(4);
    } finally {
      await mesh.pod('pricing', 'canary').fault!.set('ok');
    }
  });

  it("fails naming the SLO when the lane's error rate breaks it", async () => {
    // Billing serves stable and canary traffic; then its canary answers 500 (no retries).
    const traffic = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        await mesh.get('billing', '/');
        await mesh.get('billing', '/', { 'x-traffic-color': 'canary' });
      }
    };
    await traffic(1500);
    await mesh.pod('billing', 'canary').fault!.set('500');
    try {
      const failing = Date.now();
      await traffic(2500);
      await new Promise((r) => setTimeout(r, 1200));
      // A window that holds only the failing period: every lane request to billing failed in it
      // (answered 500, or sent to stable once the circuit opened).
      const windowMs = Date.now() - failing - 1000;
      const { code, report } = await check('--via', mesh.gatewayOutbound, '--service', 'billing', '--color', 'canary', '--requests', '3', '--prometheus', mesh.prom!.url, '--window-ms', String(windowMs));
      expect(code).toBe(1);
      expect(report.slo?.outcome).toBe('fail');
      expect(report.reasons.find((r) => r.startsWith('SLO: error rate'))).toMatch(/^SLO: error rate above 1%: billing \d+(\.\d+)?% of \d+/);
      expect(report.slo!.services.find((s) => s.service === 'billing')!.errorRatePercent).toBeGreaterThan(90);
    } finally {
      await mesh.pod('billing', 'canary').fault!.set('ok');
    }
  });

  it('cannot check (exit 2) through something that is not an agent, or without Prometheus', async () => {
    const plain: Server = createServer((_req, res) => res.end('hello'));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    try {
      const via = `127.0.0.1:${(plain.address() as AddressInfo).port}`;
      const { code, report } = await check('--via', via, '--service', 'frontend', '--color', 'canary', '--requests', '2');
      expect(code).toBe(2);
      expect(report.reasons[0]).toMatch(/no answer carried x-dyeline-path/);
    } finally {
      plain.close();
    }
    const down = await check('--via', mesh.gatewayOutbound, '--service', 'frontend', '--color', 'canary', '--path', CHAIN, '--requests', '2', '--prometheus', 'http://127.0.0.1:1');
    expect(down.code).toBe(2);
    expect(down.report.reasons).toEqual([expect.stringMatching(/^SLO: could not analyse: Prometheus at http:\/\/127\.0\.0\.1:1 did not answer/)]);
  });

  it('prints a readable report naming each hop', async () => {
    const { stdout } = await run(process.execPath, [DYELINE_BIN, 'check', '--via', mesh.gatewayOutbound, '--service', 'frontend', '--color', 'canary', '--path', CHAIN, '--requests', '2']);
    expect(stdout).toMatch(/^dyeline check: lane canary of frontend through 127\.0\.0\.1:\d+: PASS\n/);
    expect(stdout).toMatch(/ {6}frontend → orders: canary ×2; 1 lane instance\(s\) — ok/);
  });
});
