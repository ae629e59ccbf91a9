/** Rewrites the rule reference in README.md from the schema. */
import { readFileSync, writeFileSync } from 'node:fs';
import { referenceMarkdown } from '../shared/schema/reference.ts';

const path = new URL('../README.md', import.meta.url);
const readme = readFileSync(path, 'utf8');
const next = readme.replace(/(<!-- reference:start -->\n)[\s\S]*?(<!-- reference:end -->)/, (_m, a: string, b: string) => `${a}${referenceMarkdown()}${b}`);
writeFileSync(path, next);
