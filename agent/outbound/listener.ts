/**
 * The outbound listener: the app's calls to other services, as a reverse proxy (origin-form,
 * `Host: S`), as an HTTP proxy (absolute-form, HTTP_PROXY), or inside a CONNECT tunnel.
 * Life of a request, in the order of the code:
 *   loop guard → target (service from host) → colour → route (lane/split → subset, fallback;
 *   open circuits skipped) → guard (resilience/resilience-loop.ts: balancer picks an instance, breaker
 *   admits, endpoint pool, exchange streaming both ways, outcome to breaker and outlier
 *   detection, retries to another instance or the fallback lane) → response headers (served
 *   colour, fallback) → telemetry.
 * Hosts the table does not know are passed through to host:port with the same propagation.
 */
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { asDyelineError, DyelineError, ErrorCode, noInstanceError } from '../../shared/errors.ts';
import type { AgentContext } from '../context.ts';
import type { Exchange, ExchangeSink } from '../forward/exchange.ts';
import { hopCount, forwardedHeaders } from '../forward/headers.ts';
import { ReusableRequestView } from '../forward/request-view.ts';
import { respondError } from '../forward/respond.ts';
import { createProxyServer } from '../forward/server.ts';
import { refuseUpgrade, tunnelUpgrade } from '../forward/upgrade.ts';
import { INVALID_COLOR, readColor } from '../propagation/color.ts';
import { continueTrace } from '../propagation/trace.ts';
import { ResilienceLoop, OutboundExchange } from '../resilience/resilience-loop.ts';
import { hopFinished } from '../telemetry/hop.ts';
import { PASSTHROUGH_UPSTREAM } from '../telemetry/metrics.ts';
import { route } from '../routing/router.ts';
import { tunnelOf, handleConnect } from './connect.ts';
import type { EndpointPools } from './endpoint-pools.ts';
import { parseTarget } from './target.ts';

/** Response header: the lane of the instance that answered (contract §5). */
export const SERVED_COLOR_HEADER = 'x-dyeline-served-color';
/** Response header: why the request was served outside its lane (contract §5). */
export const FALLBACK_HEADER = 'x-dyeline-fallback';

/** Deadline of passed-through requests (the Service schema's default timeoutMs). */
export const PASSTHROUGH_TIMEOUT_MS = 15_000;

/** The outbound side of one agent. */
class Outbound implements ExchangeSink {
  readonly #ctx: AgentContext;
  readonly #pools: EndpointPools;
  readonly #resilience: ResilienceLoop;
  readonly #view = new ReusableRequestView();

  constructor(ctx: AgentContext, pools: EndpointPools, resilience: ResilienceLoop) {
    this.#ctx = ctx;
    this.#pools = pools;
    this.#resilience = resilience;
  }

  /** Serves one request (bound as the server's request listener). */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const ctx = this.#ctx;
    const headers = req.headers;
    const url = req.url ?? '/';
    const ex = new OutboundExchange(req, res, this, continueTrace(headers, ctx.telemetry.tracing.sampler), performance.now());
    const hops = hopCount(headers);
    if (hops >= ctx.config.maxHops) {
      ex.end(new DyelineError(ErrorCode.Loop, `request went through ${hops} agent hops (limit ${ctx.config.maxHops}): routing loop`));
      return;
    }
    const target = parseTarget(url, headers.host, tunnelOf(req.socket));
    if (target instanceof DyelineError) {
      ex.end(target);
      return;
    }
    const raw = readColor(headers, url);
    if (raw === INVALID_COLOR) ctx.metrics.invalidColor();
    const color = raw ?? undefined;
    if (color !== undefined) ex.color = color;

