import { describe, expect, it } from 'vitest';
import { classifyKey, decodeEntry } from '../../../../daemon/sources/etcd-layout.ts';

const P = '/dyeline/';

describe('etcd layout', () => {
  it('classifies keys by shape', () => {
    expect(classifyKey(P, '/dyeline/rules/Lane/canary')).toBe('rule');
    expect(classifyKey(P, '/dyeline/rules/any-name')).toBe('rule');
    expect(classifyKey(P, '/dyeline/rules/')).toBe('ignored');
    expect(classifyKey(P, '/dyeline/rules/Lane/')).toBe('ignored');
    expect(classifyKey(P, '/dyeline/instances/orders/1')).toBe('instance');
    expect(classifyKey(P, '/dyeline/instances/')).toBe('ignored');
    expect(classifyKey(P, '/dyeline/leases/x')).toBe('ignored');
    expect(classifyKey(P, '/other/rules/Lane/x')).toBe('ignored');
    expect(classifyKey(P, '/dyeline-2/rules/Lane/x')).toBe('ignored');
  });

  it('passes rule text through unparsed, with its revision', () => {
    expect(decodeEntry(P, '/dyeline/rules/Lane/canary', Buffer.from('kind: Lane\n'), '7')).toEqual({
      key: '/dyeline/rules/Lane/canary',
      text: 'kind: Lane\n',
      revision: '7',
    });
  });

  it('builds an Instance document from an instance value', () => {
    const item = decodeEntry(P, '/dyeline/instances/orders/orders-1', '{"address":"10.0.0.5","port":8080,"weight":3,"labels":{"color":"canary"}}', '9');
    expect(item).toEqual({
      key: '/dyeline/instances/orders/orders-1',
      revision: '9',
      documents: [
        {
          apiVersion: 'dyeline.io/v1',
          kind: 'Instance',
          metadata: { name: 'orders-1' },
          spec: { service: 'orders', address: '10.0.0.5', port: 8080, weight: 3, labels: { color: 'canary' } },
        },
      ],
    });
  });

  it('leaves optional fields out and type checks to the schema', () => {
    const item = decodeEntry(P, '/dyeline/instances/orders/o2', '{"address":"h","port":"80"}', '1');
    expect(item?.documents?.[0]).toMatchObject({ spec: { service: 'orders', address: 'h', port: '80' } });
    expect(Object.keys((item?.documents?.[0] as { spec: object }).spec)).toEqual(['service', 'address', 'port']);
  });

  it.each([
    ['not JSON', '{address: 1}', /not valid JSON/],
    ['an array', '[1]', /JSON object.*an array/],
    ['null', 'null', /JSON object.*null/],
    ['a number', '42', /JSON object.*a number/],
    ['empty', '', /not valid JSON/],
  ])('reports a value that is %s as a problem', (_what, value, message) => {
    const item = decodeEntry(P, '/dyeline/instances/orders/x', value, '3');
    expect(item).toEqual({ key: '/dyeline/instances/orders/x', revision: '3', problems: [{ path: '', message: expect.stringMatching(message) }] });
  });

  it('names each unknown field of an instance value', () => {
    const item = decodeEntry(P, '/dyeline/instances/orders/x', '{"address":"h","port":1,"zone":"a","ip":"b"}', '3');
    expect(item?.problems).toEqual([
      { path: 'zone', message: expect.stringMatching(/unknown field.*address, port, weight, labels/) },
      { path: 'ip', message: expect.stringMatching(/unknown field/) },
    ]);
    expect(item?.documents).toBeUndefined();
  });

  it.each(['/dyeline/instances/orders', '/dyeline/instances/orders/a/b', '/dyeline/instances//a', '/dyeline/instances/orders/'])(
    'reports an instance key of the wrong shape: %s',
    (key) => {
      expect(decodeEntry(P, key, '{"address":"h","port":1}', '1')?.problems?.[0]?.message).toMatch(/instances\/<service>\/<id>/);
    },
  );

  it('ignores keys outside the layout', () => {
    expect(decodeEntry(P, '/dyeline/other', 'x', '1')).toBeUndefined();
  });
});
