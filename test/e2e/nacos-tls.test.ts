/**
 * `nacos://…&tls=true` over HTTP v1: the daemon reads Nacos over https, verifying it with
 * DYELINE_NACOS_CA_FILE (the test Nacos behind a TLS front with a certificate of a test CA, and
 * no gRPC port: `transport=auto` falls back from gRPC over TLS to https); without that CA it
 * does not connect and says why; when Nacos's certificate moves to another CA and the file
 * follows, it reads again without a restart. gRPC over TLS: nacos-grpc-tls.test.ts.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TlsSet, tlsSet } from '../support/certs.ts';
import { snapshotWhere, statusWhere } from '../support/daemon-state.ts';
import { NacosTestServer } from '../support/nacos-server.ts';
import { type DyelineProcess, startDaemon } from '../support/process.ts';
import { TlsTerminator } from '../support/tls-terminator.ts';

const lane = (name: string) => `apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: ${name} }\nspec: { color: ${name} }\n`;

let dir: string;
let first: TlsSet;
let second: TlsSet;
let nacos: NacosTestServer;
let front: TlsTerminator;
let caFile: string;
const running: DyelineProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dyeline-nacos-tls-'));
  first = tlsSet(join(dir, 'first'));
  second = tlsSet(join(dir, 'second'));
  nacos = await new NacosTestServer({ cacheMillis: 200 }).start();
  nacos.publishConfig('rules.yaml', 'DYELINE', lane('blue'));
  front = await TlsTerminator.start(nacos.address, first);
  mkdirSync(join(dir, 'live'));
  caFile = join(dir, 'live', 'ca.crt');
  copyFileSync(first.caFile, caFile);
});

afterAll(async () => {
  await Promise.allSettled(running.map((d) => d.stop('SIGKILL')));
  await front?.close();
  await nacos?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function daemon(name: string, env: NodeJS.ProcessEnv): Promise<{ d: DyelineProcess; snapshot: string }> {
  mkdirSync(join(dir, name));
  const snapshot = join(dir, name, 'snapshot.json');
  const d = await startDaemon({ sources: [`nacos://${front.endpoint}?group=DYELINE&dataId=rules.yaml&services=&tls=true`], snapshot, env });
  running.push(d);
  return { d, snapshot };
}

describe('Nacos over TLS', () => {
  it('does not connect without the CA, and says why', async () => {
    const { d } = await daemon('no-ca', {});
    const st = await statusWhere(d, (s) => !s.connected && s.error !== null, 'the failure in /status');
    expect(st.sources[0]!.uri).toMatch(/&tls=true$/);
    expect(st.sources[0]!.error).toMatch(/certificate|self[- ]signed|verify/i);
  });

  it('reads over https with DYELINE_NACOS_CA_FILE, and follows the file when Nacos changes CA', async () => {
    const { d, snapshot } = await daemon('rotating', { DYELINE_NACOS_CA_FILE: caFile });
    await snapshotWhere(snapshot, (s) => s.lanes.some((l) => l.document.metadata.name === 'blue'), 'the config read over https');
    expect(await d.waitForLog((l) => String(l.msg).startsWith('nacos transport:'))).toMatchObject({ msg: 'nacos transport: HTTP v1 over TLS', tls: true });
    front.useCertificate(second);
    nacos.publishConfig('rules.yaml', 'DYELINE', `${lane('blue')}---\n${lane('green')}`);
    await statusWhere(d, (s) => !s.connected, 'disconnected while the CA file is the old one');
    copyFileSync(second.caFile, caFile);
    await d.waitForLog((l) => l.msg === 'TLS files reloaded', 15_000);
    await snapshotWhere(snapshot, (s) => s.lanes.some((l) => l.document.metadata.name === 'green'), 'the new config, read with the new CA', 30_000);
  });
});
