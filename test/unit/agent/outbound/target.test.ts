import { describe, expect, it } from 'vitest';
import { parseTarget, serviceOf } from '../../../../agent/outbound/target.ts';
import { DyelineError } from '../../../../shared/errors.ts';

describe('serviceOf', () => {
  it('takes the first label of k8s service names, or a bare name', () => {
    expect(serviceOf('orders')).toBe('orders');
    expect(serviceOf('orders.svc')).toBe('orders');
    expect(serviceOf('orders.shop.svc')).toBe('orders');
    expect(serviceOf('orders.svc.cluster.local')).toBe('orders');
    expect(serviceOf('orders.shop.svc.cluster.local')).toBe('orders');
    expect(serviceOf('example.com')).toBeUndefined();
    expect(serviceOf('orders.shop')).toBeUndefined();
  });
});

describe('parseTarget', () => {
  it('parses absolute-form (HTTP_PROXY) requests', () => {
    expect(parseTarget('http://orders.shop.svc.cluster.local:8080/a/b?x=1', 'ignored', undefined)).toEqual({
      host: 'orders.shop.svc.cluster.local',
      port: 8080,
      authority: 'orders.shop.svc.cluster.local:8080',
      path: '/a/b?x=1',
      service: 'orders',
      key: 'orders.shop.svc.cluster.local:8080',
    });
    expect(parseTarget('http://orders', undefined, undefined)).toMatchObject({ path: '/', port: 80, service: 'orders' });
    expect(parseTarget('http://orders?q=1#frag', undefined, undefined)).toMatchObject({ path: '/?q=1' });
    expect(parseTarget('http://user:pw@Orders./x', undefined, undefined)).toMatchObject({ host: 'orders', service: 'orders', authority: 'Orders.' });
  });

  it('parses origin-form requests by Host, and tunnelled ones by the CONNECT authority', () => {
    expect(parseTarget('/x', 'payments:9000', undefined)).toMatchObject({ host: 'payments', port: 9000, service: 'payments', path: '/x' });
    expect(parseTarget('/x', 'payments', 'orders:80')).toMatchObject({ host: 'orders', service: 'orders', authority: 'payments' });
    expect(parseTarget('/x', undefined, 'orders:80')).toMatchObject({ host: 'orders', authority: 'orders:80' });
  });

  it('does not treat IP addresses or other FQDNs as services', () => {
    expect(parseTarget('/x', '127.0.0.1:81', undefined)).toMatchObject({ service: undefined, key: '127.0.0.1:81' });
    expect(parseTarget('/x', '[::1]:81', undefined)).toMatchObject({ host: '::1', service: undefined, key: '[::1]:81' });
    expect(parseTarget('http://example.com/', undefined, undefined)).toMatchObject({ service: undefined, port: 80 });
  });

  it('a Host parsed before gives the same target, with the path of each request', () => {
    const first = parseTarget('/a', 'inventory:8081', undefined);
    expect(first).toMatchObject({ host: 'inventory', port: 8081, service: 'inventory', key: 'inventory:8081', path: '/a' });
    expect(parseTarget('/b?x=1', 'inventory:8081', undefined)).toEqual({ ...(first as object), path: '/b?x=1' });
    expect(parseTarget('/a', 'inventory:8081', undefined)).toEqual(first);
    for (let i = 0; i < 600; i++) expect(parseTarget('/p', `host-${i}:${1000 + i}`, undefined)).toMatchObject({ host: `host-${i}`, port: 1000 + i, path: '/p' });
    expect(parseTarget('/c', 'inventory:8081', undefined)).toEqual({ ...(first as object), path: '/c' });
    expect(parseTarget('/x', 'inventory:0', undefined)).toBeInstanceOf(DyelineError);
  });

  it('answers malformed targets with a 400 error', () => {
    for (const [url, host] of [
      ['/x', undefined],
      ['/x', ''],
      ['/x', 'a b'],
      ['/x', 'orders:0'],
      ['/x', 'orders:99999'],
      ['/x', 'orders:x'],
      ['/x', '[::1'],
      ['https://orders/', undefined],
      ['*', 'orders'],
      ['http:///x', undefined],
    ] as const) {
      const t = parseTarget(url, host, undefined);
      expect(t, `${url} ${host}`).toBeInstanceOf(DyelineError);
      expect((t as DyelineError).code).toBe('DYE_ERR_BAD_REQUEST');
    }
  });
});
