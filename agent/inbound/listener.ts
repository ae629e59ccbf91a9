/**
 * The inbound listener: traffic from other services to this pod, forwarded to the app on
 * 127.0.0.1:<app-port> through one keep-alive pool. Life of a request:
 *   entry step (trace, loop guard, colour — or dye by the lanes' rules at entry services)
 *   → exchange with the app (or an upgrade tunnel to it) → telemetry. A probe's answer carries
 *   the paths its app's calls collected (telemetry/probe-paths.ts).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Pool } from '../forward/pool.ts';
import { asDyelineError, DyelineError, ErrorCode } from '../../shared/errors.ts';
import type { AgentContext } from '../context.ts';
import { EntryStep } from '../entry/entry-step.ts';
import { withoutColorQuery } from '../propagation/carriers.ts';
import { Exchange, type ExchangeSink } from '../forward/exchange.ts';
import type { ResponseHeaderList } from '../forward/headers.ts';
import { respondError } from '../forward/respond.ts';
import { createProxyServer } from '../forward/server.ts';
import { refuseUpgrade, tunnelUpgrade, type UpgradeFinished, UpgradeHop } from '../forward/upgrade.ts';
import { hopFinished } from '../telemetry/hop.ts';
import { beginInboundProbe, endInboundProbe, inboundPathHeader } from '../telemetry/probe-paths.ts';

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
  readonly #entry: EntryStep;
  readonly #upgraded: UpgradeFinished;

  constructor(ctx: AgentContext, app: Pool, appPort: number) {
    this.#ctx = ctx;
    this.#app = app;
    this.#appKey = `127.0.0.1:${appPort}`;
    this.#appPort = appPort;
    this.#entry = new EntryStep(ctx, 'inbound');
    this.#upgraded = (hop) => hopFinished(ctx.telemetry, 'inbound', hop);
  }

  /** Serves one request (bound as the server's request listener). */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const ctx = this.#ctx;
    const ex = new Exchange(req, res, this, performance.now());
    ex.service = ctx.config.service;
    const url = originForm(req.url ?? '/');
    const out = this.#entry.enter(ex, req.headers, url, req.headers.host ?? this.#appKey, req.socket.remoteAddress);
    if (out instanceof DyelineError) {
      ex.end(out);
      return;
    }
    // The app's calls made for this request carry its hop count even when the app does not forward it.
    ctx.inboundTraces.enter(ex.trace.traceId, ex.forwardedHops);
    ex.traced = true;
    beginInboundProbe(ctx, ex);
    const timeoutMs = ctx.table?.service(ctx.config.service)?.spec.timeoutMs ?? DEFAULT_APP_TIMEOUT_MS;
    ex.dispatch(this.#app, this.#appKey, undefined, { path: ex.scrubbed ? withoutColorQuery(url) : url, headers: out, timeoutMs });
  };

  /** Tunnels one Upgrade (WebSocket) request to the app (the server's 'upgrade' listener). */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const hop = new UpgradeHop(req, performance.now());
    hop.service = this.#ctx.config.service;
    const url = originForm(req.url ?? '/');
    const out = this.#entry.enter(hop, req.headers, url, req.headers.host ?? this.#appKey, req.socket.remoteAddress);
    if (out instanceof DyelineError) {
      refuseUpgrade(socket, hop, out, this.#upgraded);
      return;
    }
    const path = hop.scrubbed ? withoutColorQuery(url) : url;
    tunnelUpgrade(this.#ctx, hop, socket, head, { host: '127.0.0.1', port: this.#appPort, path, headers: out, state: undefined }, this.#upgraded);
  };

  responseHeaders(ex: Exchange, _status: number, headers: ResponseHeaderList): void {
    inboundPathHeader(ex, headers);
    // Draining: the caller must not send more on this connection (it retries elsewhere).
    if (this.#ctx.draining) headers.push('connection', 'close');
  }

  failed(ex: Exchange, err: Error): void {
    const e = asDyelineError(err, `the app (${this.#appKey})`);
    if (e.code !== ErrorCode.BadRequest && e.code !== ErrorCode.Loop) {
      this.#ctx.log.warn({ code: e.code, err: e.message, trace_id: ex.trace.traceId, span_id: ex.trace.spanId, color: ex.color }, 'inbound request failed');
    }
    respondError(ex.res, e);
  }

  finished(ex: Exchange): void {
    if (ex.traced) this.#ctx.inboundTraces.leave(ex.trace.traceId);
    endInboundProbe(this.#ctx, ex);
    hopFinished(this.#ctx.telemetry, 'inbound', ex);
  }
}

/** Creates the inbound server forwarding to the app through `app` (a pool to 127.0.0.1:appPort). */
export function createInboundServer(ctx: AgentContext, app: Pool, appPort: number): Server {
  const inbound = new Inbound(ctx, app, appPort);
  return createProxyServer(inbound.handle, inbound.upgrade, ctx.log, 'inbound');
}
