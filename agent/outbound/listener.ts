/**
 * The outbound listener: the app's calls to other services, as a reverse proxy (origin-form,
 * `Host: S`), as an HTTP proxy (absolute-form, HTTP_PROXY), or inside a CONNECT tunnel.
 * Life of a request, in the order of the code (docs/reference.md#routing):
 *   target → entry step (trace, loop guard, colour) → route (lane/split → subset, fallback;
 *   open circuits skipped) → resilience loop (resilience/resilience-loop.ts: balancer, breaker,
 *   endpoint pool, exchange, retries) → response headers (served colour, fallback, and a probe's
 *   path: telemetry/probe-paths.ts) → telemetry.
 * An upgrade takes the same steps up to the route, then tunnels to the instance the balancer
 * picks. Hosts the table does not know are passed through to host:port with the same propagation.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { asDyelineError, DyelineError, ERRORS, ErrorCode, noInstanceError } from '../../shared/errors.ts';
import type { AgentContext } from '../context.ts';
import { EntryStep, type EnteringHop } from '../entry/entry-step.ts';
import { withoutColorQuery } from '../propagation/carriers.ts';
import type { Attempt, Exchange, ExchangeSink } from '../forward/exchange.ts';
import type { ResponseHeaderList } from '../forward/headers.ts';
import { ReusableRequestView } from '../forward/request-view.ts';
import { respondError } from '../forward/respond.ts';
import { createProxyServer } from '../forward/server.ts';
import { refuseUpgrade, tunnelUpgrade, type UpgradeFinished, UpgradeHop } from '../forward/upgrade.ts';
import { OutboundExchange, ResilienceLoop } from '../resilience/resilience-loop.ts';
import { route } from '../routing/router.ts';
import type { RouteDecision, ServiceRoutes } from '../routing/types.ts';
import { hopFinished } from '../telemetry/hop.ts';
import { PASSTHROUGH_UPSTREAM } from '../telemetry/metrics.ts';
import { beginOutboundProbe, outboundPath } from '../telemetry/probe-paths.ts';
import { handleConnect, tunnelOf } from './connect.ts';
import type { EndpointPools } from './endpoint-pools.ts';
import { parseTarget, type Target } from './target.ts';

/** Response header: the lane of the instance that answered (docs/reference.md#routing). */
export const SERVED_COLOR_HEADER = 'x-dyeline-served-color';
/** Response header: why the request was served outside its lane (docs/reference.md#routing). */
export const FALLBACK_HEADER = 'x-dyeline-fallback';

/** Deadline of passed-through requests (the Service schema's default timeoutMs). */
export const PASSTHROUGH_TIMEOUT_MS = 15_000;

/** The outbound side of one agent. */
class Outbound implements ExchangeSink {
  readonly #ctx: AgentContext;
  readonly #pools: EndpointPools;
  readonly #resilience: ResilienceLoop;
  readonly #entry: EntryStep;
  readonly #view = new ReusableRequestView();
  readonly #upgraded: UpgradeFinished;

  constructor(ctx: AgentContext, pools: EndpointPools, resilience: ResilienceLoop) {
    this.#ctx = ctx;
    this.#pools = pools;
    this.#resilience = resilience;
    this.#entry = new EntryStep(ctx, 'outbound');
    this.#upgraded = (hop) => hopFinished(ctx.telemetry, 'outbound', hop);
  }

