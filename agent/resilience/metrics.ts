/**
 * The resilience metrics (docs/reference.md#agent-metrics), on the agent's meter:
 *   dyeline_circuit_state{upstream,subset}          0 closed, 1 half-open, 2 open (read at scrape time;
 *                                                   only the breakers that exist now: current-gauge.ts)
 *   dyeline_fallbacks_total{upstream,from,to,reason} requests served outside their requested lane
 *   dyeline_retries_total{upstream,reason}           retries sent (reason: connect-failure, reset, timeout, status code)
 *   dyeline_ejections_total{upstream}                instances ejected by outlier detection
 *   dyeline_ejections_capped_total{upstream}         ejections refused by maxEjectionPercent
 * Counting is plain numbers keyed by label values, handed to OpenTelemetry at scrape time
 * (observable instruments), like agent/telemetry/metrics.ts: nothing is hashed per request.
 */
import type { Meter } from '@opentelemetry/api';
import type { Metrics } from '../../shared/metrics.ts';
import { CurrentGauge } from '../../shared/telemetry/current-gauge.ts';
import type { Breakers } from './breakers.ts';

/**
 * Beyond this many label combinations per counter, new ones are counted under upstream `_other`
 * (below the OTel SDK's per-instrument limit of 2000, as in agent/telemetry/metrics.ts).
 */
export const MAX_SERIES = 1000;

/** Counters the resilience layer bumps. */
export interface ResilienceMetrics {
  /** A request was served outside its requested lane `from`, by lane `to`, for `reason`. */
  fallback(upstream: string, from: string, to: string, reason: string): void;
  /** A retry was sent after a failure of kind `reason`. */
  retry(upstream: string, reason: string): void;
  /** An instance was ejected (`capped`: the ejection was refused by the cap). */
  ejection(upstream: string, capped: boolean): void;
}

interface Series {
  readonly attrs: Record<string, string>;
  value: number;
}

/** Counter series keyed by their joined label values, capped at MAX_SERIES (then upstream `_other`). */
class SeriesMap {
  readonly #series = new Map<string, Series>();

  /** Adds one to the series `key` (`upstream|...`); `rest` are its other labels, used the first time. */
  bump(key: string, upstream: string, rest: readonly [string, string][]): void {
    const s = this.#series.get(key) ?? this.#add(key, upstream, rest);
    s.value++;
  }

  #add(key: string, upstream: string, rest: readonly [string, string][]): Series {
    const overflow = this.#series.size >= MAX_SERIES;
    const k = overflow ? `_other|${key.slice(upstream.length + 1)}` : key;
    let s = this.#series.get(k);
    if (s === undefined) {
      const attrs: Record<string, string> = { upstream: overflow ? '_other' : upstream };
      for (const [n, v] of rest) attrs[n] = v;
      s = { attrs, value: 0 };
      this.#series.set(k, s);
    }
    return s;
  }

  /** The series `key`, if it exists. */
  get(key: string): Series | undefined {
    return this.#series.get(key);
  }

  values(): IterableIterator<Series> {
    return this.#series.values();
  }
}

/**
 * Registers the resilience instruments on the process's metrics; the circuit gauge reads
 * `breakers` at scrape time and shows the breakers that exist then (a removed lane's circuit
 * leaves the exposition with it).
 */
export function createResilienceMetrics(metrics: Metrics, breakers: Breakers): ResilienceMetrics {
  const meter: Meter = metrics.meter;
  const fallbacks = new SeriesMap();
  const retries = new SeriesMap();
  const ejections = new SeriesMap();
  const capped = new SeriesMap();

  metrics.addProducer(
    new CurrentGauge('dyeline_circuit_state', 'Circuit state per upstream service and subset (lane): 0 closed, 1 half-open, 2 open.', (emit) => {
      for (const b of breakers.values()) emit(b.stateValue, { upstream: b.service, subset: b.lane });
    }),
  );
  const observe = (s: SeriesMap) => (r: { observe(v: number, a: Record<string, string>): void }) => {
    for (const x of s.values()) r.observe(x.value, x.attrs);
  };
  meter.createObservableCounter('dyeline_fallbacks_total', { description: 'Requests served outside their requested lane, by upstream, requested lane (from), serving lane (to) and reason (no-instance, circuit-open, error).' })
    .addCallback(observe(fallbacks));
  meter.createObservableCounter('dyeline_retries_total', { description: 'Retries sent, by upstream and the failure retried (connect-failure, reset, timeout, or the status code).' })
    .addCallback(observe(retries));
  meter.createObservableCounter('dyeline_ejections_total', { description: 'Instances ejected by outlier detection, by upstream.' })
    .addCallback(observe(ejections));
  meter.createObservableCounter('dyeline_ejections_capped_total', { description: 'Ejections refused because maxEjectionPercent of the instances were already ejected, by upstream.' })
    .addCallback(observe(capped));

  return {
    fallback(upstream, from, to, reason) {
      const key = `${upstream}|${from}|${to}|${reason}`;
      const s = fallbacks.get(key);
      if (s !== undefined) s.value++;
      else fallbacks.bump(key, upstream, [['from', from], ['to', to], ['reason', reason]]);
    },
    retry(upstream, reason) {
      retries.bump(`${upstream}|${reason}`, upstream, [['reason', reason]]);
    },
    ejection(upstream, wasCapped) {
      (wasCapped ? capped : ejections).bump(`${upstream}|`, upstream, []);
    },
  };
}

/** Metrics that count nothing (tests, or an agent without a meter). */
export const noResilienceMetrics: ResilienceMetrics = {
  fallback() {},
  retry() {},
  ejection() {},
};
