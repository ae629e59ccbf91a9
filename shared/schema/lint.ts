/**
 * Offline linting of rule files (`dyeline validate`) and the published JSON Schema. Uses the
 * same parsing, validation and cross-document checks as the daemon.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { z } from 'zod';
import { crossCheck } from './cross-check.ts';
import { type Document, Lane, Service, Instance } from './documents.ts';
import { documentIdentity } from './kinds.ts';
import { RULE_FILE, ruleFiles } from './rule-files.ts';
import { parseDocumentsText } from './text.ts';
import { validateDocument } from './validate.ts';

/** The JSON Schema (2020-12) of one rule document: any of Lane, Service, Instance. */
export function jsonSchema(): unknown {
  const schema = z.toJSONSchema(z.union([Lane, Service, Instance]), { io: 'input', target: 'draft-2020-12' });
  return { $id: 'https://dyeline.io/schema/v1/document.json', title: 'dyeline rule document', ...schema };
}

export function printSchema(): string {
  return `${JSON.stringify(jsonSchema(), null, 2)}\n`;
}

interface Finding {
  file: string;
  document: number;
  name?: string;
  path: string;
  message: string;
}

/** Validates every document under `paths`; prints findings; true when all are valid. */
export async function validatePaths(paths: string[], io: { json: boolean; out: NodeJS.WritableStream }): Promise<boolean> {
  const findings: Finding[] = [];
  const valid: { doc: Document; file: string; index: number }[] = [];
  let count = 0;
  for (const p of paths) {
    for (const file of await ruleFiles(p)) {
      if (!RULE_FILE.test(extname(file)) && !RULE_FILE.test(file)) continue;
      const text = await readFile(file, 'utf8');
      for (const raw of parseDocumentsText(text)) {
        count++;
        if (raw.issues) {
          for (const i of raw.issues) findings.push({ file, document: raw.index, ...i });
          continue;
        }
        const v = validateDocument(raw.value);
        if (v.ok) valid.push({ doc: v.value, file, index: raw.index });
        else {
          const name = (raw.value as { metadata?: { name?: string } })?.metadata?.name;
          for (const i of v.issues) findings.push({ file, document: raw.index, name, ...i });
        }
      }
    }
  }
  // Cross-document checks over what is valid on its own.
  const byId = new Map<string, (typeof valid)[number]>();
  for (const v of valid) {
    const id = documentIdentity(v.doc);
    const prev = byId.get(id);
    if (prev) findings.push({ file: v.file, document: v.index, name: v.doc.metadata.name, path: 'metadata.name', message: `duplicate ${id} (also in ${prev.file})` });
    byId.set(id, v);
  }
  const problems = crossCheck([...byId.values()].map((v) => v.doc));
  for (const [id, issues] of problems) {
    const v = byId.get(id)!;
    for (const i of issues) findings.push({ file: v.file, document: v.index, name: v.doc.metadata.name, ...i });
  }
  if (io.json) {
    io.out.write(`${JSON.stringify({ valid: findings.length === 0, documents: count, findings }, null, 2)}\n`);
  } else {
    for (const f of findings) {
      io.out.write(`${f.file}#${f.document}${f.name ? ` (${f.name})` : ''}: ${f.path || '(document)'}: ${f.message}\n`);
    }
    io.out.write(`${count} document(s), ${findings.length} problem(s)\n`);
  }
  return findings.length === 0;
}
