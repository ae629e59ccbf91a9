/**
 * Logging: pino JSON on stdout. Secrets (passwords, tokens, authorization and cookie
 * headers) are redacted wherever they appear in a log object.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/** Paths pino censors in every log line. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'username',
  '*.username',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["proxy-authorization"]',
  'req.headers.authorization',
  'req.headers.cookie',
];

/** Creates the process logger. `DYELINE_LOG_LEVEL` (default info) sets the level. */
export function createLogger(bindings: Record<string, unknown>, destination?: pino.DestinationStream): Logger {
  const level = (process.env.DYELINE_LOG_LEVEL ?? 'info') as LevelWithSilent;
  return pino(
    {
      level,
      base: { pid: process.pid, ...bindings },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** Logs the contract's one line per bound listener. */
export function logListening(log: Logger, listener: string, address: string): void {
  log.info({ listener, address }, 'listening');
}
