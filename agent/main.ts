/**
 * `dyeline agent`: wires the snapshot, the listeners (status, admin, outbound, inbound) and
 * the shutdown. Each listener logs the `listening` line (docs/reference.md#commands) once bound (port 0 works).
 * SIGTERM/SIGINT: /readyz turns 503 at once, the inbound listener stops accepting and its
 * in-flight requests finish, then the outbound listener (which serves the app's calls until
 * then) does the same — all bounded by --drain-timeout-ms — then the process exits 0.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from './forward/pool.ts';
import { errorMessage } from '../shared/errors.ts';
import { createLogger, type Logger, logListening } from '../shared/log.ts';
import { createMetrics } from '../shared/metrics.ts';
import { createTracing } from '../shared/telemetry/tracing.ts';
import { boundAddress, type HostPort, listen } from '../shared/net.ts';
import { createAdminListener } from './admin/admin.ts';
import { createStatusServer } from './admin/status.ts';
import { type AgentConfig, LEAK_DEFAULTS } from './config.ts';
import type { AgentContext } from './context.ts';
import { createInboundServer } from './inbound/listener.ts';
import { EndpointPools } from './outbound/endpoint-pools.ts';
import { LaneMemory } from './propagation/lane-memory.ts';
import { createOutboundServer } from './outbound/listener.ts';
import { ResilienceLoop } from './resilience/resilience-loop.ts';
import { InboundTraces } from './entry/loop-guard.ts';
import { P2CBalancer } from './routing/balancer.ts';
import type { AgentRegistration } from './registration/client.ts';
import { registeredInstance } from './registration/config.ts';
import { SnapshotWatcher } from './snapshot/watch.ts';
import { type HopTelemetry, POD_NAME } from './telemetry/hop.ts';
import { createAgentMetrics } from './telemetry/metrics.ts';
import { ProbePaths } from './telemetry/probe-paths.ts';

/** A running agent (for tests and the demo); `stop` drains as SIGTERM does. */
export interface RunningAgent {
  readonly ctx: AgentContext;
  /** listener name → bound host:port. */
  readonly addresses: ReadonlyMap<string, string>;
  /** The outbound connection pools (for tests and /clusters). */
  readonly pools: EndpointPools;
  /** Breakers, budgets and the retry loop of the outbound side (for tests). */
  readonly resilience: ResilienceLoop;
  /** Self-registration, when --register is on. */
  readonly registration: AgentRegistration | undefined;
  stop(): Promise<void>;
}

async function bind(server: Server, hp: HostPort, name: string, log: Logger, addresses: Map<string, string>): Promise<void> {
  await listen(server, hp);
  const address = boundAddress(server);
  addresses.set(name, address);
  logListening(log, name, address);
}

/** How long spans still queued at shutdown may take to leave, ms. */
const TRACE_FLUSH_MS = 2000;

