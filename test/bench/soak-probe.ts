/**
 * Loaded into a dyeline process by the soak run (`NODE_OPTIONS=--import …/soak-probe.ts`, file
 * in DYELINE_SOAK_PROBE): every DYELINE_SOAK_PROBE_MS (default 5000) it appends one JSON line with
 * the process's RSS, V8 heap, open file descriptors and event-loop delay (mean, p99, max over
 * the interval, from perf_hooks' histogram, then reset; the histogram records the time between
 * ticks of its RESOLUTION_MS timer, so that is taken off to leave the delay). Not part of the product.
 */
import { appendFileSync, readdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const file = process.env.DYELINE_SOAK_PROBE;
if (file) {
  const everyMs = Number(process.env.DYELINE_SOAK_PROBE_MS ?? '5000');
  const RESOLUTION_MS = 10;
  const eld = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  const delay = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
  eld.enable();
  const t = setInterval(() => {
    const m = process.memoryUsage();
    const line = {
      t: Date.now(),
      rssMiB: m.rss / 2 ** 20,
      heapUsedMiB: m.heapUsed / 2 ** 20,
      fds: readdirSync('/proc/self/fd').length,
      eldMeanMs: delay(eld.mean),
      eldP99Ms: delay(eld.percentile(99)),
      eldMaxMs: delay(eld.max),
    };
    eld.reset();
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  }, everyMs);
  t.unref();
}
