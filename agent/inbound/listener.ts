/**
 * The inbound listener: traffic from other services to this pod, forwarded to the app on
 * 127.0.0.1:<app-port> through one keep-alive pool. Life of a request:
 *   loop guard → colour (or dye by the lanes' rules at entry services) → trace (SERVER hop)
 *   → exchange with the app → telemetry.
 */
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { Pool } from 'undici';
import { DyelineError, ErrorCode } from '../../shared/errors.ts';
import type { AgentContext } from '../context.ts';
import { Exchange, type ExchangeSink } from '../forward/exchange.ts';
import { hopCount, upstreamHeaders } from '../forward/headers.ts';
import { ReusableRequestView } from '../forward/request-view.ts';
import { respondError, upstreamError } from '../forward/respond.ts';
import { createProxyServer } from '../forward/server.ts';
import { INVALID_COLOR, readColor } from '../propagation/color.ts';
import { continueTrace } from '../propagation/trace.ts';

/** Deadline of a request to the app when the snapshot has no Service document for it (schema default). */
export const DEFAULT_APP_TIMEOUT_MS = 15_000;

/** The inbound side of one agent. */
class Inbound implements ExchangeSink {
  readonly #ctx: AgentContext;
  readonly #app: Pool;
  readonly #appKey: string;
  readonly #view = new ReusableRequestView();

  constructor(ctx: AgentContext, app: Pool, appPort: number) {
    this.#ctx = ctx;
    this.#app = app;
    this.#appKey = `127.0.0.1:${appPort}`;
  }

  /** Serves one request (bound as the server's request listener). */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const ctx = this.#ctx;
    const headers = req.headers;
    let url = req.url ?? '/';
    const ex = new Exchange(req, res, this, continueTrace(headers), performance.now());
    ex.service = ctx.config.service;
    const hops = hopCount(headers);
    if (hops >= ctx.config.maxHops) {
      ex.end(new DyelineError(ErrorCode.Loop, `request went through ${hops} agent hops (limit ${ctx.config.maxHops}): routing loop`));
      return;
    }
    if (url.charCodeAt(0) !== 47) {
      // absolute-form on the inbound side: keep the path only
      const p = url.indexOf('/', url.indexOf('//') + 2);
      url = p < 0 ? '/' : url.slice(p);
    }
    const raw = readColor(headers, url);
    if (raw === INVALID_COLOR) ctx.metrics.invalidColor();
    let color = raw ?? undefined;
    const table = ctx.table;
    if (color === undefined && table !== undefined) {
      const dyed = table.dye(ctx.config.service, this.#view.reset(headers, url), ctx.random);
      if (dyed !== undefined) color = dyed.color;
    }
    if (color !== undefined) ex.color = color;
    const timeoutMs = table?.service(ctx.config.service)?.spec.timeoutMs ?? DEFAULT_APP_TIMEOUT_MS;
    const out = upstreamHeaders(headers, headers.host ?? this.#appKey, color, ex.trace, hops + 1);
    ex.dispatch(this.#app, this.#appKey, undefined, { path: url, headers: out, timeoutMs });
  };

  responseHeaders(_ex: Exchange, _status: number, _headers: OutgoingHttpHeaders): void {}

  failed(ex: Exchange, err: Error): void {
    const e = upstreamError(err, `the app (${this.#appKey})`);
    if (e.code !== ErrorCode.BadRequest && e.code !== ErrorCode.Loop) {
      this.#ctx.log.warn({ code: e.code, err: e.message, trace_id: ex.trace.traceId, color: ex.color }, 'inbound request failed');
    }
    respondError(ex.res, e);
  }

  finished(ex: Exchange): void {
    const status = ex.status === 0 ? ex.res.statusCode : ex.status;
    this.#ctx.metrics.request('inbound', ex.service, ex.color, this.#ctx.config.color, status, '');
    const log = this.#ctx.log;
    if (log.isLevelEnabled('debug')) {
      log.debug(
        { direction: 'inbound', method: ex.req.method, path: ex.req.url, status, color: ex.color, trace_id: ex.trace.traceId, span_id: ex.trace.spanId, ms: Math.round(performance.now() - ex.startedAt) },
        'request',
      );
    }
  }
}

/** Creates the inbound server forwarding to the app through `app` (a pool to 127.0.0.1:appPort). */
export function createInboundServer(ctx: AgentContext, app: Pool, appPort: number): Server {
  const inbound = new Inbound(ctx, app, appPort);
  return createProxyServer(inbound.handle, ctx.log, 'inbound');
}
