import { describe, expect, it } from 'vitest';
import { compileRule, compileValueMatcher, matchesRule } from '../../../../agent/routing/matcher.ts';
import { hashBucket } from '../../../../agent/routing/hash.ts';
import { MatchRule, ValueMatcher } from '../../../../shared/schema/fields.ts';
import { requestView } from '../../../support/snapshot-builder.ts';

const vm = (raw: unknown) => compileValueMatcher(ValueMatcher.parse(raw));
const never = () => {
  throw new Error('random drawn');
};

describe('value matchers', () => {
  it('exact compares whole strings and fails when absent', () => {
    const t = vm({ exact: 'true' });
    expect(t('true')).toBe(true);
    expect(t('True')).toBe(false);
    expect(t('true ')).toBe(false);
    expect(t(undefined)).toBe(false);
    expect(vm({ exact: '' })('')).toBe(true);
  });

  it('prefix', () => {
    const t = vm({ prefix: 'beta-' });
    expect(t('beta-42')).toBe(true);
    expect(t('beta-')).toBe(true);
    expect(t('xbeta-1')).toBe(false);
    expect(t(undefined)).toBe(false);
  });

  it('regex is anchored to the whole value', () => {
    const t = vm({ regex: '[0-9]+' });
    expect(t('12345')).toBe(true);
    expect(t('a123')).toBe(false);
    expect(t('123a')).toBe(false);
    const alt = vm({ regex: 'foo|bar' });
    expect(alt('bar')).toBe(true);
    expect(alt('foobar')).toBe(false);
    expect(alt('xbar')).toBe(false);
    expect(t(undefined)).toBe(false);
  });

  it('regex matching takes time linear in the value: a pattern that backtracks exponentially is harmless on a 16 KiB header', () => {
    const t = vm({ regex: '(a+)+$' });
    // Before: ECMAScript backtracking, ~2^n steps (n = 28: seconds; 16 KiB: forever).
    for (const n of [28, 16 * 1024]) {
      const v = `${'a'.repeat(n)}!`;
      const t0 = performance.now();
      expect(t(v)).toBe(false);
      expect({ n, fast: performance.now() - t0 < 100 }).toEqual({ n, fast: true });
    }
    expect(t('aaaa')).toBe(true);
  });

  it('regex syntax is RE2: backreferences and lookaround are rejected at validation with the field path', () => {
    for (const regex of ['(a)\\1', '(?=a)b', '(?<!x)y', 'a{1001}']) {
      const r = MatchRule.safeParse({ headers: { 'x-user': { regex } } });
      expect({ regex, ok: r.success }).toEqual({ regex, ok: false });
      expect(r.error!.issues[0]!.path.join('.')).toBe('headers.x-user.regex');
      expect(r.error!.issues[0]!.message).toMatch(/RE2/);
    }
    expect(MatchRule.safeParse({ headers: { 'x-user': { regex: '(?:beta|gamma)-[a-z]*' } } }).success).toBe(true);
  });

  it('present true/false', () => {
    expect(vm({ present: true })('')).toBe(true);
    expect(vm({ present: true })(undefined)).toBe(false);
    expect(vm({ present: false })(undefined)).toBe(true);
    expect(vm({ present: false })('x')).toBe(false);
  });

  it('hashPercent matches exactly the values whose bucket is below the percentage', () => {
    const t = vm({ hashPercent: 30 });
    for (let i = 0; i < 500; i++) {
      const v = `id-${i}`;
      expect(t(v)).toBe(hashBucket(v) < 30);
    }
    expect(t(undefined)).toBe(false);
    expect(vm({ hashPercent: 0 })('anything')).toBe(false);
    expect(vm({ hashPercent: 100 })('anything')).toBe(true);
  });
});

describe('match rules', () => {
  const rule = (raw: unknown) => compileRule(MatchRule.parse(raw), 0);

  it('ANDs headers, cookies and query; header names are case-insensitive', () => {
    const r = rule({ headers: { 'X-Internal-User': { exact: 'true' } }, cookies: { beta: { exact: '1' } }, query: { lane: { exact: 'canary' } } });
    expect(r.headers[0].name).toBe('x-internal-user');
    expect(matchesRule(r, requestView({ 'x-internal-user': 'true' }, { beta: '1' }, { lane: 'canary' }), never)).toBe(true);
    expect(matchesRule(r, requestView({ 'x-internal-user': 'true' }, { beta: '1' }, {}), never)).toBe(false);
    expect(matchesRule(r, requestView({}, { beta: '1' }, { lane: 'canary' }), never)).toBe(false);
  });

  it('cookie and query names keep their case', () => {
    const r = rule({ cookies: { Beta: { exact: '1' } } });
    expect(matchesRule(r, requestView({}, { Beta: '1' }), never)).toBe(true);
    expect(matchesRule(r, requestView({}, { beta: '1' }), never)).toBe(false);
  });

  it('percent draws randomness only after every other condition held', () => {
    const r = rule({ headers: { 'x-a': { present: true } }, percent: 50 });
    expect(matchesRule(r, requestView({}), never)).toBe(false);
    expect(matchesRule(r, requestView({ 'x-a': '1' }), () => 0.49)).toBe(true);
    expect(matchesRule(r, requestView({ 'x-a': '1' }), () => 0.5)).toBe(false);
    expect(matchesRule(rule({ percent: 100 }), requestView(), () => 0.999999)).toBe(true);
    expect(matchesRule(rule({ percent: 0 }), requestView(), () => 0)).toBe(false);
  });
});
