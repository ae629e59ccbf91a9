/**
 * The registry of live per-instance state (in-flight count, ejection), keyed by `address:port`.
 * It outlives routing tables: each compiled table's endpoints point at the registry's state
 * objects, so a snapshot reload keeps the load and ejection of every instance that is still
 * there. After a swap, `prune(table)` drops the state of instances the new table no longer
 * names (requests still running on an older table keep their own references).
 */
import type { EndpointState, RoutingTable } from './types.ts';

/** `address:port`, IPv6 addresses in brackets (the Endpoint key format). */
export function endpointKey(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A fresh state: nothing in flight, not ejected. */
export function newEndpointState(key: string): EndpointState {
  return { key, inflight: 0, ejectedUntil: 0, consecutiveFailures: 0, ejections: 0 };
}

/** Live endpoint state by key; shared by every table compiled against it. */
export class EndpointStates {
  readonly #states = new Map<string, EndpointState>();

  /** The state of `key`, created (fresh) on first use. */
  get(key: string): EndpointState {
    let s = this.#states.get(key);
    if (s === undefined) {
      s = newEndpointState(key);
      this.#states.set(key, s);
    }
    return s;
  }

  /** The state of `key` if it exists; never creates one. */
  peek(key: string): EndpointState | undefined {
    return this.#states.get(key);
  }

  /** Number of states held. */
  get size(): number {
    return this.#states.size;
  }

  /** Drops every state `table` does not reference; returns how many were dropped. */
  prune(table: RoutingTable): number {
    const keep = new Set<string>();
    for (const svc of table.services()) for (const ep of svc.endpoints) keep.add(ep.key);
    let dropped = 0;
    for (const key of this.#states.keys()) {
      if (!keep.has(key)) {
        this.#states.delete(key);
        dropped++;
      }
    }
    return dropped;
  }
}
