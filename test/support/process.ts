/**
 * Real `dyeline` processes for e2e tests: spawned with Node 24, stdout parsed as pino JSON
 * (line-process.ts), listener addresses taken from the contract's `listening` lines.
 * `DYELINE_TEST_ENTRY` names the entry to run (default bin/dyeline.js, the TypeScript sources)
 * and `DYELINE_TEST_NODE_FLAGS` node flags to run it with (space-separated); the `dist` test
 * project sets them to the production build dist/dyeline.mjs and the image's flags (vitest.config.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DAEMON_NODE_OPTIONS, IMAGE_ENV } from '../../deploy/node-options.ts';
import { spawnLines } from './line-process.ts';
import { waitFor } from './wait.ts';

/** The `dyeline` entry the tests run. */
export const DYELINE_BIN = resolve(fileURLToPath(new URL('../../', import.meta.url)), process.env.DYELINE_TEST_ENTRY ?? 'bin/dyeline.js');

/** Whether the tests run the production build, which runs with the image's environment and the DaemonSet's NODE_OPTIONS. */
const FROM_BUILD = process.env.DYELINE_TEST_ENTRY !== undefined;

/** The node flags it runs with (before DYELINE_BIN). */
export const DYELINE_NODE_FLAGS: readonly string[] = (process.env.DYELINE_TEST_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');

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
  opts: { env?: NodeJS.ProcessEnv; listeners?: string[]; timeoutMs?: number; nodeArgs?: string[]; uid?: number; gid?: number } = {},
): Promise<DyelineProcess> {
  const listeners = new Map<string, string>();
  const child = spawnLines(process.execPath, [...DYELINE_NODE_FLAGS, ...(opts.nodeArgs ?? []), DYELINE_BIN, ...args], {
    uid: opts.uid,
    gid: opts.gid,
    env: { ...(FROM_BUILD ? IMAGE_ENV : {}), DYELINE_LOG_LEVEL: process.env.DYELINE_TEST_LOG_LEVEL ?? 'info', ...opts.env },
    onLine: (line) => {
      if (line.msg === 'listening') listeners.set(String(line.listener), String(line.address));
    },
  });
  const { proc, lines: logs, stderr } = child;
  const p: DyelineProcess = {
    proc,
    logs,
    stderr,
    listeners,
    exited: child.exited,
    waitForLog: (pred, timeoutMs = 10_000) => child.waitForLine(pred, { timeoutMs, what: 'log line' }),
    stop: (signal = 'SIGTERM', graceMs = 10_000) => child.stop(signal, graceMs),
  };
  const want = opts.listeners ?? [];
  await waitFor(
    () => {
      if (child.hasExited()) throw new Error(`dyeline ${args[0]} exited early: ${stderr().slice(-2000)}`);
      return want.every((l) => listeners.has(l));
    },
    { timeoutMs: opts.timeoutMs ?? 15_000, what: `listeners ${want.join(', ')} of dyeline ${args[0]}` },
  ).catch(async (e: unknown) => {
    proc.kill('SIGKILL');
    throw new Error(`${(e as Error).message}\nstderr: ${stderr().slice(-2000)}\nlogs: ${JSON.stringify(logs.slice(-20))}`);
  });
  return p;
}

/**
 * Starts `dyeline daemon` with its status/admin listeners on free loopback ports; `nodeArgs` go to
 * node (e.g. `--import`). From the production build it runs with the DaemonSet's NODE_OPTIONS.
 */
export function startDaemon(opts: { sources: string[]; snapshot: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; nodeArgs?: string[]; uid?: number; gid?: number }): Promise<DyelineProcess> {
  const args = ['daemon', ...opts.sources.flatMap((s) => ['--source', s]), '--snapshot', opts.snapshot, '--status', '127.0.0.1:0', '--admin', '127.0.0.1:0'];
  const env = FROM_BUILD ? { NODE_OPTIONS: DAEMON_NODE_OPTIONS, ...opts.env } : opts.env;
  return startDyeline(args, { env, listeners: ['status', 'admin'], timeoutMs: opts.timeoutMs, nodeArgs: opts.nodeArgs, uid: opts.uid, gid: opts.gid });
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
