/**
 * The agent's metrics (contract §7). Per-request counting happens in plain numbers keyed by
 * the label values and is handed to OpenTelemetry only at scrape time (observable
 * instruments), so the request path never pays for attribute hashing. Richer telemetry
 * (duration histogram, fallbacks, circuit state) comes with issues 4 and 5.
 */
import type { Meter } from '@opentelemetry/api';

/** Request direction label. */
export type Direction = 'inbound' | 'outbound';

/** Counters the data plane bumps. */
export interface AgentMetrics {
  /** One finished request. Empty strings are fine for absent labels (uncoloured, no fallback). */
  request(direction: Direction, upstream: string, color: string, servedColor: string, code: number, fallback: string): void;
  /** A request carried an invalid colour. */
  invalidColor(): void;
  /** A snapshot file was rejected (checksum, JSON or schema). */
  snapshotRejected(): void;
  /** The version of the snapshot in use. */
  snapshotVersion(version: number): void;
}

/** Beyond this many label combinations, new pass-through hosts are counted as upstream `_other`. */
export const MAX_SERIES = 5000;

interface Series {
  readonly attrs: Record<string, string>;
  value: number;
}

/** Registers the agent's instruments on `meter`. */
export function createAgentMetrics(meter: Meter): AgentMetrics {
  const series = new Map<string, Series>();
  let invalid = 0;
  let rejected = 0;
  let version = 0;

  meter.createObservableCounter('dyeline_requests_total', { description: 'Requests through the agent, by direction, upstream service, colour, served colour, status code and fallback reason.' })
    .addCallback((r) => {
      for (const s of series.values()) r.observe(s.value, s.attrs);
    });
  meter.createObservableCounter('dyeline_invalid_color_total', { description: 'Requests that carried an invalid colour (treated as uncoloured, not forwarded).' })
    .addCallback((r) => r.observe(invalid));
  meter.createObservableCounter('dyeline_snapshot_rejected_total', { description: 'Snapshot files rejected (checksum, JSON or schema); the last good one stays in use.' })
    .addCallback((r) => r.observe(rejected));
  meter.createObservableGauge('dyeline_snapshot_version', { description: 'Version of the snapshot in use (0: none loaded).' })
    .addCallback((r) => r.observe(version));

  return {
    request(direction, upstream, color, servedColor, code, fallback) {
      const key = `${direction}|${upstream}|${color}|${servedColor}|${code}|${fallback}`;
      let s = series.get(key);
      if (s === undefined) {
        const up = series.size >= MAX_SERIES ? '_other' : upstream;
        const k = up === upstream ? key : `${direction}|${up}|${color}|${servedColor}|${code}|${fallback}`;
        s = series.get(k);
        if (s === undefined) {
          s = { attrs: { direction, upstream: up, color, served_color: servedColor, code: String(code), fallback }, value: 0 };
          series.set(k, s);
        }
      }
      s.value++;
    },
    invalidColor() {
      invalid++;
    },
    snapshotRejected() {
      rejected++;
    },
    snapshotVersion(v) {
      version = v;
    },
  };
}
