/**
 * What the validators compiled from the zod schema (generated.ts, written by emit.ts) call at
 * run time: issue bookkeeping as zod keeps it, and zod's notions of an object, a plain object,
 * a string's length and an input's type name. No zod here: the agent loads this, not zod
 * (docs/footprint.md#the-snapshot-check).
 */

/** One step of an issue's path: a field name, a record key or an array index. */
export type Key = PropertyKey;

/**
 * An issue as zod reports it, reduced to what dyeline reads (shared/schema/issues.ts): `continue`
 * says whether the checks after it still run (zod's abort rule).
 */
export interface RawIssue {
  code: string;
  path: Key[];
  message: string;
  continue?: boolean;
  /** unrecognized_keys: the unknown fields. */
  keys?: string[];
  /** invalid_key: why the key is bad (paths relative to the key). */
  issues?: RawIssue[];
  /** invalid_union: each option's issues (paths relative to the union). */
  errors?: RawIssue[][];
}

/** The outcome of a compiled validator. */
export type Checked<T> = { ok: true; value: T } | { ok: false; issues: RawIssue[] };

/** An issue since index `start` stops the checks that follow (zod: `aborted`). */
export function aborted(issues: readonly RawIssue[], start: number): boolean {
  for (let i = start; i < issues.length; i++) if (issues[i]!.continue !== true) return true;
  return false;
}

/** An issue since index `start` stops even the length checks (zod: `explicitlyAborted`). */
export function explicitlyAborted(issues: readonly RawIssue[], start: number): boolean {
  for (let i = start; i < issues.length; i++) if (issues[i]!.continue === false) return true;
  return false;
}

/** What zod's objects accept. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What zod's records accept (zod: `isPlainObject`). */
export function isPlainObject(v: unknown): v is Record<PropertyKey, unknown> {
  if (!isObject(v)) return false;
  const ctor = (v as { constructor?: unknown }).constructor;
  if (ctor === undefined || typeof ctor !== 'function') return true;
  const proto: unknown = ctor.prototype;
  if (!isObject(proto)) return false;
  return Object.prototype.hasOwnProperty.call(proto, 'isPrototypeOf');
}

export const propertyIsEnumerable = Object.prototype.propertyIsEnumerable;

const HIGH_SURROGATE = /[\uD800-\uDBFF]/;

/** A string's length in code points, as zod measures `min`/`max` of strings. */
export function codePoints(s: string): number {
  const units = s.length;
  if (!HIGH_SURROGATE.test(s)) return units;
  let count = units;
  for (let i = 0; i < units - 1; i++) {
    if ((s.charCodeAt(i) & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      count--;
      i++;
    }
  }
  return count;
}

/** Which of a length check's three messages applies: 0 a string, 1 an array, 2 anything else. */
export function lengthOrigin(v: unknown): 0 | 1 | 2 {
  return typeof v === 'string' ? 0 : Array.isArray(v) ? 1 : 2;
}

/** The type name an "expected X, received Y" message gives an input (zod: `parsedType`, named). */
export function received(v: unknown): string {
  switch (typeof v) {
    case 'number':
      return Number.isNaN(v) ? 'NaN' : Number.isFinite(v) ? 'number' : String(v);
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) return 'array';
      const ctor = Object.getPrototypeOf(v) !== Object.prototype && 'constructor' in v ? (v as { constructor: unknown }).constructor : undefined;
      if (ctor) {
        const name = String((ctor as { name?: unknown }).name);
        return name === 'nan' ? 'NaN' : name;
      }
      return 'object';
    }
    default:
      return typeof v;
  }
}

/** Zod's message of unknown fields (dyeline says "unknown field" per key: shared/schema/issues.ts). */
export function unrecognized(keys: readonly string[]): string {
  return `Unrecognized key${keys.length > 1 ? 's' : ''}: ${keys.map((k) => `"${k}"`).join(', ')}`;
}

/**
 * A union none of whose options accepted `input` (zod: handleUnionResults): the option whose
 * issues do not abort stands for it; otherwise one invalid_union issue carries every option's
 * issues, relative to the union. `issues[i]`, `values[i]`: option i's issues (absolute paths) and output.
 */
export function unionFailed(I: RawIssue[], path: readonly Key[], issues: RawIssue[][], values: unknown[], input: unknown, message: string): unknown {
  let only = -1;
  for (let i = 0; i < issues.length; i++) {
    if (aborted(issues[i]!, 0)) continue;
    if (only !== -1) {
      only = -2;
      break;
    }
    only = i;
  }
  if (only >= 0) {
    I.push(...issues[only]!);
    return values[only];
  }
  const errors = issues.map((list) => list.map((issue) => ({ ...issue, path: issue.path.slice(path.length) })));
  I.push({ code: 'invalid_union', path: path.slice(), errors, message });
  return input;
}
