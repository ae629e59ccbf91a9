/**
 * Logging: pino JSON on stdout, written asynchronously (the request path never waits for the
 * terminal or the pipe). Secrets (passwords, tokens, credentials, authorization, cookie and
 * proxy-authorization headers) are censored at the paths where the code can put them.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { isoTime } from './iso-time.ts';

export type { Logger } from 'pino';

/** Header names whose values never reach a log line. */
export const SECRET_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key'] as const;

/** Field names that hold secrets, wherever the code puts them. */
const SECRET_FIELDS = ['password', 'username', 'token', 'accessToken', 'credentials', 'secret'];
/** Objects that carry secrets one level down (a source's auth or config, a client's options). */
const CONTAINERS = ['auth', 'options', 'config', 'source', 'client'];
const HEADER_HOLDERS = ['headers', 'req.headers', 'res.headers', 'request.headers', 'response.headers'];

/**
 * Paths pino censors in every log line. Explicit paths only: a wildcard (`*.password`) makes
 * pino walk every key of every line, which measured ~13 µs a line against ~0.2 µs for these.
 * Nothing logs whole header objects on the request path; these paths are the safety net.
 */
export const REDACT_PATHS: string[] = [
  ...SECRET_FIELDS,
  ...SECRET_HEADERS.map((h) => (h.includes('-') ? `["${h}"]` : h)),
  ...CONTAINERS.flatMap((c) => secretPathsIn(c)),
  ...HEADER_HOLDERS.flatMap((o) => SECRET_HEADERS.map((h) => (h.includes('-') ? `${o}["${h}"]` : `${o}.${h}`))),
];

/**
 * Paths of the secret fields one level inside an object logged as `container` — the usual
 * names, plus `fields` of its own (the daemon adds one container per source kind).
 */
export function secretPathsIn(container: string, fields: readonly string[] = []): string[] {
  const at = /^[A-Za-z_$][\w$]*$/.test(container) ? container : `["${container}"]`;
  return [...new Set([...SECRET_FIELDS, ...fields])].map((f) => `${at}.${f}`);
}

let stampMs = -1;
let stamp = '';

/**
 * pino's isoTime, formatted once per millisecond: under load many lines share a millisecond,
 * and formatting the time is about half of a request line's serialisation cost. Formatted by
 * shared/iso-time.ts, not `toISOString` (which makes V8 read ICU's time-zone data).
 */
export function isoTimeCached(): string {
  const now = Date.now();
  if (now !== stampMs) {
    stampMs = now;
    stamp = `,"time":"${isoTime(now)}"`;
  }
  return stamp;
}

/**
 * Creates the process logger. `DYELINE_LOG_LEVEL` (default info) sets the level; `secretPaths`
 * are censored besides REDACT_PATHS (the daemon adds its source kinds' secret fields).
 */
export function createLogger(bindings: Record<string, unknown>, destination?: pino.DestinationStream, secretPaths: readonly string[] = []): Logger {
  const level = (process.env.DYELINE_LOG_LEVEL ?? 'info') as LevelWithSilent;
  return pino(
    {
      level,
      base: { pid: process.pid, ...bindings },
      redact: { paths: [...REDACT_PATHS, ...secretPaths], censor: '[redacted]' },
      timestamp: isoTimeCached,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** Logs the one line per bound listener (docs/reference.md#commands). */
export function logListening(log: Logger, listener: string, address: string): void {
  log.info({ listener, address }, 'listening');
}
