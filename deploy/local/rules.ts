/**
 * The demo's rule files (deploy/local/rules/): file name → YAML text, read from the checkout.
 * The production build embeds the same files in place of this module (scripts/build.ts).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('./rules/', import.meta.url));

export async function demoRuleFiles(): Promise<Record<string, string>> {
  const names = (await readdir(DIR)).sort();
  return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await readFile(join(DIR, n), 'utf8')] as const)));
}
