/**
 * Validation of one document at the edge: raw object → typed document with defaults, or the
 * list of problems, each naming its field path (e.g. `spec.retry.attempts`). The check is the
 * validator compiled from the zod schema (docs/footprint.md#the-snapshot-check): the daemon
 * loads no zod.
 */
import { ErrorCode, type Issue, ValidationError } from '../errors.ts';
import type { Document } from './documents.ts';
import { API_VERSION, KINDS } from './kinds.ts';
import { formatIssues } from './issues.ts';
import { checkDocument } from './validators/generated.ts';
import type { RawIssue } from './validators/runtime.ts';

/** The outcome of validating one document. */
export type Validated<T> = { ok: true; value: T } | { ok: false; issues: Issue[] };

/** A zod error's issues as dyeline reports them, with paths relative to `prefix` (for checks made with zod itself). */
export function toIssues(error: { issues: readonly object[] }, prefix = ''): Issue[] {
  return formatIssues(error.issues as readonly RawIssue[], prefix);
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
  const result = checkDocument(raw);
  if (result.ok) return { ok: true, value: result.value };
  return { ok: false, issues: formatIssues(result.issues) };
}

/** Like validateDocument, but throws a ValidationError. */
export function parseDocument(raw: unknown): Document {
  const v = validateDocument(raw);
  if (!v.ok) throw new ValidationError(ErrorCode.Schema, v.issues);
  return v.value;
}
