/**
 * What every listener of one agent shares: its config, logger, metrics, and the routing table
 * in use. The table is replaced as one object on reload; a request reads it once and keeps
 * that table for its whole life.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from '../shared/log.ts';
import type { AgentConfig } from './config.ts';
import type { LaneMemory } from './propagation/lane-memory.ts';
import type { InboundTraces } from './entry/loop-guard.ts';
import type { Balancer } from './routing/balancer.ts';
import type { RoutingTable } from './routing/types.ts';
import type { HopTelemetry } from './telemetry/hop.ts';
import type { AgentMetrics } from './telemetry/metrics.ts';
import type { ProbePaths } from './telemetry/probe-paths.ts';

/** Shared state of one agent process. */
export interface AgentContext {
  readonly config: AgentConfig;
  readonly log: Logger;
  readonly metrics: AgentMetrics;
  /** Metrics, spans and access log of finished hops (telemetry/hop.ts); its tracing's sampler decides each hop's sampled flag. */
  readonly telemetry: HopTelemetry;
  readonly balancer: Balancer;
  /** Numbers in [0, 1) for split and percent dye rules (Math.random; injectable for tests). */
  readonly random: () => number;
  /** The table in use; undefined until the first snapshot loads (everything passes through). */
  table: RoutingTable | undefined;
  /** True once SIGTERM arrived: /readyz answers 503. */
  draining: boolean;
  /** Client sockets of open tunnels (CONNECT as TCP, Upgrade): closed when the drain times out. */
  readonly tunnels: Set<Duplex>;
  /** The colours of traces that arrived coloured, for lane-leak recovery (undefined: recovery off). */
  readonly laneMemory: LaneMemory | undefined;
  /** Hop counts of inbound requests in flight by trace id, for the loop guard (entry/loop-guard.ts). */
  readonly inboundTraces: InboundTraces;
  /** Probes in flight, whose outbound calls add their paths (docs/reference.md#dyeline-check). */
  readonly probes: ProbePaths;
}
