/**
 * No import circle in production code (agent, daemon, shared, cli, rollout, check, deploy, bin): the CLI calls
 * in, nothing calls the CLI, and every layer can be read from the bottom up. Every kind of
 * import counts — static, type-only, re-exports and lazy `await import()` — since each one is a
 * dependency a reader has to follow. The graph is dpdm's (it parses TypeScript).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DependencyTree, parseCircular, parseDependencyTree } from 'dpdm';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PRODUCTION = ['agent/**/*.ts', 'daemon/**/*.ts', 'shared/**/*.ts', 'cli/**/*.ts', 'rollout/**/*.ts', 'check/**/*.ts', 'deploy/**/*.ts', 'bin/**/*.js'];

async function graph(context: string, entries: string[]): Promise<DependencyTree> {
  return parseDependencyTree(
    entries.map((e) => join(context, e)),
    { context, transform: false, skipDynamicImports: false },
  );
}

/** Relative imports that did not resolve to a file (they would hide a circle). */
function unresolved(tree: DependencyTree): string[] {
  const out: string[] = [];
  for (const deps of Object.values(tree)) {
    for (const d of deps ?? []) if (d.request.startsWith('.') && d.id === null) out.push(`${d.issuer} → ${d.request}`);
  }
  return out;
}

describe('imports', () => {
  it('finds a circle closed by a type-only import, a re-export or a lazy import', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dyeline-imports-'));
    try {
      await writeFile(join(dir, 'a.ts'), "export async function load() {\n  return import('./b.ts');\n}\n");
      await writeFile(join(dir, 'b.ts'), "import type { X } from './c.ts';\nexport const b: X = 1;\n");
      await writeFile(join(dir, 'c.ts'), "export * from './a.ts';\nexport type X = number;\n");
      await writeFile(join(dir, 'd.ts'), "import { b } from './b.ts';\nexport const d = b;\n");
      const tree = await graph(dir, ['*.ts']);
      expect(unresolved(tree)).toEqual([]);
      expect(parseCircular(tree).map((c) => [...c].sort())).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('production code has no import circle', async () => {
    const tree = await graph(ROOT, PRODUCTION);
    const files = Object.keys(tree).filter((f) => !f.includes('node_modules'));
    for (const must of ['cli/main.ts', 'cli/agent.ts', 'agent/main.ts', 'agent/config.ts', 'daemon/main.ts', 'rollout/main.ts', 'check/check.ts', 'shared/errors.ts', 'deploy/local/demo.ts', 'bin/dyeline.js']) {
      expect(files).toContain(must);
    }
    expect(unresolved(tree)).toEqual([]);
    expect(parseCircular(tree).map((c) => c.join(' → '))).toEqual([]);
  });
});
