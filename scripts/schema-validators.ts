/**
 * `npm run schema:validators`: writes shared/schema/validators/generated.ts, the validators
 * compiled from the zod schema (docs/footprint.md#the-snapshot-check). `--check` writes nothing
 * and exits 1 when the file is not what the schema makes (the build and a test check it too).
 *
 *   node scripts/schema-validators.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { GENERATED, validatorsSource } from '../shared/schema/validators/roots.ts';

const source = validatorsSource();
const name = relative(process.cwd(), GENERATED);
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(GENERATED, 'utf8');
  } catch {
    // missing: stale
  }
  if (current !== source) {
    process.stderr.write(`${name} is stale: run npm run schema:validators\n`);
    process.exit(1);
  }
  process.stderr.write(`${name} is up to date\n`);
} else {
  writeFileSync(GENERATED, source);
  process.stderr.write(`wrote ${name}\n`);
}
