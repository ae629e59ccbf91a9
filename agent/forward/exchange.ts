/**
 * Forwarding one request: one or more tries (attempts), each dispatched on an undici
 * dispatcher (a Pool); the request body streamed from the client as it arrives (or a buffered
 * copy, for replay), the response streamed back with backpressure both ways (nothing is
 * buffered whole). The listener decides what happens at the edges through an ExchangeSink —
 * headers to add, whether an answer is dropped for a retry, what a failure becomes, telemetry —
 * so the resilience loop wraps `failed` and `upstreamStatus` without touching the streaming.
 *
 * Each try has its own small handler (Attempt): callbacks of a try that already ended (aborted
 * by the deadline, superseded by a retry) are ignored, so tries never mix. A hedge (the resilience
 * loop's, docs/resilience.md#hedging-while-cold) makes a new current try while the one before keeps
 * running as the *racing* try: the sink decides whether its answer head wins the race
 * (`raceAnswered`) and learns when it fails (`raceFailed`); nothing of it reaches the client
 * otherwise.
 */
import type { IncomingMessage, OutgoingHttpHeader, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { ClientClosedError, DroppedAnswerError, DyelineError, ERRORS, ErrorCode } from '../../shared/errors.ts';
import { PATH_HEADER } from '../../shared/probe-path.ts';
import { NO_TRACE, type TraceContext } from '../propagation/trace.ts';
import type { EndpointState } from '../routing/types.ts';
import { relayedHeaders, type ResponseHeaderList } from './headers.ts';

/** What a listener does at the edges of an exchange. One object per listener, shared by its requests. */
export interface ExchangeSink {
  /**
   * Appends the listener's response headers (served colour, fallback) to the relayed ones
   * (forward/headers.ts relayedHeaders: no `x-dyeline-*` or hop-by-hop header among them) before
   * they are written.
   */
  responseHeaders(ex: Exchange, status: number, headers: ResponseHeaderList): void;
  /**
   * Optional: the upstream answered `status` (≥ 200) on the current try. Return true to drop
   * this answer and retry: the try is aborted with a DroppedAnswerError and `failed` follows.
   */
  upstreamStatus?(ex: Exchange, status: number): boolean;
  /** Optional: the current try has been in flight for its `slowMs` (TryOptions) without an answer head. */
  trySlow?(ex: Exchange): void;
  /**
   * Optional (hedging): the racing try `a` answered `status` before the current one. Return true
   * to make it the current try (the sink ends the other: `ex.attempt` is `a` on return) — its
   * answer then goes on as any current try's would — or false to drop it (it is aborted).
   */
  raceAnswered?(ex: Exchange, a: Attempt, status: number): boolean;
  /** Optional (hedging): the racing try failed with `err` (`ex.racing` is already cleared). */
  raceFailed?(ex: Exchange, err: Error): void;
  /**
   * The exchange (or its current try) failed with `err`: from the upstream, the deadline, or
   * routing. Either send another try (`ex.dispatch` again) and return true — the exchange goes
   * on — or answer the failure on `ex.res` (which may have started: then it can only be cut)
   * and return false. Not called when the client went away.
   */
  failed(ex: Exchange, err: Error): boolean | void;
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
   * arrived, also the longest pause between body chunks. One timer per try serves both
   * (`onDeadline`): undici's own body timer is off, because it is a new object per request that
   * its timer list keeps for up to a second — most of what a request left for the old generation
   * (docs/footprint.md#what-the-old-generation-holds-at-saturation).
   */
  timeoutMs: number;
  /**
   * The request body: a buffered copy (replay), or null for none. Default (undefined): the
   * client's request stream when the request has a body.
   */
  body?: Buffer | null;
  /**
   * Optional: ms from dispatch after which a try still waiting for its answer head is reported
   * slow (`sink.trySlow`), once; ignored unless below `timeoutMs`. The same timer serves both.
   */
  slowMs?: number;
}

const kExchange = Symbol('dyeline.exchange');
type Tagged = ServerResponse & { [kExchange]?: Exchange };

function onResponseDrain(this: Tagged): void {
  const a = this[kExchange]?.attempt;
  if (a === undefined) return;
  // A pause the client imposed is not the upstream's: the body deadline counts from the resume.
  a.dataAt = performance.now();
  a.controller?.resume();
}

/**
 * Sends the response head on its own when no body byte followed it in the same read (a
 * streamed or long-polled response must not wait for its first chunk); in the common case the
 * head leaves with the body in one write.
 */
function flushHeadIfIdle(ex: Exchange): void {
  if (!ex.done && !ex.wroteBody && !ex.res.destroyed) ex.res.flushHeaders();
}

function onDeadline(a: Attempt, ms: number): void {
  a.deadline = undefined;
  if (a.over) return;
  const ex = a.ex;
  if (a.dataAt >= 0) {
    // The head arrived: the timer now watches the pause since the last body bytes, unless the
    // client holds the body back (as undici's body timeout does not run while it is paused).
    const idle = a.controller?.paused ? 0 : performance.now() - a.dataAt;
    if (idle < ms) {
      a.deadline = setTimeout(onDeadline, Math.max(1, Math.ceil(ms - idle)), a, ms);
      return;
    }
    a.controller?.abort(new DyelineError(ErrorCode.Timeout, `${ex.endpointKey || ex.service} sent no response data for ${ms} ms`));
    return;
  }
  if (a.slowLeftMs > 0) {
    // The slow mark came first: report it, then wait out the rest of the timeout.
    const left = a.slowLeftMs;
    a.slowLeftMs = 0;
    if (a === ex.attempt) ex.sink.trySlow?.(ex);
    if (!a.over) a.deadline = setTimeout(onDeadline, left, a, ms);
    return;
  }
  const err = new DyelineError(ErrorCode.Timeout, `${ex.endpointKey || ex.service} did not answer within ${ms} ms`);
  if (a.controller !== null) a.controller.abort(err);
  else ex.attemptFailed(a, err); // not started yet (queued, connecting): fail now, abort when it starts
}

function onResponseClose(this: Tagged): void {
  const ex = this[kExchange];
  if (ex === undefined || ex.done) return;
  ex.clientClosed = true;
  const a = ex.attempt;
  const err = new ClientClosedError('client closed the connection');
  if (a !== undefined && !a.over && a.controller !== null) a.controller.abort(err);
  else ex.end(err);
}

/** True when an HTTP/1.1 request carries a body (a Content-Length above 0, or Transfer-Encoding). */
export function hasBody(req: IncomingMessage): boolean {
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) return true;
  const cl = req.headers['content-length'];
  return cl !== undefined && cl !== '0';
}

/** One try: the undici handler of one dispatch. */
export class Attempt implements Dispatcher.DispatchHandler {
  readonly ex: Exchange;
  /** Live state of the endpoint tried (in flight while the try runs). */
  readonly state: EndpointState | undefined;
  controller: Dispatcher.DispatchController | null = null;
  /** The response-head deadline timer, while armed. */
  deadline: NodeJS.Timeout | undefined = undefined;
  /** True once this try ended (answered, failed, or superseded). */
  over = false;
  /** While the timer is set for the slow mark: what is left of the timeout after it, ms (else 0). */
  slowLeftMs = 0;
  /** performance.now() of the answer head or the latest body bytes since (or of the client's resume); -1 until the head. */
  dataAt = -1;

  constructor(ex: Exchange, state: EndpointState | undefined) {
    this.ex = ex;
    this.state = state;
    if (state !== undefined) state.inflight++;
  }

  /** Ends this try's bookkeeping once: in-flight count, deadline. */
  release(): void {
    if (this.over) return;
    this.over = true;
    if (this.deadline !== undefined) {
      clearTimeout(this.deadline);
      this.deadline = undefined;
    }
    if (this.state !== undefined) this.state.inflight--;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.over) controller.abort(new ClientClosedError('try already ended'));
    else if (this.ex.clientClosed) controller.abort(new ClientClosedError('client closed the connection'));
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Record<string, OutgoingHttpHeader | undefined>, statusText?: string): void {
    if (this.over || status < 200) return; // informational (103 Early Hints): not relayed
    // The deadline timer runs on as the body's (onDeadline): no second timer per request.
    this.dataAt = performance.now();
    this.slowLeftMs = 0;
    const ex = this.ex;
    if (this !== ex.attempt && (ex.sink.raceAnswered === undefined || !ex.sink.raceAnswered(ex, this, status))) {
      controller.abort(new DroppedAnswerError(ex.endpointKey, status));
      return;
    }
    if (ex.sink.upstreamStatus !== undefined && ex.sink.upstreamStatus(ex, status)) {
      controller.abort(new DroppedAnswerError(ex.endpointKey, status));
      return;
    }
    // A downstream agent's path answers a probe only (docs/reference.md#dyeline-check).
    if (ex.probe !== undefined) {
      const nested = headers[PATH_HEADER];
      if (typeof nested === 'string') ex.nestedPath = nested;
    }
    const relayed = relayedHeaders(headers);
    ex.sink.responseHeaders(ex, status, relayed);
    ex.status = status;
    const res = ex.res;
    if (statusText) res.writeHead(status, statusText, relayed as OutgoingHttpHeader[]);
    else res.writeHead(status, relayed as OutgoingHttpHeader[]);
    process.nextTick(flushHeadIfIdle, ex);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.over) return;
    this.dataAt = performance.now();
    const ex = this.ex;
    ex.wroteBody = true;
    if (!ex.res.write(chunk)) {
      controller.pause();
      ex.res.once('drain', onResponseDrain);
    }
  }

  onResponseEnd(): void {
    if (this.over) return;
    this.release();
    this.ex.res.end();
    this.ex.end(undefined);
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (this.over) return;
    this.ex.attemptFailed(this, err);
  }
}

