/**
 * The file source's lease: one holder at a time, renewals, takeover after the time to live,
 * release, a torn lock file, and many controllers racing for a stale lock (exactly one wins).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileLease, LEASE_FILE } from '../../../../daemon/sources/file-lease.ts';
import { expectRenewedThenTakenOver } from '../../../support/lease-contract.ts';

let dir: string;
let now: number;
const clock = () => now;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dyeline-lease-'));
  now = 1_000_000;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('file lease', () => {
  it('has one holder; the other sees who holds it', async () => {
    const a = new FileLease(dir, 'a', 15_000, clock);
    const b = new FileLease(dir, 'b', 15_000, clock);
    expect(await a.hold()).toBe(true);
    expect(await b.hold()).toBe(false);
    expect(b.holder).toBe('a');
    expect(JSON.parse(readFileSync(join(dir, LEASE_FILE), 'utf8'))).toEqual({ holder: 'a', renewedAt: 1_000_000, ttlMs: 15_000 });
  });

  it('is kept by renewing and taken over once its holder stops renewing for longer than the time to live', async () => {
    await expectRenewedThenTakenOver(new FileLease(dir, 'a', 15_000, clock), new FileLease(dir, 'b', 15_000, clock), (ms) => (now += ms));
  });

  it('is given up on release so that another takes it at once; a non-holder cannot release it', async () => {
    const a = new FileLease(dir, 'a', 15_000, clock);
    const b = new FileLease(dir, 'b', 15_000, clock);
    await a.hold();
    await b.release();
    expect(await b.hold()).toBe(false);
    await a.release();
    expect(await b.hold()).toBe(true);
  });

  it('takes over a lock file it cannot parse', async () => {
    writeFileSync(join(dir, LEASE_FILE), '{"holder":');
    const a = new FileLease(dir, 'a', 15_000, clock);
    expect(await a.hold()).toBe(true);
  });

  it('says not held, without throwing, when the directory is gone', async () => {
    const a = new FileLease(join(dir, 'missing'), 'a', 15_000, clock);
    expect(await a.hold()).toBe(false);
  });

  it('lets exactly one of many racing controllers take a free or stale lock, and leaves no stray files', async () => {
    for (let round = 0; round < 30; round++) {
      const leases = Array.from({ length: 8 }, (_, i) => new FileLease(dir, `c${round}-${i}`, 15_000, clock));
      const held = await Promise.all(leases.map((l) => l.hold()));
      expect(held.filter(Boolean), `round ${round}`).toHaveLength(1);
      // Every later holder is the one that won; then it goes stale for the next round.
      const winner = leases[held.indexOf(true)]!;
      expect((await Promise.all(leases.map((l) => l.hold()))).filter(Boolean)).toHaveLength(1);
      expect(winner.holder).toBe(`c${round}-${held.indexOf(true)}`);
      now += 20_000;
    }
    expect(await readdir(dir)).toEqual([LEASE_FILE]);
  });
});
