/**
 * The long run of the compiled validators against zod (not in `npm test`, which runs a seeded
 * 1,500: test/unit/shared/validators.test.ts):
 *   node test/fuzz/validators.ts [--runs 20000] [--seed N]
 * Generates documents as the rule fuzzer does (test/support/rule-fuzz.ts) and compares the
 * compiled validators with zod on each, in every place one is checked
 * (test/support/validator-equivalence.ts); prints the counts and the first differences; exits 1 on any.
 */
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { fuzzCases, seedDocuments } from '../support/rule-fuzz.ts';
import { documentDifferences } from '../support/validator-equivalence.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20000' }, seed: { type: 'string' } } });
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
const started = Date.now();
const cases = fc.sample(fuzzCases(seedDocuments()), { seed, numRuns: Number(values.runs) });
let differing = 0;
for (const c of cases) {
  const d = documentDifferences(c.doc);
  if (d.length === 0) continue;
  differing++;
  if (differing <= 10) console.log(JSON.stringify({ doc: c.doc, differences: d }));
}
console.log(JSON.stringify({ seed, cases: cases.length, differing, seconds: Math.round((Date.now() - started) / 100) / 10 }));
process.exit(differing > 0 ? 1 : 0);
