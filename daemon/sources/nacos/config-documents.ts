/**
 * One document replaced inside the text of a Nacos config (docs/sources.md#writing-into-a-source):
 * a Nacos source reads all its rule documents from one config, so the writer rewrites only the
 * document `<kind>/<name>` it manages — in YAML, the span of that document's content, leaving every
 * other byte (other documents, comments, `---` lines) as it was; appended as a new document when
 * absent. A JSON config (one document or an array of them) is rewritten as a JSON array. A text
 * whose other documents would read differently afterwards is refused, never written.
 */
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { parseDocumentsText } from '../../../shared/schema/text.ts';
import type { WritableDocument } from '../source.ts';

/** The line written above a document the writer adds. */
const HEADER = '# Written by dyeline; a manual edit wins (docs/reference.md#progressive-delivery).\n';

/** The config text cannot be rewritten without harming what else it holds. */
export class ConfigTextError extends Error {}

const isDoc = (v: unknown, kind: string, name: string): boolean => {
  const o = v as { kind?: unknown; metadata?: { name?: unknown } } | null;
  return typeof o === 'object' && o !== null && o.kind === kind && o.metadata?.name === name;
};

/** `text` (null: the config does not exist) with `doc` in place of the document of its kind and name. */
export function replaceDocument(text: string | null, doc: WritableDocument): string {
  const { kind } = doc;
  const name = doc.metadata.name;
  if (text === null || text.trim() === '') return `${HEADER}${stringify(doc, { lineWidth: 0 })}`;
  const out = isJson(text) ? replaceInJson(text, doc) : replaceInYaml(text, doc);
  // Every other document reads as before, and the one written reads as written.
  const before = parseDocumentsText(text).filter((d) => !isDoc(d.value, kind, name));
  const after = parseDocumentsText(out);
  const others = after.filter((d) => !isDoc(d.value, kind, name));
  const written = after.filter((d) => isDoc(d.value, kind, name));
  const same = others.length === before.length && others.every((d, i) => isDeepStrictEqual(d.value, before[i]!.value) && !d.issues);
  if (!same || written.length !== 1 || !isDeepStrictEqual(written[0]!.value, JSON.parse(JSON.stringify(doc)))) {
    throw new ConfigTextError(`writing ${kind}/${name} would change other documents of the config; not written`);
  }
  return out;
}

function isJson(text: string): boolean {
  const t = text.trimStart();
  if (!t.startsWith('{') && !t.startsWith('[')) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function replaceInJson(text: string, doc: WritableDocument): string {
  const value = JSON.parse(text) as unknown;
  const list = Array.isArray(value) ? [...value] : [value];
  const at = list.findIndex((v) => isDoc(v, doc.kind, doc.metadata.name));
  if (at >= 0) list[at] = doc;
  else list.push(doc);
  return `${JSON.stringify(list, null, 2)}\n`;
}

function replaceInYaml(text: string, doc: WritableDocument): string {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return `${text}${text.endsWith('\n') ? '' : '\n'}---\n${HEADER}${stringify(doc, { lineWidth: 0 })}`;
  if (docs.some((d) => d.errors.length > 0)) throw new ConfigTextError(`the config has YAML errors; ${doc.kind}/${doc.metadata.name} not written`);
  const body = stringify(doc, { lineWidth: 0 });
  const match = docs.filter((d) => isDoc(d.toJS({ maxAliasCount: 100 }), doc.kind, doc.metadata.name));
  if (match.length > 1) throw new ConfigTextError(`the config holds ${doc.kind}/${doc.metadata.name} ${match.length} times; not written`);
  const target = match[0];
  if (target === undefined || target.contents === null) {
    return `${text}${text.endsWith('\n') ? '' : '\n'}---\n${HEADER}${body}`;
  }
  const [start, , end] = target.contents.range;
  // Content that began on the `---` line starts on a line of its own now.
  const lead = start > 0 && text[start - 1] !== '\n' ? '\n' : '';
  const tail = end < text.length && !body.endsWith('\n') ? '\n' : '';
  return `${text.slice(0, start)}${lead}${body}${tail}${text.slice(end)}`;
}
