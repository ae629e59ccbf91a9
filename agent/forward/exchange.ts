/**
 * One try of forwarding a request to one upstream: dispatch on an undici dispatcher (a Pool),
 * the request body streamed from the client as it arrives, the response streamed back with
 * backpressure both ways (nothing is buffered whole). The listener decides what happens at
 * the edges through an ExchangeSink — headers to add, what a failure becomes, telemetry — so a
 * retry loop (issue 4) can wrap `failed` without touching the streaming.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { DyelineError, ErrorCode } from '../../shared/errors.ts';
import type { TraceContext } from '../propagation/trace.ts';
import type { EndpointState } from '../routing/types.ts';
import { stripResponseHeaders } from './headers.ts';

/** What a listener does at the edges of an exchange. One object per listener, shared by its requests. */
export interface ExchangeSink {
  /** Adds the listener's response headers (served colour, fallback) before they are written. */
  responseHeaders(ex: Exchange, status: number, headers: OutgoingHttpHeaders): void;
  /**
   * The try failed: `err` came from the upstream, the client, or the deadline. `ex.res` may
   * already have started (then it can only be cut). Called at most once per exchange.
   */
  failed(ex: Exchange, err: Error): void;
  /** The exchange ended (after a response or a failure); for telemetry. Called exactly once. */
  finished(ex: Exchange): void;
}

/** Per-try options. */
export interface TryOptions {
  /** Request target sent upstream (origin-form path and query). */
  path: string;
  /** Flat [name, value, ...] header list (see forward/headers.ts). */
  headers: string[];
  /**
   * Deadline for the response head, ms from dispatch (precise: a native timer); once the head
   * arrived, also the longest pause between body chunks (undici's bodyTimeout).
   */
  timeoutMs: number;
}

const kExchange = Symbol('dyeline.exchange');
type Tagged = ServerResponse & { [kExchange]?: Exchange };

/** Error used to abort the upstream side when the client goes away. */
class ClientClosedError extends Error {
  readonly code = 'DYE_CLIENT_CLOSED';
}

function onResponseDrain(this: Tagged): void {
  this[kExchange]?.controller?.resume();
}

/**
 * Sends the response head on its own when no body byte followed it in the same read (a
 * streamed or long-polled response must not wait for its first chunk); in the common case the
 * head leaves with the body in one write.
 */
function flushHeadIfIdle(ex: Exchange): void {
  if (!ex.done && !ex.wroteBody && !ex.res.destroyed) ex.res.flushHeaders();
}

function onDeadline(ex: Exchange, ms: number): void {
  ex.deadline = undefined;
  if (ex.done) return;
  const err = new DyelineError(ErrorCode.Timeout, `${ex.upstream || ex.service} did not answer within ${ms} ms`);
  if (ex.controller !== null) ex.controller.abort(err);
  else ex.end(err);
}

function onResponseClose(this: Tagged): void {
  const ex = this[kExchange];
  if (ex === undefined || ex.done) return;
  ex.clientClosed = true;
  if (ex.controller !== null) ex.controller.abort(new ClientClosedError('client closed the connection'));
  else ex.end(new ClientClosedError('client closed the connection'));
}

/** True when an HTTP/1.1 request carries a body (a Content-Length above 0, or Transfer-Encoding). */
export function hasBody(req: IncomingMessage): boolean {
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) return true;
  const cl = req.headers['content-length'];
  return cl !== undefined && cl !== '0';
}

/**
 * One request/response exchange with one upstream. Fields are public so sinks and telemetry
 * read them without accessors; treat them as read-only outside this module.
 */
export class Exchange implements Dispatcher.DispatchHandler {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly sink: ExchangeSink;
  /** Trace context of this hop. */
  readonly trace: TraceContext;
  /** Process time (ms) the exchange started. */
  readonly startedAt: number;
  /** `host:port` of the upstream, for messages. */
  upstream = '';
  /** The upstream service (known service name, or the host passed through; the app for inbound). */
  service = '';
  /** The request's colour ('' when uncoloured). */
  color = '';
  /** The lane of the instance that serves ('' when not a known service). */
  servedColor = '';
  /** Why the request is served outside its requested lane ('' when it is not). */
  fallback = '';
  /** Live state of the endpoint, when it is one the snapshot knows (in-flight accounting). */
  state: EndpointState | undefined = undefined;
  controller: Dispatcher.DispatchController | null = null;
  /** The response-head deadline timer, while armed. */
  deadline: NodeJS.Timeout | undefined = undefined;
  /** Final status written to the client (0 until headers are written). */
  status = 0;
  /** True once the exchange ended (response complete or failure). */
  done = false;
  /** True once a response body chunk was written to the client. */
  wroteBody = false;
  /** True when the client went away before the end. */
  clientClosed = false;
  /** The failure, when the exchange failed. */
  error: Error | undefined = undefined;

  constructor(req: IncomingMessage, res: ServerResponse, sink: ExchangeSink, trace: TraceContext, startedAt: number) {
    this.req = req;
    this.res = res;
    this.sink = sink;
    this.trace = trace;
    this.startedAt = startedAt;
    (res as Tagged)[kExchange] = this;
    res.once('close', onResponseClose);
  }

  /** Sends the request to `dispatcher` (upstream `upstream`), counting it in flight on `state`. */
  dispatch(dispatcher: Dispatcher, upstream: string, state: EndpointState | undefined, opts: TryOptions): void {
    this.upstream = upstream;
    this.state = state;
    if (state !== undefined) state.inflight++;
    const req = this.req;
    try {
      dispatcher.dispatch(
        {
          path: opts.path,
          method: req.method as Dispatcher.HttpMethod,
          headers: opts.headers,
          body: hasBody(req) ? req : null,
          headersTimeout: 0,
          bodyTimeout: opts.timeoutMs,
        },
        this,
      );
      if (!this.done) this.deadline = setTimeout(onDeadline, opts.timeoutMs, this, opts.timeoutMs);
    } catch (err) {
      this.end(err as Error);
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.done) controller.abort(this.error ?? new ClientClosedError('exchange already ended'));
    else if (this.clientClosed) controller.abort(new ClientClosedError('client closed the connection'));
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: OutgoingHttpHeaders, statusText?: string): void {
    if (status < 200) return; // informational (103 Early Hints): not relayed
    if (this.deadline !== undefined) {
      clearTimeout(this.deadline);
      this.deadline = undefined;
    }
    stripResponseHeaders(headers);
    this.sink.responseHeaders(this, status, headers);
    this.status = status;
    if (statusText) this.res.writeHead(status, statusText, headers);
    else this.res.writeHead(status, headers);
    process.nextTick(flushHeadIfIdle, this);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.wroteBody = true;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', onResponseDrain);
    }
  }

  onResponseEnd(): void {
    this.res.end();
    this.end(undefined);
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.end(err);
  }

  /** Ends the exchange once: releases the endpoint, hands a failure to the sink, reports. */
  end(err: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    if (this.deadline !== undefined) {
      clearTimeout(this.deadline);
      this.deadline = undefined;
    }
    if (this.state !== undefined) this.state.inflight--;
    if (err !== undefined) {
      this.error = err;
      if (this.clientClosed) {
        if (!this.res.destroyed) this.res.destroy();
      } else {
        this.sink.failed(this, err);
      }
      if (this.status === 0) this.status = this.clientClosed ? 499 : this.res.statusCode;
    }
    (this.res as Tagged)[kExchange] = undefined;
    this.sink.finished(this);
  }
}
