/**
 * One long-running server binary under test (Prometheus; the shape of etcd.ts's member too):
 * spawned with stderr kept (its tail goes into failure messages), waited for until a readiness
 * probe says yes, stopped with a signal (SIGKILL after 10 s), frozen and thawed with
 * SIGSTOP/SIGCONT to play a peer that hangs with its port open.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.ts';

/**
 * A getter of a binary's path: `$envVar` (set by `npm test`), else what `scripts/<script>`
 * prints (it finds the binary, or installs it when running as root), run once.
 */
export function ensuredBinary(envVar: string, script: string): () => string {
  let cached: string | undefined;
  return () => {
    const fromEnv = process.env[envVar];
    if (fromEnv) return fromEnv;
    const path = fileURLToPath(new URL(`../../scripts/${script}`, import.meta.url));
    cached ??= execFileSync('bash', [path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    return cached;
  };
}

/** A server process that can be started again after it stops. */
export class ServerProcess {
  readonly #name: string;
  #proc: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  #stderr = '';

  /** @param name for messages, e.g. `prometheus`. */
  constructor(name: string) {
    this.#name = name;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.#proc !== undefined;
  }

  /** The last 8000 characters of stderr. */
  get stderr(): string {
    return this.#stderr;
  }

  /**
   * Spawns `bin args` and polls `ready` (a failure counts as not yet) until it says true;
   * on timeout the process is killed and the error carries the stderr tail.
   */
  async start(bin: string, args: readonly string[], ready: () => Promise<boolean>, opts: { timeoutMs: number; what: string }): Promise<void> {
    if (this.#proc) throw new Error(`${this.#name} is already running`);
    this.#stderr = '';
    const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => {
      this.#stderr = (this.#stderr + c).slice(-8000);
    });
    this.#proc = proc;
    this.#exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    void this.#exited.then(() => {
      if (this.#proc === proc) this.#proc = undefined;
    });
    try {
      await waitFor(
        async () => {
          if (!this.#proc) throw new Error(`${this.#name} exited: ${this.#stderr.slice(-2000)}`);
          return ready();
        },
        { timeoutMs: opts.timeoutMs, intervalMs: 50, what: opts.what },
      );
    } catch (err) {
      await this.signal('SIGKILL');
      throw new Error(`${(err as Error).message}\n${this.#name} stderr: ${this.#stderr.slice(-2000)}`);
    }
  }

  /** Sends `sig` (after SIGCONT, so a frozen process can act on it) and waits for the exit. */
  async signal(sig: NodeJS.Signals): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    proc.kill('SIGCONT');
    proc.kill(sig);
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(t);
    this.#proc = undefined;
  }

  /** SIGSTOP: the process hangs with its connections open. */
  freeze(): void {
    this.#proc?.kill('SIGSTOP');
  }

  /** SIGCONT after freeze(). */
  thaw(): void {
    this.#proc?.kill('SIGCONT');
  }
}
