/**
 * The inbound listener: traffic from other services to this pod, forwarded to the app on
 * 127.0.0.1:<app-port> through one keep-alive pool. Life of a request:
 *   loop guard → colour (or dye by the lanes' rules at entry services) → trace (SERVER hop)
 *   → exchange with the app → telemetry.
 */
import type { IncomingMessage, IncomingHttpHeaders, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Pool } from 'undici';
import { asDyelineError, DyelineError, ErrorCode } from '../../shared/errors.ts';
import type { AgentContext } from '../context.ts';
import { Exchange, type ExchangeSink } from '../forward/exchange.ts';
import { hopCount, forwardedHeaders } from '../forward/headers.ts';
import { ReusableRequestView } from '../forward/request-view.ts';
import { respondError } from '../forward/respond.ts';
import { createProxyServer } from '../forward/server.ts';
import { refuseUpgrade, tunnelUpgrade } from '../forward/upgrade.ts';
import { INVALID_COLOR, readColor } from '../propagation/color.ts';
import { continueTrace } from '../propagation/trace.ts';
import { hopFinished } from '../telemetry/hop.ts';

/** Deadline of a request to the app when the snapshot has no Service document for it (schema default). */
export const DEFAULT_APP_TIMEOUT_MS = 15_000;

/** The origin-form target of a request target (absolute-form on the inbound side keeps its path only). */
function originForm(url: string): string {
  if (url.charCodeAt(0) === 47) return url;
  const p = url.indexOf('/', url.indexOf('//') + 2);
  return p < 0 ? '/' : url.slice(p);
}

/** The inbound side of one agent. */
class Inbound implements ExchangeSink {
  readonly #ctx: AgentContext;
  readonly #app: Pool;
  readonly #appKey: string;
  readonly #appPort: number;
  readonly #view = new ReusableRequestView();

  constructor(ctx: AgentContext, app: Pool, appPort: number) {
    this.#ctx = ctx;
    this.#app = app;
    this.#appKey = `127.0.0.1:${appPort}`;
    this.#appPort = appPort;
  }

  /** Serves one request (bound as the server's request listener). */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const ctx = this.#ctx;
    const headers = req.headers;
    const url = originForm(req.url ?? '/');
    const ex = new Exchange(req, res, this, continueTrace(headers, ctx.telemetry.tracing.sampler), performance.now());
    ex.service = ctx.config.service;
    const hops = hopCount(headers);
    if (hops >= ctx.config.maxHops) {
      ex.end(new DyelineError(ErrorCode.Loop, `request went through ${hops} agent hops (limit ${ctx.config.maxHops}): routing loop`));
      return;
    }
    const color = this.#color(headers, url);
    if (color !== undefined) ex.color = color;
    const timeoutMs = ctx.table?.service(ctx.config.service)?.spec.timeoutMs ?? DEFAULT_APP_TIMEOUT_MS;
    const out = forwardedHeaders(headers, headers.host ?? this.#appKey, color, ex.trace, hops + 1);
    ex.dispatch(this.#app, this.#appKey, undefined, { path: url, headers: out, timeoutMs });
  };

  /** The request's colour, or the colour the lanes' dye rules give an uncoloured request here. */
  #color(headers: IncomingHttpHeaders, url: string): string | undefined {
    const ctx = this.#ctx;
    const raw = readColor(headers, url);
    if (raw === INVALID_COLOR) ctx.metrics.invalidColor();
    if (raw != null) return raw;
    const table = ctx.table;
    if (table === undefined) return undefined;
    return table.dye(ctx.config.service, this.#view.reset(headers, url), ctx.random)?.color;
  }

  /** Tunnels one Upgrade (WebSocket) request to the app (the server's 'upgrade' listener). */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const ctx = this.#ctx;
    const headers = req.headers;
    const hops = hopCount(headers);
    if (hops >= ctx.config.maxHops) {
      refuseUpgrade(socket, new DyelineError(ErrorCode.Loop, `request went through ${hops} agent hops (limit ${ctx.config.maxHops}): routing loop`));
      return;
    }
    const url = originForm(req.url ?? '/');
    const color = this.#color(headers, url);
    const out = forwardedHeaders(headers, headers.host ?? this.#appKey, color, continueTrace(headers, ctx.telemetry.tracing.sampler), hops + 1);
    ctx.metrics.request('inbound', ctx.config.service, color ?? '', ctx.config.color, 101, '');
    tunnelUpgrade(ctx, req, socket, head, { host: '127.0.0.1', port: this.#appPort, path: url, headers: out, state: undefined });
  };

  responseHeaders(_ex: Exchange, _status: number, headers: OutgoingHttpHeaders): void {
    // Draining: the caller must not send more on this connection (it retries elsewhere).
    if (this.#ctx.draining) headers.connection = 'close';
  }

  failed(ex: Exchange, err: Error): void {
    const e = asDyelineError(err, `the app (${this.#appKey})`);
    if (e.code !== ErrorCode.BadRequest && e.code !== ErrorCode.Loop) {
      this.#ctx.log.warn({ code: e.code, err: e.message, trace_id: ex.trace.traceId, span_id: ex.trace.spanId, color: ex.color }, 'inbound request failed');
    }
    respondError(ex.res, e);
  }

  finished(ex: Exchange): void {
    hopFinished(this.#ctx.telemetry, 'inbound', ex);
  }
}

/** Creates the inbound server forwarding to the app through `app` (a pool to 127.0.0.1:appPort). */
export function createInboundServer(ctx: AgentContext, app: Pool, appPort: number): Server {
  const inbound = new Inbound(ctx, app, appPort);
  return createProxyServer(inbound.handle, inbound.upgrade, ctx.log, 'inbound');
}
