/**
 * The long run of the compiled validators against zod (not in `npm test`, which runs a seeded
 * 1,500: test/unit/shared/validators.test.ts):
 *   node test/fuzz/validators.ts [--runs 20000] [--seed N]
 * Generates documents as the rule fuzzer does, and Rollout and LaneState documents
 * (test/support/rule-fuzz.ts), and compares the
 * compiled validators with zod on each, in every place one is checked
 * (test/support/validator-equivalence.ts); prints the counts and the first differences; exits 1 on any.
 */
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { fuzzCases, nearValidDocument, progressiveDocument, seedDocuments } from '../support/rule-fuzz.ts';
import { checkDocument } from '../../shared/schema/validators/generated.ts';
import { documentDifferences } from '../support/validator-equivalence.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20000' }, seed: { type: 'string' } } });
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
const started = Date.now();
const runs = Number(values.runs);
// Four in five as the rule fuzzer makes them; one in five Rollout and LaneState documents, half of them mutated.
const docs = [
  ...fc.sample(fuzzCases(seedDocuments()), { seed, numRuns: Math.ceil(runs * 0.8) }).map((c) => c.doc),
  ...fc.sample(progressiveDocument, { seed: seed + 1, numRuns: Math.floor(runs * 0.1) }),
  ...fc.sample(nearValidDocument(fc.sample(progressiveDocument, { seed: seed + 2, numRuns: 100 })), { seed: seed + 3, numRuns: Math.floor(runs * 0.1) }),
];
let differing = 0;
let valid = 0;
for (const doc of docs) {
  if (checkDocument(doc).ok) valid++;
  const d = documentDifferences(doc);
  if (d.length === 0) continue;
  differing++;
  if (differing <= 10) console.log(JSON.stringify({ doc, differences: d }));
}
console.log(JSON.stringify({ seed, cases: docs.length, valid, differing, seconds: Math.round((Date.now() - started) / 100) / 10 }));
process.exit(differing > 0 ? 1 : 0);
