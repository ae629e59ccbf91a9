/**
 * The circuit breaker of one (upstream service, lane) — `Service.spec.circuitBreaker`: opened by
 * the error or the slow-call percentage over a rolling window, half-open probes after the reset
 * timeout. opossum holds the state machine; outcomes are counted here, without its `fire()`
 * (docs/resilience.md#circuit-breaker).
 */
import { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import type { Service } from '../../shared/schema/documents.ts';
import { LatencyProfile } from './latency.ts';
import { RollingWindow } from './window.ts';

/** The breaker settings of a Service spec (defaults applied by the schema). */
export type BreakerSettings = Service['spec']['circuitBreaker'];

/** Circuit state as shown in /clusters (docs/reference.md#agent-endpoints). */
export type CircuitState = 'closed' | 'half-open' | 'open';

/** Circuit state as the `dyeline_circuit_state` gauge value: 0 closed, 1 half-open, 2 open. */
export const CLOSED = 0;
export const HALF_OPEN = 1;
export const OPEN = 2;
const STATE_NAMES: readonly CircuitState[] = ['closed', 'half-open', 'open'];

/** Probe requests a half-open circuit lets through; all must succeed to close it. */
export const HALF_OPEN_PROBES = 3;

/** `admit()` result: the circuit takes no traffic now. Positive results are tokens for `record()`. */
export const REJECTED = 0;
/** `admit()` result for an ordinary call (closed circuit). Probe tokens are larger. */
export const ADMITTED = 1;
const PROBE_BASE = 2;

/** Why a circuit changed state. */
export type TransitionCause = 'error-rate' | 'slow-calls' | 'probe-failed' | 'probes-succeeded' | 'reset-timeout' | 'reset';

/** A state change, for logs and metrics. */
export interface Transition {
  readonly breaker: Breaker;
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly cause: TransitionCause;
  /** Window counts when it opened on error rate or slow calls (else zeros). */
  readonly calls: number;
  readonly failures: number;
  readonly slow: number;
}

/** Receives every state change of a breaker. */
export type TransitionListener = (t: Transition) => void;

// Window fields.
const CALLS = 0;
const FAILURES = 1;
const SLOW = 2;

/**
 * One shared bucket-rotation emitter for every opossum instance: opossum's own Status window is
 * not used here, and giving it an emitter that never fires keeps opossum from starting a
 * rotation timer per breaker (its documented `rotateBucketController` option).
 */
const idleRotation = new EventEmitter();
idleRotation.setMaxListeners(0); // one listener per breaker, removed by its shutdown

function noAction(): Promise<void> {
  return Promise.resolve();
}

/** The circuit of one (service, lane). */
export class Breaker {
  readonly service: string;
  readonly lane: string;
  readonly #cb: CircuitBreaker;
  readonly #listener: TransitionListener | undefined;
  #settings: BreakerSettings;
  #window: RollingWindow;
  /** Mirrors opossum's state: CLOSED, HALF_OPEN or OPEN. */
  #state = CLOSED;
  /** Bumped on every transition, so late outcomes of an earlier phase are ignored. */
  #generation = 0;
  /** Probes handed out in this half-open phase (minus released ones). */
  #probes = 0;
  #probeSuccesses = 0;
  /** Cause of the transition in progress (read by the opossum event handlers). */
  #cause: TransitionCause = 'reset';
  #calls = 0;
  #failures = 0;
  #slow = 0;
  #dead = false;

  /**
   * @param settings the Service's `circuitBreaker` (schema defaults applied).
   * @param listener told of every state change (logs, metrics).
   */
  constructor(service: string, lane: string, settings: BreakerSettings, listener?: TransitionListener) {
    this.service = service;
    this.lane = lane;
    this.#settings = settings;
    this.#listener = listener;
    this.#window = new RollingWindow(3, settings.windowMs);
    this.#cb = new CircuitBreaker(noAction, {
      name: `${service}/${lane}`,
      timeout: false,
      resetTimeout: settings.resetTimeoutMs,
      rollingCountTimeout: settings.windowMs,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      rotateBucketController: idleRotation,
    });
    this.#cb.on('open', () => this.#moved(OPEN));
    this.#cb.on('halfOpen', () => {
      this.#cause = 'reset-timeout';
      this.#moved(HALF_OPEN);
    });
    this.#cb.on('close', () => this.#moved(CLOSED));
  }

  /**
   * The lane's observed latency (latency.ts): the slow-call threshold when the Service sets no
   * `slowCallMs`, and the per-try timeout it derives, come from it (resilience-loop.ts).
   */
  readonly latency = new LatencyProfile();

  /** The current state. */
  get state(): CircuitState {
    return STATE_NAMES[this.#state];
  }

  /** The current state as the gauge value (0 closed, 1 half-open, 2 open). */
  get stateValue(): number {
    return this.#state;
  }

  /** The settings in use. */
  get settings(): BreakerSettings {
    return this.#settings;
  }

  /**
   * True when the circuit takes no traffic now: open, or half-open with every probe handed
   * out. A half-open circuit that can still admit a probe answers false (router hook).
   */
  isOpen(): boolean {
    const s = this.#state;
    return s === OPEN || (s === HALF_OPEN && this.#probes >= HALF_OPEN_PROBES);
  }

  /**
   * Claims a call: ADMITTED when closed, a probe token when half-open with a probe left,
   * REJECTED otherwise. Every non-REJECTED token must end in exactly one `record()` or `release()`.
   */
  admit(): number {
    const s = this.#state;
    if (s === CLOSED) return ADMITTED;
    if (s === OPEN || this.#probes >= HALF_OPEN_PROBES) return REJECTED;
    this.#probes++;
    return PROBE_BASE + this.#generation;
  }

  /**
   * The outcome of an admitted call.
   *
   * @param token what `admit()` returned.
   * @param now epoch ms of the outcome (window time).
   * @param failed true for a 5xx answer, connect failure, reset or timeout.
   * @param slow true when the call took longer than the slow-call threshold (`slowCallMs`, or the
   *   one derived from the lane's latency): to its answer head or failure, or still in flight,
   *   or when the client gave up past it.
   */
  record(token: number, now: number, failed: boolean, slow: boolean): void {
    if (token === REJECTED || this.#dead) return;
    if (token === ADMITTED) {
      if (this.#state !== CLOSED) return; // admitted before the circuit opened: no say any more
      const w = this.#window;
      w.add(now, CALLS);
      if (failed) w.add(now, FAILURES);
      if (slow) w.add(now, SLOW);
      if (failed || slow) this.#check(now);
      return;
    }
    if (this.#state !== HALF_OPEN || token - PROBE_BASE !== this.#generation) return; // a probe of an earlier phase
    if (failed || slow) {
      this.#trip('probe-failed', 0, 0, 0);
      return;
    }
    this.#probeSuccesses++;
    if (this.#probeSuccesses >= HALF_OPEN_PROBES) {
      this.#cause = 'probes-succeeded';
      this.#cb.close();
    }
  }

  /** Gives back a token whose call ended without a verdict (the client went away). */
  release(token: number): void {
    if (token >= PROBE_BASE && this.#state === HALF_OPEN && token - PROBE_BASE === this.#generation && this.#probes > 0) this.#probes--;
  }

  /** Applies new settings (a snapshot changed the Service spec); the state is kept. */
  configure(settings: BreakerSettings): void {
    const old = this.#settings;
    if (sameSettings(old, settings)) return;
    this.#settings = settings;
    if (settings.windowMs !== old.windowMs) this.#window = new RollingWindow(3, settings.windowMs);
    // opossum reads options.resetTimeout each time it arms the reset timer.
    (this.#cb as unknown as { options: { resetTimeout: number } }).options.resetTimeout = settings.resetTimeoutMs;
  }

  /** Closes the circuit by hand (tests, admin) and empties the window. */
  reset(): void {
    this.#cause = 'reset';
    this.#cb.close();
    this.#window.clear();
  }

  /** Stops the breaker (its service or lane left the snapshot): timers cleared, outcomes ignored. */
  shutdown(): void {
    this.#dead = true;
    this.#cb.shutdown();
  }

  /** Window counts at `now`: calls, failures, slow calls. */
  counts(now: number): { calls: number; failures: number; slow: number } {
    const w = this.#window;
    return { calls: w.total(now, CALLS), failures: w.total(now, FAILURES), slow: w.total(now, SLOW) };
  }

  #check(now: number): void {
    const s = this.#settings;
    const w = this.#window;
    const calls = w.total(now, CALLS);
    if (calls < s.volumeThreshold) return;
    const failures = w.total(now, FAILURES);
    const slow = w.total(now, SLOW);
    if (failures * 100 >= s.errorThresholdPercentage * calls) this.#trip('error-rate', calls, failures, slow);
    else if (slow * 100 >= s.slowCallPercentage * calls) this.#trip('slow-calls', calls, failures, slow);
  }

  #trip(cause: TransitionCause, calls: number, failures: number, slow: number): void {
    this.#cause = cause;
    this.#calls = calls;
    this.#failures = failures;
    this.#slow = slow;
    this.#cb.open();
  }

  /** opossum changed state (open, halfOpen or close event). */
  #moved(to: number): void {
    const from = this.#state;
    if (from === to || this.#dead) return;
    this.#state = to;
    this.#generation++;
    this.#probes = 0;
    this.#probeSuccesses = 0;
    if (to === CLOSED) this.#window.clear();
    const cause = this.#cause;
    const t: Transition = { breaker: this, from: STATE_NAMES[from], to: STATE_NAMES[to], cause, calls: this.#calls, failures: this.#failures, slow: this.#slow };
    this.#calls = this.#failures = this.#slow = 0;
    this.#cause = 'reset';
    if (this.#listener !== undefined) {
      try {
        this.#listener(t);
      } catch {
        // A listener (log, metric) never breaks the breaker.
      }
    }
  }
}

function sameSettings(a: BreakerSettings, b: BreakerSettings): boolean {
  return (
    a === b ||
    (a.errorThresholdPercentage === b.errorThresholdPercentage &&
      a.volumeThreshold === b.volumeThreshold &&
      a.windowMs === b.windowMs &&
      a.resetTimeoutMs === b.resetTimeoutMs &&
      a.slowCallMs === b.slowCallMs &&
      a.slowCallPercentage === b.slowCallPercentage)
  );
}
