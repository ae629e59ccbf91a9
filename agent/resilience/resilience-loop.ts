/**
 * The outbound resilience loop, between the routing decision and the answer: the balancer picks
 * an instance not tried yet, the subset's breaker admits the try, the exchange runs with a per-try
 * timeout inside the deadline, the outcome feeds the breaker and outlier detection, and a failure
 * is retried when it may be sent again (docs/resilience.md#the-resilience-loop). While a lane and
 * its fallback lane are both cold, a slow idempotent try is hedged to the fallback lane
 * (docs/resilience.md#hedging-while-cold).
 */
import type { Dispatcher } from 'undici';
import { ClientClosedError, classify, ERRORS, FailureClass, noInstanceError } from '../../shared/errors.ts';
import { isoTime } from '../../shared/iso-time.ts';
import type { Logger } from '../../shared/log.ts';
import type { Metrics } from '../../shared/metrics.ts';
import { type Attempt, Exchange, hasBody } from '../forward/exchange.ts';
import { type Balancer, hasAvailable } from '../routing/balancer.ts';
import { UNKNOWN_COLOR } from '../telemetry/metrics.ts';
import type { Endpoint, RouteDecision, RoutingTable, ServiceRoutes, Subset } from '../routing/types.ts';
import { ADMITTED, type Breaker, REJECTED, type Transition } from './breaker.ts';
import { Breakers } from './breakers.ts';
import { type BudgetOptions, RetryBudget } from './budget.ts';
import { derivedTimeoutMs, HEDGE_AFTER_MS, isCold, NO_LATENCY } from './latency.ts';
import { createResilienceMetrics, noResilienceMetrics, type ResilienceMetrics } from './metrics.ts';
import { CAPPED, EJECTED, outlierFailure, outlierSuccess } from './outlier.ts';
import { CONNECT_FAILURE, type FailureKind, isIdempotent, nextCandidate, type RetryPolicy, retryPolicy, STATUS, TIMEOUT } from './retry.ts';

/** Largest request body read whole so that an idempotent request can be retried (64 KiB). */
export const MAX_REPLAY_BODY_BYTES = 64 * 1024;

const KIND_NAMES = ['', 'connect-failure', 'reset', 'timeout', 'status'];

/** Why the try that lost a hedged request's race is ended. */
const LOST_RACE = 'the other try of a hedged request answered first';

/** `OutboundExchange.planned` of a dropped hedge answer: wait for the racing try instead of a retry. */
const RESUME_RACE = -2;

/**
 * The fields of `OutboundExchange` that hold its current try's state: a hedge parks the
 * superseded try's in a TryState while it races (made only when a request is hedged).
 */
const TRY_FIELDS = ['attempt', 'candidate', 'endpoint', 'endpointKey', 'breaker', 'token', 'judged', 'tryStartedAt', 'slowMs', 'teachMs', 'servedColor', 'fallback'] as const;
type TryState = Pick<OutboundExchange, (typeof TRY_FIELDS)[number]>;

/** A copy of the current try's state of `ex`. */
function parkTry(ex: OutboundExchange): TryState {
  const t: Partial<Record<(typeof TRY_FIELDS)[number], unknown>> = {};
  for (const k of TRY_FIELDS) t[k] = ex[k];
  return t as TryState;
}

/**
 * Exchanges the current try's state of `ex` with `t`'s (the racing try's); `ex.racing` becomes the
 * Attempt swapped out. Only hedged requests come here: a loop over the field names is cheap enough.
 */
function swapTry(ex: OutboundExchange, t: TryState): void {
  const e = ex as unknown as Record<string, unknown>;
  const r = t as unknown as Record<string, unknown>;
  for (const k of TRY_FIELDS) {
    const v = e[k];
    e[k] = r[k];
    r[k] = v;
  }
  ex.racing = t.attempt;
}

function onHedgeTimer(loop: ResilienceLoop, ex: OutboundExchange): void {
  ex.hedgeTimer = undefined;
  loop.hedge(ex);
}

