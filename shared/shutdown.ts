/**
 * How a long-running command stops (docs/reference.md#commands): on the first SIGTERM or SIGINT it
 * logs, runs its own stop steps, flushes the log and exits 0; a stop that takes longer than
 * `forceMs` exits 1. Later signals are ignored while it stops.
 */
import { errorMessage } from './errors.ts';
import type { Logger } from './log.ts';

/** Installs the signal handlers; the returned function says whether stopping has begun. */
export function stopOnSignals(log: Logger, stop: () => Promise<void>, forceMs = 10_000): () => boolean {
  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), forceMs);
    force.unref();
    let code = 0;
    try {
      await stop();
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'stopping failed');
      code = 1;
    }
    log.flush();
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  return () => stopping;
}
