import { describe, expect, it } from 'vitest';
import { P2CBalancer } from '../../../../agent/routing/balancer.ts';
import { compileSnapshot } from '../../../../agent/routing/compile.ts';
import { EndpointStates } from '../../../../agent/routing/endpoint-states.ts';
import type { Endpoint, Subset } from '../../../../agent/routing/types.ts';
import { buildSnapshot, instance, seededRandom } from '../../../support/snapshot-builder.ts';

function subsetOf(weights: number[]): Subset {
  const t = compileSnapshot(
    buildSnapshot(weights.map((w, i) => instance(`i${i}`, 'orders', `10.0.0.${i + 1}`, { weight: w }))),
    new EndpointStates(),
  );
  return t.service('orders')!.subsets.get('stable')!;
}

describe('P2CBalancer', () => {
  it('spreads an idle subset by weight', () => {
    const s = subsetOf([100, 300]);
    const b = new P2CBalancer(seededRandom(3));
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const ep = b.pick(s, undefined, 0)!;
      counts.set(ep.name, (counts.get(ep.name) ?? 0) + 1);
    }
    const share = (counts.get('i1') ?? 0) / 4000;
    expect(share).toBeGreaterThan(0.7);
    expect(share).toBeLessThan(0.8);
  });

  it('prefers the endpoint with fewer requests in flight per weight', () => {
    const s = subsetOf([100, 100]);
    s.endpoints[0].state.inflight = 5;
    const b = new P2CBalancer(seededRandom(4));
    for (let i = 0; i < 100; i++) expect(b.pick(s, undefined, 0)!.name).toBe('i1');
    const w = subsetOf([100, 400]);
    w.endpoints[0].state.inflight = 1;
    w.endpoints[1].state.inflight = 3; // 3/400 < 1/100
    for (let i = 0; i < 100; i++) expect(new P2CBalancer(seededRandom(i)).pick(w, undefined, 0)!.name).toBe('i1');
  });

  it('skips ejected and excluded endpoints, and answers undefined when none is left', () => {
    const s = subsetOf([100, 100, 100, 100]);
    const b = new P2CBalancer(seededRandom(5));
    s.endpoints[0].state.ejectedUntil = 1000;
    s.endpoints[1].state.ejectedUntil = 1000;
    const exclude = new Set([s.endpoints[2].key]);
    for (let i = 0; i < 50; i++) expect(b.pick(s, exclude, 999)!.name).toBe('i3');
    expect(b.pick(s, new Set([s.endpoints[2].key, s.endpoints[3].key]), 999)).toBeUndefined();
    // Ejection over.
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(b.pick(s, undefined, 1000)!.name);
    expect(seen).toEqual(new Set(['i0', 'i1', 'i2', 'i3']));
    const one = subsetOf([100]);
    expect(b.pick(one, undefined, 0)!.name).toBe('i0');
    expect(b.pick(one, new Set([one.endpoints[0].key]), 0)).toBeUndefined();
  });

  it('beats round-robin under uneven latency (deterministic simulation)', () => {
    // Four instances, one ten times slower; each serves one request at a time (FIFO queue).
    // Requests arrive every 0.4 time units: 75% of the fleet's capacity.
    const serviceTime = [1, 1, 1, 10];
    function simulate(pick: (s: Subset) => Endpoint): { mean: number; p99: number } {
      const s = subsetOf([100, 100, 100, 100]);
      const freeAt = [0, 0, 0, 0];
      const finishing: { at: number; ep: Endpoint }[] = [];
      const latencies: number[] = [];
      for (let i = 0; i < 5000; i++) {
        const now = i * 0.4;
        // Complete what has finished by now (bounded by the number of requests sent).
        for (let k = finishing.length - 1; k >= 0; k--) {
          if (finishing[k].at <= now) {
            finishing[k].ep.state.inflight--;
            finishing.splice(k, 1);
          }
        }
        const ep = pick(s);
        const idx = s.endpoints.indexOf(ep);
        const start = Math.max(now, freeAt[idx]);
        const done = start + serviceTime[idx];
        freeAt[idx] = done;
        ep.state.inflight++;
        finishing.push({ at: done, ep });
        latencies.push(done - now);
      }
      latencies.sort((a, b) => a - b);
      return { mean: latencies.reduce((a, b) => a + b, 0) / latencies.length, p99: latencies[Math.floor(latencies.length * 0.99)] };
    }
    let rr = 0;
    const roundRobin = simulate((s) => s.endpoints[rr++ % s.endpoints.length]);
    const p2c = new P2CBalancer(seededRandom(11));
    const twoChoices = simulate((s) => p2c.pick(s, undefined, 0)!);
    expect(twoChoices.mean).toBeLessThan(roundRobin.mean / 10);
    expect(twoChoices.p99).toBeLessThan(roundRobin.p99 / 10);
    expect(twoChoices.mean).toBeLessThan(3);
  });
});
