import { describe, expect, it } from 'vitest';
import { LaneMemory } from '../../../../agent/propagation/lane-memory.ts';

const id = (n: number) => n.toString(16).padStart(32, '0');

describe('LaneMemory', () => {
  it('recalls the colour a trace arrived with, within the window only', () => {
    let now = 1000;
    const m = new LaneMemory(4, 500, () => now);
    expect(m.recall(id(1))).toBeUndefined();
    m.remember(id(1), 'canary');
    m.remember(id(2), 'blue');
    expect([m.recall(id(1)), m.recall(id(2)), m.recall(id(3))]).toEqual(['canary', 'blue', undefined]);
    now += 500;
    expect(m.recall(id(1))).toBe('canary');
    now += 1;
    expect(m.recall(id(1))).toBeUndefined();
  });

  it('holds at most `capacity` traces, dropping the one seen longest ago', () => {
    const m = new LaneMemory(3, 60_000, () => 0);
    for (let i = 1; i <= 3; i++) m.remember(id(i), `c${i}`);
    // Seeing trace 1 again makes it the newest: trace 2 is now the oldest.
    m.remember(id(1), 'c1');
    m.remember(id(4), 'c4');
    expect([1, 2, 3, 4].map((i) => m.recall(id(i)))).toEqual(['c1', undefined, 'c3', 'c4']);
    for (let i = 5; i < 1000; i++) m.remember(id(i), `c${i}`);
    expect(m.size).toBe(3);
    expect([996, 997, 998, 999].map((i) => m.recall(id(i)))).toEqual([undefined, 'c997', 'c998', 'c999']);
  });

  it('takes the latest colour of a trace seen again, and its window starts again', () => {
    let now = 0;
    const m = new LaneMemory(8, 100, () => now);
    m.remember(id(7), 'canary');
    now = 90;
    m.remember(id(7), 'blue');
    now = 150;
    expect(m.recall(id(7))).toBe('blue');
    expect(m.size).toBe(1);
  });
});
