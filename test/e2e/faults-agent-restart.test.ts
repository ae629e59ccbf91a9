/**
 * Data-plane fault with real processes: the agent of one of two `billing` pods restarts while
 * idempotent GETs flow to billing through the caller's agent — once gracefully (SIGTERM, then
 * started again) and once killed (-9, then started again), each time on the same inbound port.
 * Default Service rules. The bar: no client error at all, and the restarted agent serves again.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentProcess } from '../support/apps.ts';
import { type FaultApp, startFaultApp } from '../support/faults.ts';
import { failures, startLoad } from '../support/load.ts';
import { freePort } from '../support/ports.ts';
import { type DyelineProcess, startDyeline } from '../support/process.ts';
import { instance, service, snapshotText } from '../support/snapshot-builder.ts';
import { waitFor } from '../support/wait.ts';

let dir: string;
let snapshot: string;
const clients: DyelineProcess[] = [];
const apps: FaultApp[] = [];
const inboundPorts: number[] = [];
const pods: (DyelineProcess | undefined)[] = [];
const figures: Record<string, unknown>[] = [];

/** Starts (or restarts) the agent of pod `i` on its fixed inbound port. */
async function startPodAgent(i: number): Promise<DyelineProcess> {
  const args = ['agent', '--service', 'billing', '--snapshot', snapshot, '--app-port', String(apps[i]!.port)];
  args.push('--inbound', `127.0.0.1:${inboundPorts[i]}`, '--outbound', '127.0.0.1:0', '--status', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--drain-timeout-ms', '5000');
  const p = await startDyeline(args, { listeners: ['inbound', 'outbound', 'status', 'admin'] });
  pods[i] = p;
  return p;
}

/** Sum of a counter's series with `reason` on the caller agent's /metrics. */
async function retries(p: DyelineProcess): Promise<Record<string, number>> {
  const text = await (await fetch(`http://${p.listeners.get('status')}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^dyeline_retries_total\{.*reason="([^"]+)".*\} (\S+)/.exec(line);
    if (m) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  }
  return out;
}

async function ready(p: DyelineProcess): Promise<void> {
  const status = p.listeners.get('status')!;
  await waitFor(async () => (await fetch(`http://${status}/readyz`)).status === 200, { timeoutMs: 10_000, what: 'agent ready' });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-faults-agent-'));
  snapshot = join(dir, 'snapshot.json');
  apps.push(...(await Promise.all([startFaultApp('b1'), startFaultApp('b2')])));
  // 200 ms per answer: at 100 requests/s about ten are in flight at each pod when its agent goes.
  for (const a of apps) await a.set('slow', 200);
  inboundPorts.push(await freePort(), await freePort());
  await writeFile(
    snapshot,
    snapshotText([
      service('billing'), // defaults
      instance('billing-1', 'billing', '127.0.0.1', { port: inboundPorts[0] }),
      instance('billing-2', 'billing', '127.0.0.1', { port: inboundPorts[1] }),
    ]),
  );
  await Promise.all([startPodAgent(0), startPodAgent(1)]);
  await Promise.all([ready(pods[0]!), ready(pods[1]!)]);
}, 60_000);

afterAll(async () => {
  if (figures.length > 0) console.log(`\nagent restart figures:\n${figures.map((f) => JSON.stringify(f)).join('\n')}`);
  await Promise.allSettled([...clients.map((c) => c.stop()), ...pods.map((p) => p?.stop()), ...apps.map((a) => a.stop())]);
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('a peer agent restarting under load', () => {
  for (const how of ['SIGTERM', 'SIGKILL'] as const) {
    it(`restart by ${how}: no client error on idempotent calls, and the restarted agent serves again`, async () => {
      // A caller agent of its own: no ejection or breaker state carried over from the other restart.
      const client = await startAgentProcess({ service: 'web', snapshot });
      clients.push(client);
      await ready(client);
      const load = startLoad({ address: client.listeners.get('outbound')!, host: 'billing', rps: 100, maxInflight: 512, maxRequests: 3000, maxMs: 25_000 }); // the client never throttles, however slow the machine
      try {
        await waitFor(() => load.shots.filter((s) => s.instance === 'b1').length >= 50, { timeoutMs: 10_000, what: 'b1 serving under load' });
        const t0 = Date.now();
        const code = await pods[0]!.stop(how, 10_000);
        const downAt = Date.now();
        // The pod stays down a full second: at 100 requests/s about a hundred calls meet a dead
        // inbound port (connection refused) whatever the machine's speed at restarting it.
        await sleep(1000);
        const restarted = await startPodAgent(0);
        await ready(restarted);
        const upAt = Date.now();
        // Traffic through the restarted agent (its inbound answers; load keeps flowing past it).
        expect((await fetch(`http://${restarted.listeners.get('inbound')}/`)).status).toBe(200);
        await waitFor(() => load.shots.filter((s) => s.sentAt > upAt).length >= 200, { timeoutMs: 10_000, what: 'load after the restart' });
        const shots = await load.stop();
        const during = shots.filter((s) => s.sentAt >= t0 && s.sentAt <= upAt);
        const retried = await retries(client);
        figures.push({
          restart: how,
          exitCode: code,
          stopMs: downAt - t0,
          downMs: upAt - downAt,
          requests: shots.length,
          requestsDuringRestart: during.length,
          clientErrors: failures(shots).length,
          skippedTicks: load.skipped(),
          retriesByReason: retried,
        });
        expect(failures(shots)).toEqual([]);
        expect(during.length).toBeGreaterThan(50); // ≥ 1 s at 100/s: about 100 expected
        expect(load.skipped()).toBe(0);
        if (how === 'SIGTERM') expect(code).toBe(0);
        // kill -9 cut requests in flight at that pod: they were retried on the other one.
        else expect(retried.reset ?? 0).toBeGreaterThan(0);
      } finally {
        await load.stop();
      }
    }, 60_000);
  }
});
