/** x-dyeline-path: entries formatted and read back, nested one deeper, bounded, garbage kept apart. */
import { describe, expect, it } from 'vitest';
import { concatPaths, formatEntry, joinPath, MAX_PATH_ENTRIES, type PathEntry, parsePath } from '../../../shared/probe-path.ts';

const e = (over: Partial<PathEntry> = {}): PathEntry => ({ depth: 0, caller: 'gw', service: 'orders', requested: 'canary', served: 'canary', fallback: '', laneInstances: 1, status: 200, ...over });

describe('probe path', () => {
  it('formats and reads back entries, empty fields as -', () => {
    const text = formatEntry(e({ served: 'stable', fallback: 'no-instance', laneInstances: 0, requested: '' }));
    expect(text).toBe('0:gw>orders:-:stable:no-instance:0:200');
    expect(parsePath(text).entries).toEqual([e({ served: 'stable', fallback: 'no-instance', laneInstances: 0, requested: '' })]);
  });

  it('nests a downstream path one level deeper after the own entry', () => {
    const downstream = concatPaths([formatEntry(e({ caller: 'orders', service: 'inventory' })), joinPath(formatEntry(e({ caller: 'orders', service: 'pricing' })), formatEntry(e({ caller: 'pricing', service: 'tax' })))]);
    const path = joinPath(formatEntry(e({ caller: 'gw', service: 'orders' })), downstream);
    expect(parsePath(path).entries.map((x) => `${x.depth} ${x.caller}>${x.service}`)).toEqual(['0 gw>orders', '1 orders>inventory', '1 orders>pricing', '2 pricing>tax']);
  });

  it('stays bounded and says how many entries it dropped', () => {
    const many = concatPaths(Array.from({ length: 100 }, (_, i) => formatEntry(e({ service: `s${i}` }))));
    const parsed = parsePath(many);
    expect(parsed.entries).toHaveLength(MAX_PATH_ENTRIES - 1);
    expect(parsed.dropped).toBe(100 - MAX_PATH_ENTRIES + 1);
    const nested = parsePath(joinPath(formatEntry(e()), many));
    // The own entry first; one more of the nested ones dropped to make room.
    expect(nested.entries).toHaveLength(MAX_PATH_ENTRIES - 1);
    expect(nested.entries[0]).toMatchObject({ depth: 0, service: 'orders' });
    expect(nested.entries[1]).toMatchObject({ depth: 1, service: 's0' });
    expect(nested.dropped).toBe(100 - MAX_PATH_ENTRIES + 1 + 1);
  });

  it('keeps what it cannot read apart', () => {
    const p = parsePath('0:gw>orders:canary:canary:-:1:200, <script>, 0:gw>Orders:canary:canary:-:1:200');
    expect(p.entries).toHaveLength(1);
    expect(p.unreadable).toEqual(['<script>', '0:gw>Orders:canary:canary:-:1:200']);
    expect(parsePath(undefined)).toEqual({ entries: [], dropped: 0, unreadable: [] });
  });
});
