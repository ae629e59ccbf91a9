/** Probes in flight: who may probe, the bound on registered probes and on collected entries. */
import { describe, expect, it } from 'vitest';
import { compileSnapshot } from '../../../../agent/routing/compile.ts';
import { EndpointStates } from '../../../../agent/routing/endpoint-states.ts';
import { MAX_ACTIVE, mayProbe, ProbePaths, ProbeRecord } from '../../../../agent/telemetry/probe-paths.ts';
import { formatEntry, MAX_PATH_ENTRIES } from '../../../../shared/probe-path.ts';
import { buildSnapshot, instance } from '../../../support/snapshot-builder.ts';

describe('probe paths', () => {
  it('lets loopback and instances of the snapshot probe, no one else', () => {
    const table = compileSnapshot(buildSnapshot([instance('o-1', 'orders', '10.0.0.5')]), new EndpointStates());
    expect(mayProbe('127.0.0.1', table)).toBe(true);
    expect(mayProbe('::ffff:127.0.0.1', table)).toBe(true);
    expect(mayProbe('::1', table)).toBe(true);
    expect(mayProbe('10.0.0.5', table)).toBe(true);
    expect(mayProbe('::ffff:10.0.0.5', table)).toBe(true);
    expect(mayProbe('10.0.0.6', table)).toBe(false);
    expect(mayProbe('203.0.113.9', undefined)).toBe(false);
    expect(mayProbe(undefined, table)).toBe(false);
  });

  it('registers at most MAX_ACTIVE probes and forgets each when it ends', () => {
    const probes = new ProbePaths();
    const records = Array.from({ length: MAX_ACTIVE + 5 }, (_, i) => probes.begin(`t${i}`));
    expect(probes.active).toBe(MAX_ACTIVE);
    expect(probes.of('t0')).toBe(records[0]);
    expect(probes.of(`t${MAX_ACTIVE}`)).toBeUndefined();
    records.forEach((r, i) => probes.end(`t${i}`, r));
    expect(probes.active).toBe(0);
  });

  it('keeps at most MAX_PATH_ENTRIES entries per probe', () => {
    const r = new ProbeRecord();
    const entry = formatEntry({ depth: 0, caller: 'a', service: 'b', requested: 'canary', served: 'canary', fallback: '', laneInstances: 1, status: 200 });
    for (let i = 0; i < 100; i++) r.add(`${entry}, ${entry}`);
    expect(r.paths.length).toBe(MAX_PATH_ENTRIES / 2);
  });
});
