/** Bounded polling for tests: wait for a condition instead of sleeping. */

/** Polls `fn` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  const interval = opts.intervalMs ?? 20;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      const why = lastErr instanceof Error ? ` (last error: ${lastErr.message})` : '';
      throw new Error(`timed out after ${opts.timeoutMs ?? 10_000} ms waiting for ${opts.what ?? 'condition'}${why}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/**
 * Polls `fn` on event-loop turns (setImmediate, never a timer) until it is true, or throws after
 * `timeoutMs` of wall-clock time: for tests that drive a fake clock while sockets stay real.
 */
export async function waitForIo(fn: () => boolean, opts: { timeoutMs?: number; what?: string } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 5_000);
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${opts.timeoutMs ?? 5_000} ms waiting for ${opts.what ?? 'condition'}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Lets `ms` of wall-clock time pass on event-loop turns (no timer): I/O in flight lands meanwhile. */
export async function idleIo(ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) await new Promise((r) => setImmediate(r));
}
