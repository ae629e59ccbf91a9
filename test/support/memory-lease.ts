/**
 * A lease held in memory (tests, and a controller that is alone by construction): controllers
 * sharing one `MemoryLeaseTable` compete for it as they would for a source's lease.
 */
import type { Lease } from '../../daemon/sources/lease.ts';

/** The shared state several MemoryLeases compete for. */
export class MemoryLeaseTable {
  holder: string | undefined;
  renewedAt = -Infinity;
}

/** One controller's handle on a MemoryLeaseTable. */
export class MemoryLease implements Lease {
  readonly #table: MemoryLeaseTable;
  readonly #identity: string;
  readonly #ttlMs: number;
  readonly #clock: () => number;

  constructor(table: MemoryLeaseTable, identity: string, ttlMs: number, clock: () => number = Date.now) {
    this.#table = table;
    this.#identity = identity;
    this.#ttlMs = ttlMs;
    this.#clock = clock;
  }

  get holder(): string | undefined {
    return this.#table.holder;
  }

  async hold(): Promise<boolean> {
    const now = this.#clock();
    const t = this.#table;
    if (t.holder === undefined || t.holder === this.#identity || now - t.renewedAt > this.#ttlMs) {
      t.holder = this.#identity;
      t.renewedAt = now;
      return true;
    }
    return false;
  }

  async release(): Promise<void> {
    if (this.#table.holder === this.#identity) this.#table.holder = undefined;
  }
}
