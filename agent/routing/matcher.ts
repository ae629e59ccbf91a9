/**
 * Dye rule matchers, compiled once per snapshot: a `ValueMatcher` becomes a predicate over a
 * value (regexes anchored and compiled here, never per request), a `MatchRule` becomes lists
 * of (name, predicate) pairs checked in order, all of which must hold.
 */
import type { MatchRule, ValueMatcher } from '../../shared/schema/fields.ts';
import { compileWholeMatch } from '../../shared/schema/regex.ts';
import { hashBucket } from './hash.ts';
import type { RequestView } from './types.ts';

/** A compiled value matcher: true when the value (undefined: absent) matches. */
export type ValueTest = (value: string | undefined) => boolean;

/**
 * Compiles one value matcher (the schema guarantees exactly one field is set):
 * - `exact`: equal strings; `prefix`: starts with;
 * - `regex`: the WHOLE value matches (RE2 syntax, linear time: shared/schema/regex.ts);
 * - `present: true|false`: present with any value | absent;
 * - `hashPercent: P`: the value's FNV-1a bucket (0..99) is below P; absent never matches.
 * Every matcher but `present: false` fails on an absent value.
 */
export function compileValueMatcher(m: ValueMatcher): ValueTest {
  if (m.exact !== undefined) {
    const want = m.exact;
    return (v) => v === want;
  }
  if (m.prefix !== undefined) {
    const want = m.prefix;
    return (v) => v !== undefined && v.startsWith(want);
  }
  if (m.regex !== undefined) {
    const whole = compileWholeMatch(m.regex);
    return (v) => v !== undefined && whole(v);
  }
  if (m.present !== undefined) {
    return m.present ? (v) => v !== undefined : (v) => v === undefined;
  }
  if (m.hashPercent !== undefined) {
    const pct = m.hashPercent;
    return (v) => v !== undefined && hashBucket(v) < pct;
  }
  // Unreachable for schema-validated input.
  throw new Error('value matcher with no condition');
}

/** One named condition of a compiled rule. */
export interface NamedTest {
  readonly name: string;
  readonly test: ValueTest;
}

/** A compiled `dye.match` entry: every condition must hold. */
export interface CompiledRule {
  /** Position in the lane's `dye.match`, from 0. */
  readonly index: number;
  /** Header conditions; names lower-cased. */
  readonly headers: readonly NamedTest[];
  readonly cookies: readonly NamedTest[];
  readonly query: readonly NamedTest[];
  /** Random percentage (0..100), or undefined when the rule has none. */
  readonly percent: number | undefined;
  /** The rule as written, for explain. */
  readonly source: MatchRule;
}

function named(map: Record<string, ValueMatcher> | undefined, lower: boolean): NamedTest[] {
  if (map === undefined) return [];
  return Object.entries(map).map(([name, m]) => ({ name: lower ? name.toLowerCase() : name, test: compileValueMatcher(m) }));
}

/** Compiles one `dye.match` entry. */
export function compileRule(rule: MatchRule, index: number): CompiledRule {
  return {
    index,
    headers: named(rule.headers, true),
    cookies: named(rule.cookies, false),
    query: named(rule.query, false),
    percent: rule.percent,
    source: rule,
  };
}

/**
 * True when every condition of `rule` holds for `req` except, possibly, its random `percent`
 * (checked by the caller, last, so randomness is drawn only when everything else matched).
 */
export function matchesDeterministic(rule: CompiledRule, req: RequestView): boolean {
  const h = rule.headers;
  for (let i = 0; i < h.length; i++) if (!h[i].test(req.header(h[i].name))) return false;
  const c = rule.cookies;
  for (let i = 0; i < c.length; i++) if (!c[i].test(req.cookie(c[i].name))) return false;
  const q = rule.query;
  for (let i = 0; i < q.length; i++) if (!q[i].test(req.query(q[i].name))) return false;
  return true;
}

/** True when `rule` has no random `percent` or its draw from `random` (a number in [0, 1)) falls within it. */
export function passesPercent(rule: CompiledRule, random: () => number): boolean {
  return rule.percent === undefined || random() * 100 < rule.percent;
}

/** True when `rule` matches `req`; `percent` draws from `random`. */
export function matchesRule(rule: CompiledRule, req: RequestView, random: () => number): boolean {
  return matchesDeterministic(rule, req) && passesPercent(rule, random);
}
