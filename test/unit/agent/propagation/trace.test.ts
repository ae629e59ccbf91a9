import { describe, expect, it } from 'vitest';
import { newSpanId, newTraceId } from '../../../../agent/propagation/ids.ts';
import { continueTrace, TraceFormat, traceparent, writeTrace } from '../../../../agent/propagation/trace.ts';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';

function headersOf(list: string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) o[list[i]!] = list[i + 1]!;
  return o;
}

describe('continueTrace', () => {
  it('continues a W3C traceparent with a new span whose parent is the caller', () => {
    const ctx = continueTrace({ traceparent: `00-${TRACE}-${SPAN}-01` });
    expect(ctx).toMatchObject({ traceId: TRACE, parentId: SPAN, sampled: true, formats: TraceFormat.W3C });
    expect(ctx.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(ctx.spanId).not.toBe(SPAN);
    expect(traceparent(ctx)).toBe(`00-${TRACE}-${ctx.spanId}-01`);
  });

  it('keeps the sampled flag off', () => {
    expect(traceparent(continueTrace({ traceparent: `00-${TRACE}-${SPAN}-00` }))).toMatch(/-00$/);
  });

  it('starts a new sampled trace when there is none or it is invalid', () => {
    for (const bad of [undefined, 'garbage', `ff-${TRACE}-${SPAN}-01`, `00-${'0'.repeat(32)}-${SPAN}-01`, `00-${TRACE}-${'0'.repeat(16)}-01`, `00-${TRACE.toUpperCase()}-${SPAN}-01`, `00-${TRACE}-${SPAN}-01-extra`]) {
      const ctx = continueTrace(bad === undefined ? {} : { traceparent: bad });
      expect(ctx.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(ctx.traceId).not.toBe(TRACE);
      expect(ctx.parentId).toBeUndefined();
      expect(ctx.sampled).toBe(true);
      expect(ctx.formats).toBe(0);
    }
  });

  it('accepts future traceparent versions with extra fields', () => {
    expect(continueTrace({ traceparent: `01-${TRACE}-${SPAN}-01-what-ever` }).traceId).toBe(TRACE);
  });

  it('accepts B3 single (64-bit ids padded), B3 multi and uber-trace-id', () => {
    const single = continueTrace({ b3: `a3ce929d0e0e4736-${SPAN}-1-05e3ac9a4f6e3b90` });
    expect(single).toMatchObject({ traceId: '0000000000000000a3ce929d0e0e4736', parentId: SPAN, sampled: true });
    expect(continueTrace({ b3: `${TRACE}-${SPAN}-0` }).sampled).toBe(false);
    const multi = continueTrace({ 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-sampled': '0' });
    expect(multi).toMatchObject({ traceId: TRACE, parentId: SPAN, sampled: false, formats: TraceFormat.B3Multi });
    const uber = continueTrace({ 'uber-trace-id': `${TRACE}%3A${SPAN}%3A0%3A1` });
    expect(uber).toMatchObject({ traceId: TRACE, parentId: SPAN, sampled: true, formats: TraceFormat.Uber });
    expect(continueTrace({ 'uber-trace-id': `abc:${SPAN}:0:0` })).toMatchObject({ traceId: '00000000000000000000000000000abc', sampled: false });
  });

  it('prefers traceparent and keeps the other formats present in step', () => {
    const ctx = continueTrace({ traceparent: `00-${TRACE}-${SPAN}-01`, b3: `aaaa${TRACE.slice(4)}-${SPAN}-1`, 'uber-trace-id': 'x' });
    expect(ctx.traceId).toBe(TRACE);
    expect(ctx.formats).toBe(TraceFormat.W3C | TraceFormat.B3Single | TraceFormat.Uber);
    const out = headersOf((() => {
      const l: string[] = [];
      writeTrace(l, ctx);
      return l;
    })());
    expect(out.traceparent).toBe(`00-${TRACE}-${ctx.spanId}-01`);
    expect(out.b3).toBe(`${TRACE}-${ctx.spanId}-1-${SPAN}`);
    expect(out['uber-trace-id']).toBe(`${TRACE}:${ctx.spanId}:${SPAN}:1`);
  });

  it('writes B3 multi headers for B3 multi input, and only traceparent for W3C or new traces', () => {
    const l: string[] = [];
    const ctx = continueTrace({ 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN });
    writeTrace(l, ctx);
    expect(headersOf(l)).toEqual({
      traceparent: `00-${TRACE}-${ctx.spanId}-01`,
      'x-b3-traceid': TRACE,
      'x-b3-spanid': ctx.spanId,
      'x-b3-sampled': '1',
      'x-b3-parentspanid': SPAN,
    });
    const w: string[] = [];
    writeTrace(w, continueTrace({}));
    expect(w).toHaveLength(2);
  });
});

describe('ids', () => {
  it('are lowercase hex of the right length, distinct, across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const s = newSpanId();
      expect(s).toMatch(/^[0-9a-f]{16}$/);
      expect(s).not.toBe('0000000000000000');
      seen.add(s);
    }
    expect(seen.size).toBe(2000);
    expect(newTraceId()).toMatch(/^[0-9a-f]{32}$/);
  });
});
