/**
 * Validation issues as dyeline reports them: a dotted field path (`spec.retry.attempts`, odd keys
 * as `[""]`) and a message, from zod's issues or the compiled validators' (the same shape:
 * shared/schema/validators/runtime.ts). No zod here.
 */
import type { Issue } from '../errors.ts';
import type { RawIssue } from './validators/runtime.ts';

/** A key that reads unambiguously after a dot; others (empty, with dots, brackets, quotes, spaces) are quoted. */
const PLAIN_KEY = /^[^.[\]"\s]+$/;

/** Dotted path of an issue: `spec.dye.match[0].headers.x-user`; odd keys as `[""]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (!PLAIN_KEY.test(String(p))) out += `[${JSON.stringify(String(p))}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/** Issues with paths relative to `prefix`: an unknown field each, a bad key with why, a union by its closest option. */
export function formatIssues(issues: readonly RawIssue[], prefix = ''): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    const base = formatPath(issue.path);
    const join = (p: string) => (prefix && p ? `${prefix}.${p}` : prefix || p);
    if (issue.code === 'unrecognized_keys' && issue.keys) {
      for (const key of issue.keys) out.push({ path: join(formatPath([...issue.path, key])), message: 'unknown field' });
    } else if (issue.code === 'invalid_key' && Array.isArray(issue.issues) && issue.issues.length > 0) {
      // A bad record key (header name, lane colour): say why the key is bad.
      out.push({ path: join(base), message: `key ${issue.issues.map((s) => s.message).join('; ')}` });
    } else if (issue.code === 'invalid_union' && Array.isArray(issue.errors) && issue.errors.length > 0) {
      // Report the option that got furthest rather than "invalid input".
      const best = issue.errors.reduce((a, b) => (a.length <= b.length ? a : b));
      for (const sub of best) out.push({ path: join(formatPath([...issue.path, ...sub.path])), message: sub.message });
    } else {
      out.push({ path: join(base), message: issue.message });
    }
  }
  return out;
}
