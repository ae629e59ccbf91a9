/**
 * Prometheus metrics through OpenTelemetry: one MeterProvider per process with a
 * PrometheusExporter that does not start its own server; the status listener serves
 * `/metrics` through `handle`. Name counters with their `_total` suffix (the exporter does not double it).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Meter } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

/** The process's metrics. */
export interface Metrics {
  meter: Meter;
  /** Serves the Prometheus text exposition. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  shutdown(): Promise<void>;
}

/** Creates the process's metrics; `service` becomes the resource's service.name. */
export function createMetrics(service: string): Metrics {
  const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    readers: [exporter],
  });
  return {
    meter: provider.getMeter('dyeline'),
    handle: (req, res) => exporter.getMetricsRequestHandler(req, res),
    shutdown: () => provider.shutdown(),
  };
}
