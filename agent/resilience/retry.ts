/**
 * Retry policy of one upstream service — `Service.spec.retry` and `timeoutMs`, compiled once per
 * spec: which failures and statuses are retried for which methods, the per-try timeout within the
 * overall deadline, and which subset a retry goes to (docs/resilience.md#which-failures-may-be-sent-again).
 */
import { STABLE } from '../../shared/color.ts';
import { FailureClass } from '../../shared/errors.ts';
import type { Service } from '../../shared/schema/documents.ts';
import type { CircuitOpen } from '../routing/router.ts';
import { hasAvailable } from '../routing/balancer.ts';
import type { Subset } from '../routing/types.ts';

/** How a try failed: the failure classes of the error catalogue (shared/errors.ts), or an answer. */
export const CONNECT_FAILURE = FailureClass.NeverReached;
export const RESET = FailureClass.MaybeReached;
export const TIMEOUT = FailureClass.Timeout;
/** The upstream answered with a status the policy may retry (see `retriesStatus`). */
export const STATUS = 4;
export type FailureKind = typeof CONNECT_FAILURE | typeof RESET | typeof TIMEOUT | typeof STATUS;

const ON_CONNECT = 1;
const ON_RESET = 2;
const ON_TIMEOUT = 4;
const ON_5XX = 8;
const ON_GATEWAY = 16;

/** True for the methods RFC 9110 calls idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE). */
export function isIdempotent(method: string | undefined): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'TRACE':
    case 'PUT':
    case 'DELETE':
      return true;
    default:
      return false;
  }
}

/** A Service's retry settings, compiled. */
export class RetryPolicy {
  /** Retries after the first try. */
  readonly attempts: number;
  /** Timeout of one try, ms. */
  readonly perTryTimeoutMs: number;
  /** True when the Service sets `perTryTimeoutMs` (else the loop may derive one: latency.ts). */
  readonly perTryConfigured: boolean;
  /** Overall deadline of the request, retries included, ms. */
  readonly timeoutMs: number;
  /** Retry budget share, percent. */
  readonly budgetPercent: number;
  readonly #on: number;
  /** Status codes retried (index = status), besides the `5xx` / `gateway-error` classes. */
  readonly #codes: Uint8Array;

  constructor(spec: Service['spec']) {
    const r = spec.retry;
    this.attempts = r.attempts;
    this.timeoutMs = spec.timeoutMs;
    this.perTryTimeoutMs = Math.min(r.perTryTimeoutMs ?? spec.timeoutMs, spec.timeoutMs);
    this.perTryConfigured = r.perTryTimeoutMs !== undefined;
    this.budgetPercent = r.budgetPercent;
    let on = 0;
    const codes = new Uint8Array(600);
    for (const c of r.on) {
      switch (c) {
        case 'connect-failure': on |= ON_CONNECT; break;
        case 'reset': on |= ON_RESET; break;
        case 'timeout': on |= ON_TIMEOUT; break;
        case '5xx': on |= ON_5XX | ON_CONNECT | ON_RESET | ON_TIMEOUT; break;
        case 'gateway-error': on |= ON_GATEWAY | ON_CONNECT | ON_RESET | ON_TIMEOUT; break;
        default: codes[Number(c)] = 1;
      }
    }
    this.#on = on;
    this.#codes = codes;
  }

  /** True when an answer with `status` is a failure this policy retries. */
  retriesStatus(status: number): boolean {
    if (status < 100 || status > 599) return false;
    if (this.#codes[status] === 1) return true;
    if (status >= 500 && (this.#on & ON_5XX) !== 0) return true;
    return (status === 502 || status === 503 || status === 504) && (this.#on & ON_GATEWAY) !== 0;
  }

  /**
   * True when a try that failed with `kind` (and `status` for STATUS) may be retried for a
   * request with `method`, attempts left aside. Non-idempotent methods: connect failures only.
   */
  retries(kind: FailureKind, status: number, method: string | undefined): boolean {
    switch (kind) {
      case CONNECT_FAILURE:
        return (this.#on & ON_CONNECT) !== 0;
      case RESET:
        return (this.#on & ON_RESET) !== 0 && isIdempotent(method);
      case TIMEOUT:
        return (this.#on & ON_TIMEOUT) !== 0 && isIdempotent(method);
      default:
        return this.retriesStatus(status) && isIdempotent(method);
    }
  }

  /**
   * Timeout of the next try at `now` for a request that started at `startedAt` (same clock):
   * the per-try timeout, or what is left of the overall deadline when less; 0 when it is spent.
   */
  tryTimeout(startedAt: number, now: number): number {
    const left = this.timeoutMs - (now - startedAt);
    if (left <= 0) return 0;
    return left < this.perTryTimeoutMs ? Math.ceil(left) : this.perTryTimeoutMs;
  }
}

const policies = new WeakMap<Service['spec'], RetryPolicy>();

/** The compiled policy of a Service spec (memoised per spec object, i.e. once per snapshot). */
export function retryPolicy(spec: Service['spec']): RetryPolicy {
  let p = policies.get(spec);
  if (p === undefined) {
    p = new RetryPolicy(spec);
    policies.set(spec, p);
  }
  return p;
}

/**
 * Index in `candidates` of the subset the retry after a failure on `candidates[from]` goes to,
 * or -1 when none can take it:
 * - after a failure on a lane other than stable (a canary), the next subset of the chain that
 *   has an instance and a circuit that is not open — the fallback lane (`x-dyeline-fallback:
 *   error` when it is not the requested lane); failing that, the same subset;
 * - after a failure on stable (or with no fallback left), the same subset — the caller picks a
 *   different instance there (balancer `exclude`); when it has none left, the caller asks
 *   again with `sameExhausted` and gets the next subset of the chain.
 */
export function nextCandidate(
  candidates: readonly Subset[],
  from: number,
  isOpen: CircuitOpen | undefined,
  now: number,
  sameExhausted: boolean = false,
): number {
  const moveOn = sameExhausted || candidates[from].lane !== STABLE;
  if (moveOn) {
    for (let k = from + 1; k < candidates.length; k++) {
      const s = candidates[k];
      if (hasAvailable(s, now) && (isOpen === undefined || !isOpen(s))) return k;
    }
  }
  return sameExhausted ? -1 : from;
}
