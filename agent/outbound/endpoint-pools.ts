/**
 * The pool registry: one undici Pool per endpoint key (`address:port`), created on first use,
 * keep-alive, pipelining 1. Pools of endpoints the snapshot knows are closed when the endpoint
 * leaves the snapshot (`retain`); pools of passed-through hosts once they hold no connection
 * (checked every `sweepMs`). Closing a pool lets its in-flight requests finish.
 */
import { Pool, type PoolOptions } from '../forward/pool.ts';
import type { Logger } from '../../shared/log.ts';
import type { Endpoint, RoutingTable } from '../routing/types.ts';

/** Pool settings; every field has a default. */
export interface PoolSettings {
  /** Connect timeout in ms (default 3000). */
  connectTimeoutMs?: number;
  /** Idle keep-alive time of an upstream connection in ms when the upstream states none (default 4000). */
  keepAliveMs?: number;
  /** How often idle pass-through pools are closed, in ms (default 30000). */
  sweepMs?: number;
}

/** `http://host:port` of a host/port pair (IPv6 hosts bracketed). */
function origin(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}

/** The outbound pools of one agent, by endpoint key. */
export class EndpointPools {
  readonly #known = new Map<string, Pool>();
  readonly #passthrough = new Map<string, Pool>();
  readonly #options: PoolOptions;
  readonly #log: Logger;
  readonly #sweep: NodeJS.Timeout;

  constructor(log: Logger, settings: PoolSettings = {}) {
    this.#log = log;
    this.#options = {
      pipelining: 1,
      connectTimeout: settings.connectTimeoutMs ?? 3000,
      keepAliveTimeout: settings.keepAliveMs ?? 4000,
      keepAliveMaxTimeout: 600_000,
    };
    this.#sweep = setInterval(() => this.#closeIdlePassthrough(), settings.sweepMs ?? 30_000);
    this.#sweep.unref();
  }

  /** The pool of an endpoint of the snapshot. */
  endpoint(ep: Endpoint): Pool {
    return this.#pool(this.#known, ep.key, ep.address, ep.port);
  }

  /** The pool of a host passed through as given (resolved by DNS). `key` is `host:port`. */
  passthrough(key: string, host: string, port: number): Pool {
    return this.#pool(this.#passthrough, key, host, port);
  }

  #pool(pools: Map<string, Pool>, key: string, host: string, port: number): Pool {
    let p = pools.get(key);
    if (p === undefined) {
      p = new Pool(origin(host, port), this.#options);
      pools.set(key, p);
    }
    return p;
  }

  /** Closes the pools of endpoints `table` no longer names (in-flight requests finish first). */
  retain(table: RoutingTable): void {
    if (this.#known.size === 0) return;
    const keep = new Set<string>();
    for (const svc of table.services()) for (const ep of svc.endpoints) keep.add(ep.key);
    for (const [key, pool] of this.#known) {
      if (keep.has(key)) continue;
      this.#known.delete(key);
      pool.close().catch((err: unknown) => this.#log.warn({ err, endpoint: key }, 'closing an upstream pool failed'));
    }
  }

  /** Number of open pools (known endpoints, pass-through hosts). */
  get size(): { known: number; passthrough: number } {
    return { known: this.#known.size, passthrough: this.#passthrough.size };
  }

  #closeIdlePassthrough(): void {
    for (const [key, pool] of this.#passthrough) {
      const s = pool.stats;
      if (s.connected > 0 || s.pending > 0 || s.running > 0) continue;
      this.#passthrough.delete(key);
      pool.close().catch(() => {});
    }
  }

  /** Closes every pool, letting in-flight requests finish. */
  async close(): Promise<void> {
    clearInterval(this.#sweep);
    const all = [...this.#known.values(), ...this.#passthrough.values()];
    this.#known.clear();
    this.#passthrough.clear();
    await Promise.allSettled(all.map((p) => p.close()));
  }
}
