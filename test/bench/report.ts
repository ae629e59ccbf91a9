/**
 * BENCHMARKS.md is assembled by `npm run bench` (run.ts) from what each benchmark reports: a
 * bench calls `report(markdown)` with its section, which is appended to the file named by
 * `BENCH_REPORT` (set by run.ts for each bench); run alone, a bench only prints.
 */
import { appendFileSync } from 'node:fs';

export function report(markdown: string): void {
  const file = process.env.BENCH_REPORT;
  if (file) appendFileSync(file, `${markdown.trim()}\n\n`);
}

/** A markdown table: header row, alignment row (numbers right-aligned), rows. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], rightFrom = 1): string {
  const align = header.map((_, i) => (i >= rightFrom ? '---:' : '---'));
  return [header, align, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** A number with thousands separators and `digits` decimals; '—' for NaN/undefined. */
export function num(x: number | undefined, digits = 0): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** The range of `xs` as `lo–hi` (one figure when both read the same at `digits` decimals). */
export function numRange(xs: readonly number[], digits = 0): string {
  const lo = num(Math.min(...xs), digits);
  const hi = num(Math.max(...xs), digits);
  return lo === hi ? lo : `${lo}–${hi}`;
}
