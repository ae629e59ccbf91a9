/**
 * Merge: every source's accepted documents → one consistent set. Later sources win on the
 * same identity. Cross-document checks (unknown lanes in a split, a fallback or subsets;
 * duplicate lane colours) reject the offending document, and its version from the previous
 * merge stays in effect when that one still checks out.
 */
import { describeIssues } from '../shared/errors.ts';
import { crossCheck } from '../shared/schema/cross-check.ts';
import { type Accepted, documentKey, type Rejection, type SourceStore } from './store.ts';

/** The merged, consistent document set. */
export interface Merged {
  /** By identity. */
  readonly docs: ReadonlyMap<string, Accepted>;
  /** Cross-document and precedence rejections, by source URI. */
  readonly rejected: ReadonlyMap<string, Rejection[]>;
}

const MAX_ROUNDS = 8;

/** Merges `stores` (in precedence order, lowest first); `previous` is the last merge result. */
export function merge(stores: readonly SourceStore[], previous: Merged | undefined): Merged {
  const docs = new Map<string, Accepted>();
  const rejected = new Map<string, Rejection[]>();
  const reject = (a: Accepted, reason: string) => {
    const list = rejected.get(a.provenance.source) ?? [];
    list.push({ key: documentKey(a.provenance), reason });
    rejected.set(a.provenance.source, list);
  };
  for (const store of stores) {
    for (const a of store.accepted()) {
      const prior = docs.get(a.identity);
      if (prior && prior.provenance.source === a.provenance.source) {
        reject(a, `${a.identity} is also defined in ${documentKey(prior.provenance)}; that one is kept`);
        continue;
      }
      docs.set(a.identity, a);
    }
  }
  // Reject what conflicts with the rest; fall back to the previous version; repeat until stable.
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const problems = crossCheck([...docs.values()].map((a) => a.doc));
    if (problems.size === 0) break;
    for (const [identity, issues] of problems) {
      const a = docs.get(identity)!;
      const old = previous?.docs.get(identity);
      const keep = old && old !== a && round === 0;
      reject(a, `${identity}: ${describeIssues(issues)}${keep ? ' (previous version kept)' : ''}`);
      if (keep) docs.set(identity, old);
      else docs.delete(identity);
    }
  }
  return { docs, rejected };
}
