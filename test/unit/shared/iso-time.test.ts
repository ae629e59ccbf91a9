/**
 * shared/iso-time.ts writes what `Date.prototype.toISOString` writes, for every millisecond a
 * process can meet and the calendar's edges (leap days, centuries, before 1970, the four-digit
 * year's limits), and hands anything else to `toISOString` itself. The agent and the daemon
 * stamp times through it only.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isoNow, isoTime } from '../../../shared/iso-time.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const iso = (ms: number) => new Date(ms).toISOString();

describe('isoTime', () => {
  it('matches toISOString at the calendar\'s edges', () => {
    const dates = [
      '1970-01-01T00:00:00.000Z', '1969-12-31T23:59:59.999Z', '2000-02-29T12:34:56.789Z', '2000-03-01T00:00:00.000Z',
      '1900-02-28T23:59:59.999Z', '1900-03-01T00:00:00.000Z', '2100-03-01T00:00:00.001Z', '2024-12-31T23:59:59.999Z',
      '2025-01-01T00:00:00.000Z', '0001-01-01T00:00:00.000Z', '0999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z',
      '1600-02-29T00:00:00.000Z', '0004-02-29T06:07:08.009Z',
    ];
    for (const d of dates) {
      const ms = Date.parse(d);
      expect(isoTime(ms), d).toBe(d);
      expect(isoTime(ms), d).toBe(iso(ms));
    }
  });

  it('matches toISOString for every day of four centuries and random milliseconds', () => {
    const start = Date.parse('1800-01-01T00:00:00.000Z');
    for (let day = 0; day < 146097 * 1.1; day += 1) {
      const ms = start + day * 86400000 + ((day * 7919) % 86400000);
      if (isoTime(ms) !== iso(ms)) expect(isoTime(ms)).toBe(iso(ms));
    }
    for (let i = 0; i < 100_000; i++) {
      const ms = Math.floor((Math.random() * 2 - 1) * 8.64e15) % 253402300800000;
      if (isoTime(ms) !== iso(ms)) expect(isoTime(ms)).toBe(iso(ms));
    }
  });

  it('leaves six-digit years and fractions of a millisecond to toISOString', () => {
    for (const ms of [253402300800000, -62135596800001, 8.64e15, -8.64e15, 1.5, -0.5]) expect(isoTime(ms)).toBe(iso(ms));
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
  });

  it('isoNow is now', () => {
    const before = Date.now();
    const now = Date.parse(isoNow());
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });
});

it('the agent and the daemon stamp times through isoTime, never toISOString (docs/footprint.md#what-was-done-idle)', () => {
  const offenders: string[] = [];
  for (const dir of ['agent', 'daemon', 'shared']) {
    for (const f of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })) {
      if (!f.endsWith('.ts') || f === 'iso-time.ts') continue;
      const path = join(ROOT, dir, f);
      if (readFileSync(path, 'utf8').includes('.toISOString(')) offenders.push(relative(ROOT, path));
    }
  }
  expect(offenders).toEqual([]);
});
