/**
 * Telemetry of one finished hop, in one place (docs/telemetry.md): the request metrics, the span
 * (SERVER for inbound, CLIENT for outbound) and the access log line of an exchange or an upgrade.
 * Nothing here runs before the answer is written, and nothing here throws into the data path.
 */
import type { IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import { classify, ERRORS, ErrorCode } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { type AttributeList, SpanKind } from '../../shared/telemetry/span.ts';
import type { Tracing } from '../../shared/telemetry/tracing.ts';
import type { TraceContext } from '../propagation/trace.ts';
import { type AgentMetrics, type Direction, PASSTHROUGH_UPSTREAM } from './metrics.ts';

/** What hop telemetry needs from the agent. */
export interface HopTelemetry {
  readonly service: string;
  /** This pod's lane (the served colour of inbound hops). */
  readonly color: string;
  readonly metrics: AgentMetrics;
  readonly tracing: Tracing;
  readonly log: Logger;
  /** One `request` log line per hop (--access-log, default true). */
  readonly accessLog: boolean;
  /** Whether `service` names a service of the snapshot in use (false: a pass-through host). */
  isKnownService(service: string): boolean;
}

/**
 * One finished hop as telemetry reads it: an exchange (forward/exchange.ts) or an upgrade
 * (forward/upgrade.ts). Every field is final once the hop is handed to `hopFinished`.
 */
export interface Hop {
  readonly req: IncomingMessage;
  readonly trace: TraceContext;
  /** performance.now() when the request arrived. */
  readonly startedAt: number;
  /** Status answered to the client (499 when it went away first). */
  readonly status: number;
  /** The request colour ('' uncoloured), the lane that served ('' unknown service) and why outside its lane (''). */
  readonly color: string;
  readonly servedColor: string;
  readonly fallback: string;
  /** The upstream service, or the host passed through (outbound). */
  readonly service: string;
  /** Endpoint key (`host:port`) of the last try. */
  readonly endpointKey: string;
  readonly error: Error | undefined;
  readonly clientClosed: boolean;
  /** The instance of the last try, when the snapshot knows it. */
  readonly endpoint?: { name: string; address: string; port: number } | undefined;
  /** Retries sent (resilience loop). */
  readonly retries?: number;
}

/** This pod, as `dyeline.instance` of inbound spans (the pod name in Kubernetes). */
export const POD_NAME = process.env.HOSTNAME || hostname();

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);

/** The path of a request target, without its query (origin-form or absolute-form). */
export function pathOf(target: string): string {
  let start = 0;
  if (target.charCodeAt(0) !== 47) {
    const scheme = target.indexOf('//');
    if (scheme < 0) return target === '*' ? '*' : '/';
    start = target.indexOf('/', scheme + 2);
    if (start < 0) return '/';
  }
  const q = target.indexOf('?', start);
  const h = target.indexOf('#', start);
  const end = q < 0 ? (h < 0 ? target.length : h) : h < 0 ? q : Math.min(q, h);
  return start === 0 && end === target.length ? target : target.slice(start, end);
}

/** Host and port of a Host header value (`[v6]:port` too); port undefined when absent. */
function splitHost(host: string): [string, number | undefined] {
  const colon = host.lastIndexOf(':');
  if (colon < 0 || host.endsWith(']')) return [host, undefined];
  const port = Number(host.slice(colon + 1));
  return [host.slice(0, colon), Number.isInteger(port) ? port : undefined];
}

/**
 * `error.type` of a finished hop: the agent's `x-dyeline-error` code for the failure
 * (connect-failure, timeout, ...), `client-closed`, or the status code of a 5xx answer.
 */
function errorType(ex: Hop, status: number): string | undefined {
  if (ex.error !== undefined) {
    return ERRORS[ex.clientClosed ? ErrorCode.ClientClosed : classify(ex.error)].header;
  }
  return status >= 500 ? String(status) : undefined;
}

