/**
 * Daemon metrics (docs/reference.md#metrics): dyeline_source_up{source}, dyeline_snapshot_version,
 * dyeline_snapshot_writes_total, dyeline_documents_rejected_total{source}, plus write latency.
 */
import type { Metrics } from '../shared/metrics.ts';

export interface DaemonMetrics {
  sourceUp(source: string, up: boolean): void;
  snapshotVersion(version: number): void;
  written(version: number, seconds: number): void;
  writeFailed(): void;
  rejected(source: string): void;
}

export function daemonMetrics(m: Metrics): DaemonMetrics {
  const up = new Map<string, number>();
  let version = 0;
  m.meter
    .createObservableGauge('dyeline_source_up', { description: '1 when the source is connected, 0 when not' })
    .addCallback((r) => {
      for (const [source, v] of up) r.observe(v, { source });
    });
  m.meter
    .createObservableGauge('dyeline_snapshot_version', { description: 'Version of the snapshot on disk' })
    .addCallback((r) => r.observe(version));
  const writes = m.meter.createCounter('dyeline_snapshot_writes_total', { description: 'Snapshots written' });
  const failures = m.meter.createCounter('dyeline_snapshot_write_failures_total', { description: 'Snapshot writes that failed' });
  const rejected = m.meter.createCounter('dyeline_documents_rejected_total', { description: 'Documents rejected by validation or cross-checks' });
  const duration = m.meter.createHistogram('dyeline_snapshot_write_duration_seconds', {
    description: 'Time to merge, serialise and atomically write a snapshot',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] },
  });
  return {
    sourceUp: (source, isUp) => void up.set(source, isUp ? 1 : 0),
    snapshotVersion: (v) => void (version = v),
    written: (v, seconds) => {
      version = v;
      writes.add(1);
      duration.record(seconds);
    },
    writeFailed: () => failures.add(1),
    rejected: (source) => rejected.add(1, { source }),
  };
}
