/**
 * The agent's request and snapshot metrics (docs/reference.md#agent-metrics), counted as plain
 * numbers per label set and handed to OpenTelemetry at scrape time, with bounded label values
 * (docs/telemetry.md#request-metrics).
 */
import type { Meter } from '@opentelemetry/api';
import { CurrentGauge } from '../../shared/telemetry/current-gauge.ts';
import type { Metrics } from '../../shared/metrics.ts';
import type { RoutingTable } from '../routing/types.ts';
import { HistogramFamily, type HistogramSeries, LATENCY_BUCKETS_SECONDS } from './histogram.ts';

/** Request direction label. */
export type Direction = 'inbound' | 'outbound';

/** The `upstream` label of requests to hosts the snapshot does not know. */
export const PASSTHROUGH_UPSTREAM = 'passthrough';
/** The `color` label of a valid colour the snapshot does not know. */
export const UNKNOWN_COLOR = '_unknown';
/**
 * Beyond this many label combinations, new ones are counted in one `_other` series (per
 * metric). Below the OTel SDK's own per-instrument cardinality limit (2000), which would
 * otherwise fold the excess into an `otel_metric_overflow` series.
 */
export const MAX_SERIES = 1000;

/** Counters the data plane bumps. */
export interface AgentMetrics {
  /**
   * One finished request. Empty strings are fine for absent labels (uncoloured, no fallback).
   * `seconds` (from the first byte in to the last byte out) feeds the duration histogram.
   */
  request(direction: Direction, upstream: string, color: string, servedColor: string, code: number, fallback: string, seconds?: number): void;
  /** A request carried an invalid colour. */
  invalidColor(): void;
  /** An outbound call that had lost its colour was put back in its lane (docs/reference.md#lane-leak-recovery). */
  laneLeak(upstream: string): void;
  /** A colour from a peer that is not a mesh instance was removed (--accept-color mesh). */
  untrustedColor(): void;
  /** A snapshot file was rejected (checksum, JSON or schema). */
  snapshotRejected(): void;
  /** The version of the snapshot in use. */
  snapshotVersion(version: number): void;
  /** A snapshot is in use: version, age, checksum, and the colours the colour label may take. */
  snapshotLoaded(table: RoutingTable): void;
}

interface Series {
  readonly attrs: Record<string, string>;
  value: number;
  /** The duration histogram series of the same direction, upstream and served colour. */
  readonly duration: HistogramSeries;
}

/**
 * The request series by label value, one Map level per label (upstream, colour, served colour,
 * code, fallback) under each direction: a request finds its series with the label values it
 * has, without building a key string each time.
 */
type SeriesTree = Map<string, Map<string, Map<string, Map<number, Map<string, Series>>>>>;

/** The Map under `key` in `m`; made when `make` (else undefined when absent). */
function level<K, M extends Map<unknown, unknown>>(m: Map<K, M>, key: K, make: boolean): M | undefined {
  let next = m.get(key);
  if (next === undefined && make) {
    next = new Map() as M;
    m.set(key, next);
  }
  return next;
}

/** Every colour a snapshot can route: lane colours and the lanes of every subset. */
export function colorsOf(table: RoutingTable): Set<string> {
  const colors = new Set<string>(['stable']);
  for (const lane of table.lanes()) colors.add(lane.color);
  for (const svc of table.services()) for (const lane of svc.subsets.keys()) colors.add(lane);
  return colors;
}

/**
 * Registers the agent's instruments. Pass the process Metrics (preferred) so the duration
 * histogram joins the scrape; with a bare Meter the histogram is not exported.
 */
