/**
 * Validation of one document at the edge: raw object → typed document with defaults, or the
 * list of problems, each naming its field path (e.g. `spec.retry.attempts`).
 */
import { z } from 'zod';
import { ErrorCode, type Issue, ValidationError } from '../errors.ts';
import { API_VERSION, Document, KINDS } from './documents.ts';

/** The outcome of validating one document. */
export type Validated<T> = { ok: true; value: T } | { ok: false; issues: Issue[] };

/** A key that reads unambiguously after a dot; others (empty, with dots, brackets, quotes, spaces) are quoted. */
const PLAIN_KEY = /^[^.[\]"\s]+$/;

/** Dotted path of a zod issue: `spec.dye.match[0].headers.x-user`; odd keys as `[""]`. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (!PLAIN_KEY.test(String(p))) out += `[${JSON.stringify(String(p))}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/** Turns zod issues into dyeline issues with paths relative to `prefix`. */
export function toIssues(error: z.ZodError, prefix = ''): Issue[] {
  const out: Issue[] = [];
  for (const issue of error.issues) {
    const base = formatPath(issue.path);
    const join = (p: string) => (prefix && p ? `${prefix}.${p}` : prefix || p);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: join(formatPath([...issue.path, key])), message: 'unknown field' });
    } else if (issue.code === 'invalid_key' && Array.isArray(issue.issues) && issue.issues.length > 0) {
      // A bad record key (header name, lane colour): say why the key is bad.
      out.push({ path: join(base), message: `key ${issue.issues.map((s) => s.message).join('; ')}` });
    } else if (issue.code === 'invalid_union' && 'errors' in issue && Array.isArray(issue.errors) && issue.errors.length > 0) {
      // Report the branch that got furthest rather than "invalid input".
      const best = (issue.errors as z.core.$ZodIssue[][]).reduce((a, b) => (a.length <= b.length ? a : b));
      for (const sub of best) out.push({ path: join(formatPath([...issue.path, ...sub.path])), message: sub.message });
    } else {
      out.push({ path: join(base), message: issue.message });
    }
  }
  return out;
}

/** Validates one rule document; never throws. */
export function validateDocument(raw: unknown): Validated<Document> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, issues: [{ path: '', message: 'a document must be a mapping with apiVersion, kind, metadata, spec' }] };
  }
  const r = raw as Record<string, unknown>;
  if (r.apiVersion !== API_VERSION) {
    return {
      ok: false,
      issues: [{ path: 'apiVersion', message: `must be "${API_VERSION}", got ${JSON.stringify(r.apiVersion ?? null)}` }],
    };
  }
  if (typeof r.kind !== 'string' || !(KINDS as readonly string[]).includes(r.kind)) {
    return {
      ok: false,
      issues: [{ path: 'kind', message: `must be one of ${KINDS.join(', ')}, got ${JSON.stringify(r.kind ?? null)}` }],
    };
  }
  const result = Document.safeParse(raw);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: toIssues(result.error) };
}

/** Like validateDocument, but throws a ValidationError. */
export function parseDocument(raw: unknown): Document {
  const v = validateDocument(raw);
  if (!v.ok) throw new ValidationError(ErrorCode.Schema, v.issues);
  return v.value;
}
