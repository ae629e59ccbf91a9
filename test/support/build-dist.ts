/**
 * vitest globalSetup of the `dist` project: builds the production entry (scripts/build.ts, what
 * `npm run build` runs) once, into a directory outside the checkout, so the e2e files of that
 * project run it where no node_modules can be reached: a dependency the bundle failed to carry
 * fails there as it would in the image.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where the `dist` project's entry is built: one directory per checkout. */
export const DIST_TEST_DIR = join(tmpdir(), `dyeline-dist-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}`);

export default function setup(): () => void {
  execFileSync(process.execPath, ['scripts/build.ts', '--outdir', DIST_TEST_DIR], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  return () => rmSync(DIST_TEST_DIR, { recursive: true, force: true });
}
