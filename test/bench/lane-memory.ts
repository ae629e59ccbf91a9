/**
 * The agent's lane memory (agent/propagation/lane-memory.ts): its memory bound — the heap a full
 * memory holds, per trace and at the default capacity, with trace ids cut from `traceparent`
 * headers as the agent cuts them — and what each operation costs: remembering a coloured
 * inbound trace, recalling a trace it holds, missing one, and the hot path of an uncoloured
 * outbound call while nothing is remembered.
 *
 *   node --expose-gc test/bench/lane-memory.ts [capacity=8192] [iterations=2000000]
 */
import { LaneMemory } from '../../agent/propagation/lane-memory.ts';
import { machine } from './machine.ts';

const [capacity = 8192, n = 2_000_000] = process.argv.slice(2).map(Number);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

/** A trace id as the agent gets it: sliced from a traceparent header string of its own. */
const traceIdOf = (i: number) => `00-${i.toString(16).padStart(32, '0')}-00f067aa0ba902b7-01`.slice(3, 35);
/** A colour as the agent gets it: a header value string of its own. */
const colorOf = (i: number) => `canary-${i % 7}`.slice(0, 8);

console.log(`machine: ${machine()}\n`);

// Memory: the heap a full memory keeps alive — heap used with it, minus heap used once it is
// dropped, each after two full collections.
const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
let full: LaneMemory | undefined = new LaneMemory(capacity, 30_000);
for (let i = 0; i < capacity * 3; i++) full.remember(traceIdOf(i), colorOf(i));
const withIt = heapAfterGc();
if (full.size !== capacity) throw new Error(`expected ${capacity} traces held, found ${full.size}`);
full = undefined;
const held = withIt - heapAfterGc();
console.log(`memory: ${capacity} traces held (after ${capacity * 3} remembered): ${(held / 2 ** 20).toFixed(2)} MiB of heap, ${(held / capacity).toFixed(0)} bytes per trace`);

function time(name: string, fn: (i: number) => unknown): void {
  for (let i = 0; i < Math.min(n, 200_000); i++) fn(i);
  const t = performance.now();
  let sink = 0;
  for (let i = 0; i < n; i++) if (fn(i) !== undefined) sink++;
  const ns = ((performance.now() - t) * 1e6) / n;
  console.log(`${name.padEnd(58)} ${ns.toFixed(1).padStart(7)} ns  (${sink} hits)`);
}

const ids = Array.from({ length: capacity * 2 }, (_, i) => traceIdOf(i));
const colors = Array.from({ length: 16 }, (_, i) => colorOf(i));
const m = new LaneMemory(capacity, 30_000);
for (let i = 0; i < capacity; i++) m.remember(ids[i]!, colors[i % 16]!);
const empty = new LaneMemory(capacity, 30_000);
const mask = capacity - 1;
console.log('');
time('recall, nothing remembered (uncoloured hot path)', (i) => empty.recall(ids[i & mask]!));
time('recall, full memory, trace not held', (i) => m.recall(ids[capacity + (i & mask)]!));
time('recall, full memory, trace held', (i) => m.recall(ids[i & mask]!));
time('remember (inbound coloured trace), full memory', (i) => m.remember(ids[i % ids.length]!, colors[i & 15]!));