/** An outbound exchange with the state of its tries (one object per request: no extra allocation). */
export class OutboundExchange extends Exchange {
  /** The upstream service's routes, set by the listener (undefined: passed through). */
  routes: ServiceRoutes | undefined = undefined;
  decision: RouteDecision | undefined = undefined;
  policy: RetryPolicy | undefined = undefined;
  /** Index in `decision.candidates` of the subset of the current try. */
  candidate = 0;
  /** Retries sent so far. */
  retries = 0;
  /** The instance of the current try. */
  endpoint: Endpoint | undefined = undefined;
  /** The breaker of the current try's subset, and its admission token (0: none held). */
  breaker: Breaker | undefined = undefined;
  token = 0;
  /** True once the current try's outcome reached the breaker and outlier detection. */
  judged = false;
  /** performance.now() when the current try was sent. */
  tryStartedAt = 0;
  /** The current try's slow-call threshold, ms (Infinity: none). */
  slowMs = Infinity;
  /**
   * An answer of the current try slower than this does not teach its lane's latency: the derived
   * threshold when the lane had a lane to fall back to, else Infinity (docs/resilience.md#defaults).
   */
  teachMs = Infinity;
  /** Keys of the instances tried (made on the first retry). */
  tried: Set<string> | undefined = undefined;
  /** Request target and headers sent upstream. */
  path = '';
  headers: string[] | undefined = undefined;
  /** The request body read whole for replay; undefined: streamed from the client. */
  body: Buffer | null | undefined = undefined;
  /** Set when a retriable answer was dropped: the candidate the retry goes to, and why. */
  planned = -1;
  plannedReason = '';
  /** The hedge timer of the current try, while armed; the candidate it would go to. */
  hedgeTimer: NodeJS.Timeout | undefined = undefined;
  hedgeTo = -1;
  /** True once this request was hedged (one hedge per request). */
  hedged = false;
  /** While a hedge races the try it superseded: that try's state (its Attempt is `racing`). */
  race: TryState | undefined = undefined;
}

/** What the resilience loop needs from the agent. */
export interface ResilienceLoopOptions {
  log: Logger;
  balancer: Balancer;
  /** The connection pool of an endpoint. */
  pool(ep: Endpoint): Dispatcher;
  /** The process metrics to register the resilience metrics on (metrics.ts); absent: nothing is counted. */
  metrics?: Metrics;
  /** Largest body buffered for replay, bytes (default 64 KiB). */
  maxReplayBodyBytes?: number;
}

/** Breakers, budgets and outlier detection of one agent, and the retry loop over them. */
export class ResilienceLoop {
  readonly breakers: Breakers;
  readonly #budgets = new Map<string, RetryBudget>();
  #budgetOptions: BudgetOptions = {};
  /** Lane colours of the last table bound (bounds the `from` label of fallbacks). */
  #lanes: ReadonlySet<string> = new Set();
  readonly #log: Logger;
  readonly #balancer: Balancer;
  readonly #pool: (ep: Endpoint) => Dispatcher;
  readonly #metrics: ResilienceMetrics;
  readonly #maxReplay: number;