/** The span's attributes (OpenTelemetry HTTP semantic conventions and dyeline's), as a flat list. */
function spanAttributes(t: HopTelemetry, direction: Direction, ex: Hop, method: string, path: string, status: number, err: string | undefined, known: boolean): AttributeList {
  const req = ex.req;
  const standard = METHODS.has(method);
  const a: AttributeList = ['http.request.method', standard ? method : '_OTHER'];
  if (!standard) a.push('http.request.method_original', method);
  if (status > 0) a.push('http.response.status_code', status);
  if (err !== undefined) a.push('error.type', err);
  if (ex.color !== '') a.push('dyeline.color', ex.color);
  if (direction === 'inbound') {
    a.push('url.path', path, 'url.scheme', 'http');
    const host = req.headers.host;
    if (host !== undefined) {
      const [h, p] = splitHost(host);
      a.push('server.address', h);
      if (p !== undefined) a.push('server.port', p);
    }
    if (req.socket.remoteAddress !== undefined) a.push('client.address', req.socket.remoteAddress);
    a.push('network.protocol.version', req.httpVersion);
    const ua = req.headers['user-agent'];
    if (ua !== undefined) a.push('user_agent.original', ua);
    a.push('dyeline.served_color', t.color, 'dyeline.upstream', t.service, 'dyeline.instance', POD_NAME);
    return a;
  }
  const ep = ex.endpoint;
  const endpointKey = ex.endpointKey; // host:port actually tried
  if (ep !== undefined) {
    a.push('server.address', ep.address, 'server.port', ep.port, 'network.peer.address', ep.address, 'dyeline.instance', ep.name);
  } else if (endpointKey !== '') {
    const [h, p] = splitHost(endpointKey);
    a.push('server.address', h.startsWith('[') ? h.slice(1, -1) : h);
    if (p !== undefined) a.push('server.port', p);
    a.push('dyeline.instance', endpointKey);
  }
  a.push('url.full', `http://${ex.service}${path}`);
  if (ex.retries !== undefined && ex.retries > 0) a.push('http.request.resend_count', ex.retries);
  a.push('dyeline.upstream', ex.service);
  if (known && ex.servedColor !== '') a.push('dyeline.served_color', ex.servedColor);
  if (ex.fallback !== '') a.push('dyeline.fallback', ex.fallback);
  return a;
}

/** Metrics, span and access log line of a finished hop. Never throws. */
export function hopFinished(t: HopTelemetry, direction: Direction, ex: Hop): void {
  try {
    const endMs = performance.now();
    const status = ex.status;
    const inbound = direction === 'inbound';
    const known = inbound || t.isKnownService(ex.service);
    const upstream = inbound ? t.service : known ? ex.service : PASSTHROUGH_UPSTREAM;
    const servedColor = inbound ? t.color : ex.servedColor;
    const seconds = (endMs - ex.startedAt) / 1000;
    t.metrics.request(direction, upstream, ex.color, servedColor, status, ex.fallback, seconds);

    const trace = ex.trace;
    const span = t.tracing.enabled && trace.sampled;
    if (!span && !t.accessLog) return;
    const method = ex.req.method ?? 'GET';
    const path = pathOf(ex.req.url ?? '/');
    const err = errorType(ex, status);
    if (span) {
      t.tracing.end({
        name: inbound || !known ? (METHODS.has(method) ? method : 'HTTP') : `${METHODS.has(method) ? method : 'HTTP'} ${ex.service}`,
        kind: inbound ? SpanKind.SERVER : SpanKind.CLIENT,
        traceId: trace.traceId,
        spanId: trace.spanId,
        parentSpanId: trace.parentId,
        startMs: ex.startedAt,
        endMs,
        error: err !== undefined,
        message: ex.error?.message,
        attributes: spanAttributes(t, direction, ex, method, path, status, err, known),
      });
    }
    if (t.accessLog) {
      t.log.info(
        {
          direction,
          method,
          path,
          upstream: inbound ? t.service : ex.service,
          endpoint: ex.endpointKey,
          status,
          error: err,
          color: ex.color,
          served_color: servedColor,
          fallback: ex.fallback,
          trace_id: trace.traceId,
          span_id: trace.spanId,
          ms: Math.round((endMs - ex.startedAt) * 100) / 100,
        },
        'request',
      );
    }
  } catch (err) {
    t.tracing.failures.report('hop telemetry failed', err);
  }
}
