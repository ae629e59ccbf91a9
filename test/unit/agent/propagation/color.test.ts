import { describe, expect, it } from 'vitest';
import { baggageColor, CARRIER_HEADERS, COLOR_CARRIERS, cookieValue, queryValue, writeBaggage } from '../../../../agent/propagation/carriers.ts';
import { NO_COLOR, readColor, writeColor } from '../../../../agent/propagation/color.ts';

/** A valid reading of `color` from the carrier named `carrier`. */
const valid = (color: string, carrier: string) => ({ kind: 'valid', color, carrier: expect.objectContaining({ name: carrier }) });
/** An invalid reading from the carrier named `carrier`. */
const invalid = (carrier: string) => ({ kind: 'invalid', carrier: expect.objectContaining({ name: carrier }) });

describe('readColor', () => {
  it('walks the carriers in their one order; header and baggage are rewritten on forwarded requests', () => {
    expect(COLOR_CARRIERS.map((c) => c.name)).toEqual(['header', 'baggage', 'cookie', 'query']);
    expect(CARRIER_HEADERS).toEqual(['x-traffic-color', 'baggage']);
  });

  it('reads header, then baggage, then cookie, then query', () => {
    const all = { 'x-traffic-color': 'a', baggage: 'traffic_color=b', cookie: 'traffic_color=c' };
    expect(readColor(all, '/p?traffic_color=d')).toEqual(valid('a', 'header'));
    expect(readColor({ baggage: 'traffic_color=b', cookie: 'traffic_color=c' }, '/p?traffic_color=d')).toEqual(valid('b', 'baggage'));
    expect(readColor({ cookie: 'x=1; traffic_color=c' }, '/p?traffic_color=d')).toEqual(valid('c', 'cookie'));
    expect(readColor({}, '/p?x=1&traffic_color=d')).toEqual(valid('d', 'query'));
    expect(readColor({}, 'http://orders/p?traffic_color=canary#frag')).toEqual(valid('canary', 'query'));
    expect(readColor({}, '/p')).toBe(NO_COLOR);
  });

  it('treats an invalid value in the deciding source as invalid (no colour), whatever follows', () => {
    expect(readColor({ 'x-traffic-color': 'Canary' }, '/?traffic_color=canary')).toEqual(invalid('header'));
    expect(readColor({ 'x-traffic-color': 'a'.repeat(33) }, '/')).toEqual(invalid('header'));
    expect(readColor({ 'x-traffic-color': 'canary, canary' }, '/')).toEqual(invalid('header'));
    expect(readColor({ baggage: 'traffic_color=-bad' }, '/')).toEqual(invalid('baggage'));
    expect(readColor({ cookie: 'traffic_color=%zz' }, '/')).toEqual(invalid('cookie'));
    expect(readColor({}, '/?traffic_color=a+b')).toEqual(invalid('query'));
  });

  it('skips empty values to the next source', () => {
    expect(readColor({ 'x-traffic-color': ' ', baggage: 'traffic_color=b' }, '/')).toEqual(valid('b', 'baggage'));
    expect(readColor({ baggage: 'other=1' }, '/?traffic_color=q')).toEqual(valid('q', 'query'));
  });

  it('percent-decodes baggage, cookie and query values', () => {
    expect(readColor({ baggage: 'traffic_color=%63anary' }, '/')).toEqual(valid('canary', 'baggage'));
    expect(readColor({}, '/?traffic_color=can%61ry')).toEqual(valid('canary', 'query'));
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
