/** The README's rule reference is the schema's: regenerate it with `node shared/schema/reference.ts`. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { referenceMarkdown } from '../../shared/schema/reference.ts';

it('README rule reference matches the schema', () => {
  const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
  const m = /<!-- reference:start -->\n([\s\S]*?)<!-- reference:end -->/.exec(readme);
  expect(m, 'README has reference markers').not.toBeNull();
  expect(m![1]).toBe(referenceMarkdown());
});
