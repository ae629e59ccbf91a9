/** A real pino logger (shared/log.ts settings: redaction, levels) writing into memory, for tests that read log lines. */
import { createLogger, type Logger } from '../../shared/log.ts';

/** A logger and the JSON lines it wrote. */
export interface MemoryLog {
  log: Logger;
  lines: Record<string, unknown>[];
}

/** Creates a logger at `level` (default info) whose lines land in `lines`, parsed. */
export function memoryLog(bindings: Record<string, unknown> = {}, level = 'info'): MemoryLog {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger(bindings, {
    write(s: string) {
      for (const line of s.split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  log.level = level;
  return { log, lines };
}
