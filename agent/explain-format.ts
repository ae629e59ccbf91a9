/** Human-readable text of an explain result (`dyeline explain` without `--json`). */
import type { ExplainDye, ExplainResult, ExplainRoute, ExplainSubset } from './explain.ts';
import { SHARE_RULE } from './routing/dye.ts';

function matchText(d: ExplainDye): string {
  const parts: string[] = [];
  for (const kind of ['headers', 'cookies', 'query'] as const) {
    const m = d.match[kind];
    if (m === undefined) continue;
    for (const [name, vm] of Object.entries(m)) {
      const [op, v] = Object.entries(vm).find(([, x]) => x !== undefined)!;
      parts.push(`${kind === 'headers' ? 'header' : kind === 'cookies' ? 'cookie' : 'query'} ${name} ${op} ${JSON.stringify(v)}`);
    }
  }
  if (d.match.percent !== undefined) parts.push(`percent ${d.match.percent}`);
  return parts.join(' and ');
}

function ruleRef(d: ExplainDye): string {
  const where = d.rule === SHARE_RULE ? 'LaneState share' : `spec.dye.match[${d.rule}]`;
  return `lane "${d.lane}" ${where} (${matchText(d)})`;
}

function subsetLines(s: ExplainSubset, indent: string): string[] {
  const routable = s.instances.filter((i) => i.routable).length;
  const lines = [`${indent}subset ${s.lane}: ${routable} routable of ${s.instances.length} instance(s)`];
  for (const i of s.instances) {
    const labels = Object.entries(i.labels).map(([k, v]) => `${k}=${v}`).join(',');
    const why = i.routable ? '' : i.healthy ? '  (weight 0: no traffic)' : '  (unhealthy: no traffic)';
    lines.push(`${indent}  ${i.name}  ${i.address.includes(':') ? `[${i.address}]` : i.address}:${i.port}  weight ${i.weight}${labels ? `  ${labels}` : ''}${why}`);
  }
  return lines;
}

function routeLines(r: ExplainRoute, many: boolean): string[] {
  const head = many ? `route ${r.share}%` : 'route';
  if (r.served === null) return [`${head.padEnd(10)} lane ${r.requested}: no instance can serve → 503 no-instance`];
  const lines = [`${head.padEnd(10)} lane ${r.requested} → served by ${r.served}${r.fallback ? ` (fallback: ${r.fallback})` : ''}`];
  r.candidates.forEach((s, k) => {
    if (k === 1) lines.push('           then, for retries after a failure:');
    lines.push(...subsetLines(s, '           '));
  });
  return lines;
}

/** Formats `r` as lines of text ending in a newline. */
export function formatExplain(r: ExplainResult): string {
  const out: string[] = [];
  out.push(`snapshot   version ${r.snapshot.version}, ${r.snapshot.checksum.slice(0, 19)}…, generated ${r.snapshot.generatedAt}`);
  out.push(`request    to ${r.service}${r.from ? ` from ${r.from}` : ''}`);
  if (!r.known) {
    out.push(`service    ${r.service} is not in the snapshot: the agent passes the request through to ${r.service} as given (DNS), with colour and trace propagation`);
  }
  if (r.invalidColorIn) out.push(`invalid    the colour in the ${r.invalidColorIn} is not a valid colour: treated as none and not forwarded`);
  if (r.color === null) out.push('colour     none (uncoloured)');
  else if (r.dyedBy) out.push(`colour     ${r.color}  dyed at ${r.from}'s inbound by ${ruleRef(r.dyedBy)}`);
  else out.push(`colour     ${r.color}  from the ${r.colorSource}`);
  for (const d of r.randomDyes) out.push(`maybe      ${d.percent}% of such requests are dyed ${d.color} instead, at random, by ${ruleRef(d)}`);
  if (r.color !== null) {
    if (r.lane) {
      const chain = r.lane.strict ? 'strict (fallback: none)' : r.lane.fallbackChain.length ? `falls back to ${r.lane.fallbackChain.join(' → ')}` : 'no fallback';
      out.push(`lane       ${r.lane.color} (Lane "${r.lane.name}"), ${chain}`);
    } else {
      out.push(`lane       ${r.color} has no Lane document: its own instances if any, else stable`);
    }
  }
  if (r.split) {
    const weights = Object.entries(r.split.weights).map(([l, w]) => `${l} ${w}%`).join(' / ');
    const how = r.split.sticky
      ? `sticky: ${r.split.key} = ${JSON.stringify(r.split.keyValue)} → bucket ${r.split.bucket}`
      : r.split.key
        ? `random: ${r.split.key} is not in the request`
        : 'random';
    out.push(`split      ${weights} (${how})`);
  }
  if (r.known) for (const route of r.routes) out.push(...routeLines(route, r.routes.length > 1));
  return `${out.join('\n')}\n`;
}