/** Starts an agent and returns once every listener is bound. */
export async function startAgent(config: AgentConfig, log: Logger = createLogger({ component: 'agent', service: config.service, lane: config.color })): Promise<RunningAgent> {
  const metrics = createMetrics(config.service);
  const agentMetrics = createAgentMetrics(metrics);
  // OTEL_* configure traces; service.name defaults to --service. Off (zero cost) without an endpoint.
  const tracing = createTracing({
    defaultServiceName: config.service,
    log,
    resourceAttributes: { 'service.instance.id': POD_NAME, 'dyeline.lane': config.color },
    meterProvider: metrics.provider,
  });
  const telemetry: HopTelemetry = {
    service: config.service,
    color: config.color,
    metrics: agentMetrics,
    tracing,
    log,
    accessLog: config.accessLog ?? true,
    isKnownService: (name) => ctx.table?.service(name) !== undefined,
  };
  const leakWindowMs = config.leakWindowMs ?? LEAK_DEFAULTS.windowMs;
  const laneMemory = leakWindowMs > 0 ? new LaneMemory(config.leakTraces ?? LEAK_DEFAULTS.traces, leakWindowMs) : undefined;
  const ctx: AgentContext = { config, log, metrics: agentMetrics, telemetry, balancer: new P2CBalancer(), random: Math.random, table: undefined, draining: false, tunnels: new Set(), laneMemory, inboundTraces: new InboundTraces(), probes: new ProbePaths() };
  const pools = new EndpointPools(log, { connectTimeoutMs: config.connectTimeoutMs });
  // Breakers, retry budgets, outlier detection and the retry loop of the outbound side.
  const resilience = new ResilienceLoop({ log, balancer: ctx.balancer, pool: (ep) => pools.endpoint(ep), metrics });

  // The watcher swaps tables and prunes endpoint state; here the agent follows the swap
  // (breakers are bound to the new table's subsets before any request can see it).
  const snapshot = new SnapshotWatcher({ path: config.snapshot, log, pollMs: 1000 });
  snapshot.onChange((table) => {
    resilience.bind(table);
    ctx.table = table;
    pools.retain(table);
    agentMetrics.snapshotLoaded(table);
  });
  snapshot.onReject(() => agentMetrics.snapshotRejected());
  await snapshot.start();

  const addresses = new Map<string, string>();
  let registration: AgentRegistration | undefined;
  const status = createStatusServer(ctx, metrics);
  const admin = createAdminListener(ctx, resilience.breakers.stateOf, () => registration?.status());
  const outbound = createOutboundServer(ctx, pools, resilience);
  const app = config.appPort === undefined ? undefined : new Pool(`http://127.0.0.1:${config.appPort}`, { pipelining: 1, connectTimeout: config.connectTimeoutMs, keepAliveTimeout: 4000 });
  const inbound = app === undefined ? undefined : createInboundServer(ctx, app, config.appPort!);
  const dataPlane = inbound === undefined ? [outbound] : [outbound, inbound];

  try {
    await bind(status, config.status, 'status', log, addresses);
    await bind(admin, config.admin, 'admin', log, addresses);
    await bind(outbound, config.outbound, 'outbound', log, addresses);
    if (inbound !== undefined) await bind(inbound, config.inbound, 'inbound', log, addresses);
    else log.info({ listener: 'inbound' }, 'no --app-port: no inbound listener');
  } catch (err) {
    for (const s of [status, admin, ...dataPlane]) s.close();
    snapshot.close();
    resilience.close();
    await pools.close();
    await tracing.shutdown();
    throw err;
  }

  // Self-registration (docs/reference.md#registration): through the daemon's socket beside the
  // snapshot, while the app accepts connections; never in the way of serving.
  if (config.registration !== undefined && inbound !== undefined) {
    const bound = { host: config.inbound.host, port: (inbound.address() as AddressInfo).port };
    const { id, instance } = registeredInstance(config.registration, config, bound);
    // Loaded only when registration is on (the agent's startup path stays as small).
    const [{ AgentRegistration }, { registrationSocketPath }] = await Promise.all([import('./registration/client.ts'), import('../shared/registration.ts')]);
    registration = new AgentRegistration({ socketPath: registrationSocketPath(config.snapshot), id, instance, appPort: config.appPort!, log });
    registration.start();
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      ctx.draining = true;
      log.info({ drainTimeoutMs: config.drainTimeoutMs }, 'draining');
      // Deregistered first, while everything still serves; then callers get a moment to see it
      // (their daemons' watch, their snapshot reload) before the inbound stops accepting.
      if (registration !== undefined) {
        const wasRegistered = registration.status().state === 'registered';
        const confirmed = await registration.stop(Math.min(5000, config.drainTimeoutMs));
        if (wasRegistered || confirmed) await new Promise((r) => setTimeout(r, config.registration!.deregisterWaitMs));
      }
      snapshot.close();
      // Inbound first: it stops accepting, and its requests to the app finish. While they do, the
      // app may still call other services to answer them, so the outbound listener keeps serving
      // the app until then; after that it stops accepting and the app's calls in flight finish.
      // Answers sent while draining carry `Connection: close` (the listeners' responseHeaders),
      // and keep-alive connections of a closing listener are closed as they turn idle.
      const closing: Server[] = [];
      const closeListener = (s: Server): Promise<void> => {
        closing.push(s);
        return new Promise<void>((resolve) => s.close(() => resolve()));
      };
      const drained = (async () => {
        if (inbound !== undefined) {
          const closed = closeListener(inbound);
          log.info('inbound closed to new connections');
          await closed;
        }
        await closeListener(outbound);
      })();
      const sweep = setInterval(() => {
        for (const s of closing) s.closeIdleConnections();
      }, 50);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        drained.then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), config.drainTimeoutMs))),
      ]);
      clearInterval(sweep);
      clearTimeout(timer);
      if (timedOut) {
        log.warn({ drainTimeoutMs: config.drainTimeoutMs }, 'drain timeout: closing the remaining connections');
        for (const s of dataPlane) {
          if (!closing.includes(s)) s.close();
          s.closeAllConnections();
        }
        for (const t of ctx.tunnels) t.destroy();
      }
      await Promise.allSettled([pools.close(), app?.close()]);
      resilience.close();
      for (const s of [status, admin]) {
        s.close();
        s.closeAllConnections();
      }
      // Spans of the last requests leave before exit, within a bound (a dead collector cannot hold the exit).
      let flushTimer: NodeJS.Timeout | undefined;
      await Promise.race([tracing.shutdown(), new Promise<void>((resolve) => (flushTimer = setTimeout(resolve, TRACE_FLUSH_MS)))]);
      clearTimeout(flushTimer);
      await metrics.shutdown().catch(() => {});
      log.info('stopped');
    })();
    return stopping;
  };
  return { ctx, addresses, pools, resilience, stop, get registration() { return registration; } };
}

/** Flushes the (asynchronous) log, then exits with `code`. */
function exitAfterFlush(log: Logger, code: number): void {
  const t = setTimeout(() => process.exit(code), 1000);
  t.unref();
  log.flush(() => process.exit(code));
}

/** Runs the agent until SIGTERM/SIGINT, then drains and exits 0. */
export async function runAgent(config: AgentConfig): Promise<void> {
  const log = createLogger({ component: 'agent', service: config.service, lane: config.color });
  const agent = await startAgent(config, log);
  const onSignal = (signal: NodeJS.Signals): void => {
    log.info({ signal }, 'shutting down');
    agent.stop().then(
      () => exitAfterFlush(log, 0),
      (err: unknown) => {
        log.error({ err: errorMessage(err) }, 'shutdown failed');
        exitAfterFlush(log, 1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
