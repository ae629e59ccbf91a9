/**
 * The seeded share of the rule-document fuzzer (test/support/rule-fuzz.ts) that runs in
 * `npm test`: 600 generated documents, the same ones every run. The long run with a new seed
 * each time is `node test/fuzz/rules.ts` (12,000 documents).
 */
import { describe, expect, it } from 'vitest';
import { fuzzRules } from '../../support/rule-fuzz.ts';

describe('rule documents, fuzzed (seeded)', () => {
  it('every invalid document is rejected with a field path; none crashes validation, the store, or the agent load/compile/dye/route', () => {
    const r = fuzzRules({ numRuns: 600, seed: 20261127, timeLimitMs: 40_000 });
    expect(r.failures).toEqual([]);
    expect(r.cases).toBe(600);
    // Both sides are exercised: documents that compile and route, and documents that are rejected.
    expect(r.valid).toBeGreaterThan(60);
    expect(r.invalid).toBeGreaterThan(200);
  }, 60_000);
});