export function createAgentMetrics(m: Meter | Metrics): AgentMetrics {
  const meter = 'addProducer' in m ? m.meter : m;
  const durations = new HistogramFamily(
    'dyeline_request_duration_seconds',
    'Request duration through the agent, first byte in to last byte out, by direction, upstream service and served colour.',
    's',
    LATENCY_BUCKETS_SECONDS,
    MAX_SERIES,
  );
  if ('addProducer' in m) m.addProducer(durations);

  const series: Series[] = [];
  const trees: Record<Direction, SeriesTree> = { inbound: new Map(), outbound: new Map() };
  let overflow: Series | undefined;
  let known: Set<string> | undefined;
  let invalid = 0;
  /** Healed lane leaks by upstream label (services of the snapshot, `passthrough`; `_other` past MAX_SERIES). */
  const leaks = new Map<string, number>();
  let untrusted = 0;
  let rejected = 0;
  let version = 0;
  let generatedAtMs = NaN;
  let checksum = '';
  let laneStates: RoutingTable['laneStates'] = new Map();

  meter.createObservableCounter('dyeline_requests_total', { description: 'Requests through the agent, by direction, upstream service, colour, served colour, status code and fallback reason.' })
    .addCallback((r) => {
      for (const s of series) r.observe(s.value, s.attrs);
      if (overflow !== undefined) r.observe(overflow.value, overflow.attrs);
    });
  meter.createObservableCounter('dyeline_invalid_color_total', { description: 'Requests that carried an invalid colour (treated as uncoloured, not forwarded).' })
    .addCallback((r) => r.observe(invalid));
  meter.createObservableCounter('dyeline_lane_leaks_total', { description: 'Outbound calls that had lost their colour and were put back in the lane their trace arrived in, by upstream service.' })
    .addCallback((r) => {
      for (const [upstream, n] of leaks) r.observe(n, { upstream });
    });
  meter.createObservableCounter('dyeline_untrusted_color_total', { description: 'Colours removed from inbound requests whose peer is not a mesh instance (--accept-color mesh).' })
    .addCallback((r) => r.observe(untrusted));
  meter.createObservableCounter('dyeline_snapshot_rejected_total', { description: 'Snapshot files rejected (checksum, JSON or schema); the last good one stays in use.' })
    .addCallback((r) => r.observe(rejected));
  meter.createObservableGauge('dyeline_snapshot_version', { description: 'Version of the snapshot in use (0: none loaded).' })
    .addCallback((r) => r.observe(version));
  meter.createObservableGauge('dyeline_snapshot_age_seconds', { description: 'Seconds since the daemon generated the snapshot in use (absent until one is loaded).', unit: 's' })
    .addCallback((r) => {
      if (!Number.isNaN(generatedAtMs)) r.observe(Math.max(0, (Date.now() - generatedAtMs) / 1000));
    });
  // Current state only: the checksums of earlier snapshots must not stay (current-gauge.ts).
  const info = new CurrentGauge('dyeline_snapshot_info', 'Always 1; the checksum label names the snapshot in use (same checksum, same rules).', (emit) => {
    if (checksum !== '') emit(1, { checksum });
  });
  if ('addProducer' in m) m.addProducer(info);
  // What the agent applies of each LaneState now (a lane gone is gone from these too).
  const share = new CurrentGauge('dyeline_lane_share', 'Share of uncoloured entry traffic the LaneState of each lane dyes into it, as this agent applies it.', (emit) => {
    for (const l of laneStates.values()) emit(l.share, { lane: l.lane, color: l.color });
  });
  const degraded = new CurrentGauge('dyeline_lane_degraded', '1 while the LaneState of a lane says degraded (its traffic goes to its fallback), else 0.', (emit) => {
    for (const l of laneStates.values()) emit(l.degraded ? 1 : 0, { lane: l.lane, color: l.color });
  });
  if ('addProducer' in m) {
    m.addProducer(share);
    m.addProducer(degraded);
  }

  /** The series of a label set: found in the tree, else made (or the `_other` series, past MAX_SERIES). */
  function find(direction: Direction, upstream: string, color: string, servedColor: string, code: number, fallback: string): Series {
    // The levels are made only for a series that is made: past MAX_SERIES the tree stops growing.
    const make = series.length < MAX_SERIES;
    const byColor = level(trees[direction], upstream, make);
    const byServed = byColor && level(byColor, color, make);
    const byCode = byServed && level(byServed, servedColor, make);
    const byFallback = byCode && level(byCode, code, make);
    const found = byFallback?.get(fallback);
    if (found !== undefined) return found;
    if (byFallback === undefined || !make) {
      overflow ??= {
        attrs: { direction: '_other', upstream: '_other', color: '_other', served_color: '_other', code: '_other', fallback: '_other' },
        value: 0,
        duration: durations.series('_other', () => ({ direction: '_other', upstream: '_other', served_color: '_other' })),
      };
      return overflow;
    }
    const s: Series = {
      attrs: { direction, upstream, color, served_color: servedColor, code: String(code), fallback },
      value: 0,
      duration: durations.series(`${direction}|${upstream}|${servedColor}`, () => ({ direction, upstream, served_color: servedColor })),
    };
    byFallback.set(fallback, s);
    series.push(s);
    return s;
  }

  return {
    request(direction, upstream, color, servedColor, code, fallback, seconds) {
      const c = color === '' || known === undefined || known.has(color) ? color : UNKNOWN_COLOR;
      const s = find(direction, upstream, c, servedColor, code, fallback);
      s.value++;
      if (seconds !== undefined) durations.record(s.duration, seconds);
    },
    invalidColor() {
      invalid++;
    },
    laneLeak(upstream) {
      const label = leaks.has(upstream) || leaks.size < MAX_SERIES ? upstream : '_other';
      leaks.set(label, (leaks.get(label) ?? 0) + 1);
    },
    untrustedColor() {
      untrusted++;
    },
    snapshotRejected() {
      rejected++;
    },
    snapshotVersion(v) {
      version = v;
    },
    snapshotLoaded(table) {
      version = table.version;
      checksum = table.checksum;
      generatedAtMs = Date.parse(table.snapshot.generatedAt);
      known = colorsOf(table);
      laneStates = table.laneStates;
    },
  };
}
