/**
 * Which files hold rule documents: `*.yaml`, `*.yml`, `*.json` below a directory. Read by
 * `dyeline validate` and the daemon's file source alike.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';

/** File endings read as rule documents. */
export const RULE_FILE = /\.(ya?ml|json)$/i;

/** A path that `path.normalize` would change: `//`, a `.` or `..` segment, a trailing `/`, or empty. */
const NOT_NORMAL = /\/\/|(^|\/)\.\.?(\/|$)|\/$|^$/;

/**
 * `join(dir, name)` for an entry `name` of `dir` (no `/`, never `.` or `..`): when `dir` is
 * already normal that is `dir/name`, and the daemon's file source, which lists its directory
 * every 2 s, does not run path normalisation's character loop each time — enough calls made V8
 * compile it with its optimising compiler, whose code an idle daemon then kept resident
 * (docs/footprint.md#the-daemon).
 */
function entryPath(dir: string, name: string): string {
  return NOT_NORMAL.test(dir) ? join(dir, name) : `${dir}/${name}`;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * Files below `path` (a file or directory) that hold rule documents, in code-unit order of their
 * names, directory by directory (as etcd orders keys; the same in every locale). Hidden
 * entries are skipped; symlinked files are followed (Kubernetes ConfigMap volumes).
 */
export async function ruleFiles(path: string): Promise<string[]> {
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new UsageError(`validate: no such file or directory: ${path}`);
  }
  if (st.isFile()) return [path];
  const out: string[] = [];
  const walk = async (dir: string) => {
    const entries = await readdir(dir, { withFileTypes: true });
    // Code-unit order, as etcd orders keys: the same in every locale, and no ICU collator loaded
    // (2.9 MiB of a process, docs/footprint.md#the-daemon).
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = entryPath(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (RULE_FILE.test(e.name) && (e.isFile() || (e.isSymbolicLink() && (await isFile(p))))) out.push(p);
    }
  };
  await walk(path);
  return out;
}