/**
 * One request/response exchange, over one or more tries. Fields are public so sinks and
 * telemetry read them without accessors; treat them as read-only outside this module.
 */
export class Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly sink: ExchangeSink;
  /** Trace context of this hop (set by the entry step, agent/entry/entry-step.ts). */
  trace: TraceContext = NO_TRACE;
  /** Process time (ms) the exchange started. */
  readonly startedAt: number;
  /** Endpoint key (`host:port`) of the current try. */
  endpointKey = '';
  /** The upstream service (known service name, or the host passed through; the app for inbound). */
  service = '';
  /** The request's colour ('' when uncoloured). */
  color = '';
  /** True when the colour was recalled from the lane memory (outbound; see EnteringHop). */
  leakHealed = false;
  /** The colour the request carried was removed (entry-step.ts): its query parameter goes too. */
  scrubbed = false;
  /** The hop count it is forwarded with (entry-step.ts). */
  forwardedHops = 0;
  /** Recorded in the agent's inbound traces (loop-guard.ts InboundTraces) until it ends. */
  traced = false;
  /** The lane of the instance that serves ('' when not a known service). */
  servedColor = '';
  /** Why the request is served outside its requested lane ('' when it is not). */
  fallback = '';
  /** The current (or last) try. */
  attempt: Attempt | undefined = undefined;
  /** A try superseded by a hedge that still runs: its answer head may yet win (see ExchangeSink.raceAnswered). */
  racing: Attempt | undefined = undefined;
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
  /** Set when the request is a probe: where its path goes (telemetry/probe-paths.ts ProbeRecord). */
  probe: { add(path: string): void; readonly paths: readonly string[] } | undefined = undefined;
  /** The `x-dyeline-path` the upstream answered a probe with. */
  nestedPath: string | undefined = undefined;

  constructor(req: IncomingMessage, res: ServerResponse, sink: ExchangeSink, startedAt: number) {
    this.req = req;
    this.res = res;
    this.sink = sink;
    this.startedAt = startedAt;
    (res as Tagged)[kExchange] = this;
    // `on`, not `once`: a response closes once, and once's wrapper would be one more object per request.
    res.on('close', onResponseClose);
  }

  /**
   * Sends a try to `dispatcher` (the pool of `endpointKey`), counting it in flight on `state` until
   * it ends. Call again from `sink.failed` to retry.
   */
  dispatch(dispatcher: Dispatcher, endpointKey: string, state: EndpointState | undefined, opts: TryOptions): void {
    if (this.done) return;
    this.endpointKey = endpointKey;
    const a = new Attempt(this, state);
    this.attempt = a;
    const req = this.req;
    try {
      dispatcher.dispatch(
        {
          path: opts.path,
          method: req.method as Dispatcher.HttpMethod,
          headers: opts.headers,
          body: opts.body !== undefined ? opts.body : hasBody(req) ? req : null,
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        a,
      );
    } catch (err) {
      this.attemptFailed(a, err as Error);
      return;
    }
    if (a.over) return;
    const slow = opts.slowMs;
    if (slow !== undefined && slow > 0 && slow < opts.timeoutMs) {
      a.slowLeftMs = opts.timeoutMs - slow;
      a.deadline = setTimeout(onDeadline, slow, a, opts.timeoutMs);
    } else {
      a.deadline = setTimeout(onDeadline, opts.timeoutMs, a, opts.timeoutMs);
    }
  }

  /** A try failed: release it, then let the sink retry or answer (see ExchangeSink.failed). */
  attemptFailed(a: Attempt, err: Error): void {
    if (a.over) return;
    a.release();
    if (a !== this.attempt) {
      if (a === this.racing) {
        this.racing = undefined;
        this.sink.raceFailed?.(this, err);
      }
      return;
    }
    this.end(err);
  }

  /**
   * Ends the exchange: `undefined` after a complete response; an error hands the failure to
   * the sink, which may send another try instead (then the exchange goes on).
   */
  end(err: Error | undefined): void {
    if (this.done) return;
    if (err !== undefined) {
      if (!this.clientClosed && this.sink.failed(this, err) === true) return;
      this.error = err;
      if (this.clientClosed && !this.res.destroyed) this.res.destroy();
      if (this.status === 0) this.status = this.clientClosed ? ERRORS[ErrorCode.ClientClosed].status : this.res.statusCode;
    }
    this.done = true;
    const a = this.attempt;
    if (a !== undefined && !a.over) {
      a.release();
      a.controller?.abort(err ?? new ClientClosedError('exchange ended'));
    }
    const r = this.racing;
    if (r !== undefined) {
      this.racing = undefined;
      if (!r.over) {
        r.release();
        r.controller?.abort(new ClientClosedError('exchange ended'));
      }
    }
    (this.res as Tagged)[kExchange] = undefined;
    this.sink.finished(this);
  }
}
