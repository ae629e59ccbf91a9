/**
 * The writer capability of the file, etcd and nacos kinds (what `dyeline rollout` writes with): a
 * written LaneState is read back by the kind's own source as a valid document; the lease has one
 * holder at a time, is taken over after its TTL when the holder stops renewing, and at once after
 * a release — against a real etcd, a real directory and the test Nacos over gRPC and HTTP v1. On
 * Nacos the rules config's other documents stay as they were, and a write never overwrites an
 * edit made after it read the config.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSourceUri } from '../../daemon/config.ts';
import { createLogger } from '../../shared/log.ts';
import { sourceKind } from '../../daemon/sources/registry.ts';
import type { Source, SourceWriter } from '../../daemon/sources/source.ts';
import { SourceStore } from '../../daemon/store.ts';
import { EtcdServer } from '../support/etcd.ts';
import { NacosGrpcTestServer } from '../support/nacos-grpc-server.ts';
import { NacosTestServer } from '../support/nacos-server.ts';
import { RecordingSink } from '../support/recording-sink.ts';
import { waitFor } from '../support/wait.ts';

const log = createLogger({ component: 'test' }, { write: () => true } as never);
const LANE_STATE = {
  apiVersion: 'dyeline.io/v1',
  kind: 'LaneState',
  metadata: { name: 'canary' },
  spec: { share: 25, degraded: false, phase: 'Progressing', step: 1, updatedBy: 'rollout/orders-v2', updatedAt: '2026-01-01T00:00:00.000Z', reason: 'advanced', history: [] },
};

let etcd: EtcdServer;
let nacos: NacosTestServer;
let nacosGrpc: NacosGrpcTestServer;
let dir: string;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  etcd = await EtcdServer.start();
  nacos = await new NacosTestServer().start();
  nacosGrpc = await new NacosGrpcTestServer(nacos.state).start();
  dir = mkdtempSync(join(tmpdir(), 'dyeline-writer-'));
});
afterAll(async () => {
  for (const c of closers.splice(0)) await c();
  await etcd?.cleanup();
  await nacosGrpc?.stop();
  await nacos?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function open(uri: string): Promise<{ writer: SourceWriter; source: Source; sink: RecordingSink }> {
  const config = parseSourceUri(uri, {});
  const kind = sourceKind(config.kind)!;
  const writer = await kind.writer!(config, { log });
  const source = await kind.create(config, { log });
  const sink = new RecordingSink();
  await source.start(sink);
  closers.push(() => source.stop(), () => writer.close());
  return { writer, source, sink };
}

/** The LaneState the source's own items hold, validated like the daemon does. */
function laneStateIn(sink: RecordingSink, uri: string) {
  const store = new SourceStore(uri);
  store.replaceAll([...sink.content.values()]);
  return [...store.accepted()].find((a) => a.identity === 'LaneState/canary')?.doc;
}

describe.each([
  ['file', () => `file://${dir}`],
  ['etcd', () => `etcd://${etcd.endpoint}?prefix=/writer-test/`],
  ['nacos (gRPC)', () => `nacos://${nacos.address}?dataId=writer-grpc.yaml&grpcPort=${nacosGrpc.port}&transport=grpc`],
  ['nacos (HTTP v1)', () => `nacos://${nacos.address}?dataId=writer-http.yaml&transport=http`],
])('%s writer', (_kind, uri) => {
  it('writes a LaneState the source reads back as a valid document, and replaces it', async () => {
    const { writer, sink } = await open(uri());
    await writer.write(LANE_STATE);
    await waitFor(() => laneStateIn(sink, uri())?.kind === 'LaneState', { what: 'the written LaneState in the source' });
    expect(laneStateIn(sink, uri())).toMatchObject({ metadata: { name: 'canary' }, spec: { share: 25, phase: 'Progressing', updatedBy: 'rollout/orders-v2' } });
    await writer.write({ ...LANE_STATE, spec: { ...LANE_STATE.spec, share: 100 } });
    await waitFor(() => (laneStateIn(sink, uri()) as { spec: { share: number } } | undefined)?.spec.share === 100, { what: 'the replaced LaneState' });
  });

  it('has one lease holder at a time; a release hands over at once, a silent holder after the TTL', async () => {
    const { writer } = await open(uri());
    const a = writer.lease('a', 2000);
    const b = writer.lease('b', 2000);
    expect(await a.hold()).toBe(true);
    expect(await b.hold()).toBe(false);
    expect(b.holder).toBe('a');
    expect(await a.hold()).toBe(true);
    await a.release();
    expect(await b.hold()).toBe(true);
    // b stops renewing: a gets it once the TTL has passed, not before.
    expect(await a.hold()).toBe(false);
    const took = Date.now();
    await waitFor(() => a.hold(), { timeoutMs: 10_000, intervalMs: 100, what: 'a takes over the silent holder' });
    expect(Date.now() - took).toBeGreaterThan(1000);
    expect(await b.hold()).toBe(false);
    expect(b.holder).toBe('a');
    await a.release();
  });
});

describe.each(['grpc', 'http'])('nacos writer over %s', (transport) => {
  const dataId = `writer-${transport}-edits.yaml`;
  const uri = () => `nacos://${nacos.address}?dataId=${dataId}&grpcPort=${nacosGrpc.port}&transport=${transport}`;
  const RULES = '# hand-written rules\napiVersion: dyeline.io/v1\nkind: Lane # the canary\nmetadata: { name: canary }\nspec: { color: canary }\n';

  it('writes into the rules config, keeping every other byte of it', async () => {
    nacos.publishConfig(dataId, 'DYELINE', RULES);
    const { writer, sink } = await open(uri());
    await writer.write(LANE_STATE);
    const text = nacos.state.config(dataId, 'DYELINE')!.content;
    expect(text.startsWith(`${RULES}---\n`)).toBe(true);
    await waitFor(() => laneStateIn(sink, uri())?.kind === 'LaneState', { what: 'the written LaneState in the source' });
    await writer.write({ ...LANE_STATE, spec: { ...LANE_STATE.spec, share: 50 } });
    expect(nacos.state.config(dataId, 'DYELINE')!.content.startsWith(`${RULES}---\n`)).toBe(true);
    await waitFor(() => (laneStateIn(sink, uri()) as { spec: { share: number } } | undefined)?.spec.share === 50, { what: 'the replaced LaneState' });
  });

  it('never overwrites an edit made after its read: it reads again and keeps the edit', async () => {
    const { writer } = await open(uri());
    // An edit lands between the writer's read and its publish.
    const state = nacos.state;
    const publishCas = state.publishConfigCas.bind(state);
    let edited = false;
    state.publishConfigCas = (...args) => {
      if (!edited) {
        edited = true;
        state.publishConfig(dataId, 'DYELINE', `${state.config(dataId, 'DYELINE')!.content}---\nkind: Lane\napiVersion: dyeline.io/v1\nmetadata: { name: blue }\nspec: { color: blue }\n`);
      }
      return publishCas(...args);
    };
    try {
      await writer.write({ ...LANE_STATE, spec: { ...LANE_STATE.spec, share: 75 } });
    } finally {
      state.publishConfigCas = publishCas;
    }
    const text = state.config(dataId, 'DYELINE')!.content;
    expect(text).toContain('name: blue');
    expect(text).toContain('share: 75');
    expect(text.startsWith(RULES)).toBe(true);
  });
});

it('the file writer leaves no temp files and writes one file per document', async () => {
  expect(readdirSync(dir).sort()).toEqual(['dyeline-lanestate-canary.yaml']);
});
