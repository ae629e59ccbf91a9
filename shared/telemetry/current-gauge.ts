/**
 * A gauge whose series are exactly what its reader reports at each scrape, as a MetricProducer
 * (shared/metrics.ts addProducer). An OpenTelemetry observable gauge under the cumulative
 * Prometheus reader keeps every label set it ever reported, with its last value: the series of
 * something that is gone (a removed lane's circuit, an older snapshot's checksum) would stay
 * forever. Here a series not reported in this scrape does not exist.
 */
import type { Attributes } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, type CollectionResult, type DataPoint, DataPointType, type MetricProducer } from '@opentelemetry/sdk-metrics';

/** Reports the current series: call `emit` once per series. */
export type GaugeReader = (emit: (value: number, attributes: Attributes) => void) => void;

/** A gauge of the current state only. */
export class CurrentGauge implements MetricProducer {
  readonly #name: string;
  readonly #description: string;
  readonly #read: GaugeReader;

  constructor(name: string, description: string, read: GaugeReader) {
    this.#name = name;
    this.#description = description;
    this.#read = read;
  }

  async collect(): Promise<CollectionResult> {
    const now = hrTime();
    const dataPoints: DataPoint<number>[] = [];
    this.#read((value, attributes) => dataPoints.push({ startTime: now, endTime: now, attributes, value }));
    return {
      resourceMetrics: {
        resource: resourceFromAttributes({}),
        scopeMetrics: [
          {
            scope: { name: 'dyeline' },
            metrics: [
              {
                descriptor: { name: this.#name, description: this.#description, unit: '', valueType: ValueType.DOUBLE },
                aggregationTemporality: AggregationTemporality.CUMULATIVE,
                dataPointType: DataPointType.GAUGE,
                dataPoints,
              },
            ],
          },
        ],
      },
      errors: [],
    };
  }
}
