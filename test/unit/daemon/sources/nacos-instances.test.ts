/** Nacos hosts → Instance documents, and what a `services=` list selects. */
import { describe, expect, it } from 'vitest';
import { instanceDocuments, namingKey, selectServices } from '../../../../daemon/sources/nacos-instances.ts';
import { validateDocument } from '../../../../shared/schema/validate.ts';

const issuesOf = (doc: unknown) => {
  const v = validateDocument(doc);
  return v.ok ? [] : v.issues;
};

describe('selectServices', () => {
  it('reads names, GROUP@@names, * and GROUP@@*, dropping blanks and duplicates', () => {
    expect(selectServices(['orders', ' payments ', '', 'orders', 'BLUE@@cart', '*', 'EU@@*', '@@x'])).toEqual({
      named: [
        { group: 'DEFAULT_GROUP', name: 'orders' },
        { group: 'DEFAULT_GROUP', name: 'payments' },
        { group: 'BLUE', name: 'cart' },
        { group: 'DEFAULT_GROUP', name: 'x' },
      ],
      allOf: ['DEFAULT_GROUP', 'EU'],
    });
    expect(selectServices([])).toEqual({ named: [], allOf: [] });
  });

  it('keys DEFAULT_GROUP services by name and others by GROUP@@name', () => {
    expect(namingKey({ group: 'DEFAULT_GROUP', name: 'orders' })).toBe('naming:orders');
    expect(namingKey({ group: 'BLUE', name: 'cart' })).toBe('naming:BLUE@@cart');
  });
});

describe('instanceDocuments', () => {
  const host = (over: Record<string, unknown>) => ({
    instanceId: '10.0.0.1#8080#DEFAULT#DEFAULT_GROUP@@orders',
    ip: '10.0.0.1',
    port: 8080,
    weight: 1.0,
    healthy: true,
    enabled: true,
    metadata: {},
    ...over,
  });

  it('maps ip, port, weight ×100, healthy and metadata; leaves disabled hosts out; sorts by name', () => {
    const docs = instanceDocuments('orders', [
      host({ instanceId: 'b', weight: 0.333, healthy: false, metadata: { color: 'canary', n: 3, ok: true, nested: { x: 1 }, nil: null } }),
      host({ instanceId: 'a' }),
      host({ instanceId: 'c', enabled: false }),
    ]);
    expect(docs).toEqual([
      {
        apiVersion: 'dyeline.io/v1',
        kind: 'Instance',
        metadata: { name: 'a' },
        spec: { service: 'orders', address: '10.0.0.1', port: 8080, weight: 100, labels: {}, healthy: true },
      },
      {
        apiVersion: 'dyeline.io/v1',
        kind: 'Instance',
        metadata: { name: 'b' },
        spec: { service: 'orders', address: '10.0.0.1', port: 8080, weight: 33, labels: { color: 'canary', n: '3', ok: 'true' }, healthy: false },
      },
    ]);
    for (const d of docs) expect(issuesOf(d)).toEqual([]);
  });

  it('defaults: no instanceId → ip#port, no weight → 100, legacy valid → healthy, huge weights capped at 10000', () => {
    const [a, b] = instanceDocuments('orders', [
      { ip: '10.0.0.9', port: 81, valid: false },
      { instanceId: 'z', ip: '10.0.0.8', port: 82, weight: 250 },
    ]) as { metadata: { name: string }; spec: Record<string, unknown> }[];
    expect(a!.metadata.name).toBe('10.0.0.9#81');
    expect(a!.spec).toMatchObject({ weight: 100, healthy: false });
    expect(b!.spec.weight).toBe(10_000);
  });

  it('a malformed host still becomes a document, so validation names the field at fault', () => {
    const [doc] = instanceDocuments('orders', [{ instanceId: 'broken', port: 'eighty' }]);
    const issues = issuesOf(doc);
    expect(issues.map((i) => i.path)).toEqual(expect.arrayContaining(['spec.address', 'spec.port']));
    expect(instanceDocuments('orders', [null, 7])).toHaveLength(2);
  });
});
