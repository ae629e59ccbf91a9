/**
 * Real `dyeline` processes for e2e tests: spawned with Node 24, stdout parsed as pino JSON,
 * listener addresses taken from the contract's `listening` lines.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.ts';

export const DYELINE_BIN = fileURLToPath(new URL('../../bin/dyeline.js', import.meta.url));

/** A running dyeline process. */
export interface DyelineProcess {
  proc: ChildProcess;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  /** Raw stderr. */
  stderr: () => string;
  /** listener name → host:port, from `listening` lines. */
  listeners: Map<string, string>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Waits for a log line matching `pred`. */
  waitForLog(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM (or `signal`) and wait for exit (SIGKILL after `graceMs`). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

/** Spawns `dyeline <args>` and waits until `listeners` are all bound. */
export async function startDyeline(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; listeners?: string[]; timeoutMs?: number } = {},
): Promise<DyelineProcess> {
  const proc = spawn(process.execPath, [DYELINE_BIN, ...args], {
    env: { ...process.env, DYELINE_LOG_LEVEL: process.env.DYELINE_TEST_LOG_LEVEL ?? 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const listeners = new Map<string, string>();
  let err = '';
  let buf = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const obj = JSON.parse(line) as Record<string, unknown>;
        logs.push(obj);
        if (obj.msg === 'listening') listeners.set(String(obj.listener), String(obj.address));
      } catch {
        logs.push({ raw: line });
      }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  const p: DyelineProcess = {
    proc,
    logs,
    stderr: () => err,
    listeners,
    exited,
    waitForLog: (pred, timeoutMs = 10_000) =>
      waitFor(() => logs.find(pred), { timeoutMs, what: 'log line' }),
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (done) return proc.exitCode;
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
  const want = opts.listeners ?? [];
  await waitFor(
    () => {
      if (done) throw new Error(`dyeline ${args[0]} exited early: ${err.slice(-2000)}`);
      return want.every((l) => listeners.has(l));
    },
    { timeoutMs: opts.timeoutMs ?? 15_000, what: `listeners ${want.join(', ')} of dyeline ${args[0]}` },
  ).catch(async (e: unknown) => {
    proc.kill('SIGKILL');
    throw new Error(`${(e as Error).message}\nstderr: ${err.slice(-2000)}\nlogs: ${JSON.stringify(logs.slice(-20))}`);
  });
  return p;
}

/** Starts `dyeline daemon` with its status/admin listeners on free loopback ports. */
export function startDaemon(opts: { sources: string[]; snapshot: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<DyelineProcess> {
  const args = ['daemon', ...opts.sources.flatMap((s) => ['--source', s]), '--snapshot', opts.snapshot, '--status', '127.0.0.1:0', '--admin', '127.0.0.1:0'];
  return startDyeline(args, { env: opts.env, listeners: ['status', 'admin'], timeoutMs: opts.timeoutMs });
}

/** GET http://<address><path> and parse JSON. */
export async function getJson<T = unknown>(address: string, path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://${address}${path}`);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: body as T };
}
