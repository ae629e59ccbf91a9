/**
 * Dozens of kinds of mistakes in rule documents: each is rejected with the field path and a
 * reason a person can act on.
 */
import { describe, expect, it } from 'vitest';
import { crossCheck } from '../../../shared/schema/cross-check.ts';
import { parseDocument, validateDocument } from '../../../shared/schema/validate.ts';
import { parseDocumentsText } from '../../../shared/schema/text.ts';

const lane = (spec: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'dyeline.io/v1',
  kind: 'Lane',
  metadata: { name: 'canary' },
  spec: { color: 'canary', ...spec },
  ...extra,
});
const service = (spec: Record<string, unknown>) => ({ apiVersion: 'dyeline.io/v1', kind: 'Service', metadata: { name: 'orders' }, spec });
const rollout = (spec: Record<string, unknown>, name = 'orders-v2') => ({
  apiVersion: 'dyeline.io/v1',
  kind: 'Rollout',
  metadata: { name },
  spec: { lane: 'canary', steps: [{ percent: 5, pauseMs: 1000 }, { percent: 100 }], ...spec },
});
const laneState = (spec: Record<string, unknown>, name = 'canary') => ({ apiVersion: 'dyeline.io/v1', kind: 'LaneState', metadata: { name }, spec });
const instance = (spec: Record<string, unknown>) => ({
  apiVersion: 'dyeline.io/v1',
  kind: 'Instance',
  metadata: { name: 'orders-1' },
  spec: { service: 'orders', address: '10.0.0.5', port: 8080, ...spec },
});

