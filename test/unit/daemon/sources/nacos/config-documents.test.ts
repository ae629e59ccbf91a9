/**
 * One document replaced in a Nacos config's text: the other documents, comments and separators
 * stay byte for byte; an absent document is appended; JSON stays JSON; a text that cannot be
 * rewritten safely is refused.
 */
import { describe, expect, it } from 'vitest';
import { ConfigTextError, replaceDocument } from '../../../../../daemon/sources/nacos/config-documents.ts';
import { parseDocumentsText } from '../../../../../shared/schema/text.ts';

const doc = (share: number) => ({ apiVersion: 'dyeline.io/v1', kind: 'LaneState', metadata: { name: 'canary' }, spec: { share, degraded: false, history: [] } });
const LANE = '# the lanes\napiVersion: dyeline.io/v1\nkind: Lane # canary lane\nmetadata: { name: canary }\nspec: { color: canary }\n';
const ROLLOUT = '---\n# rollout\napiVersion: dyeline.io/v1\nkind: Rollout\nmetadata:\n  name: orders-v2\nspec: {lane: canary, steps: [{percent: 5}]}\n';

const values = (text: string) => parseDocumentsText(text).map((d) => d.value);

describe('replaceDocument', () => {
  it('writes a new config when there is none', () => {
    const out = replaceDocument(null, doc(5));
    expect(values(out)).toEqual([doc(5)]);
    expect(out).toMatch(/^# Written by dyeline/);
  });

  it('appends the document and keeps every byte of the rest', () => {
    const text = LANE + ROLLOUT;
    const out = replaceDocument(text, doc(5));
    expect(out.startsWith(text)).toBe(true);
    expect(values(out)).toEqual([...values(text), doc(5)]);
  });

  it('replaces the document in place, the bytes around it unchanged', () => {
    const first = replaceDocument(LANE + ROLLOUT, doc(5));
    const withTail = `${first}---\n# after\nkind: Other\nmetadata: { name: x }\n`;
    const out = replaceDocument(withTail, doc(25));
    expect(values(out)).toEqual([...values(LANE + ROLLOUT), doc(25), { kind: 'Other', metadata: { name: 'x' } }]);
    expect(out.startsWith(LANE + ROLLOUT)).toBe(true);
    expect(out.endsWith('---\n# after\nkind: Other\nmetadata: { name: x }\n')).toBe(true);
  });

  it('replaces a document that starts on its --- line', () => {
    const text = `${LANE}--- {apiVersion: dyeline.io/v1, kind: LaneState, metadata: {name: canary}, spec: {share: 5, degraded: false, history: []}}\n`;
    const out = replaceDocument(text, doc(100));
    expect(values(out)).toEqual([values(LANE)[0], doc(100)]);
    expect(out.startsWith(LANE)).toBe(true);
  });

  it('keeps JSON as JSON: a single document becomes an array with both', () => {
    const lane = { apiVersion: 'dyeline.io/v1', kind: 'Lane', metadata: { name: 'canary' }, spec: { color: 'canary' } };
    const out = replaceDocument(JSON.stringify(lane), doc(5));
    expect(JSON.parse(out)).toEqual([lane, doc(5)]);
    expect(JSON.parse(replaceDocument(out, doc(25)))).toEqual([lane, doc(25)]);
  });

  it('refuses a config with YAML errors or the document twice, rather than write over them', () => {
    expect(() => replaceDocument(`${LANE}---\nkind: [unclosed\n`, doc(5))).toThrow(ConfigTextError);
    const twice = replaceDocument(replaceDocument(LANE, doc(5)), doc(5));
    expect(() => replaceDocument(`${twice}---\n${twice}`, doc(5))).toThrow(/2 times/);
  });
});
