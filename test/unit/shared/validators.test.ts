/**
 * The validators compiled from the zod schema (shared/schema/validators/generated.ts) against
 * zod itself (test/support/validator-equivalence.ts): the committed file is what the schema makes
 * now, and on seeded fuzzed documents, hand-picked edge cases and every snapshot shape, the two
 * accept and reject the same inputs, with the same values and the same issues. The long run with
 * a new seed each time is `node test/fuzz/validators.ts`.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ServiceName } from '../../../shared/schema/fields.ts';
import { emitValidators } from '../../../shared/schema/validators/emit.ts';
import { GENERATED, validatorsSource } from '../../../shared/schema/validators/roots.ts';
import { checkDocument, checkSnapshot } from '../../../shared/schema/validators/generated.ts';
import { fuzzCases, nearValidDocument, progressiveDocument, seedDocuments } from '../../support/rule-fuzz.ts';
import { compare, difference, documentDifferences, PAIRS, pair, snapshotAround } from '../../support/validator-equivalence.ts';

const lane = { apiVersion: 'dyeline.io/v1', kind: 'Lane', metadata: { name: 'canary' }, spec: { color: 'canary', dye: { match: [{ headers: { 'x-canary': { exact: '1' } } }] } } };
const service = { apiVersion: 'dyeline.io/v1', kind: 'Service', metadata: { name: 'orders' }, spec: {} };
const instance = { apiVersion: 'dyeline.io/v1', kind: 'Instance', metadata: { name: 'orders-1' }, spec: { service: 'orders', address: '10.0.0.5', port: 8080 } };
const rollout = { apiVersion: 'dyeline.io/v1', kind: 'Rollout', metadata: { name: 'canary' }, spec: { lane: 'canary', stickyKey: 'header:x-user-id', steps: [{ percent: 5, pauseMs: 1000 }, { percent: 100 }] } };
const laneState = { apiVersion: 'dyeline.io/v1', kind: 'LaneState', metadata: { name: 'canary' }, spec: { share: 25, updatedAt: '2026-11-27T10:00:00Z' } };
const own = (o: Record<string, unknown>, k: string, v: unknown) => Object.defineProperty({ ...o }, k, { value: v, enumerable: true, writable: true, configurable: true });
const withSpec = (doc: { spec: object }, spec: Record<string, unknown>) => ({ ...doc, spec: { ...doc.spec, ...spec } });

/** Inputs that sit on zod's edges: types, bounds, keys, unions, defaults, refinements. */
const EDGES: [string, unknown][] = [
  ['nothing', undefined],
  ['null', null],
  ['a number', 42],
  ['an array', [lane]],
  ['a Date', new Date(0)],
  ['a Map', new Map()],
  ['a class instance', new (class Thing {})()],
  ['an object without prototype', Object.assign(Object.create(null), lane)],
  ['valid lane', lane],
  ['valid service (defaults filled)', service],
  ['valid instance', instance],
  ['kind missing', { ...lane, kind: undefined }],
  ['kind unknown', { ...lane, kind: 'Route' }],
  ['apiVersion wrong', { ...lane, apiVersion: 'v1' }],
  ['own __proto__ key at the top', own(lane, '__proto__', { x: 1 })],
  ['own __proto__ key in labels', withSpec(instance, { labels: own({ color: 'canary' }, '__proto__', 'x') })],
  ['own __proto__ key in a matcher map', withSpec(lane, { dye: { match: [{ headers: own({}, '__proto__', { exact: '1' }) }] } })],
  ['unknown fields, several', { ...lane, a: 1, b: 2, '': 3, 'x.y': 4 }],
  ['a name of 253 characters', { ...instance, metadata: { name: `a${'b'.repeat(251)}c` } }],
  ['a name of 254 characters', { ...instance, metadata: { name: `a${'b'.repeat(252)}c` } }],
  ['a colour of 32 surrogate pairs', withSpec(lane, { color: '😀'.repeat(32) })],
  ['a colour of 33 surrogate pairs', withSpec(lane, { color: '😀'.repeat(33) })],
  ['a lone surrogate', withSpec(lane, { color: '\uD800' })],
  ['NaN', withSpec(instance, { port: Number.NaN })],
  ['Infinity', withSpec(instance, { port: Number.POSITIVE_INFINITY })],
  ['a float port', withSpec(instance, { port: 80.5 })],
  ['an unsafe integer', withSpec(instance, { port: 2 ** 60 })],
  ['a negative unsafe integer', withSpec(service, { timeoutMs: -(2 ** 60) })],
  ['a port as a string', withSpec(instance, { port: '80' })],
  ['weight at its bound', withSpec(instance, { weight: 10000 })],
  ['weight past its bound', withSpec(instance, { weight: 10001 })],
  ['a split to 100', withSpec(service, { split: { stable: 70, canary: 30 } })],
  ['a split to 99', withSpec(service, { split: { stable: 70, canary: 29 } })],
  ['a split with a bad key and a bad value', withSpec(service, { split: { Stable: 70, canary: 300 } })],
  ['splitKey without split', withSpec(service, { splitKey: 'header:x-user' })],
  ['a lane falling back to itself', withSpec(lane, { fallback: 'canary' })],
  ['the reserved colour', withSpec(lane, { color: 'none' })],
  ['both refinements of a lane', withSpec(lane, { color: 'none', fallback: 'none' })],
  ['a matcher with two operations', withSpec(lane, { dye: { match: [{ headers: { a: { exact: '1', prefix: '2' } } }] } })],
  ['a matcher with none', withSpec(lane, { dye: { match: [{ headers: { a: {} } }] } })],
  ['a backreference', withSpec(lane, { dye: { match: [{ headers: { a: { regex: '(a)\\1' } } }] } })],
  ['a lookahead and a second operation', withSpec(lane, { dye: { match: [{ headers: { a: { regex: '(?=a)', exact: 'x' } } }] } })],
  ['a match entry without a condition', withSpec(lane, { dye: { match: [{}] } })],
  ['an empty match list', withSpec(lane, { dye: { match: [] } })],
  ['a retry condition out of the list', withSpec(service, { retry: { on: ['5xx', '600', 'nope'] } })],
  ['retry given as null', withSpec(service, { retry: null })],
  ['a bad header name as a key', withSpec(lane, { dye: { match: [{ headers: { 'bad header': { exact: '1' } } }] } })],
  ['an array where a record is', withSpec(service, { subsets: [] })],
  ['sparse array', withSpec(lane, { dye: { match: [, { percent: 5 }] } })],
  ['a valid rollout (analysis defaults filled)', rollout],
  ['rollout steps going down and not ending at 100', withSpec(rollout, { steps: [{ percent: 50 }, { percent: 20 }] })],
  ['rollout without steps', withSpec(rollout, { steps: [] })],
  ['a lane state with history (times with offset, fractions, and not ISO)', withSpec(laneState, { updatedAt: '2026-11-27T10:00:00.123+01:00', history: [{ at: '2026-11-27 10:00', by: 'rollout/canary', share: 5, degraded: false, reason: 'x' }] })],
  ['a lane state with an unknown phase and a share over 100', withSpec(laneState, { phase: 'Done', share: 101 })],
];