/** [what, document, expected path, expected message fragment] */
const cases: [string, unknown, string, RegExp][] = [
  ['not a mapping', 'just a string', '', /must be a mapping/],
  ['a list', [1, 2], '', /must be a mapping/],
  ['wrong apiVersion', { ...lane({}), apiVersion: 'v1' }, 'apiVersion', /must be "dyeline\.io\/v1"/],
  ['missing apiVersion', { kind: 'Lane', metadata: { name: 'x' }, spec: {} }, 'apiVersion', /must be "dyeline\.io\/v1"/],
  ['unknown kind', { ...lane({}), kind: 'Route' }, 'kind', /one of Lane, Service, Instance, Rollout, LaneState, got "Route"/],
  ['lower-case kind', { ...lane({}), kind: 'lane' }, 'kind', /one of Lane, Service, Instance/],
  ['missing metadata', { apiVersion: 'dyeline.io/v1', kind: 'Lane', spec: { color: 'canary' } }, 'metadata', /object/],
  ['missing name', { ...lane({}), metadata: {} }, 'metadata.name', /string/],
  ['bad name', { ...lane({}), metadata: { name: '-x-' } }, 'metadata.name', /must be a name/],
  ['unknown top-level field', lane({}, { status: {} }), 'status', /unknown field/],
  ['unknown field with an empty name (found by the rule fuzzer)', lane({}, { '': 1 }), '[""]', /unknown field/],
  ['unknown field with a dot in its name', lane({ 'a.b': 1 }), 'spec["a.b"]', /unknown field/],
  ['unknown metadata field', { ...lane({}), metadata: { name: 'canary', namespace: 3 } }, 'metadata.namespace', /unknown field/],
  ['missing spec', { apiVersion: 'dyeline.io/v1', kind: 'Lane', metadata: { name: 'x' } }, 'spec', /object/],
  ['colour with capitals', lane({ color: 'Canary' }), 'spec.color', /must be a colour/],
  ['colour too long', lane({ color: 'a'.repeat(40) }), 'spec.color', /32|colour/],
  ['colour "none"', lane({ color: 'none', fallback: 'stable' }), 'spec.color', /reserved/],
  ['fallback to itself', lane({ fallback: 'canary' }), 'spec.fallback', /itself/],
  ['priority not an integer', lane({ priority: 1.5 }), 'spec.priority', /int/i],
  ['priority as string', lane({ priority: 'high' }), 'spec.priority', /number/],
  ['dye without match', lane({ dye: { entry: ['frontend'] } }), 'spec.dye.match', /array/],
  ['empty match list', lane({ dye: { match: [] } }), 'spec.dye.match', /1/],
  ['empty match entry', lane({ dye: { match: [{}] } }), 'spec.dye.match[0]', /at least one of headers, cookies, query, percent/],
  ['unknown match field', lane({ dye: { match: [{ header: { a: { exact: 'x' } } }] } }), 'spec.dye.match[0].header', /unknown field/],
  ['matcher with two ops', lane({ dye: { match: [{ headers: { 'x-a': { exact: 'a', prefix: 'b' } } }] } }), 'spec.dye.match[0].headers.x-a', /exactly one/],
  ['matcher with no op', lane({ dye: { match: [{ headers: { 'x-a': {} } }] } }), 'spec.dye.match[0].headers.x-a', /exactly one/],
  ['unknown matcher op', lane({ dye: { match: [{ headers: { 'x-a': { equals: 'a' } } }] } }), 'spec.dye.match[0].headers.x-a.equals', /unknown field/],
  ['bad regex', lane({ dye: { match: [{ headers: { 'x-a': { regex: '([a-z' } } }] } }), 'spec.dye.match[0].headers.x-a.regex', /not an RE2 regular expression.*missing closing/],
  ['regex with a lookahead (not linear-time)', lane({ dye: { match: [{ headers: { 'x-a': { regex: '(?=a)a' } } }] } }), 'spec.dye.match[0].headers.x-a.regex', /not an RE2 regular expression \(no backreferences or lookaround\)/],
  ['hashPercent over 100', lane({ dye: { match: [{ headers: { 'x-user-id': { hashPercent: 150 } } }] } }), 'spec.dye.match[0].headers.x-user-id.hashPercent', /100/],
  ['negative percent', lane({ dye: { match: [{ percent: -1 }] } }), 'spec.dye.match[0].percent', /0/],
  ['bad header name', lane({ dye: { match: [{ headers: { 'bad header': { exact: 'x' } } }] } }), 'spec.dye.match[0].headers["bad header"]', /token/],
  ['entry not a list', lane({ dye: { entry: 'frontend', match: [{ percent: 5 }] } }), 'spec.dye.entry', /array/],
  ['bad entry service name', lane({ dye: { entry: ['Front End'], match: [{ percent: 5 }] } }), 'spec.dye.entry[0]', /service name/],
  ['split not summing to 100', service({ split: { stable: 90, canary: 20 } }), 'spec.split', /sum to 100/],
  ['split weight negative', service({ split: { stable: 110, canary: -10 } }), 'spec.split.canary', /0/],
  ['split lane not a colour', service({ split: { Stable: 100 } }), 'spec.split.Stable', /colour/],
  ['splitKey without split', service({ splitKey: 'header:x-user-id' }), 'spec.splitKey', /needs a split/],
  ['bad splitKey', service({ split: { stable: 100 }, splitKey: 'query:x' }), 'spec.splitKey', /header:NAME or cookie:NAME/],
  ['timeout zero', service({ timeoutMs: 0 }), 'spec.timeoutMs', /1/],
  ['timeout as string', service({ timeoutMs: '3s' }), 'spec.timeoutMs', /number/],
  ['retry attempts too many', service({ retry: { attempts: 50 } }), 'spec.retry.attempts', /10/],
  ['unknown retry condition', service({ retry: { on: ['sometimes'] } }), 'spec.retry.on[0]', /connect-failure|status code/],
  ['unknown retry field', service({ retry: { tries: 2 } }), 'spec.retry.tries', /unknown field/],
  ['breaker threshold over 100', service({ circuitBreaker: { errorThresholdPercentage: 150 } }), 'spec.circuitBreaker.errorThresholdPercentage', /100/],
  ['breaker volume zero', service({ circuitBreaker: { volumeThreshold: 0 } }), 'spec.circuitBreaker.volumeThreshold', /1/],
  ['outlier percent over 100', service({ outlierDetection: { maxEjectionPercent: 101 } }), 'spec.outlierDetection.maxEjectionPercent', /100/],
  ['subset selector not a map', service({ subsets: { canary: 'v2' } }), 'spec.subsets.canary', /record|object/],
  ['instance without service', { ...instance({}), spec: { address: '10.0.0.5', port: 80 } }, 'spec.service', /string/],
  ['instance port out of range', instance({ port: 70000 }), 'spec.port', /65535/],
  ['instance port as string', instance({ port: '8080' }), 'spec.port', /number/],
  ['instance address with spaces', instance({ address: 'a b' }), 'spec.address', /IP address or host name/],
  ['instance label value not a string', instance({ labels: { color: 1 } }), 'spec.labels.color', /string/],
  ['instance weight negative', instance({ weight: -5 }), 'spec.weight', /0/],
  ['rollout without steps', rollout({ steps: undefined }), 'spec.steps', /array/],
  ['rollout steps going down', rollout({ steps: [{ percent: 50 }, { percent: 10 }, { percent: 100 }] }), 'spec.steps', /must increase/],
  ['rollout not ending at 100', rollout({ steps: [{ percent: 5 }, { percent: 50 }] }), 'spec.steps', /last step must be percent 100/],
  ['rollout step over 100', rollout({ steps: [{ percent: 150 }] }), 'spec.steps[0].percent', /100/],
  ['rollout negative pause', rollout({ steps: [{ percent: 100, pauseMs: -1 }] }), 'spec.steps[0].pauseMs', /0/],
  ['rollout bad sticky key', rollout({ stickyKey: 'x-user-id' }), 'spec.stickyKey', /header:NAME or cookie:NAME/],
  ['rollout interval too short', rollout({ analysis: { intervalMs: 10 } }), 'spec.analysis.intervalMs', /500/],
  ['rollout failure limit zero', rollout({ analysis: { failureLimit: 0 } }), 'spec.analysis.failureLimit', /1/],
  ['rollout latency ratio below 1', rollout({ analysis: { maxLatencyRatio: 0.5 } }), 'spec.analysis.maxLatencyRatio', /1/],
  ['rollout unknown analysis field', rollout({ analysis: { p99: true } }), 'spec.analysis.p99', /unknown field/],
  ['lane state share over 100', laneState({ share: 120 }), 'spec.share', /100/],
  ['lane state unknown phase', laneState({ phase: 'Done' }), 'spec.phase', /Progressing/],
  ['lane state degraded as string', laneState({ degraded: 'yes' }), 'spec.degraded', /boolean/],
  ['lane state bad timestamp', laneState({ updatedAt: 'now' }), 'spec.updatedAt', /datetime|date/i],
];

