import { describe, expect, it } from 'vitest';
import { RollingWindow } from '../../../../agent/resilience/window.ts';

describe('RollingWindow', () => {
  it('sums counts inside the window and drops them bucket by bucket as time moves on', () => {
    const w = new RollingWindow(2, 1000, 10); // 100 ms buckets
    w.add(0, 0);
    w.add(50, 0);
    w.add(150, 0, 3);
    w.add(150, 1);
    expect(w.total(150, 0)).toBe(5);
    expect(w.total(150, 1)).toBe(1);
    // At 999 everything is still inside; at 1000 the first bucket [0,100) leaves.
    expect(w.total(999, 0)).toBe(5);
    expect(w.total(1000, 0)).toBe(3);
    expect(w.total(1100, 0)).toBe(0);
    expect(w.total(1100, 1)).toBe(0);
  });

  it('forgets everything after a gap longer than the window', () => {
    const w = new RollingWindow(1, 1000, 10);
    for (let t = 0; t < 1000; t += 10) w.add(t, 0);
    expect(w.total(999, 0)).toBe(100);
    expect(w.total(50_000, 0)).toBe(0);
    w.add(50_000, 0);
    expect(w.total(50_001, 0)).toBe(1);
  });

  it('counts a clock step back in the newest bucket and clears on demand', () => {
    const w = new RollingWindow(1, 1000, 10);
    w.add(5000, 0);
    w.add(4000, 0);
    expect(w.total(5000, 0)).toBe(2);
    w.clear();
    expect(w.total(5000, 0)).toBe(0);
  });

  it('keeps a steady rate steady (sliding, not tumbling)', () => {
    const w = new RollingWindow(1, 1000, 10);
    // 1 per ms for 5 s: once full, the window always holds between 900 and 1000.
    for (let t = 0; t < 5000; t++) {
      w.add(t, 0);
      if (t >= 1000) {
        const n = w.total(t, 0);
        expect(n).toBeGreaterThanOrEqual(900);
        expect(n).toBeLessThanOrEqual(1000);
      }
    }
  });

  it('rejects nonsense sizes', () => {
    expect(() => new RollingWindow(0, 1000)).toThrow(RangeError);
    expect(() => new RollingWindow(1, 0)).toThrow(RangeError);
  });
});
