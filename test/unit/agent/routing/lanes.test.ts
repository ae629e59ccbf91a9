import { describe, expect, it } from 'vitest';
import { compileLanes, fallbackChain } from '../../../../agent/routing/lanes.ts';
import { Lane } from '../../../../shared/schema/documents.ts';
import { lane } from '../../../support/snapshot-builder.ts';

const compile = (...docs: ReturnType<typeof lane>[]) => compileLanes(docs.map((d) => Lane.parse(d)));

describe('lane fallback chains', () => {
  it('defaults to stable, and stable ends the chain', () => {
    const lanes = compile(lane('canary'));
    expect(lanes.get('canary')).toMatchObject({ fallbackChain: ['stable'], strict: false, name: 'canary', priority: 0 });
    expect(lanes.get('stable')).toMatchObject({ fallbackChain: [], strict: false });
  });

  it('follows chains through other lanes', () => {
    const lanes = compile(lane('canary', { fallback: 'blue' }), lane('blue', { fallback: 'green' }), lane('green'));
    expect(lanes.get('canary')!.fallbackChain).toEqual(['blue', 'green', 'stable']);
    expect(lanes.get('blue')!.fallbackChain).toEqual(['green', 'stable']);
  });

  it('none is strict, and a strict lane ends the chains that reach it', () => {
    const lanes = compile(lane('canary', { fallback: 'none' }), lane('dev', { fallback: 'canary' }));
    expect(lanes.get('canary')).toMatchObject({ strict: true, fallbackChain: [] });
    expect(lanes.get('dev')).toMatchObject({ strict: false, fallbackChain: ['canary'] });
  });

  it('cuts cycles and ends them at stable', () => {
    const lanes = compile(lane('a', { fallback: 'b' }), lane('b', { fallback: 'c' }), lane('c', { fallback: 'a' }));
    expect(lanes.get('a')!.fallbackChain).toEqual(['b', 'c', 'stable']);
    expect(lanes.get('c')!.fallbackChain).toEqual(['a', 'b', 'stable']);
  });

  it('a cycle through a stable lane document is cut without repeating stable', () => {
    const lanes = compile(lane('stable', { fallback: 'canary' }), lane('canary'));
    expect(lanes.get('canary')!.fallbackChain).toEqual(['stable']);
    expect(lanes.get('stable')!.fallbackChain).toEqual(['canary']);
  });

  it('an undocumented colour falls back to stable', () => {
    expect(fallbackChain('gray', () => undefined)).toEqual(['stable']);
    expect(fallbackChain('stable', () => undefined)).toEqual([]);
  });
});