describe('rule document mistakes', () => {
  it.each(cases)('%s', (_what, doc, path, message) => {
    const v = validateDocument(doc);
    expect(v.ok).toBe(false);
    if (v.ok) return;
    const hit = v.issues.find((i) => i.path === path);
    expect(hit, `issues were ${JSON.stringify(v.issues)}`).toBeDefined();
    expect(hit!.message).toMatch(message);
  });

  it('has dozens of cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it('fills documented defaults on a valid document', () => {
    const s = parseDocument(service({}));
    expect(s.kind).toBe('Service');
    if (s.kind !== 'Service') return;
    expect(s.spec.timeoutMs).toBe(15_000);
    expect(s.spec.retry).toEqual({ attempts: 2, on: ['connect-failure', 'reset', 'timeout', '5xx'], budgetPercent: 20 });
    expect(s.spec.circuitBreaker).toEqual({ errorThresholdPercentage: 50, volumeThreshold: 10, windowMs: 10_000, resetTimeoutMs: 10_000, slowCallPercentage: 50 });
    expect(s.spec.outlierDetection.maxEjectionPercent).toBe(50);
    const l = parseDocument(lane({}));
    if (l.kind !== 'Lane') throw new Error('not a lane');
    expect(l.spec.fallback).toBe('stable');
    expect(l.spec.priority).toBe(0);
  });

  it('reports YAML syntax errors per document without losing the others', () => {
    const docs = parseDocumentsText('a: [1, 2\n---\napiVersion: dyeline.io/v1\n');
    expect(docs).toHaveLength(2);
    expect(docs[0]!.issues?.[0]?.message).toMatch(/^YAML: /);
    expect(docs[1]!.value).toEqual({ apiVersion: 'dyeline.io/v1' });
  });

  it('reports an alias bomb as a finding of that document, keeping the others', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcdefg'.split('').map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcdefg'[i]}`).join(', ')}]`)].join('\n');
    const docs = parseDocumentsText(`${bomb}\n---\napiVersion: dyeline.io/v1\n`);
    expect(docs).toHaveLength(2);
    expect(docs[0]!.value).toBeUndefined();
    expect(docs[0]!.issues?.[0]?.message).toMatch(/^YAML: .*[Aa]lias/);
    expect(docs[1]!.value).toEqual({ apiVersion: 'dyeline.io/v1' });
  });

  it('reports an alias to no anchor as a YAML issue of its document, never throwing (found by the rule fuzzer)', () => {
    const docs = parseDocumentsText('*nothing\n---\napiVersion: dyeline.io/v1\n');
    expect(docs[0]!.issues?.[0]?.message).toMatch(/^YAML: Unresolved alias/);
    expect(docs[1]!.value).toEqual({ apiVersion: 'dyeline.io/v1' });
  });

  it('rejects duplicate YAML keys', () => {
    const docs = parseDocumentsText('kind: Lane\nkind: Service\n');
    expect(docs[0]!.issues?.[0]?.message).toMatch(/YAML: .*[Dd]uplicate|unique/);
  });

  it('cross-checks lanes named by splits, subsets and fallbacks', () => {
    const docs = [
      parseDocument(lane({ fallback: 'blue' })),
      parseDocument(service({ split: { stable: 50, green: 50 }, subsets: { purple: { version: 'v3' } } })),
    ];
    const problems = crossCheck(docs);
    expect(problems.get('Lane/canary')?.[0]).toMatchObject({ path: 'spec.fallback', message: expect.stringMatching(/unknown lane "blue"/) });
    const svc = problems.get('Service/orders')!;
    expect(svc.map((i) => i.path).sort()).toEqual(['spec.split.green', 'spec.subsets.purple']);
  });

  it('cross-checks Rollouts and LaneStates: a Lane document, not stable, one Rollout per lane', () => {
    const docs = [
      parseDocument(lane({})),
      parseDocument({ ...lane({ color: 'stable', fallback: 'none' }), metadata: { name: 'main' } }),
      parseDocument(rollout({})),
      parseDocument(rollout({}, 'orders-v3')),
      parseDocument(rollout({ lane: 'ghost' }, 'ghost-rollout')),
      parseDocument(rollout({ lane: 'main' }, 'main-rollout')),
      parseDocument(laneState({ share: 5 })),
      parseDocument(laneState({ share: 5 }, 'blue')),
    ];
    const problems = crossCheck(docs);
    expect(problems.has('Rollout/orders-v2')).toBe(false);
    expect(problems.has('LaneState/canary')).toBe(false);
    expect(problems.get('Rollout/orders-v3')?.[0]).toMatchObject({ path: 'spec.lane', message: 'lane "canary" is already driven by Rollout "orders-v2"' });
    expect(problems.get('Rollout/ghost-rollout')?.[0]).toMatchObject({ path: 'spec.lane', message: 'unknown Lane "ghost" (Lane documents: canary, main)' });
    expect(problems.get('Rollout/main-rollout')?.[0]?.message).toMatch(/Lane "main" is the stable lane/);
    expect(problems.get('LaneState/blue')?.[0]).toMatchObject({ path: 'metadata.name', message: expect.stringMatching(/^a LaneState is named after its Lane: unknown Lane "blue"/) });
  });

  it('cross-checks duplicate lane colours', () => {
    const a = parseDocument(lane({}));
    const b = parseDocument({ ...lane({}), metadata: { name: 'canary-2' } });
    expect(crossCheck([a, b]).get('Lane/canary-2')?.[0]?.message).toMatch(/already the colour of lane "canary"/);
  });
});
