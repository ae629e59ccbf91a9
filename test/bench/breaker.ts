/**
 * What recording one request outcome in a circuit breaker costs, three ways:
 *   1. opossum `fire()`: each request wrapped in a promise the exchange resolves when it ends
 *      (how opossum is meant to be used);
 *   2. opossum fed by events: `emit('fire')` + `emit('success' | 'failure')` into its Status
 *      window, plus its stats reduce on every failure (what `fire()` does to decide);
 *   3. dyeline's Breaker (agent/resilience/breaker.ts): opossum keeps the state machine,
 *      outcomes go to a bucketed counter window — `admit()` + `record()`.
 * and what the timings derived per try cost (agent/resilience/latency.ts): the lane's answer
 * recorded into its latency, then `derivedTimeoutMs` from the lane alone (a lane with nothing to
 * fall back to), and from the lane and its fallback lane (docs/resilience.md#defaults).
 * Each runs N outcomes with 1 % failures (never enough to open), after a warm-up round, timed,
 * with the heap growth over the run.
 *
 *   node --expose-gc test/bench/breaker.ts [N=1000000]
 */
import { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import { Breaker } from '../../agent/resilience/breaker.ts';
import { derivedTimeoutMs, LatencyProfile } from '../../agent/resilience/latency.ts';
import { CircuitBreakerSpec } from '../../shared/schema/documents.ts';
import { machine } from './machine.ts';

const N = Number(process.argv[2] ?? 1_000_000);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const settings = CircuitBreakerSpec.parse({ volumeThreshold: 20, errorThresholdPercentage: 50 });
const opossumOptions = {
  timeout: false as const,
  resetTimeout: 10_000,
  rollingCountTimeout: 10_000,
  errorThresholdPercentage: 50,
  volumeThreshold: 20,
  rollingPercentilesEnabled: false,
  enableSnapshots: false,
  rotateBucketController: new EventEmitter(),
};

async function measure(name: string, run: () => Promise<void> | void): Promise<void> {
  await run(); // warm-up: JIT and first allocations out of the figures
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  await run();
  const ms = performance.now() - t0;
  const heap = process.memoryUsage().heapUsed - heap0;
  console.log(`${name.padEnd(52)} ${((ms * 1e6) / N).toFixed(0).padStart(6)} ns/outcome   heap +${(heap / 2 ** 20).toFixed(1)} MiB`);
}

console.log(machine());
console.log(`${N} outcomes, 1 % failures\n`);

// 1. fire(): a deferred promise per request, resolved or rejected when the "exchange" ends.
await measure('opossum fire() per request', async () => {
  const cb = new CircuitBreaker((p: Promise<void>) => p, opossumOptions);
  cb.fallback(() => undefined); // failures must not reject into the void
  const batch = 1000; // requests in flight at once
  for (let i = 0; i < N; i += batch) {
    const ends: (() => void)[] = [];
    const fails: ((e: Error) => void)[] = [];
    const all: Promise<unknown>[] = [];
    for (let j = 0; j < batch; j++) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const p = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      all.push(cb.fire(p));
      ends.push(resolve);
      fails.push(reject);
    }
    for (let j = 0; j < batch; j++) {
      if ((i + j) % 100 === 0) fails[j](new Error('500'));
      else ends[j]();
    }
    await Promise.all(all);
  }
  cb.shutdown();
});

// 2. Events into opossum's Status window, and its stats read on each failure.
await measure('opossum events + stats on failure', () => {
  const cb = new CircuitBreaker(() => Promise.resolve(), opossumOptions);
  const err = new Error('500');
  let opened = 0;
  for (let i = 0; i < N; i++) {
    cb.emit('fire');
    if (i % 100 === 0) {
      cb.emit('failure', err, 3);
      const s = cb.stats;
      if (s.fires >= 20 && (s.failures / s.fires) * 100 > 50) opened++;
    } else cb.emit('success', undefined, 3);
  }
  if (opened !== 0) throw new Error('should not open');
  cb.shutdown();
});

// 3. dyeline's Breaker.
await measure('dyeline Breaker admit() + record()', () => {
  const b = new Breaker('bench', 'canary', settings);
  const t0 = Date.now();
  for (let i = 0; i < N; i++) {
    const token = b.admit();
    b.record(token, t0 + (i >> 8), i % 100 === 0, false);
  }
  if (b.state !== 'closed') throw new Error('should not open');
  b.shutdown();
});

// 4. Derived timings per try: record the answer, derive the next try's timeout.
function derived(withFallback: boolean): () => void {
  return () => {
    const lane = new LatencyProfile();
    const stable = new LatencyProfile();
    const t0 = Date.now();
    for (let i = 0; i < 1000; i++) stable.record(t0, 80 + (i % 40));
    let sum = 0;
    for (let i = 0; i < N; i++) {
      const now = Date.now(); // as the agent takes it per try
      lane.record(now, 90 + (i % 50));
      sum += derivedTimeoutMs(lane, withFallback ? stable : undefined, now, 15_000);
    }
    if (sum <= 0) throw new Error('no timings');
  };
}
await measure('latency record + derivedTimeoutMs (lane alone)', derived(false));
await measure('latency record + derivedTimeoutMs (with fallback)', derived(true));
