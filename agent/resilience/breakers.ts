/**
 * Every circuit breaker of one agent, keyed by (upstream service, lane) so a breaker outlives
 * snapshot recompiles the way EndpointState does: `bind(table)` — called once per new table —
 * finds or creates the breaker of each subset, re-configures it when the Service spec changed,
 * maps the table's Subset objects to it (a WeakMap: the request path looks a breaker up by
 * the Subset it holds, no string keys built per request), and shuts down breakers whose
 * (service, lane) left the snapshot. Requests still running on an older table keep working:
 * its subsets stay mapped (to the shut-down breaker, which ignores them).
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

  /** @param listener told of every state change of every breaker (logs, metrics). */
  constructor(listener?: TransitionListener) {
    this.#listener = listener;
  }

  /** Binds a newly compiled table: one breaker per subset, settings from its Service spec. */
  bind(table: RoutingTable): void {
    const keep = new Set<string>();
    for (const svc of table.services()) {
      for (const subset of svc.subsets.values()) {
        const key = keyOf(svc.name, subset.lane);
        keep.add(key);
        let b = this.#byKey.get(key);
        if (b === undefined) {
          b = new Breaker(svc.name, subset.lane, svc.spec.circuitBreaker, this.#listener);
          this.#byKey.set(key, b);
        } else {
          b.configure(svc.spec.circuitBreaker);
        }
        this.#bySubset.set(subset, b);
      }
    }
    for (const [key, b] of this.#byKey) {
      if (keep.has(key)) continue;
      b.shutdown();
      this.#byKey.delete(key);
    }
  }

  /** The breaker of a subset of a bound table (undefined for a table never bound). */
  of(subset: Subset): Breaker | undefined {
    return this.#bySubset.get(subset);
  }

  /** The breaker of (service, lane), if any. */
  get(service: string, lane: string): Breaker | undefined {
    return this.#byKey.get(keyOf(service, lane));
  }

  /** Router hook (routing/router.ts CircuitOpen): true when the subset's circuit takes no traffic now. */
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
