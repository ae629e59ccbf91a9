/**
 * `etcd://…&tls=true` against a real etcd started with --client-cert-auth (certificates made by
 * openssl in the test): the daemon verifies etcd with DYELINE_ETCD_CA_FILE and presents
 * DYELINE_ETCD_CERT_FILE/KEY_FILE; without a client certificate, or without the CA, it does not
 * connect and says why; when the files are replaced (etcd moved to another CA) it reconnects
 * with the new ones, no restart. Registration goes over the same TLS connection.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegisteredPod } from '../support/apps.ts';
import { type TlsSet, tlsSet } from '../support/certs.ts';
import { daemonStatus, snapshotWhere, statusWhere } from '../support/daemon-state.ts';
import { EtcdServer } from '../support/etcd.ts';
import { type DyelineProcess, startDaemon } from '../support/process.ts';
import { waitFor } from '../support/wait.ts';

const P = '/tls/';
const lane = (name: string) => `apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: ${name} }\nspec: { color: ${name} }\n`;

let dir: string;
let first: TlsSet;
let second: TlsSet;
let etcd: EtcdServer;
/** The files the daemon is told about (replaced in place to rotate). */
let files: { ca: string; cert: string; key: string };
const running: { stop(signal?: NodeJS.Signals): Promise<unknown> }[] = [];

function useSet(set: TlsSet): void {
  copyFileSync(set.caFile, files.ca);
  copyFileSync(set.clientCertFile, files.cert);
  copyFileSync(set.clientKeyFile, files.key);
}

async function daemon(name: string, env: NodeJS.ProcessEnv): Promise<DyelineProcess> {
  mkdirSync(join(dir, name), { recursive: true });
  const d = await startDaemon({ sources: [`etcd://${etcd.endpoint}?prefix=${P}&tls=true`], snapshot: join(dir, name, 'snapshot.json'), env });
  running.push(d);
  return d;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dyeline-etcd-tls-'));
  first = tlsSet(join(dir, 'first'));
  second = tlsSet(join(dir, 'second'));
  mkdirSync(join(dir, 'live'));
  files = { ca: join(dir, 'live', 'ca.crt'), cert: join(dir, 'live', 'client.crt'), key: join(dir, 'live', 'client.key') };
  useSet(first);
  etcd = await EtcdServer.start({ tls: first });
  await etcd.put(`${P}rules/Lane/blue`, lane('blue'));
});

afterAll(async () => {
  await Promise.allSettled(running.map((r) => r.stop('SIGKILL')));
  await etcd?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('etcd over TLS with client certificates', () => {
  it('refuses to connect without a client certificate, or without the CA, and says why', async () => {
    const noCert = await daemon('no-cert', { DYELINE_ETCD_CA_FILE: files.ca });
    const noCa = await daemon('no-ca', { DYELINE_ETCD_CERT_FILE: files.cert, DYELINE_ETCD_KEY_FILE: files.key });
    const a = await statusWhere(noCert, (s) => !s.connected && s.error !== null, 'no-cert daemon reports the failure');
    const b = await statusWhere(noCa, (s) => !s.connected && s.error !== null, 'no-ca daemon reports the failure');
    expect(a.sources[0]!.uri).toBe(`etcd://${etcd.endpoint}?prefix=${P}&tls=true`);
    expect(b.sources[0]!.error).toMatch(/certificate|self[- ]signed|verify/i);
    expect((await daemonStatus(noCert)).sources[0]!.connected).toBe(false);
    await Promise.all([noCert.stop(), noCa.stop()]);
  });

  it('syncs with the CA and client certificate from the environment, and follows them when they are replaced', async () => {
    const d = await daemon('rotating', { DYELINE_ETCD_CA_FILE: files.ca, DYELINE_ETCD_CERT_FILE: files.cert, DYELINE_ETCD_KEY_FILE: files.key });
    const snapshot = join(dir, 'rotating', 'snapshot.json');
    await snapshotWhere(snapshot, (s) => s.lanes.some((l) => l.document.metadata.name === 'blue'), 'the rule read over TLS');
    // etcd moves to another CA; until the daemon's files follow, it cannot reconnect.
    await etcd.stop();
    etcd.tls = second;
    await etcd.start();
    await etcd.put(`${P}rules/Lane/green`, lane('green'));
    await statusWhere(d, (s) => !s.connected, 'disconnected while its CA is the old one');
    useSet(second);
    await d.waitForLog((l) => l.msg === 'TLS files reloaded', 15_000);
    await snapshotWhere(snapshot, (s) => s.lanes.some((l) => l.document.metadata.name === 'green'), 'the new rule, read with the new files', 30_000);
    await statusWhere(d, (s) => s.connected, 'connected again');
  });

  it('registers an agent over the same TLS connection', async () => {
    const snapshot = join(dir, 'rotating', 'snapshot.json');
    running.push(await startRegisteredPod({ service: 'orders', color: 'canary', podName: 'orders-tls', snapshot }));
    const key = await waitFor(async () => (await etcd.getPrefix(`${P}instances/orders/`))[`${P}instances/orders/orders-tls`], { what: 'registered over TLS' });
    expect(JSON.parse(key)).toMatchObject({ address: '127.0.0.1', labels: { color: 'canary' } });
    await snapshotWhere(snapshot, (s) => s.instances.some((i) => i.document.metadata.name === 'orders-tls'), 'the registered instance in the snapshot');
  });
});
