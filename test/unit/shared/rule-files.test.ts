/**
 * Which files hold rule documents (shared/schema/rule-files.ts): the paths it reports are the
 * `path.join` of the directory as given and each entry's name, however the directory is spelt
 * (the file source's document keys are these paths), in code-unit order.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ruleFiles } from '../../../shared/schema/rule-files.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-rule-files-'));
  await mkdir(join(dir, 'rules/sub'), { recursive: true });
  await mkdir(join(dir, 'rules/.hidden'), { recursive: true });
  for (const f of ['rules/a.yaml', 'rules/b.JSON', 'rules/notes.txt', 'rules/sub/c.yml', 'rules/.d.yaml', 'rules/.hidden/e.yaml', 'rules/x..yaml', 'rules/...yaml']) {
    await writeFile(join(dir, f), '{}\n');
  }
  await symlink(join(dir, 'rules/a.yaml'), join(dir, 'rules/z.yaml'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The files below `spelt`, as ruleFiles would list them if it joined every name with path.join. */
function joined(spelt: string): string[] {
  const names = ['a.yaml', 'b.JSON', 'sub', 'x..yaml', 'z.yaml'];
  return names.flatMap((n) => (n === 'sub' ? [join(join(spelt, n), 'c.yml')] : [join(spelt, n)]));
}

describe('ruleFiles', () => {
  it('lists *.yaml, *.yml, *.json below a directory, sorted, hidden entries skipped, symlinked files followed', async () => {
    expect((await ruleFiles(join(dir, 'rules'))).map((p) => relative(dir, p))).toEqual([
      'rules/a.yaml',
      'rules/b.JSON',
      'rules/sub/c.yml',
      'rules/x..yaml',
      'rules/z.yaml',
    ]);
  });

  it('reports the path.join of the directory as spelt and each name', async () => {
    const spellings = [
      join(dir, 'rules'),
      `${dir}/rules/`,
      `${dir}//rules`,
      `${dir}/./rules`,
      `${dir}/rules/sub/..`,
      `${dir}/rules/sub/../.`,
      `${dir}/rules/.hidden/../`,
    ];
    for (const spelt of spellings) expect(await ruleFiles(spelt), spelt).toEqual(joined(spelt));
    // Relative to the working directory, as `dyeline validate` is given them.
    const rel = relative(process.cwd(), join(dir, 'rules'));
    for (const spelt of [rel, `./${rel}`, `${rel}/`, `${rel}/sub/..`, `${rel}//sub/../.`]) expect(await ruleFiles(spelt), spelt).toEqual(joined(spelt));
  });

  it('orders names by code unit, as etcd orders keys, whatever the locale: upper case before lower, "-" before "."', async () => {
    const d = join(dir, 'order');
    await mkdir(d);
    for (const f of ['b.yaml', 'B.yaml', 'a-2.yaml', 'a.yaml', '_x.yaml', 'Z.yaml']) await writeFile(join(d, f), '{}\n');
    expect((await ruleFiles(d)).map((p) => relative(d, p))).toEqual(['B.yaml', 'Z.yaml', '_x.yaml', 'a-2.yaml', 'a.yaml', 'b.yaml']);
  });

  it('lists a file as itself', async () => {
    expect(await ruleFiles(`${dir}/rules/./a.yaml`)).toEqual([`${dir}/rules/./a.yaml`]);
  });
});
