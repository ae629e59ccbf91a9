/**
 * Prometheus metrics through OpenTelemetry: one MeterProvider per process with a
 * PrometheusExporter that does not start its own server; the status listener serves
 * `/metrics` through `handle`. Name counters with their `_total` suffix (the exporter does not double it).
 *
 * Two ways in: instruments on `meter` (observable ones cost nothing per request), and metric
 * producers added with `addProducer` — for data the process aggregates itself in plain numbers
 * (the agent's request-duration histogram), collected into the same exposition at scrape time.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Meter } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { type CollectionResult, type MetricCollectOptions, type MetricProducer, MeterProvider } from '@opentelemetry/sdk-metrics';

/** The process's metrics. */
export interface Metrics {
  meter: Meter;
  /** The provider behind `meter` (for the OTel SDK's own metrics, e.g. the span processor's). */
  provider: MeterProvider;
  /** Adds a producer whose metrics join every scrape (its resource is ignored). */
  addProducer(producer: MetricProducer): void;
  /** Serves the Prometheus text exposition. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  shutdown(): Promise<void>;
}

/** The producers added after the exporter was built, collected as one. */
class AddedProducers implements MetricProducer {
  readonly list: MetricProducer[] = [];

  async collect(options?: MetricCollectOptions): Promise<CollectionResult> {
    const results = await Promise.all(this.list.map((p) => p.collect(options)));
    return {
      resourceMetrics: { resource: resourceFromAttributes({}), scopeMetrics: results.flatMap((r) => r.resourceMetrics.scopeMetrics) },
      errors: results.flatMap((r) => r.errors),
    };
  }
}

/** Creates the process's metrics; `service` becomes the resource's service.name. */
export function createMetrics(service: string): Metrics {
  const added = new AddedProducers();
  const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, metricProducers: [added] });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    readers: [exporter],
  });
  return {
    meter: provider.getMeter('dyeline'),
    provider,
    addProducer: (p) => void added.list.push(p),
    handle: (req, res) => exporter.getMetricsRequestHandler(req, res),
    shutdown: () => provider.shutdown(),
  };
}
