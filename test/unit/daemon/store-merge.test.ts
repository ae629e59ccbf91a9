import { describe, expect, it } from 'vitest';
import { merge } from '../../../daemon/merge.ts';
import { SourceStore } from '../../../daemon/store.ts';

const laneYaml = (name: string, color: string, extra = '') =>
  `apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: ${name} }\nspec: { color: ${color}${extra} }\n`;
const serviceYaml = (name: string, split: string) =>
  `apiVersion: dyeline.io/v1\nkind: Service\nmetadata: { name: ${name} }\nspec: { split: ${split} }\n`;

describe('SourceStore', () => {
  it('keeps the previous valid version of a document that turns invalid', () => {
    const s = new SourceStore('file:///x');
    expect(s.put({ key: '/x/a.yaml', text: laneYaml('canary', 'canary', ', priority: 5') })).toEqual([]);
    const rej = s.put({ key: '/x/a.yaml', text: laneYaml('canary', 'canary', ', priority: high') });
    expect(rej).toHaveLength(1);
    expect(rej[0]!.reason).toMatch(/^Lane\/canary: spec\.priority: .*\(previous version kept\)$/);
    const docs = [...s.accepted()];
    expect(docs).toHaveLength(1);
    expect(docs[0]!.doc.kind === 'Lane' && docs[0]!.doc.spec.priority).toBe(5);
  });

  it('applies every other document of a multi-document item', () => {
    const s = new SourceStore('file:///x');
    const text = [laneYaml('a', 'blue'), 'apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: b }\nspec: { colour: red }\n', laneYaml('c', 'green')].join('---\n');
    const rej = s.put({ key: 'k', text });
    expect(rej.map((r) => r.key)).toEqual(['k#1']);
    expect([...s.accepted()].map((a) => a.identity)).toEqual(['Lane/a', 'Lane/c']);
  });

  it('keeps the previous document at the same position when the new one cannot even name itself', () => {
    const s = new SourceStore('file:///x');
    s.put({ key: 'k', text: [laneYaml('a', 'blue'), laneYaml('b', 'red')].join('---\n') });
    const rej = s.put({ key: 'k', text: [laneYaml('a', 'blue'), 'apiVersion: dyeline.io/v1\nkind: Lane\nspec: {}\n'].join('---\n') });
    expect(rej[0]!.reason).toMatch(/previous version Lane\/b kept/);
    expect([...s.accepted()].map((a) => a.identity)).toEqual(['Lane/a', 'Lane/b']);
  });

  it('keeps everything an item held when the source could not decode it', () => {
    const s = new SourceStore('etcd://x');
    s.put({ key: 'i', documents: [{ apiVersion: 'dyeline.io/v1', kind: 'Instance', metadata: { name: 'i1' }, spec: { service: 'orders', address: '10.0.0.1', port: 80 } }] });
    const rej = s.put({ key: 'i', problems: [{ path: '', message: 'value is not JSON' }] });
    expect(rej).toEqual([{ key: 'i', reason: 'value is not JSON' }]);
    expect([...s.accepted()].map((a) => a.identity)).toEqual(['Instance/orders/i1']);
  });

  it('delete removes what the item held; replaceAll replaces everything', () => {
    const s = new SourceStore('file:///x');
    s.put({ key: 'a', text: laneYaml('a', 'blue') });
    s.put({ key: 'b', text: laneYaml('b', 'red') });
    s.delete('a');
    expect([...s.accepted()].map((a) => a.identity)).toEqual(['Lane/b']);
    s.replaceAll([{ key: 'c', text: laneYaml('c', 'green') }]);
    expect([...s.accepted()].map((a) => a.identity)).toEqual(['Lane/c']);
  });
});

describe('merge', () => {
  it('lets later sources win on the same identity', () => {
    const low = new SourceStore('file:///low');
    const high = new SourceStore('etcd://high');
    low.put({ key: 'l', text: laneYaml('canary', 'canary', ', priority: 1') });
    high.put({ key: 'h', text: laneYaml('canary', 'canary', ', priority: 2') });
    const m = merge([low, high], undefined);
    const lane = m.docs.get('Lane/canary')!;
    expect(lane.provenance.source).toBe('etcd://high');
  });

  it('rejects a split naming an unknown lane and keeps the previous version', () => {
    const s = new SourceStore('file:///x');
    s.put({ key: 'lanes', text: laneYaml('canary', 'canary') });
    s.put({ key: 'svc', text: serviceYaml('orders', '{ stable: 90, canary: 10 }') });
    const first = merge([s], undefined);
    expect(first.rejected.size).toBe(0);
    s.put({ key: 'svc', text: serviceYaml('orders', '{ stable: 50, purple: 50 }') });
    const second = merge([s], first);
    const r = second.rejected.get('file:///x')!;
    expect(r[0]!.reason).toMatch(/unknown lane "purple".*previous version kept/);
    const svc = second.docs.get('Service/orders')!.doc;
    expect(svc.kind === 'Service' && svc.spec.split).toEqual({ stable: 90, canary: 10 });
  });

  it('drops a document that conflicts and has no previous version', () => {
    const s = new SourceStore('file:///x');
    s.put({ key: 'svc', text: serviceYaml('orders', '{ stable: 50, purple: 50 }') });
    const m = merge([s], undefined);
    expect(m.docs.has('Service/orders')).toBe(false);
    expect(m.rejected.get('file:///x')![0]!.key).toBe('svc');
  });

  it('reports duplicates within one source', () => {
    const s = new SourceStore('file:///x');
    s.put({ key: 'a.yaml', text: laneYaml('canary', 'canary') });
    s.put({ key: 'b.yaml', text: laneYaml('canary', 'canary') });
    const m = merge([s], undefined);
    expect(m.rejected.get('file:///x')![0]).toEqual({ key: 'b.yaml', reason: 'Lane/canary is also defined in a.yaml; that one is kept' });
  });
});
