/** Prints the machine a benchmark ran on (pino/undici benchmarks do the same first). */
import { cpus, freemem, totalmem } from 'node:os';

export function machine(): string {
  const c = cpus();
  return `node ${process.version}, ${c.length} × ${c[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} free), ${process.platform}/${process.arch}`;
}

/** Percentile of sorted numbers. */
export function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
