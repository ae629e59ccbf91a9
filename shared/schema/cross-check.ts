/**
 * Checks across documents that no single document can make: a lane named in a split or a
 * fallback must exist. The daemon rejects the offending document (keeping its previous valid
 * version); `dyeline validate` reports it.
 */
import { NO_FALLBACK, STABLE } from '../color.ts';
import type { Issue } from '../errors.ts';
import { type Document, documentIdentity } from './documents.ts';

/** Problems by document identity (see documentIdentity); empty when all is consistent. */
export function crossCheck(docs: readonly Document[]): Map<string, Issue[]> {
  const lanes = new Set<string>([STABLE]);
  for (const d of docs) if (d.kind === 'Lane') lanes.add(d.spec.color);
  const problems = new Map<string, Issue[]>();
  const add = (d: Document, issue: Issue) => {
    const id = documentIdentity(d);
    const list = problems.get(id) ?? [];
    list.push(issue);
    problems.set(id, list);
  };
  const known = () => [...lanes].sort().join(', ');
  const colors = new Map<string, string>();
  for (const d of docs) {
    if (d.kind === 'Lane') {
      const other = colors.get(d.spec.color);
      if (other !== undefined) add(d, { path: 'spec.color', message: `colour "${d.spec.color}" is already the colour of lane "${other}"` });
      else colors.set(d.spec.color, d.metadata.name);
      const fb = d.spec.fallback;
      if (fb !== NO_FALLBACK && !lanes.has(fb)) add(d, { path: 'spec.fallback', message: `unknown lane "${fb}" (known: ${known()}, or none)` });
    } else if (d.kind === 'Service') {
      for (const lane of Object.keys(d.spec.split ?? {})) {
        if (!lanes.has(lane)) add(d, { path: `spec.split.${lane}`, message: `unknown lane "${lane}" (known: ${known()})` });
      }
      for (const lane of Object.keys(d.spec.subsets ?? {})) {
        if (!lanes.has(lane)) add(d, { path: `spec.subsets.${lane}`, message: `unknown lane "${lane}" (known: ${known()})` });
      }
    }
  }
  return problems;
}
