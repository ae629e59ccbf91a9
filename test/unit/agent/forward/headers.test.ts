import type { OutgoingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { forwardedHeaders, relayedHeaders } from '../../../../agent/forward/headers.ts';
import { continueTrace } from '../../../../agent/propagation/trace.ts';

function pairs(list: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < list.length; i += 2) out.push([list[i]!, list[i + 1]!]);
  return out;
}

describe('forwardedHeaders', () => {
  it('drops hop-by-hop headers (RFC 9110 §7.6.1), those named by Connection, and proxy credentials', () => {
    const trace = continueTrace({});
    const out = forwardedHeaders(
      {
        host: 'ignored',
        connection: 'keep-alive, X-Private',
        'x-private': 'secret',
        'keep-alive': 'timeout=5',
        'proxy-connection': 'keep-alive',
        te: 'trailers',
        'transfer-encoding': 'chunked',
        upgrade: 'h2c',
        'proxy-authorization': 'Basic xyz',
        trailer: 'x-t',
        expect: '100-continue',
        accept: 'application/json',
        'set-cookie': ['a=1', 'b=2'],
      },
      'orders:8080',
      'canary',
      trace,
      3,
    );
    const p = pairs(out);
    expect(p[0]).toEqual(['host', 'orders:8080']);
    const names = p.map(([n]) => n);
    for (const gone of ['connection', 'x-private', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'trailer', 'expect']) {
      expect(names).not.toContain(gone);
    }
    expect(p).toContainEqual(['accept', 'application/json']);
    expect(p.filter(([n]) => n === 'set-cookie')).toEqual([['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
    expect(p).toContainEqual(['x-traffic-color', 'canary']);
    expect(p).toContainEqual(['baggage', 'traffic_color=canary']);
    expect(p).toContainEqual(['traceparent', `00-${trace.traceId}-${trace.spanId}-01`]);
    expect(p).toContainEqual(['x-dyeline-hops', '3']);
  });

  it('replaces incoming colour, baggage, trace and hop headers instead of duplicating them', () => {
    const out = forwardedHeaders(
      { 'x-traffic-color': 'INVALID', baggage: 'a=1,traffic_color=INVALID', traceparent: 'junk', 'x-dyeline-hops': '7' },
      'h',
      undefined,
      continueTrace({}),
      8,
    );
    const p = pairs(out);
    expect(p.filter(([n]) => n === 'x-traffic-color')).toEqual([]);
    expect(p.filter(([n]) => n === 'baggage')).toEqual([['baggage', 'a=1']]);
    expect(p.filter(([n]) => n === 'traceparent')).toHaveLength(1);
    expect(p.filter(([n]) => n === 'x-dyeline-hops')).toEqual([['x-dyeline-hops', '8']]);
  });
});

describe('relayedHeaders', () => {
  it('leaves out hop-by-hop response headers and those named by Connection', () => {
    const h: OutgoingHttpHeaders = { connection: 'close, x-hop', 'x-hop': '1', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked', 'content-length': '3', 'set-cookie': ['a=1', 'b=2'], upgrade: 'x', 'proxy-authenticate': 'Basic', trailer: 'x-t', te: 'trailers' };
    expect(relayedHeaders(h)).toEqual(['content-length', '3', 'set-cookie', ['a=1', 'b=2']]);
  });

  it('leaves out every x-dyeline-* header, keeping the order of the others', () => {
    const h: OutgoingHttpHeaders = { 'content-type': 'text/plain', 'x-dyeline-served-color': 'blue', 'x-dyeline-fallback': 'error', 'x-dyeline-path': 'a', 'x-other': '1', 'x-dyeline-error': 'timeout', date: 'now' };
    expect(relayedHeaders(h)).toEqual(['content-type', 'text/plain', 'x-other', '1', 'date', 'now']);
  });

  it('keeps everything when Connection names only keep-alive', () => {
    expect(relayedHeaders({ connection: 'keep-alive', 'content-length': '2' })).toEqual(['content-length', '2']);
  });
});
