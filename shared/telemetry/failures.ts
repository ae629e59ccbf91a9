/**
 * Telemetry never breaks traffic: every failure of the OpenTelemetry pipeline (export errors,
 * a full queue, a collector that answers 5xx) ends here — counted, and logged at most once per
 * interval with the number of failures since the last line. It takes over the OTel API's
 * diagnostic logger (warnings and errors only) and the SDK's global error handler, both
 * process-wide; the last installed reporter wins.
 */
import { type DiagLogger, DiagLogLevel, diag } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode, setGlobalErrorHandler } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { Logger } from '../log.ts';

/** Default minimum time between two failure log lines, ms. */
export const FAILURE_LOG_INTERVAL_MS = 60_000;

/** Counts and rate-limits telemetry failures. */
export class FailureReporter {
  /** Export requests that failed (collector down, refused, 4xx/5xx after the exporter's retries). */
  exportFailures = 0;
  /** Spans carried by those failed exports (lost). */
  spansLost = 0;
  /** Other errors and warnings of the OTel pipeline (queue full, timeouts, bad configuration). */
  errors = 0;
  readonly #seen = new WeakSet<object>();
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #lastLogAt = -Infinity;
  #suppressed = 0;

  /**
   * @param intervalMs minimum time between two log lines (default 60 s).
   * @param now clock in ms (default Date.now; injectable for tests).
   */
  constructor(log: Logger, intervalMs: number = FAILURE_LOG_INTERVAL_MS, now: () => number = Date.now) {
    this.#log = log;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** Every failure counted so far. */
  get failures(): number {
    return this.exportFailures + this.errors;
  }

  /** One export request failed, losing `spans` spans. */
  exportFailed(err: unknown, spans: number): void {
    this.exportFailures++;
    this.spansLost += spans;
    if (typeof err === 'object' && err !== null) this.#seen.add(err);
    this.#write('span export failed', err);
  }

  /** Records one other failure; the batch processor's re-report of a failed export is not counted twice. */
  report(what: string, err?: unknown): void {
    if (typeof err === 'object' && err !== null && this.#seen.has(err)) return;
    this.errors++;
    this.#write(what, err);
  }

  /** Logs unless a line was written less than an interval ago. */
  #write(what: string, err: unknown): void {
    const t = this.#now();
    if (t - this.#lastLogAt < this.#intervalMs) {
      this.#suppressed++;
      return;
    }
    this.#lastLogAt = t;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    this.#log.warn({ err: describe(err), suppressed, exportFailures: this.exportFailures, spansLost: this.spansLost, errors: this.errors }, `telemetry: ${what} (traffic is not affected)`);
  }
}

/** A short, credential-free description of an OTel error value. */
function describe(err: unknown): string | undefined {
  if (err === undefined) return undefined;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return `${err.name}: ${err.message}${typeof code === 'number' || typeof code === 'string' ? ` (${code})` : ''}`.slice(0, 500);
  }
  if (typeof err === 'string') return err.slice(0, 500);
  try {
    return JSON.stringify(err).slice(0, 500);
  } catch {
    return String(err).slice(0, 500);
  }
}

function joinArgs(message: string, args: unknown[]): string {
  if (args.length === 0) return message;
  return `${message} ${args.map((a) => describe(a) ?? '').join(' ')}`;
}

/**
 * Routes the OTel diagnostic logger (warn and error) and the SDK's global error handler to
 * `reporter`. Returns the reporter for chaining.
 */
export function installFailureReporting(reporter: FailureReporter): FailureReporter {
  const logger: DiagLogger = {
    error: (message, ...args) => reporter.report(joinArgs(message, args)),
    warn: (message, ...args) => reporter.report(joinArgs(message, args)),
    info: () => {},
    debug: () => {},
    verbose: () => {},
  };
  diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  setGlobalErrorHandler((err) => reporter.report('span export failed', err));
  return reporter;
}

/** Wraps an exporter so every failed export is counted (with its spans) on `reporter`. */
export class CountingExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #reporter: FailureReporter;

  constructor(inner: SpanExporter, reporter: FailureReporter) {
    this.#inner = inner;
    this.#reporter = reporter;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.#inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) this.#reporter.exportFailed(result.error ?? new Error('export failed'), spans.length);
      resultCallback(result);
    });
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}
