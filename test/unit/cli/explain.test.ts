import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExplainResult } from '../../../agent/explain.ts';
import { DYELINE_BIN } from '../../support/process.ts';
import { instance, lane, service, snapshotText } from '../../support/snapshot-builder.ts';

// The routing semantics are covered in-process (test/unit/agent/explain.test.ts); this file
// checks the command itself: flags, output, exit codes.

let dir: string;
let snap: string;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [DYELINE_BIN, 'explain', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-explain-'));
  snap = join(dir, 'snapshot.json');
  await writeFile(
    snap,
    snapshotText(
      [
        lane('canary', { priority: 10, dye: { entry: ['frontend'], match: [{ headers: { 'x-internal-user': { exact: 'true' } } }] } }),
        service('orders', { split: { stable: 90, canary: 10 }, splitKey: 'header:x-user-id' }),
        instance('orders-stable-1', 'orders', '10.0.0.1'),
        instance('orders-canary-1', 'orders', '10.0.1.1', { color: 'canary' }),
        instance('orders-canary-2', 'orders', '10.0.1.2', { color: 'canary', healthy: false }),
        instance('payments-1', 'payments', '10.0.2.1'),
      ],
      12,
    ),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('dyeline explain', () => {
  it('prints the dye rule, lane, chosen subset, its instances and the fallback chain', async () => {
    const r = await run(['--snapshot', snap, '--service', 'orders', '--from', 'frontend', '-H', 'X-Internal-User: true']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('version 12');
    expect(r.stdout).toMatch(/colour\s+canary\s+dyed at frontend's inbound by lane "canary" spec\.dye\.match\[0\] \(header x-internal-user exact "true"\)/);
    expect(r.stdout).toMatch(/lane\s+canary \(Lane "canary"\), falls back to stable/);
    expect(r.stdout).toMatch(/route\s+lane canary → served by canary\n/);
    expect(r.stdout).toContain('orders-canary-1  10.0.1.1:8080  weight 100  color=canary');
    expect(r.stdout).toContain('orders-canary-2  10.0.1.2:8080  weight 100  color=canary  (unhealthy: no traffic)');
    expect(r.stdout.indexOf('subset canary')).toBeLessThan(r.stdout.indexOf('subset stable'));
  });

  it('--json prints the machine-readable explanation (snapshot path from DYELINE_SNAPSHOT too)', async () => {
    const r = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        [DYELINE_BIN, 'explain', '--service', 'payments', '-H', 'x-traffic-color: canary', '--cookie', 'a=b', '--query', 'q=1', '--json'],
        { timeout: 20_000, env: { ...process.env, DYELINE_SNAPSHOT: snap } },
        (err, stdout) => resolve({ code: err === null ? 0 : Number(err.code), stdout }),
      );
    });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as ExplainResult;
    expect(out).toMatchObject({ service: 'payments', known: true, color: 'canary', colorSource: 'header', snapshot: { version: 12 } });
    expect(out.routes).toEqual([
      {
        share: 100,
        requested: 'canary',
        served: 'stable',
        fallback: 'no-instance',
        candidates: [{ lane: 'stable', instances: [{ name: 'payments-1', address: '10.0.2.1', port: 8080, weight: 100, labels: {}, routable: true, healthy: true }] }],
      },
    ]);
  });

  it('exits 2 with one line on bad flags', async () => {
    const cases = [[], ['--service', 'Orders!'], ['--service', 'orders', '-H', 'no-colon'], ['--service', 'orders', '--query', '=x'], ['--service', 'orders', '--bogus']];
    const results = await Promise.all(cases.map((args) => run(['--snapshot', snap, ...args])));
    results.forEach((r, i) => {
      const what = cases[i].join(' ');
      expect(r.code, what).toBe(2);
      expect(r.stderr.trim().split('\n'), what).toHaveLength(1);
      expect(r.stdout, what).toBe('');
    });
  });

  it('exits 1 when the snapshot is missing or corrupt', async () => {
    const good = snapshotText([instance('a', 'orders', '10.0.0.1')], 1);
    const truncated = join(dir, 'truncated.json');
    await writeFile(truncated, good.slice(0, good.length - 20));
    const cases = [
      [join(dir, 'missing.json'), /no such file/],
      [truncated, /checksum/],
    ] as const;
    const results = await Promise.all(cases.map(([path]) => run(['--snapshot', path, '--service', 'orders'])));
    results.forEach((r, i) => {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(cases[i][1]);
      expect(r.stdout).toBe('');
    });
  });
});
