/** The readable report of `dyeline check` (`--json` prints the CheckReport itself). */
import type { CheckReport } from './check.ts';

const VERDICT = { pass: 'PASS', fail: 'FAIL', 'could-not-check': 'COULD NOT CHECK' } as const;

const counts = (m: Record<string, number>, empty: string) =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k === '' ? empty : k} ×${n}`)
    .join(', ');

/** The report as lines of text. */
export function formatReport(r: CheckReport): string {
  const out = [`dyeline check: lane ${r.color} of ${r.service} through ${r.via}: ${VERDICT[r.verdict]}`];
  out.push(`  probes: ${r.requests} (status ${counts(r.statuses, 'none')})`);
  if (r.hops.length > 0) {
    out.push('  hops (served by; fallbacks; instances of the lane the caller knew):');
    for (const h of r.hops) {
      const fb = Object.keys(h.fallbacks).length > 0 ? `; fallback ${counts(h.fallbacks, '')}` : '';
      out.push(`  ${'  '.repeat(h.depth + 1)}${h.caller} → ${h.service}: ${counts(h.served, 'nothing')}${fb}; ${h.laneInstances} lane instance(s) — ${h.passed ? 'ok' : 'FAIL'}`);
      for (const p of h.problems) out.push(`  ${'  '.repeat(h.depth + 2)}${p}`);
    }
  }
  if (r.slo !== undefined) {
    const s = r.slo;
    const ratio = s.latencyRatio === null ? 'no service served by both' : `${s.latencyRatio}×`;
    out.push(`  SLO: ${s.outcome} — error rate ${s.errorRatePercent ?? '-'}% (stable ${s.stableErrorRatePercent ?? '-'}%), latency ratio ${ratio}, ${s.requests} requests`);
  }
  if (r.reasons.length > 0) {
    out.push('  reasons:');
    for (const reason of r.reasons) out.push(`    - ${reason}`);
  }
  if (r.failedTraces.length > 0) out.push(`  trace ids of failed probes: ${r.failedTraces.join(' ')}`);
  return `${out.join('\n')}\n`;
}