describe('validators compiled from the schema', () => {
  it('generated.ts is what the schema makes now (regenerate with npm run schema:validators)', () => {
    expect(readFileSync(GENERATED, 'utf8')).toBe(validatorsSource());
  });

  it('every root has a compiled validator', () => {
    expect(PAIRS.map((p) => p.name)).toEqual(['Snapshot', 'Document', 'ServiceSpec', 'AgentMessage', 'ServiceName', 'DocumentName', 'Labels']);
  });

  it.each(EDGES)('agrees with zod on %s', (_what, input) => {
    expect(documentDifferences(input)).toEqual([]);
  });

  it('agrees with zod on 1,500 seeded fuzzed documents, in every place the agent and the daemon check one', () => {
    const cases = fc.sample(fuzzCases(seedDocuments()), { seed: 20261127, numRuns: 1500 });
    const differences = cases.flatMap((c) => documentDifferences(c.doc).map((d) => `${d}\n  on ${JSON.stringify(c.doc).slice(0, 400)}`));
    expect(differences.slice(0, 5)).toEqual([]);
    // Both verdicts are exercised: accepted documents with defaults to fill, and rejected ones.
    const verdicts = cases.map((c) => checkDocument(c.doc).ok);
    expect(verdicts.filter(Boolean).length).toBeGreaterThan(150);
    expect(verdicts.filter((ok) => !ok).length).toBeGreaterThan(500);
  }, 60_000);

  it('agrees with zod on 600 seeded Rollout and LaneState documents, plain and mutated', () => {
    const plain = fc.sample(progressiveDocument, { seed: 20261127, numRuns: 300 });
    const mutated = fc.sample(nearValidDocument(plain.slice(0, 60)), { seed: 20261128, numRuns: 300 });
    const docs = [...plain, ...mutated];
    const differences = docs.flatMap((d) => documentDifferences(d).map((x) => `${x}\n  on ${JSON.stringify(d).slice(0, 400)}`));
    expect(differences.slice(0, 5)).toEqual([]);
    const verdicts = docs.map((d) => checkDocument(d).ok);
    expect(verdicts.filter(Boolean).length).toBeGreaterThan(60);
    expect(verdicts.filter((ok) => !ok).length).toBeGreaterThan(200);
  }, 60_000);

  it('agrees with zod on snapshot envelopes gone wrong', () => {
    const good = snapshotAround(lane, 'lanes');
    const variants: unknown[] = [
      good,
      { ...good, version: 0 },
      { ...good, version: 1.5 },
      { ...good, checksum: 'sha256:xyz' },
      { ...good, sources: [{ uri: 'file:///x', kind: 'File', synced: 'yes', revision: 3, syncedAt: null }] },
      { ...good, lanes: [{ document: lane }] },
      { ...good, lanes: [{ provenance: { source: 'file:///x', key: '/x', index: -1, extra: 1 }, document: lane }] },
      snapshotAround(instance, 'lanes'),
      snapshotAround(service, 'instances'),
      { ...good, kind: 'Document' },
      { ...good, lanes: undefined, services: null },
      { ...good, rollouts: undefined, laneStates: undefined },
      { ...good, rollouts: null },
      { ...good, laneStates: [{ provenance: { source: 'file:///x', key: '/x' }, document: lane }] },
    ];
    for (const v of variants) expect(difference('Snapshot', v)).toBeUndefined();
    expect(checkSnapshot(good).ok).toBe(true);
    expect(checkSnapshot({ ...good, version: 0 }).ok).toBe(false);
  });

  it('the comparison itself catches a validator that differs from its schema', () => {
    // The compiled service-name check against schemas one rule stricter or looser than its own.
    const check = pair('ServiceName').check;
    expect(compare('ServiceName', ServiceName, check, 'orders')).toBeUndefined();
    expect(compare('ServiceName', ServiceName.max(5), check, 'orders')).toMatch(/zod rejects .*compiled accepts/);
    expect(compare('ServiceName', z.string(), check, 'Orders')).toMatch(/zod accepts, compiled rejects/);
    expect(compare('ServiceName', ServiceName.max(3, { message: 'short' }), check, 'a'.repeat(64))).toMatch(/issues differ/);
    expect(compare('ServiceName', ServiceName.default('x').transform((s) => s.toUpperCase()), check, 'orders')).toMatch(/values differ/);
  });

  it('refuses to compile what it does not mirror, naming where it sits, rather than check less', () => {
    expect(() => emitValidators([{ name: 'X', schema: z.object({ a: z.coerce.number() }), type: 'unknown' }], '')).toThrow(/X\.a: z\.coerce/);
    expect(() => emitValidators([{ name: 'X', schema: z.object({ b: z.string().refine((s) => s !== 'x') }), type: 'unknown' }], '')).toThrow(/X\.b: a refinement that is not one of shared\/schema\/refinements\.ts/);
    expect(() => emitValidators([{ name: 'X', schema: z.object({ c: z.string().transform((s) => s.length) }), type: 'unknown' }], '')).toThrow(/X\.c/);
    expect(() => emitValidators([{ name: 'X', schema: z.looseObject({ d: z.string() }), type: 'unknown' }], '')).toThrow(/X: an object with a catchall/);
  });
});
