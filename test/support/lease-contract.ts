/**
 * What every source's lease must do (daemon/sources/lease.ts), checked the same way for each:
 * `a` holds a lease of 15 s time to live on a clock the test moves with `advance`.
 */
import { expect } from 'vitest';
import type { Lease } from '../../daemon/sources/lease.ts';

/** `a` keeps the lease by renewing every 10 s; once silent for more than 15 s, `b` takes it. */
export async function expectRenewedThenTakenOver(a: Lease, b: Lease, advance: (ms: number) => void): Promise<void> {
  await a.hold();
  for (let i = 0; i < 5; i++) {
    advance(10_000);
    expect(await a.hold()).toBe(true);
    expect(await b.hold()).toBe(false);
  }
  advance(15_000);
  expect(await b.hold()).toBe(false);
  advance(1);
  expect(await b.hold()).toBe(true);
  expect(await a.hold()).toBe(false);
  expect(a.holder).toBe('b');
}
