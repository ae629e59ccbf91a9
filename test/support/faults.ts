/**
 * Starts and drives fault-app.ts processes (upstreams whose failures a test switches): one
 * process per instance, commands over stdin, acknowledged on stdout.
 */
import { fileURLToPath } from 'node:url';
import { spawnLines } from './line-process.ts';

const FAULT_MAIN = fileURLToPath(new URL('./fault-app.ts', import.meta.url));

/** What a fault app can be told to do (see fault-app.ts). */
export type FaultMode = 'ok' | '500' | 'hang' | 'slow' | 'reset' | 'refuse' | 'call';

/** Request counts of a fault app. */
export interface FaultCounts {
  n: number;
  byMethod: Record<string, number>;
  /** POST x-request-id → times it reached the app. */
  posts: Record<string, number>;
}

/** A running fault app. */
export interface FaultApp {
  instance: string;
  color: string;
  address: string;
  port: number;
  /** Switches the mode; resolves with the app's clock at the switch (epoch ms). */
  set(mode: FaultMode, delayMs?: number): Promise<number>;
  /** Mode `call`: after `delayMs`, each request GETs http://target/ with Host `host`. */
  callOut(target: string, host: string, delayMs: number): Promise<void>;
  counts(): Promise<FaultCounts>;
  resetCounts(): Promise<void>;
  /** Time (epoch ms) of the first failure since the last mode switch, once there was one. */
  firstFailure(): number | undefined;
  stop(): Promise<void>;
}

/** Starts one fault app on a free loopback port. */
export async function startFaultApp(instance: string, color = 'stable'): Promise<FaultApp> {
  const child = spawnLines(process.execPath, [FAULT_MAIN], { env: { APP_INSTANCE: instance, APP_COLOR: color, APP_PORT: '0' }, stdin: true });
  const { lines } = child;
  const listening = await child.waitForLine((l) => l.msg === 'listening', { timeoutMs: 15_000, what: `fault app ${instance} listening` });
  const address = String(listening.address);
  let nextId = 0;
  let switchIndex = 0;
  const command = async (cmd: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const id = ++nextId;
    child.send({ ...cmd, id });
    return child.waitForLine((l) => l.msg === 'ack' && l.id === id, { timeoutMs: 5_000, what: `fault app ${instance} ack ${id}` });
  };
  return {
    instance,
    color,
    address,
    port: Number(address.slice(address.lastIndexOf(':') + 1)),
    async set(mode, delayMs = 0) {
      switchIndex = lines.length;
      const ack = await command({ mode, delayMs });
      return Number(ack.at);
    },
    async callOut(target, host, delayMs) {
      switchIndex = lines.length;
      await command({ mode: 'call', target, host, delayMs });
    },
    async counts() {
      const id = nextId + 1;
      await command({ cmd: 'counts' });
      const c = lines.find((l) => l.msg === 'counts' && l.id === id)!;
      return { n: Number(c.n), byMethod: c.byMethod as Record<string, number>, posts: c.posts as Record<string, number> };
    },
    async resetCounts() {
      await command({ cmd: 'reset-counts' });
    },
    firstFailure() {
      for (let i = switchIndex; i < lines.length; i++) if (lines[i].msg === 'first failure') return Number(lines[i].at);
      return undefined;
    },
    async stop() {
      await child.stop('SIGTERM', 5_000);
    },
  };
}