    const table = ctx.table;
    const svc = table !== undefined && target.service !== undefined ? table.service(target.service) : undefined;
    const out = forwardedHeaders(headers, target.authority, color, ex.trace, hops + 1);
    if (svc === undefined) {
      ex.service = target.host;
      ex.dispatch(this.#pools.passthrough(target.key, target.host, target.port), target.key, undefined, { path: target.path, headers: out, timeoutMs: PASSTHROUGH_TIMEOUT_MS });
      return;
    }
    ex.service = svc.name;
    const now = Date.now();
    const decision = route(table!, svc.name, color, this.#view.reset(headers, url), ctx.random, this.#resilience.isOpen, now);
    if (decision === undefined || decision.candidates.length === 0) {
      ex.end(noInstanceError(svc.name, decision?.requested ?? color ?? 'stable'));
      return;
    }
    this.#resilience.start(ex, svc, decision, target.path, out);
  };

  /** Tunnels one Upgrade (WebSocket) request, routed like any other request (the server's 'upgrade' listener). */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const ctx = this.#ctx;
    const headers = req.headers;
    const url = req.url ?? '/';
    const hops = hopCount(headers);
    if (hops >= ctx.config.maxHops) {
      refuseUpgrade(socket, new DyelineError(ErrorCode.Loop, `request went through ${hops} agent hops (limit ${ctx.config.maxHops}): routing loop`));
      return;
    }
    const target = parseTarget(url, headers.host, tunnelOf(socket));
    if (target instanceof DyelineError) {
      refuseUpgrade(socket, target);
      return;
    }
    const raw = readColor(headers, url);
    if (raw === INVALID_COLOR) ctx.metrics.invalidColor();
    const color = raw ?? undefined;
    const table = ctx.table;
    const svc = table !== undefined && target.service !== undefined ? table.service(target.service) : undefined;
    const out = forwardedHeaders(headers, target.authority, color, continueTrace(headers, ctx.telemetry.tracing.sampler), hops + 1);
    if (svc === undefined) {
      ctx.metrics.request('outbound', PASSTHROUGH_UPSTREAM, color ?? '', '', 101, '');
      tunnelUpgrade(ctx, req, socket, head, { host: target.host, port: target.port, path: target.path, headers: out, state: undefined });
      return;
    }
    const now = Date.now();
    const decision = route(table!, svc.name, color, this.#view.reset(headers, url), ctx.random, this.#resilience.isOpen, now);
    const subset = decision === undefined ? undefined : decision.candidates[0];
    const endpoint = subset === undefined ? undefined : ctx.balancer.pick(subset, undefined, now);
    if (endpoint === undefined) {
      ctx.metrics.request('outbound', svc.name, color ?? '', '', 503, '');
      refuseUpgrade(socket, noInstanceError(svc.name, decision?.requested ?? color ?? 'stable'));
      return;
    }
    ctx.metrics.request('outbound', svc.name, color ?? '', subset!.lane, 101, decision!.fallback ?? '');
    tunnelUpgrade(ctx, req, socket, head, { host: endpoint.address, port: endpoint.port, path: target.path, headers: out, state: endpoint.state });
  };

  responseHeaders(ex: Exchange, _status: number, headers: OutgoingHttpHeaders): void {
    if (ex.servedColor !== '') headers[SERVED_COLOR_HEADER] = ex.servedColor;
    if (ex.fallback !== '') headers[FALLBACK_HEADER] = ex.fallback;
    // Draining: the app opens a new connection for its next call (served until inbound drained).
    if (this.#ctx.draining) headers.connection = 'close';
  }

  upstreamStatus(ex: Exchange, status: number): boolean {
    return this.#resilience.upstreamStatus(ex as OutboundExchange, status);
  }

  failed(ex: Exchange, err: Error): boolean {
    if (this.#resilience.failed(ex as OutboundExchange, err)) return true;
    const e = asDyelineError(err, ex.endpointKey || ex.service || 'upstream');
    if (e.code !== ErrorCode.BadRequest && e.code !== ErrorCode.Loop) {
      this.#ctx.log.warn({ upstream: ex.service, endpoint: ex.endpointKey, code: e.code, err: e.message, trace_id: ex.trace.traceId, span_id: ex.trace.spanId, color: ex.color }, 'outbound request failed');
    }
    respondError(ex.res, e);
    return false;
  }

  finished(ex: Exchange): void {
    this.#resilience.finished(ex as OutboundExchange);
    hopFinished(this.#ctx.telemetry, 'outbound', ex);
  }
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
