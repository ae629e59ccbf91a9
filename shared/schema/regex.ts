/**
 * The regular expressions of dye matchers: RE2 syntax, matched by re2js (a port of RE2) in time
 * linear in the length of the value, so no pattern an operator writes can make a request value
 * (up to 16 KiB of header on the public inbound listener) take exponential time. RE2 has no
 * backreferences and no lookaround; a pattern using them, or beyond RE2's limits (a repeat
 * count over 1000), is rejected at validation. re2js is loaded on first use only: an agent whose
 * rules have no regex never loads it.
 */
import { createRequire } from 'node:module';
import type { RE2JS as RE2JSType } from 're2js';

let engine: typeof RE2JSType | undefined;

function re2(): typeof RE2JSType {
  engine ??= (createRequire(import.meta.url)('re2js') as { RE2JS: typeof RE2JSType }).RE2JS;
  return engine;
}

/** Why `pattern` is not an RE2 regular expression, or undefined when it is one. */
export function regexProblem(pattern: string): string | undefined {
  try {
    re2().compile(pattern);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** A test that is true when the WHOLE value matches `pattern` (RE2 syntax; throws when invalid). */
export function compileWholeMatch(pattern: string): (value: string) => boolean {
  const p = re2().compile(pattern);
  return (value) => p.matches(value);
}
