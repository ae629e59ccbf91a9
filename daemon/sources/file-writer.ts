/**
 * The `file` kind's writer (docs/sources.md#writing-into-a-source): each document it manages is
 * its own YAML file in the source's directory, `dyeline-<kind>-<name>.yaml` (lower-case kind),
 * replaced atomically (shared/snapshot-file.ts writeFileAtomic: the daemon never reads half of
 * one, and a person can edit it like any rule file); the lease is a lock file beside it (file-lease.ts).
 */
import { join } from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomic } from '../../shared/snapshot-file.ts';
import { FileLease } from './file-lease.ts';
import type { Lease } from './lease.ts';
import type { SourceWriter, WritableDocument } from './source.ts';

/** The file a document is written to, in `dir`. */
export function documentFile(dir: string, kind: string, name: string): string {
  return join(dir, `dyeline-${kind.toLowerCase()}-${name}.yaml`);
}

/** Writes documents as files of a file source's directory. */
export class FileWriter implements SourceWriter {
  readonly #dir: string;

  /** `config`: the file source's (its directory). */
  constructor(config: { readonly dir: string }) {
    this.#dir = config.dir;
  }

  async write(doc: WritableDocument): Promise<void> {
    const text = `# Written by dyeline; a manual edit wins (docs/reference.md#progressive-delivery).\n${stringify(doc, { lineWidth: 0 })}`;
    await writeFileAtomic(documentFile(this.#dir, doc.kind, doc.metadata.name), text);
  }

  lease(identity: string, ttlMs: number): Lease {
    return new FileLease(this.#dir, identity, ttlMs);
  }

  async close(): Promise<void> {}
}
