/**
 * The long fuzz run of rule documents (not in `npm test`, which runs a seeded 600):
 *   node test/fuzz/rules.ts [--runs 12000] [--seed N] [--seconds 300]
 * Generates near-valid mutations of real documents and structurally random ones
 * (test/support/rule-fuzz.ts), checks the daemon's validation and the agent's snapshot
 * load/compile/dye/route on each, prints the counts and every violation; exits 1 on any.
 */
import { parseArgs } from 'node:util';
import { fuzzRules } from '../support/rule-fuzz.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '12000' }, seed: { type: 'string' }, seconds: { type: 'string', default: '300' } } });
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
const r = fuzzRules({ numRuns: Number(values.runs), seed, timeLimitMs: Number(values.seconds) * 1000 });
console.log(JSON.stringify({ seed, cases: r.cases, valid: r.valid, invalid: r.invalid, failures: r.failures.length, seconds: Math.round(r.ms / 100) / 10 }));
for (const f of r.failures) console.log(JSON.stringify(f));
process.exit(r.failures.length > 0 ? 1 : 0);
