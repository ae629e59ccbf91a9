/**
 * Validation of one document at the edge: raw object → typed document with defaults, or the
 * list of problems, each naming its field path (e.g. `spec.retry.attempts`).
 */
import { z } from 'zod';
import { ErrorCode, type Issue, ValidationError } from '../errors.ts';
import { API_VERSION, Document, KINDS } from './documents.ts';
import { formatIssues } from './issues.ts';
import type { RawIssue } from './validators/runtime.ts';

/** The outcome of validating one document. */
export type Validated<T> = { ok: true; value: T } | { ok: false; issues: Issue[] };

/** Turns zod issues into dyeline issues with paths relative to `prefix`. */
export function toIssues(error: z.ZodError, prefix = ''): Issue[] {
  return formatIssues(error.issues as unknown as RawIssue[], prefix);
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
