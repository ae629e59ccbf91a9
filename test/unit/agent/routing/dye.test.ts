import { describe, expect, it } from 'vitest';
import { compileSnapshot } from '../../../../agent/routing/compile.ts';
import { EndpointStates } from '../../../../agent/routing/endpoint-states.ts';
import { hashBucket } from '../../../../agent/routing/hash.ts';
import type { DocumentInput } from '../../../../shared/schema/documents.ts';
import { buildSnapshot, lane, requestView, seededRandom } from '../../../support/snapshot-builder.ts';

const table = (docs: DocumentInput[]) => compileSnapshot(buildSnapshot(docs), new EndpointStates());
const noRandom = () => {
  throw new Error('random drawn');
};

describe('dye', () => {
  it('dyes with the first matching rule of the lane and reports lane and rule index', () => {
    const t = table([
      lane('canary', {
        dye: {
          match: [{ headers: { 'x-internal-user': { exact: 'true' } } }, { cookies: { beta: { exact: '1' } } }, { query: { lane: { exact: 'canary' } } }],
        },
      }),
    ]);
    expect(t.dye('frontend', requestView({ 'x-internal-user': 'true' }), noRandom)).toEqual({ color: 'canary', lane: 'canary', rule: 0 });
    expect(t.dye('frontend', requestView({}, { beta: '1' }), noRandom)).toEqual({ color: 'canary', lane: 'canary', rule: 1 });
    expect(t.dye('frontend', requestView({}, {}, { lane: 'canary' }), noRandom)).toEqual({ color: 'canary', lane: 'canary', rule: 2 });
    expect(t.dye('frontend', requestView({ 'x-internal-user': 'false' }), noRandom)).toBeUndefined();
  });

  it('tries lanes by descending priority, then by name', () => {
    const match = [{ headers: { 'x-beta': { present: true } } }];
    const t = table([
      lane('alpha', { priority: 1, dye: { match } }),
      lane('zulu', { priority: 5, dye: { match } }),
      lane('bravo', { priority: 5, dye: { match } }),
      lane('low', { priority: -3, dye: { match: [{ headers: { 'x-low': { present: true } } }] } }),
    ]);
    expect(t.dye('s', requestView({ 'x-beta': '1' }), noRandom)?.color).toBe('bravo');
    expect(t.dye('s', requestView({ 'x-low': '1' }), noRandom)?.color).toBe('low');
    expect(t.dyeTable.lanesFor('s').map((l) => l.name)).toEqual(['bravo', 'zulu', 'alpha', 'low']);
  });

  it('applies a lane only at its entry services; no entry means every service', () => {
    const match = [{ headers: { 'x-beta': { present: true } } }];
    const t = table([
      lane('canary', { priority: 10, dye: { entry: ['frontend', 'gateway'], match } }),
      lane('blue', { priority: 1, dye: { match } }),
      lane('plain'),
    ]);
    const req = requestView({ 'x-beta': '1' });
    expect(t.dye('frontend', req, noRandom)?.color).toBe('canary');
    expect(t.dye('gateway', req, noRandom)?.color).toBe('canary');
    expect(t.dye('orders', req, noRandom)?.color).toBe('blue');
    expect(table([lane('canary', { dye: { entry: ['frontend'], match } })]).dye('orders', req, noRandom)).toBeUndefined();
  });

  it('hashPercent is sticky per value and spreads distinct values by the percentage', () => {
    const t = table([lane('canary', { dye: { match: [{ headers: { 'x-user-id': { hashPercent: 10 } } }] } })]);
    let dyed = 0;
    const total = 10_000;
    for (let i = 0; i < total; i++) {
      const req = requestView({ 'x-user-id': `user-${i}` });
      const first = t.dye('frontend', req, noRandom)?.color;
      for (let k = 0; k < 3; k++) expect(t.dye('frontend', req, noRandom)?.color).toBe(first);
      expect(first === 'canary').toBe(hashBucket(`user-${i}`) < 10);
      if (first === 'canary') dyed++;
    }
    expect(dyed / total).toBeGreaterThan(0.085);
    expect(dyed / total).toBeLessThan(0.115);
    // A header that is absent never matches.
    expect(t.dye('frontend', requestView({}), noRandom)).toBeUndefined();
  });

  it('percent dyes a random share of requests', () => {
    const t = table([lane('canary', { dye: { match: [{ percent: 5 }] } })]);
    const random = seededRandom(7);
    let dyed = 0;
    for (let i = 0; i < 4000; i++) if (t.dye('s', requestView(), random)) dyed++;
    expect(dyed / 4000).toBeGreaterThan(0.035);
    expect(dyed / 4000).toBeLessThan(0.065);
  });

  it('lanes without dye rules never dye', () => {
    expect(table([lane('canary')]).dye('s', requestView({ 'x-traffic-color': 'canary' }), noRandom)).toBeUndefined();
  });
});
