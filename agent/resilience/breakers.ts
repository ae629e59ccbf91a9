/**
 * Every circuit breaker of one agent, keyed by (upstream service, lane) so a breaker outlives
 * snapshot recompiles the way EndpointState does. A breaker is made on the first request to its
 * subset (`forSubset`), so memory follows the services this agent calls, not the size of the
 * node-wide snapshot (~2.4 KB per breaker). `bind(table)` — once per new table — re-configures
 * every breaker whose (service, lane) is still there (the Service spec may have changed), maps
 * the new table's Subset objects to it (a WeakMap: the request path finds a breaker by the
 * Subset it holds, no string key built per request), and shuts down the others. Requests still
 * running on an older table keep working: its subsets stay mapped (a shut-down breaker ignores
 * them).
 */
import type { CircuitOpen } from '../routing/router.ts';
import type { RoutingTable, Subset } from '../routing/types.ts';
import { Breaker, type CircuitState, type TransitionListener } from './breaker.ts';

function keyOf(service: string, lane: string): string {
  return `${service}\u0000${lane}`;
}

/** The breakers of one agent. */
export class Breakers {
  readonly #byKey = new Map<string, Breaker>();
  readonly #bySubset = new WeakMap<Subset, Breaker>();
  readonly #listener: TransitionListener | undefined;
  /** The table bound last (specs of breakers made on first use). */
  #table: RoutingTable | undefined = undefined;

  /** @param listener told of every state change of every breaker (logs, metrics). */
  constructor(listener?: TransitionListener) {
    this.#listener = listener;
  }

  /** Follows a newly compiled table: breakers of subsets still there are re-configured and kept. */
  bind(table: RoutingTable): void {
    this.#table = table;
    for (const [key, b] of this.#byKey) {
      const svc = table.service(b.service);
      const subset = svc?.subsets.get(b.lane);
      if (svc === undefined || subset === undefined) {
        b.shutdown();
        this.#byKey.delete(key);
        continue;
      }
      b.configure(svc.spec.circuitBreaker);
      this.#bySubset.set(subset, b);
    }
  }

  /**
   * The breaker of `subset`, made on first use with its service's settings from the table bound
   * last; undefined when no table was bound or it does not know the service.
   */
  forSubset(subset: Subset): Breaker | undefined {
    const known = this.#bySubset.get(subset);
    if (known !== undefined) return known;
    const svc = this.#table?.service(subset.service);
    if (svc === undefined) return undefined;
    const key = keyOf(subset.service, subset.lane);
    let b = this.#byKey.get(key);
    if (b === undefined) {
      b = new Breaker(subset.service, subset.lane, svc.spec.circuitBreaker, this.#listener);
      this.#byKey.set(key, b);
    }
    this.#bySubset.set(subset, b);
    return b;
  }

  /** The breaker of a subset if it has one (never makes one). */
  of(subset: Subset): Breaker | undefined {
    return this.#bySubset.get(subset);
  }

  /** The breaker of (service, lane), if it has one. */
  get(service: string, lane: string): Breaker | undefined {
    return this.#byKey.get(keyOf(service, lane));
  }

  /** Router hook (routing/router.ts CircuitOpen): true when the subset's circuit takes no traffic now (no breaker yet: closed). */
  readonly isOpen: CircuitOpen = (subset) => {
    const b = this.#bySubset.get(subset);
    return b !== undefined && b.isOpen();
  };

  /** /clusters hook: the circuit state of (service, lane); `closed` when unknown. */
  readonly stateOf = (service: string, lane: string): CircuitState => this.#byKey.get(keyOf(service, lane))?.state ?? 'closed';

  /** Every live breaker (for the circuit-state gauge). */
  values(): IterableIterator<Breaker> {
    return this.#byKey.values();
  }

  /** Number of live breakers. */
  get size(): number {
    return this.#byKey.size;
  }

  /** Shuts every breaker down (agent stop). */
  close(): void {
    for (const b of this.#byKey.values()) b.shutdown();
    this.#byKey.clear();
  }
}
