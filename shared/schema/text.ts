/**
 * Rule documents as text: one file (or etcd value, or Nacos config) may hold several YAML
 * documents separated by `---`, or one JSON document / JSON array of documents.
 */
import { parseAllDocuments, type Document } from 'yaml';
import type { Issue } from '../errors.ts';

/** One document found in a text, before validation. */
export interface RawDocument {
  /** Position in the text, from 0. */
  index: number;
  /** The parsed value, when the text parsed. */
  value?: unknown;
  /** Parse problems, when it did not. */
  issues?: Issue[];
}

/** Splits a text into raw documents; syntax errors are reported per document, never thrown. */
export function parseDocumentsText(text: string): RawDocument[] {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      const value: unknown = JSON.parse(text);
      if (Array.isArray(value)) return value.map((v, index) => ({ index, value: v }));
      return [{ index: 0, value }];
    } catch (err) {
      // YAML is a superset of JSON; fall through so the YAML parser reports a line and column.
      void err;
    }
  }
  const out: RawDocument[] = [];
  let index = 0;
  for (const doc of parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true })) {
    if (doc.errors.length > 0) {
      out.push({ index, issues: doc.errors.map((e) => ({ path: '', message: `YAML: ${e.message.split('\n')[0]}` })) });
    } else {
      const value = toValue(doc);
      if (value instanceof Error) out.push({ index, issues: [{ path: '', message: `YAML: ${value.message.split('\n')[0]}` }] });
      // An empty document (a trailing `---`) is not a document.
      else if (value !== null && value !== undefined) out.push({ index, value });
    }
    index++;
  }
  return out;
}

/**
 * The plain value of a parsed YAML document, or the error that stopped it: resolving aliases
 * can fail (an alias bomb past `maxAliasCount`), and that is a finding about the document, not a crash.
 */
function toValue(doc: Document.Parsed): unknown {
  try {
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}
