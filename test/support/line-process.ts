/**
 * A child process whose stdout is read line by line as JSON (pino logs, the test apps' replies):
 * the harness under every real process the e2e tests start (dyeline, app-main.ts, fault-app.ts).
 *
 *   const p = spawnLines(process.execPath, [script], { env: { APP_PORT: '0' }, stdin: true });
 *   const listening = await p.waitForLine((l) => l.msg === 'listening', { what: 'app listening' });
 *   p.send({ mode: 'ok' });
 *   await p.stop();
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { waitFor } from './wait.ts';

/** A running child process and what it has printed. */
export interface LineProcess {
  proc: ChildProcess;
  /** Every stdout line so far, in order: the parsed JSON object, or `{ raw: line }` when it is not JSON. */
  lines: Record<string, unknown>[];
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (null when ended by a signal). */
  exited: Promise<number | null>;
  /** Whether the process has exited. */
  hasExited(): boolean;
  /**
   * Waits for a stdout line matching `pred` (polling `lines`; default 10 s, then throws naming
   * `what`, with the stderr tail when the process has ended without printing it).
   */
  waitForLine(pred: (line: Record<string, unknown>) => boolean, opts?: { timeoutMs?: number; what?: string }): Promise<Record<string, unknown>>;
  /** Writes `msg` as one JSON line to stdin (spawned with `stdin: true` only). */
  send(msg: Record<string, unknown>): void;
  /** Sends `signal` (default SIGTERM), SIGKILL after `graceMs` (default 10 s); resolves with the exit code. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

/** Options of {@link spawnLines}. */
export interface SpawnLinesOptions {
  /** Added to (and overriding) process.env. */
  env?: NodeJS.ProcessEnv;
  /** Keep a pipe to stdin for {@link LineProcess.send}. Default false (stdin ignored). */
  stdin?: boolean;
  /** Called with each stdout line as it is parsed, after it is added to `lines`. */
  onLine?: (line: Record<string, unknown>) => void;
  /** Run as this user and group (the tests run as root; file permissions bind other users only). */
  uid?: number;
  gid?: number;
}

/** Spawns `command args` with stdout read as JSON lines and stderr kept. */
export function spawnLines(command: string, args: readonly string[], opts: SpawnLinesOptions = {}): LineProcess {
  const proc = spawn(command, args, {
    env: { ...process.env, ...opts.env },
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    ...(opts.uid !== undefined && { uid: opts.uid }),
    ...(opts.gid !== undefined && { gid: opts.gid }),
  });
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { raw: text };
      }
      lines.push(line);
      opts.onLine?.(line);
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  let done = false;
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  void exited.then(() => (done = true));
  // 'close' comes after stdout has been read to its end: only then is a missing line really missing.
  let closed = false;
  proc.once('close', () => (closed = true));
  return {
    proc,
    lines,
    stderr: () => err,
    exited,
    hasExited: () => done || proc.exitCode !== null || proc.signalCode !== null,
    waitForLine(pred, { timeoutMs = 10_000, what = 'log line' } = {}) {
      return waitFor(
        () => {
          const line = lines.find(pred);
          if (line === undefined && closed) throw new Error(`process exited: ${err.slice(-2000)}`);
          return line;
        },
        { timeoutMs, what },
      );
    },
    send(msg) {
      proc.stdin!.write(`${JSON.stringify(msg)}\n`);
    },
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (done || proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}
