import { describe, expect, it } from 'vitest';
import { compileSnapshot } from '../../../../agent/routing/compile.ts';
import { EndpointStates } from '../../../../agent/routing/endpoint-states.ts';
import type { DocumentInput } from '../../../../shared/schema/documents.ts';
import { buildSnapshot, instance, lane, service } from '../../../support/snapshot-builder.ts';

const table = (docs: DocumentInput[]) => compileSnapshot(buildSnapshot(docs), new EndpointStates());
const names = (eps: readonly { name: string }[]) => eps.map((e) => e.name);

describe('subsets', () => {
  it('default selector: color label, no label = stable', () => {
    const t = table([
      lane('canary'),
      instance('o1', 'orders', '10.0.0.1'),
      instance('o2', 'orders', '10.0.0.2', { color: 'canary' }),
      instance('o3', 'orders', '10.0.0.3', { color: 'stable' }),
      instance('o4', 'orders', '10.0.0.4', { color: 'gray' }),
    ]);
    const svc = t.service('orders')!;
    expect([...svc.subsets.keys()]).toEqual(['canary', 'gray', 'stable']);
    expect(names(svc.subsets.get('stable')!.endpoints)).toEqual(['o1', 'o3']);
    expect(names(svc.subsets.get('canary')!.endpoints)).toEqual(['o2']);
    expect(svc.endpoints[1]).toMatchObject({ key: '10.0.0.2:8080', color: 'canary', weight: 100, healthy: true });
  });

  it('explicit selectors need every label; an instance may be in several subsets', () => {
    const t = table([
      lane('canary'),
      lane('perf'),
      service('orders', { subsets: { stable: { version: 'v1' }, canary: { version: 'v2', zone: 'a' }, perf: {} } }),
      instance('v1', 'orders', '10.0.0.1', { labels: { version: 'v1' } }),
      instance('v2a', 'orders', '10.0.0.2', { labels: { version: 'v2', zone: 'a' } }),
      instance('v2b', 'orders', '10.0.0.3', { labels: { version: 'v2', zone: 'b' } }),
      instance('c', 'orders', '10.0.0.4', { color: 'canary' }),
    ]);
    const svc = t.service('orders')!;
    expect(names(svc.subsets.get('stable')!.endpoints)).toEqual(['v1']);
    expect(names(svc.subsets.get('canary')!.endpoints)).toEqual(['v2a']);
    expect(names(svc.subsets.get('perf')!.endpoints)).toEqual(['v1', 'v2a', 'v2b', 'c']);
    // Shared Endpoint objects, so shared live state.
    expect(svc.subsets.get('perf')!.endpoints[0]).toBe(svc.subsets.get('stable')!.endpoints[0]);
    expect(svc.endpoints).toHaveLength(4);
  });

  it('unhealthy and weight-0 instances are members but not routable', () => {
    const t = table([
      instance('a', 'orders', '10.0.0.1', { weight: 0 }),
      instance('b', 'orders', '10.0.0.2', { healthy: false }),
      instance('c', 'orders', '10.0.0.3', { weight: 30 }),
      instance('d', 'orders', '10.0.0.4', { weight: 70 }),
    ]);
    const s = t.service('orders')!.subsets.get('stable')!;
    expect(names(s.endpoints)).toEqual(['c', 'd']);
    expect(names(s.excluded)).toEqual(['a', 'b']);
    expect(s.totalWeight).toBe(100);
    expect(s.cumulativeWeights).toEqual([30, 100]);
  });

  it('equal weights sample uniformly; IPv6 keys are bracketed', () => {
    const t = table([instance('a', 'orders', 'fd00::1'), instance('b', 'orders', 'fd00::2', { port: 9000 })]);
    const s = t.service('orders')!.subsets.get('stable')!;
    expect(s.cumulativeWeights).toBeUndefined();
    expect(s.endpoints.map((e) => e.key)).toEqual(['[fd00::1]:8080', '[fd00::2]:9000']);
  });
});
