/**
 * The build's lazy built-ins (scripts/build.ts LAZY_BUILTINS, docs/footprint.md#the-build): bundled
 * as the production build bundles them, importing or requiring `zlib` or `fs/promises` loads
 * nothing of Node's, and every way code takes them — named imports, a namespace, a default
 * import, `require` — still works, loading the built-in on the first use.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LAZY_BUILTINS, buildOptions, builtinsAsRequire, bundleOptions } from '../../scripts/build.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const ENTRY = `
import { gzipSync } from 'node:zlib';
import * as zlibNs from 'zlib';
import zlibDefault from 'node:zlib';
import { readFile } from 'node:fs/promises';
const loaded = () => process.moduleLoadList.filter((m) => /NativeModule (zlib|fs\\/promises|internal\\/readline)/.test(m));
const out = { atStart: loaded() };
const zlibRequired = require('zlib');
out.afterImportAndRequire = loaded();
const packed = gzipSync('dyeline');
out.roundTrip = zlibNs.gunzipSync(packed).toString() + ' ' + zlibDefault.gunzipSync(packed).toString() + ' ' + zlibRequired.gunzipSync(packed).toString();
out.sameFunction = zlibRequired.gzipSync === process.getBuiltinModule('zlib').gzipSync;
out.constant = zlibNs.constants.Z_BEST_SPEED;
out.file = await readFile(process.argv[2], 'utf8');
out.afterUse = loaded().length > 0;
process.stdout.write(JSON.stringify(out));
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-build-lazy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('the production build takes zlib and fs/promises lazily', () => {
  expect(buildOptions(dir).plugins?.map((p) => p.name)).toContain('builtins-as-require');
  expect([...LAZY_BUILTINS].sort()).toEqual(['fs/promises', 'zlib']);
});

it('loads neither until first used, then works through every kind of import', async () => {
  const opts = bundleOptions({}, dir);
  await esbuild.build({ ...opts, entryPoints: undefined, stdin: { contents: ENTRY, resolveDir: ROOT, sourcefile: 'lazy-entry.mjs', loader: 'js' }, outfile: join(dir, 'lazy.mjs'), outdir: undefined, plugins: [builtinsAsRequire()] });
  const file = join(dir, 'note.txt');
  await writeFile(file, 'read lazily');
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [join(dir, 'lazy.mjs'), file], { timeout: 30_000, encoding: 'utf8' }, (err, out, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(out)));
  });
  expect(JSON.parse(stdout)).toEqual({
    atStart: [],
    afterImportAndRequire: [],
    roundTrip: 'dyeline dyeline dyeline',
    sameFunction: true,
    constant: 1,
    file: 'read lazily',
    afterUse: true,
  });
});