  constructor(opts: ResilienceLoopOptions) {
    this.#log = opts.log;
    this.#balancer = opts.balancer;
    this.#pool = opts.pool;
    this.#maxReplay = opts.maxReplayBodyBytes ?? MAX_REPLAY_BODY_BYTES;
    this.breakers = new Breakers((t) => this.#transition(t));
    this.#metrics = opts.metrics === undefined ? noResilienceMetrics : createResilienceMetrics(opts.metrics, this.breakers);
  }

  /** Router hook: true when a subset's circuit takes no traffic now. */
  get isOpen(): (subset: Subset) => boolean {
    return this.breakers.isOpen;
  }

  /**
   * Follows a new routing table: breakers and budgets (made on first use, per service called)
   * are kept across tables, re-configured, or dropped with their service.
   */
  bind(table: RoutingTable): void {
    this.breakers.bind(table);
    const lanes = new Set<string>();
    for (const l of table.lanes()) lanes.add(l.color);
    this.#lanes = lanes;
    for (const [name, b] of this.#budgets) {
      const svc = table.service(name);
      if (svc === undefined) this.#budgets.delete(name);
      else b.configure(svc.spec.retry.budgetPercent);
    }
  }

  /**
   * Forgets every retry budget's counts; budgets made from now on use `options` (tests that
   * study the loop itself widen the floor so the budget stays out of their way).
   */
  resetBudgets(options: BudgetOptions = {}): void {
    this.#budgets.clear();
    this.#budgetOptions = options;
  }

  /** Stops every breaker timer (agent stop). */
  close(): void {
    this.breakers.close();
  }

  /**
   * Forwards `ex` to `routes` as `decision` says (its candidates must not be empty): the first
   * try, after reading a replayable body when there is one.
   */
  start(ex: OutboundExchange, routes: ServiceRoutes, decision: RouteDecision, path: string, headers: string[]): void {
    const policy = retryPolicy(routes.spec);
    ex.routes = routes;
    ex.decision = decision;
    ex.policy = policy;
    ex.path = path;
    ex.headers = headers;
    if (decision.fallback !== undefined) ex.fallback = decision.fallback;
    this.#budget(routes).firstTry(Date.now());
    const req = ex.req;
    if (policy.attempts > 0 && hasBody(req) && isIdempotent(req.method)) {
      const cl = req.headers['content-length'];
      const n = cl === undefined || req.headers['transfer-encoding'] !== undefined ? -1 : Number(cl);
      if (n >= 0 && n <= this.#maxReplay) {
        this.#readBody(ex, n);
        return;
      }
    }
    this.#first(ex);
  }

  #first(ex: OutboundExchange): void {
    if (ex.done) return;
    if (!this.#send(ex, 0)) {
      ex.end(noInstanceError(ex.routes!.name, ex.decision!.requested));
    }
  }