  /** Serves one request (bound as the server's request listener). */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const ex = new OutboundExchange(req, res, this, performance.now());
    const target = parseTarget(req.url ?? '/', req.headers.host, tunnelOf(req.socket));
    const out = this.#enter(ex, req, target);
    if (out instanceof DyelineError) {
      ex.end(out);
      return;
    }
    const t = target as Target;
    if (ex.routes === undefined) {
      ex.dispatch(this.#pools.passthrough(t.key, t.host, t.port), t.key, undefined, { path: pathOf(ex, t), headers: out, timeoutMs: PASSTHROUGH_TIMEOUT_MS });
      return;
    }
    beginOutboundProbe(this.#ctx, ex, out);
    const decision = this.#route(ex, ex.routes, req, Date.now());
    if (decision instanceof DyelineError) ex.end(decision);
    else this.#resilience.start(ex, ex.routes, decision, pathOf(ex, t), out);
  };

  /** Tunnels one Upgrade (WebSocket) request, routed like any other request (the server's 'upgrade' listener). */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const hop = new UpgradeHop(req, performance.now());
    const target = parseTarget(req.url ?? '/', req.headers.host, tunnelOf(socket));
    const out = this.#enter(hop, req, target);
    if (out instanceof DyelineError) {
      refuseUpgrade(socket, hop, out, this.#upgraded);
      return;
    }
    const t = target as Target;
    if (hop.routes === undefined) {
      tunnelUpgrade(this.#ctx, hop, socket, head, { host: t.host, port: t.port, path: pathOf(hop, t), headers: out, state: undefined }, this.#upgraded);
      return;
    }
    const now = Date.now();
    const decision = this.#route(hop, hop.routes, req, now);
    const ep = decision instanceof DyelineError ? undefined : this.#ctx.balancer.pick(decision.candidates[0], undefined, now);
    if (ep === undefined) {
      refuseUpgrade(socket, hop, decision instanceof DyelineError ? decision : noInstanceError(hop.routes.name, decision.requested), this.#upgraded);
      return;
    }
    const d = decision as RouteDecision;
    hop.servedColor = d.candidates[0].lane;
    hop.fallback = d.fallback ?? '';
    hop.endpoint = ep;
    tunnelUpgrade(this.#ctx, hop, socket, head, { host: ep.address, port: ep.port, path: pathOf(hop, t), headers: out, state: ep.state }, this.#upgraded);
  };

  /**
   * The entry step for `target`, then the service: sets the hop's `service` (the host when
   * passed through) and `routes` (undefined: passed through). Returns the headers to forward,
   * or the refusal.
   */
  #enter(hop: EnteringHop & RoutedHop, req: IncomingMessage, target: Target | DyelineError): string[] | DyelineError {
    const out = this.#entry.enter(hop, req.headers, req.url ?? '/', target instanceof DyelineError ? target : target.authority);
    if (out instanceof DyelineError || target instanceof DyelineError) return out;
    const table = this.#ctx.table;
    const routes = table !== undefined && target.service !== undefined ? table.service(target.service) : undefined;
    hop.routes = routes;
    hop.service = routes === undefined ? target.host : routes.name;
    if (hop.leakHealed) this.#ctx.metrics.laneLeak(routes === undefined ? PASSTHROUGH_UPSTREAM : routes.name);
    return out;
  }

  /** The route of a request to a known service, or the 503 when no instance can serve it. */
  #route(hop: RoutedHop, routes: ServiceRoutes, req: IncomingMessage, now: number): RouteDecision | DyelineError {
    const ctx = this.#ctx;
    const color = hop.color === '' ? undefined : hop.color;
    const decision = route(ctx.table!, routes.name, color, this.#view.reset(req.headers, req.url ?? '/'), ctx.random, this.#resilience.isOpen, now);
    if (decision === undefined || decision.candidates.length === 0) return noInstanceError(routes.name, decision?.requested ?? color ?? 'stable');
    return decision;
  }

  responseHeaders(ex: Exchange, status: number, headers: ResponseHeaderList): void {
    if (ex.servedColor !== '') headers.push(SERVED_COLOR_HEADER, ex.servedColor);
    if (ex.fallback !== '') headers.push(FALLBACK_HEADER, ex.fallback);
    if (ex.probe !== undefined) outboundPath(this.#ctx, ex, (ex as OutboundExchange).routes, status, headers);
    // Draining: the app opens a new connection for its next call (served until inbound drained).
    if (this.#ctx.draining) headers.push('connection', 'close');
  }

  upstreamStatus(ex: Exchange, status: number): boolean {
    return this.#resilience.upstreamStatus(ex as OutboundExchange, status);
  }

  trySlow(ex: Exchange): void {
    this.#resilience.trySlow(ex as OutboundExchange);
  }

  raceAnswered(ex: Exchange, a: Attempt, status: number): boolean {
    return this.#resilience.raceAnswered(ex as OutboundExchange, a, status);
  }

  raceFailed(ex: Exchange, err: Error): void {
    this.#resilience.raceFailed(ex as OutboundExchange, err);
  }

  failed(ex: Exchange, err: Error): boolean {
    if (this.#resilience.failed(ex as OutboundExchange, err)) return true;
    const e = asDyelineError(err, ex.endpointKey || ex.service || 'upstream');
    if (e.code !== ErrorCode.BadRequest && e.code !== ErrorCode.Loop) {
      this.#ctx.log.warn({ upstream: ex.service, endpoint: ex.endpointKey, code: e.code, err: e.message, trace_id: ex.trace.traceId, span_id: ex.trace.spanId, color: ex.color }, 'outbound request failed');
    }
    if (ex.probe !== undefined) outboundPath(this.#ctx, ex, (ex as OutboundExchange).routes, ERRORS[e.code].status);
    respondError(ex.res, e);
    return false;
  }

  finished(ex: Exchange): void {
    this.#resilience.finished(ex as OutboundExchange);
    hopFinished(this.#ctx.telemetry, 'outbound', ex);
  }
}

/** The request target sent upstream: without its `traffic_color` parameter when the hop's colour was removed. */
function pathOf(hop: EnteringHop, t: Target): string {
  return hop.scrubbed ? withoutColorQuery(t.path) : t.path;
}

/** A hop on the outbound side: its colour, its upstream service and that service's routes (undefined: passed through). */
interface RoutedHop {
  readonly color: string;
  service: string;
  routes: ServiceRoutes | undefined;
}

/**
 * Creates the outbound server (requests and CONNECT tunnels); the caller binds it. `resilience`
 * holds the breakers, budgets and retry loop (default: a fresh one over `pools`; the
 * agent passes its own, bound to each new table).
 */
export function createOutboundServer(ctx: AgentContext, pools: EndpointPools, resilience?: ResilienceLoop): Server {
  const outbound = new Outbound(ctx, pools, resilience ?? new ResilienceLoop({ log: ctx.log, balancer: ctx.balancer, pool: (ep) => pools.endpoint(ep) }));
  const server = createProxyServer(outbound.handle, outbound.upgrade, ctx.log, 'outbound');
  server.on('connect', (req: IncomingMessage, socket, head: Buffer) => handleConnect(server, ctx, req, socket, head));
  return server;
}
