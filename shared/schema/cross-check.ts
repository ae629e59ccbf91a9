/**
 * Checks across documents that no single document can make: a lane named in a split or a
 * fallback must exist; a Rollout and a LaneState name a Lane document (not the stable lane), and
 * one Rollout drives a lane. The daemon rejects the offending document (keeping its previous
 * valid version); `dyeline validate` reports it.
 */
import { NO_FALLBACK, STABLE } from '../color.ts';
import type { Issue } from '../errors.ts';
import type { Document } from './documents.ts';
import { documentIdentity } from './kinds.ts';

/** Problems by document identity (see documentIdentity); empty when all is consistent. */
export function crossCheck(docs: readonly Document[]): Map<string, Issue[]> {
  const lanes = new Set<string>([STABLE]);
  /** Lane document name → colour. */
  const laneNames = new Map<string, string>();
  for (const d of docs) {
    if (d.kind !== 'Lane') continue;
    lanes.add(d.spec.color);
    laneNames.set(d.metadata.name, d.spec.color);
  }
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
  // A lane a Rollout or a LaneState drives: a Lane document, not stable.
  const laneProblem = (name: string): string | undefined => {
    const color = laneNames.get(name);
    if (color === undefined) return `unknown Lane "${name}" (Lane documents: ${[...laneNames.keys()].sort().join(', ') || 'none'})`;
    if (color === STABLE) return `Lane "${name}" is the stable lane, which has no share to widen`;
    return undefined;
  };
  const drivenBy = new Map<string, string>();
  const driving = docs.filter((d) => d.kind === 'Rollout' || d.kind === 'LaneState');
  for (const d of driving.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0))) {
    if (d.kind === 'Rollout') {
      const p = laneProblem(d.spec.lane);
      if (p !== undefined) add(d, { path: 'spec.lane', message: p });
      const other = drivenBy.get(d.spec.lane);
      if (other !== undefined) add(d, { path: 'spec.lane', message: `lane "${d.spec.lane}" is already driven by Rollout "${other}"` });
      else drivenBy.set(d.spec.lane, d.metadata.name);
    } else if (d.kind === 'LaneState') {
      const p = laneProblem(d.metadata.name);
      if (p !== undefined) add(d, { path: 'metadata.name', message: `a LaneState is named after its Lane: ${p}` });
    }
  }
  return problems;
}
