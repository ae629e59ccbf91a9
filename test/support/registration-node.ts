/** A node's directory for registration e2e tests: a rules dir with one Lane (a file source) and the snapshot path. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NodeDir {
  dir: string;
  /** `file://` URI of the rules directory. */
  rulesSource: string;
  snapshot: string;
  remove(): void;
}

/** Creates the directory under the system's temp dir; `remove()` deletes it. */
export function nodeDir(prefix: string): NodeDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(dir, 'rules'));
  writeFileSync(join(dir, 'rules', 'lane.yaml'), 'apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: canary }\nspec: { color: canary }\n');
  return { dir, rulesSource: `file://${join(dir, 'rules')}`, snapshot: join(dir, 'snapshot.json'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
