/**
 * A source's connection to its backend, written once for every source: the retry loop (jittered
 * backoff after a failure, a sleep that stop() and wake() cut short) and the connected /
 * disconnected reports — one log line per change, then the sink, which keeps /status and
 * `dyeline_source_up`. See docs/sources.md#connection.
 */
import { errorMessage } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { type BackoffOptions, backoffDelay } from './backoff.ts';
import type { SourceSink } from './source.ts';

/** What a Connection reports to and as. */
export interface ConnectionOptions {
  /** Names the source in log messages: `<name> connected`. */
  name: string;
  sink: SourceSink;
  log: Logger;
  /** Delay after a failed round; default 100 ms doubling to 5 s, jittered. */
  backoff?: BackoffOptions;
}

/** Runs a source's rounds until stop() and reports its connection state once per change. */
export class Connection {
  readonly #name: string;
  readonly #sink: SourceSink;
  readonly #log: Logger;
  readonly #backoff: BackoffOptions;
  #connected: boolean | undefined;
  #error: string | undefined;
  #failures = 0;
  #stopped = false;
  #wake: (() => void) | undefined;
  /** wake() came while no sleep was running: the next sleep ends at once. */
  #woken = false;

  constructor(opts: ConnectionOptions) {
    this.#name = opts.name;
    this.#sink = opts.sink;
    this.#log = opts.log;
    this.#backoff = opts.backoff ?? {};
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** The backend answered: reported (and logged) when that is news; the backoff starts over. */
  up(fields: Record<string, unknown> = {}): void {
    if (this.#stopped) return;
    this.#failures = 0;
    this.#error = undefined;
    if (this.#connected === true) return;
    this.#connected = true;
    this.#log.info(fields, `${this.#name} connected`);
    this.#sink.setConnected(true);
  }

  /** The backend cannot be read; `why` (no credentials) goes to /status. Repeats of the same `why` are dropped. */
  down(why: string, fields: Record<string, unknown> = {}): void {
    if (this.#stopped) return;
    if (this.#connected === false && why === this.#error) return;
    if (this.#connected !== false) this.#log.warn({ error: why, ...fields }, `${this.#name} disconnected; keeping its last known content`);
    else this.#log.debug({ error: why }, `${this.#name} still unreachable`);
    this.#connected = false;
    this.#error = why;
    this.#sink.setConnected(false, why);
  }

  /**
   * Runs `round` until stop(). A round resolves with the ms to wait before the next one
   * (undefined: at once), or throws: then `failed(err)` says why (and may, say, switch to the next
   * endpoint), the source is reported down, and the next round waits for the backoff delay.
   */
  async run(round: () => Promise<number | undefined>, failed: (err: unknown) => string = errorMessage): Promise<void> {
    while (!this.#stopped) {
      let wait: number | undefined;
      try {
        wait = await round();
      } catch (err) {
        if (this.#stopped) return;
        this.down(failed(err));
        wait = backoffDelay(this.#failures++, this.#backoff);
      }
      if (this.#stopped) return;
      if (wait !== undefined) await this.sleep(wait);
    }
  }

  /** Sleeps `ms`; wake() and stop() end it early. */
  sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#woken) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  /** Starts the next round now (or as soon as the current one ends). */
  wake(): void {
    if (this.#wake) this.#wake();
    else this.#woken = true;
  }

  /** Ends the loop after the current round; no report is made after this. */
  stop(): void {
    this.#stopped = true;
    this.#wake?.();
  }
}
