/**
 * Fixed-bucket histograms aggregated in plain arrays and handed to OpenTelemetry as a
 * MetricProducer at scrape time. Recording is a bucket search and three additions on a series
 * object the caller keeps — no attribute hashing per request, unlike Histogram.record (~0.6 µs
 * with three labels, measured). The Prometheus exporter serialises the data points like any
 * SDK histogram (`_bucket{le}`, `_sum`, `_count`).
 */
import { type Attributes, type HrTime, ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, type CollectionResult, type DataPoint, DataPointType, type Histogram, type MetricData, type MetricProducer } from '@opentelemetry/sdk-metrics';

/** Request latency bucket bounds in seconds: 0.5 ms … 10 s. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function nowHr(): HrTime {
  const ms = Date.now();
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
}

/** One label combination of a histogram. */
export class HistogramSeries {
  readonly attrs: Attributes;
  /** counts[i]: values ≤ bounds[i] and > bounds[i-1]; the last slot counts values above every bound. */
  readonly counts: number[];
  sum = 0;
  count = 0;
  min = Infinity;
  max = -Infinity;
  readonly startTime: HrTime = nowHr();

  constructor(attrs: Attributes, buckets: number) {
    this.attrs = attrs;
    this.counts = new Array<number>(buckets + 1).fill(0);
  }
}

/** A histogram metric: its series, their buckets, and the producer that exports them. */
export class HistogramFamily implements MetricProducer {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly bounds: readonly number[];
  readonly #series = new Map<string, HistogramSeries>();
  readonly #maxSeries: number;
  #overflow: HistogramSeries | undefined;

  /**
   * @param bounds ascending bucket upper bounds.
   * @param maxSeries beyond this many label combinations, values go to one series whose labels are all `_other`.
   */
  constructor(name: string, description: string, unit: string, bounds: readonly number[], maxSeries: number) {
    this.name = name;
    this.description = description;
    this.unit = unit;
    this.bounds = bounds;
    this.#maxSeries = maxSeries;
  }

  /** The series for `key` (the joined label values), created with `attrs` the first time. */
  series(key: string, attrs: () => Attributes): HistogramSeries {
    let s = this.#series.get(key);
    if (s !== undefined) return s;
    if (this.#series.size >= this.#maxSeries) {
      if (this.#overflow === undefined) {
        const other: Attributes = {};
        for (const k of Object.keys(attrs())) other[k] = '_other';
        this.#overflow = new HistogramSeries(other, this.bounds.length);
      }
      return this.#overflow;
    }
    s = new HistogramSeries(attrs(), this.bounds.length);
    this.#series.set(key, s);
    return s;
  }

  /** Records `value` on `s`. */
  record(s: HistogramSeries, value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    s.counts[i]!++;
    s.sum += value;
    s.count++;
    if (value < s.min) s.min = value;
    if (value > s.max) s.max = value;
  }

  /** The family as OTel metric data (cumulative). */
  metricData(): MetricData {
    const endTime = nowHr();
    const dataPoints: DataPoint<Histogram>[] = [];
    const all = this.#overflow === undefined ? this.#series.values() : [...this.#series.values(), this.#overflow];
    for (const s of all) {
      dataPoints.push({
        attributes: s.attrs,
        startTime: s.startTime,
        endTime,
        value: { buckets: { boundaries: this.bounds as number[], counts: s.counts.slice() }, sum: s.sum, count: s.count, min: s.min, max: s.max },
      });
    }
    return {
      descriptor: { name: this.name, description: this.description, unit: this.unit, valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints,
    };
  }

  async collect(): Promise<CollectionResult> {
    return {
      resourceMetrics: { resource: resourceFromAttributes({}), scopeMetrics: [{ scope: { name: 'dyeline' }, metrics: [this.metricData()] }] },
      errors: [],
    };
  }
}