  /** Reads a body of `length` bytes whole, then sends the first try with it. */
  #readBody(ex: OutboundExchange, length: number): void {
    const body = Buffer.allocUnsafe(length);
    let at = 0;
    const req = ex.req;
    req.on('data', (chunk: Buffer) => {
      at += chunk.copy(body, at);
    });
    req.once('end', () => {
      ex.body = at === length ? body : body.subarray(0, at);
      this.#first(ex);
    });
    // A client that goes away ends the exchange through the response's close event.
  }

  /**
   * Sends a try to `candidates[k]`; false when no instance can take it (none left, circuit,
   * deadline). Timings the Service leaves unset are derived from the observed latency of the
   * lane, and of the lane it would fall back to (latency.ts, docs/resilience.md#defaults): the
   * slow-call threshold always, and the per-try timeout of a request that could still move on.
   */
  #send(ex: OutboundExchange, k: number): boolean {
    const cands = ex.decision!.candidates;
    const subset = cands[k];
    const now = Date.now();
    const ep = this.#balancer.pick(subset, ex.tried, now);
    if (ep === undefined) return false;
    const policy = ex.policy!;
    let timeoutMs = policy.tryTimeout(ex.startedAt, performance.now());
    if (timeoutMs === 0) return false;
    const breaker = this.breakers.forSubset(subset);
    const token = breaker === undefined ? ADMITTED : breaker.admit();
    if (token === REJECTED) return false;
    let slowMs = Infinity;
    let teachMs = Infinity;
    let hedgeTo = -1;
    if (breaker !== undefined) {
      const f = this.#fallbackIndex(cands, k, now);
      const configured = breaker.settings.slowCallMs;
      if (f < 0) {
        slowMs = configured ?? derivedTimeoutMs(breaker.latency, undefined, now, policy.timeoutMs);
      } else {
        const fallbackLatency = this.breakers.of(cands[f])?.latency ?? NO_LATENCY;
        teachMs = derivedTimeoutMs(breaker.latency, fallbackLatency, now, policy.timeoutMs);
        slowMs = configured ?? teachMs;
        if (!policy.perTryConfigured && this.#canRetryTimeout(ex)) {
          timeoutMs = Math.min(timeoutMs, teachMs);
          if (!ex.hedged && timeoutMs > HEDGE_AFTER_MS && isCold(breaker.latency, fallbackLatency, now)) hedgeTo = f;
        }
      }
    }
    ex.candidate = k;
    ex.endpoint = ep;
    ex.breaker = breaker;
    ex.token = breaker === undefined ? 0 : token;
    ex.judged = false;
    ex.slowMs = slowMs;
    ex.teachMs = teachMs;
    ex.servedColor = subset.lane;
    ex.tryStartedAt = performance.now();
    if (ex.hedgeTimer !== undefined) clearTimeout(ex.hedgeTimer);
    ex.hedgeTimer = hedgeTo < 0 ? undefined : setTimeout(onHedgeTimer, HEDGE_AFTER_MS, this, ex);
    ex.hedgeTo = hedgeTo;
    ex.dispatch(this.#pool(ep), ep.key, ep.state, { path: ex.path, headers: ex.headers!, timeoutMs, body: ex.body, slowMs: slowMs === Infinity ? undefined : slowMs });
    return true;
  }

  /**
   * Index of the lane a try on `candidates[k]` would fall back to: the first later lane of the
   * chain with an instance and a circuit that takes traffic; -1 when there is none.
   */
  #fallbackIndex(cands: readonly Subset[], k: number, now: number): number {
    const isOpen = this.breakers.isOpen;
    for (let j = k + 1; j < cands.length; j++) if (hasAvailable(cands[j], now) && !isOpen(cands[j])) return j;
    return -1;
  }

  /**
   * Timer hook: the current try, on a cold lane, is still unanswered after HEDGE_AFTER_MS. The
   * request is sent to the fallback lane as well, while the try keeps running: whichever answer
   * head comes first is relayed, the other try is ended (docs/resilience.md#hedging-while-cold).
   */
  hedge(ex: OutboundExchange): void {
    const k = ex.hedgeTo;
    if (ex.done || ex.status !== 0 || ex.hedged || ex.race !== undefined || k < 0 || ex.clientClosed) return;
    const a = ex.attempt;
    if (a === undefined || a.over) return;
    const now = Date.now();
    if (!hasAvailable(ex.decision!.candidates[k], now) || this.breakers.isOpen(ex.decision!.candidates[k])) return;
    const race = parkTry(ex); // the try so far races on; #send fills the fields for the hedge
    (ex.tried ??= new Set<string>()).add(race.endpoint!.key);
    ex.fallback = ex.decision!.candidates[k].lane !== ex.decision!.requested ? 'error' : race.fallback;
    ex.hedged = true;
    ex.race = race;
    ex.racing = a;
    if (!this.#send(ex, k)) {
      // Nothing was sent: the fields are the racing try's still (#send fills them only on success).
      ex.race = undefined;
      ex.racing = undefined;
      ex.fallback = race.fallback;
      return;
    }
    ex.retries++;
    this.#metrics.retry(ex.routes!.name, 'hedge');
    if (this.#log.isLevelEnabled('debug')) {
      this.#log.debug({ upstream: ex.routes!.name, reason: 'hedge', endpoint: ex.endpoint!.key, racing: race.endpointKey, lane: ex.servedColor, trace_id: ex.trace.traceId }, 'hedge');
    }
  }

  /**
   * Exchange hook: the racing try answered `status` before the hedge. A relayable answer wins:
   * the hedge is ended unjudged (it was not given its time) and the racing try is current
   * again; an answer the policy would retry is judged a failure and dropped, the hedge goes on.
   */
  raceAnswered(ex: OutboundExchange, a: Attempt, status: number): boolean {
    const race = ex.race;
    if (race === undefined || race.attempt !== a) return false;
    ex.race = undefined;
    swapTry(ex, race); // the racing try is current; `race` holds the hedge
    if (status >= 500 && ex.policy!.retriesStatus(status)) {
      this.#judge(ex, true);
      swapTry(ex, race);
      ex.racing = undefined;
      return false;
    }
    ex.racing = undefined;
    if (race.token !== 0) race.breaker?.release(race.token);
    const h = race.attempt;
    if (h !== undefined && !h.over) {
      h.release();
      h.controller?.abort(new ClientClosedError(LOST_RACE));
    }
    return true;
  }

  /** Exchange hook: the racing try failed while the hedge runs: its outcome is recorded, the hedge goes on. */
  raceFailed(ex: OutboundExchange, err: Error): void {
    const race = ex.race;
    if (race === undefined) return;
    ex.race = undefined;
    const attempt = ex.attempt;
    swapTry(ex, race);
    this.#settle(ex, err);
    swapTry(ex, race);
    ex.attempt = attempt;
    ex.racing = undefined;
  }

  /**
   * The hedge answered first: the racing try lost the race — it was slower than the fallback lane
   * by more than the hedge delay — so its breaker counts it as a slow call, and it is ended.
   */
  #loseRace(ex: OutboundExchange, race: TryState): void {
    ex.race = undefined;
    const r = ex.racing;
    ex.racing = undefined;
    if (race.token !== 0) race.breaker?.record(race.token, Date.now(), false, true);
    if (r !== undefined && !r.over) {
      r.release();
      r.controller?.abort(new ClientClosedError(LOST_RACE));
    }
  }

  /** The current try of a hedged request ended with `err`: judged when the upstream failed, else its token is given back. */
  #settle(ex: OutboundExchange, err: Error): void {
    if (ERRORS[classify(err)].failure !== FailureClass.None) this.#judge(ex, true);
    else if (ex.token !== 0) {
      ex.breaker!.release(ex.token);
      ex.token = 0;
    }
  }

  /** Failure of the hedge while its racing try still runs: the racing try is current again. */
  #resumeRace(ex: OutboundExchange, race: TryState): void {
    ex.race = undefined;
    const hedge = ex.attempt;
    swapTry(ex, race);
    ex.racing = undefined;
    if (hedge !== undefined && !hedge.over) hedge.release();
  }

  /**
   * True when a timed-out try of `ex` could be sent again: a retry is left, the policy retries
   * timeouts for the method, and the body can be sent again.
   */
  #canRetryTimeout(ex: OutboundExchange): boolean {
    const policy = ex.policy!;
    return ex.retries < policy.attempts && policy.retries(TIMEOUT, 0, ex.req.method) && this.#replayable(ex, TIMEOUT);
  }

  /** Exchange hook: the current try has been in flight past its slow-call threshold: the breaker counts it slow now. */
  trySlow(ex: OutboundExchange): void {
    if (ex.token === 0) return;
    ex.breaker!.record(ex.token, Date.now(), false, true);
    ex.token = 0;
  }

  /**
   * Exchange hook: the upstream answered `status`. The outcome is recorded; true when the
   * answer is to be dropped and the request retried (the exchange then aborts this try and
   * `failed` sends the planned retry), false to relay it.
   */
  upstreamStatus(ex: OutboundExchange, status: number): boolean {
    if (ex.routes === undefined) return false;
    if (ex.hedgeTimer !== undefined) {
      clearTimeout(ex.hedgeTimer);
      ex.hedgeTimer = undefined;
    }
    const failed = status >= 500;
    if (!failed && ex.breaker !== undefined) {
      // A lane that can fall back is not taught by answers slower than its derived threshold:
      // a slowdown cannot make itself normal (docs/resilience.md#defaults).
      const ms = performance.now() - ex.tryStartedAt;
      if (ms <= ex.teachMs) ex.breaker.latency.record(Date.now(), ms);
    }
    this.#judge(ex, failed);
    const race = ex.race;
    if (race !== undefined) {
      // The hedge answered while the try it hedged still runs: a failure waits for that try.
      if (failed && ex.policy!.retriesStatus(status)) {
        ex.planned = RESUME_RACE;
        return true;
      }
      this.#loseRace(ex, race);
      return false;
    }
    if (!ex.policy!.retriesStatus(status)) return false;
    const k = this.#plan(ex, STATUS, status);
    if (k < 0) return false;
    ex.planned = k;
    ex.plannedReason = String(status);
    return true;
  }

  /**
   * Exchange hook: the try failed with `err`. Records the outcome and sends a retry when the
   * policy allows; true when a retry is on its way (the caller answers nothing), false when the
   * caller answers the failure.
   */
  failed(ex: OutboundExchange, err: Error): boolean {
    if (ex.routes === undefined || ex.endpoint === undefined) return false;
    if (ex.hedgeTimer !== undefined) {
      clearTimeout(ex.hedgeTimer);
      ex.hedgeTimer = undefined;
    }
    const race = ex.race;
    if (race !== undefined) {
      ex.planned = -1;
      this.#settle(ex, err);
      this.#resumeRace(ex, race);
      return true;
    }
    if (ex.planned >= 0) {
      const k = ex.planned;
      ex.planned = -1;
      return this.#retry(ex, k, ex.plannedReason);
    }
    const kind = ERRORS[classify(err)].failure;
    if (kind === FailureClass.None) return false;
    this.#judge(ex, true);
    if (ex.res.headersSent) return false; // the answer has started: it can only be cut
    const k = this.#plan(ex, kind, 0);
    if (k < 0) return false;
    return this.#retry(ex, k, KIND_NAMES[kind]);
  }

  /**
   * Exchange hook: the request ended. An unused breaker token is given back — or, when the client
   * gave up after the slow-call threshold, counted as a slow call. Counts a fallback.
   */
  finished(ex: OutboundExchange): void {
    if (ex.hedgeTimer !== undefined) {
      clearTimeout(ex.hedgeTimer);
      ex.hedgeTimer = undefined;
    }
    const race = ex.race;
    if (race !== undefined) {
      ex.race = undefined;
      if (race.token !== 0) race.breaker?.release(race.token);
    }
    if (ex.token !== 0) {
      if (ex.clientClosed && performance.now() - ex.tryStartedAt > ex.slowMs) ex.breaker?.record(ex.token, Date.now(), false, true);
      else ex.breaker?.release(ex.token);
      ex.token = 0;
    }
    const routes = ex.routes;
    if (ex.fallback !== '' && ex.servedColor !== '' && routes !== undefined) {
      const requested = ex.decision!.requested;
      const from = routes.subsets.has(requested) || this.#lanes.has(requested) ? requested : UNKNOWN_COLOR;
      this.#metrics.fallback(routes.name, from, ex.servedColor, ex.fallback);
    }
  }

  /** The current try's outcome → its breaker and its instance's outlier state (once per try). */
  #judge(ex: OutboundExchange, failed: boolean): void {
    if (ex.judged) return;
    ex.judged = true;
    const now = Date.now();
    if (ex.token !== 0) {
      ex.breaker!.record(ex.token, now, failed, performance.now() - ex.tryStartedAt > ex.slowMs);
      ex.token = 0;
    }
    const ep = ex.endpoint!;
    const routes = ex.routes!;
    const od = routes.spec.outlierDetection;
    if (!failed) {
      if (ep.state.consecutiveFailures !== 0 || ep.state.ejections !== 0) outlierSuccess(ep.state, od, now);
      return;
    }
    const verdict = outlierFailure(ep, routes.endpoints, od, now);
    if (verdict === EJECTED) {
      this.#metrics.ejection(routes.name, false);
      this.#log.warn({ upstream: routes.name, endpoint: ep.key, ejections: ep.state.ejections, until: isoTime(ep.state.ejectedUntil) }, 'instance ejected');
    } else if (verdict === CAPPED) {
      this.#metrics.ejection(routes.name, true);
      this.#log.info({ upstream: routes.name, endpoint: ep.key, maxEjectionPercent: od.maxEjectionPercent }, 'instance not ejected: maxEjectionPercent reached');
    }
  }

  /** The candidate a retry after a failure of `kind` goes to, or -1 when it is not retried. */
  #plan(ex: OutboundExchange, kind: FailureKind, status: number): number {
    const policy = ex.policy!;
    if (ex.retries >= policy.attempts || ex.clientClosed) return -1;
    if (!policy.retries(kind, status, ex.req.method)) return -1;
    if (!this.#replayable(ex, kind)) return -1;
    if (policy.tryTimeout(ex.startedAt, performance.now()) === 0) return -1;
    const now = Date.now();
    const tried = (ex.tried ??= new Set<string>());
    tried.add(ex.endpoint!.key);
    const cands = ex.decision!.candidates;
    const isOpen = this.breakers.isOpen;
    let k = nextCandidate(cands, ex.candidate, isOpen, now);
    if (k === ex.candidate && this.#balancer.pick(cands[k], tried, now) === undefined) k = nextCandidate(cands, ex.candidate, isOpen, now, true);
    if (k < 0 || isOpen(cands[k])) return -1;
    // The budget governs retries that send the request again to a lane that already received it;
    // after a connect failure nobody received it, and a later lane never did (docs/resilience.md#retry-budget).
    const resends = kind !== CONNECT_FAILURE && k === ex.candidate;
    if (resends && !this.#budget(ex.routes!).tryRetry(now)) {
      this.#log.debug({ upstream: ex.routes!.name }, 'retry budget spent');
      return -1;
    }
    return k;
  }

  /** True when the request can be sent again after a failure of `kind`. */
  #replayable(ex: OutboundExchange, kind: FailureKind): boolean {
    if (ex.body !== undefined) return true;
    const req = ex.req;
    if (!hasBody(req)) return true;
    return kind === CONNECT_FAILURE && !req.readableDidRead && !req.destroyed;
  }

  /** Sends the retry to `candidates[k]`; false when it could not be sent (the failure is answered). */
  #retry(ex: OutboundExchange, k: number, reason: string): boolean {
    const d = ex.decision!;
    const lane = d.candidates[k].lane;
    const fallback = ex.fallback;
    if (k !== ex.candidate && lane !== d.requested) ex.fallback = 'error';
    if (!this.#send(ex, k)) {
      ex.fallback = fallback;
      return false;
    }
    ex.retries++;
    this.#metrics.retry(ex.routes!.name, reason);
    if (this.#log.isLevelEnabled('debug')) {
      this.#log.debug({ upstream: ex.routes!.name, reason, retry: ex.retries, endpoint: ex.endpoint!.key, lane, trace_id: ex.trace.traceId }, 'retry');
    }
    return true;
  }

  /** The retry budget of a service, made on its first request. */
  #budget(routes: ServiceRoutes): RetryBudget {
    let b = this.#budgets.get(routes.name);
    if (b === undefined) {
      b = new RetryBudget(routes.spec.retry.budgetPercent, this.#budgetOptions);
      this.#budgets.set(routes.name, b);
    }
    return b;
  }

  #transition(t: Transition): void {
    const fields = { upstream: t.breaker.service, subset: t.breaker.lane, from: t.from, to: t.to, cause: t.cause, calls: t.calls, failures: t.failures, slow: t.slow };
    if (t.to === 'open') this.#log.warn(fields, 'circuit opened');
    else this.#log.info(fields, t.to === 'closed' ? 'circuit closed' : 'circuit half-open');
  }
}
