import { describe, expect, it } from 'vitest';
import { baggageColor, cookieValue, INVALID_COLOR, queryValue, readColor, writeBaggage, writeColor } from '../../../../agent/propagation/color.ts';

describe('readColor', () => {
  it('reads header, then baggage, then cookie, then query', () => {
    const all = { 'x-traffic-color': 'a', baggage: 'traffic_color=b', cookie: 'traffic_color=c' };
    expect(readColor(all, '/p?traffic_color=d')).toBe('a');
    expect(readColor({ baggage: 'traffic_color=b', cookie: 'traffic_color=c' }, '/p?traffic_color=d')).toBe('b');
    expect(readColor({ cookie: 'x=1; traffic_color=c' }, '/p?traffic_color=d')).toBe('c');
    expect(readColor({}, '/p?x=1&traffic_color=d')).toBe('d');
    expect(readColor({}, 'http://orders/p?traffic_color=canary#frag')).toBe('canary');
    expect(readColor({}, '/p')).toBeUndefined();
  });

  it('treats an invalid value in the deciding source as invalid (no colour), whatever follows', () => {
    expect(readColor({ 'x-traffic-color': 'Canary' }, '/?traffic_color=canary')).toBe(INVALID_COLOR);
    expect(readColor({ 'x-traffic-color': 'a'.repeat(33) }, '/')).toBe(INVALID_COLOR);
    expect(readColor({ 'x-traffic-color': 'canary, canary' }, '/')).toBe(INVALID_COLOR);
    expect(readColor({ baggage: 'traffic_color=-bad' }, '/')).toBe(INVALID_COLOR);
    expect(readColor({ cookie: 'traffic_color=%zz' }, '/')).toBe(INVALID_COLOR);
    expect(readColor({}, '/?traffic_color=a+b')).toBe(INVALID_COLOR);
  });

  it('skips empty values to the next source', () => {
    expect(readColor({ 'x-traffic-color': ' ', baggage: 'traffic_color=b' }, '/')).toBe('b');
    expect(readColor({ baggage: 'other=1' }, '/?traffic_color=q')).toBe('q');
  });

  it('percent-decodes baggage, cookie and query values', () => {
    expect(readColor({ baggage: 'traffic_color=%63anary' }, '/')).toBe('canary');
    expect(readColor({}, '/?traffic_color=can%61ry')).toBe('canary');
  });
});

describe('baggage, cookie and query parsing', () => {
  it('finds the baggage entry among others, with spaces and properties', () => {
    expect(baggageColor('userId=alice, traffic_color = canary ;ttl=3, x=y')).toBe('canary');
    expect(baggageColor('my_traffic_color=red,traffic_color=blue')).toBe('blue');
    expect(baggageColor('x=traffic_color')).toBeUndefined();
  });
  it('finds cookies by exact name and unquotes them', () => {
    expect(cookieValue('a=1; traffic_color="canary"; b=2', 'traffic_color')).toBe('canary');
    expect(cookieValue('xtraffic_color=1; traffic_color=blue', 'traffic_color')).toBe('blue');
    expect(cookieValue('a=1', 'traffic_color')).toBeUndefined();
  });
  it('finds query parameters by exact name', () => {
    expect(queryValue('/p?my_traffic_color=1&traffic_color=blue', 'traffic_color')).toBe('blue');
    expect(queryValue('/p?traffic_color', 'traffic_color')).toBe('');
    expect(queryValue('/traffic_color?x=1', 'traffic_color')).toBeUndefined();
  });
});

describe('writeBaggage / writeColor', () => {
  it('sets traffic_color and keeps every other entry', () => {
    expect(writeBaggage(undefined, 'canary')).toBe('traffic_color=canary');
    expect(writeBaggage('userId=alice,tenant=t1;p=1', 'canary')).toBe('userId=alice,tenant=t1;p=1,traffic_color=canary');
    expect(writeBaggage('userId=alice, traffic_color=old;x, tenant=t1', 'canary')).toBe('userId=alice,tenant=t1,traffic_color=canary');
    expect(writeBaggage(['a=1', 'traffic_color=x'], 'blue')).toBe('a=1,traffic_color=blue');
  });
  it('drops an old (e.g. invalid) colour entry when the request has none', () => {
    expect(writeBaggage('a=1,traffic_color=BAD', undefined)).toBe('a=1');
    expect(writeBaggage('traffic_color=BAD', undefined)).toBeUndefined();
    expect(writeBaggage('a=1', undefined)).toBe('a=1');
  });
  it('appends the header and baggage to a flat header list', () => {
    const out: string[] = [];
    writeColor(out, { baggage: 'k=v' }, 'canary');
    expect(out).toEqual(['x-traffic-color', 'canary', 'baggage', 'k=v,traffic_color=canary']);
    const none: string[] = [];
    writeColor(none, {}, undefined);
    expect(none).toEqual([]);
  });
});
