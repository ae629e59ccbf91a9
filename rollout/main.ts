/**
 * `dyeline rollout` (docs/reference.md#progressive-delivery): the source's own kind mirrors its
 * documents into the controller's view and writes its LaneStates (the kind's writer capability);
 * Prometheus is analysed with the agents' series; the status port shows it all. SIGTERM/SIGINT
 * stop the loop, give up the lease (another controller takes over at once) and exit 0.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { UsageError } from '../shared/errors.ts';
import { createLogger, logListening } from '../shared/log.ts';
import { createMetrics } from '../shared/metrics.ts';
import { boundAddress, type HostPort, listen } from '../shared/net.ts';
import { stopOnSignals } from '../shared/shutdown.ts';
import { API_VERSION } from '../shared/schema/kinds.ts';
import type { SourceConfig } from '../daemon/sources/source.ts';
import { sourceKind } from '../daemon/sources/registry.ts';
import { analyseLane } from './analysis/analyse.ts';
import { PrometheusApi } from './analysis/prometheus-api.ts';
import { RolloutController } from './controller/controller.ts';
import { createControllerMetrics } from './controller/metrics.ts';
import { SourceView } from './controller/source-view.ts';
import { rolloutStatusServer } from './controller/status.ts';

/** What `dyeline rollout` runs with. */
export interface RolloutConfig {
  readonly source: SourceConfig;
  /** Base URL of Prometheus. */
  readonly prometheus: string;
  /** More label matchers for every query, e.g. `namespace="shop"`. */
  readonly prometheusMatch?: string;
  readonly status: HostPort;
  /** Time to live of the source's lease. */
  readonly leaseTtlMs: number;
}

export async function runRollout(cfg: RolloutConfig): Promise<void> {
  const log = createLogger({ component: 'rollout' });
  const kind = sourceKind(cfg.source.kind)!;
  if (kind.writer === undefined) throw new UsageError(`--source: ${cfg.source.kind} sources cannot be written to; dyeline rollout needs one it can write LaneState into`);
  const identity = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
  log.info({ source: cfg.source.uri, prometheus: cfg.prometheus, identity }, 'starting');
  const context = { log: log.child({ source: cfg.source.uri }) };
  const writer = await kind.writer(cfg.source, context);
  const source = await kind.create(cfg.source, context);
  const view = new SourceView(cfg.source.uri, log);
  const metrics = createMetrics('dyeline-rollout');
  const api = new PrometheusApi(cfg.prometheus);
  const controller = new RolloutController({
    identity,
    log,
    metrics: createControllerMetrics(metrics),
    leaseRenewMs: Math.max(500, Math.floor(cfg.leaseTtlMs / 3)),
    source: {
      world: () => view.world(),
      lease: writer.lease(identity, cfg.leaseTtlMs),
      writeLaneState: (lane, spec) => writer.write({ apiVersion: API_VERSION, kind: 'LaneState', metadata: { name: lane }, spec }),
    },
    analyse: (rollout, color, now) => {
      const a = rollout.spec.analysis;
      return analyseLane(api, { color, windowMs: a.windowMs ?? a.intervalMs, thresholds: a, matchers: cfg.prometheusMatch }, now);
    },
  });
  const status = rolloutStatusServer(controller, view, metrics, log);
  await listen(status, cfg.status);
  logListening(log, 'status', boundAddress(status));
  await source.start(view);
  controller.start();

  stopOnSignals(log, async () => {
    await controller.stop();
    await source.stop();
    await writer.close();
    status.close();
    status.closeAllConnections();
    await metrics.shutdown().catch(() => {});
  });
}
