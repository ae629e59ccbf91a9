import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../../../agent/snapshot/load.ts';
import { SnapshotWatcher } from '../../../../agent/snapshot/watch.ts';
import { EndpointStates } from '../../../../agent/routing/endpoint-states.ts';
import type { CompiledTable } from '../../../../agent/routing/compile.ts';
import { ErrorCode } from '../../../../shared/errors.ts';
import { encodeSnapshot, writeFileAtomic } from '../../../../shared/snapshot-file.ts';
import type { SnapshotBody } from '../../../../shared/schema/snapshot.ts';
import { instance, lane, snapshotBody, snapshotText } from '../../../support/snapshot-builder.ts';
import { waitFor } from '../../../support/wait.ts';

const docs = (n: number) => [lane('canary'), ...Array.from({ length: n }, (_, i) => instance(`o${i}`, 'orders', `10.0.0.${i + 1}`))];

/** A file with a valid checksum over `rest` (the JSON after the opening brace). */
function withChecksum(rest: string): string {
  return `{"checksum":"sha256:${createHash('sha256').update(rest).digest('hex')}",${rest}`;
}

let dir: string;
let path: string;
const watchers: SnapshotWatcher[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyeline-watch-'));
  path = join(dir, 'snapshot.json');
});

afterEach(async () => {
  for (const w of watchers.splice(0)) w.close();
  await rm(dir, { recursive: true, force: true });
});

function watcher(opts: { pollMs?: number; p?: string } = {}): SnapshotWatcher {
  const w = new SnapshotWatcher({ path: opts.p ?? path, pollMs: opts.pollMs ?? 0 });
  watchers.push(w);
  return w;
}

describe('SnapshotWatcher', () => {
  it('loads the file, follows renames in the directory, and keeps live endpoint state', async () => {
    await writeFileAtomic(path, snapshotText(docs(2), 1));
    const w = watcher();
    const changes: [number, number | undefined][] = [];
    w.onChange((t, prev) => changes.push([t.version, prev?.version]));
    expect(await w.start()).toBe('loaded');
    expect(w.current()!.version).toBe(1);
    expect(w.loadedAt).toBe(w.current()!.loadedAt);
    const state = w.current()!.service('orders')!.endpoints[0].state;
    state.inflight = 2;

    await writeFileAtomic(path, snapshotText(docs(3), 2));
    await waitFor(() => w.current()?.version === 2, { timeoutMs: 5000, what: 'version 2 via fs.watch' });
    expect(changes).toEqual([
      [1, undefined],
      [2, 1],
    ]);
    expect(w.current()!.service('orders')!.endpoints).toHaveLength(3);
    expect(w.current()!.service('orders')!.endpoints[0].state).toBe(state);
    expect(w.rejectedCount).toBe(0);
    expect(w.lastError).toBeUndefined();
  });

  it('rejects truncated, bad-checksum, bad-JSON and bad-schema files and keeps the last good table', async () => {
    const good = snapshotText(docs(2), 5);
    await writeFileAtomic(path, good);
    const w = watcher();
    await w.start();
    const kept = w.current() as CompiledTable;
    const rejected: string[] = [];
    w.onReject((e) => rejected.push(e.code));

    const broken: [string, string][] = [
      ['truncated', good.slice(0, Math.floor(good.length / 2))],
      ['empty', ''],
      ['bad checksum', good.replace('10.0.0.1', '10.0.0.9')],
      ['bad JSON', withChecksum('"version":1,')],
      ['bad schema', encodeSnapshot({ ...snapshotBody(docs(1), 6), version: 0 } as SnapshotBody)],
      ['unknown field', encodeSnapshot({ ...snapshotBody(docs(1), 7), extra: true } as SnapshotBody)],
    ];
    for (const [what, text] of broken) {
      const before = w.rejectedCount;
      await writeFileAtomic(path, text);
      await waitFor(() => w.rejectedCount === before + 1, { timeoutMs: 5000, what: `rejection of ${what}` });
      expect(w.current(), what).toBe(kept);
    }
    expect(rejected).toEqual([
      ErrorCode.SnapshotChecksum,
      ErrorCode.SnapshotChecksum,
      ErrorCode.SnapshotChecksum,
      ErrorCode.Parse,
      ErrorCode.Schema,
      ErrorCode.Schema,
    ]);
    expect(w.lastError?.code).toBe(ErrorCode.Schema);
    expect(w.current()!.version).toBe(5);
    // The same broken file seen again is not counted again.
    expect(await w.reload()).toBe('rejected');
    expect(w.rejectedCount).toBe(broken.length);

    await writeFileAtomic(path, snapshotText(docs(1), 8));
    await waitFor(() => w.current()?.version === 8, { timeoutMs: 5000, what: 'recovery' });
    expect(w.lastError).toBeUndefined();
    expect(w.rejectedCount).toBe(broken.length);
  });

  it('does not recompile a file with the same checksum', async () => {
    const text = snapshotText(docs(2), 3);
    await writeFileAtomic(path, text);
    const w = watcher();
    let changes = 0;
    w.onChange(() => changes++);
    await w.start();
    const table = w.current();
    await writeFileAtomic(path, text);
    expect(await w.reload()).toBe('unchanged');
    expect(w.current()).toBe(table);
    expect(changes).toBe(1);
  });

  it('keeps the table when the file disappears, and starts without one', async () => {
    const w = watcher();
    expect(await w.start()).toBe('missing');
    expect(w.current()).toBeUndefined();
    expect(w.lastError?.code).toBe(ErrorCode.SnapshotRead);
    expect(w.rejectedCount).toBe(0);
    await writeFileAtomic(path, snapshotText(docs(1), 1));
    await waitFor(() => w.current()?.version === 1, { timeoutMs: 5000, what: 'first snapshot' });
    await rm(path);
    expect(await w.reload()).toBe('missing');
    expect(w.current()!.version).toBe(1);
  });

  it('falls back to the stat poll when the directory does not exist yet', async () => {
    const sub = join(dir, 'later');
    const p = join(sub, 'snapshot.json');
    const w = watcher({ pollMs: 30, p });
    expect(await w.start()).toBe('missing');
    await mkdir(sub);
    await writeFile(p, snapshotText(docs(1), 4));
    await waitFor(() => w.current()?.version === 4, { timeoutMs: 5000, what: 'poll load' });
    await writeFileAtomic(p, snapshotText(docs(2), 5));
    await waitFor(() => w.current()?.version === 5, { timeoutMs: 5000, what: 'second load' });
  });

  it('reports an unreadable path as a read error', async () => {
    await mkdir(join(dir, 'adir'));
    await expect(loadSnapshot(join(dir, 'adir'), new EndpointStates())).rejects.toMatchObject({ code: ErrorCode.SnapshotRead });
  });

  it('serialises overlapping reloads', async () => {
    await writeFileAtomic(path, snapshotText(docs(2), 1));
    const w = watcher();
    let changes = 0;
    w.onChange(() => changes++);
    const all = await Promise.all([w.reload(), w.reload(), w.reload()]);
    expect(all.every((o) => o === 'loaded' || o === 'unchanged')).toBe(true);
    expect(changes).toBe(1);
    expect(w.current()!.version).toBe(1);
  });
});
