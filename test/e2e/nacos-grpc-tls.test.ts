/**
 * `nacos://…&tls=true` over gRPC, with real daemon processes against the test Nacos serving TLS on
 * its gRPC port (HTTP port + 1000, plaintext accepted on the same port as Nacos's default
 * `compatibility` does): config and naming pushes arrive over TLS and nothing goes in plaintext;
 * `auto` picks gRPC over TLS; a daemon without the right CA is refused, says why in /status and
 * the log, and keeps what it had; a rotated server certificate is followed once the CA file
 * follows; with mutual TLS the daemon presents DYELINE_NACOS_CERT_FILE/_KEY_FILE, registers
 * agents over that connection, and follows a rotated client certificate.
 */
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Snapshot } from '../../shared/schema/snapshot.ts';
import { readSnapshotFile } from '../../shared/snapshot-file.ts';
import { startRegisteredPod } from '../support/apps.ts';
import { type TlsSet, tlsSet } from '../support/certs.ts';
import { snapshotWhere, statusWhere } from '../support/daemon-state.ts';
import { type TestNacosNode, startNacosNode } from '../support/nacos-grpc-server.ts';
import { type DyelineProcess, startDaemon } from '../support/process.ts';
import { waitFor } from '../support/wait.ts';

const lane = (name: string) => `apiVersion: dyeline.io/v1\nkind: Lane\nmetadata: { name: ${name} }\nspec: { color: ${name} }\n`;
const hasLane = (name: string) => (s: Snapshot) => s.lanes.some((l) => l.document.metadata.name === name);
const hasInstance = (service: string, port: number) => (s: Snapshot) => s.instances.some((i) => i.document.spec.service === service && i.document.spec.port === port);

let dir: string;
let first: TlsSet;
let second: TlsSet;
const running: { stop(signal?: NodeJS.Signals): Promise<unknown> }[] = [];
const nodes: TestNacosNode[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dyeline-nacos-grpc-tls-'));
  first = tlsSet(join(dir, 'first'));
  second = tlsSet(join(dir, 'second'));
});

afterAll(async () => {
  await Promise.allSettled(running.map((r) => r.stop('SIGKILL')));
  await Promise.allSettled(nodes.map((n) => n.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function tlsNode(mutualAuth = false): Promise<TestNacosNode> {
  const node = await startNacosNode({ grpc: { tls: { set: first, mutualAuth } } });
  nodes.push(node);
  node.state.publishConfig('rules.yaml', 'DYELINE', lane('blue'));
  return node;
}

/** A directory of the daemon's TLS files, copied from `set` (what a mounted Secret would hold). */
function liveFiles(name: string, set: TlsSet): { ca: string; cert: string; key: string; copy(from: TlsSet): void } {
  const live = join(dir, `${name}-tls`);
  mkdirSync(live);
  const files = { ca: join(live, 'ca.crt'), cert: join(live, 'tls.crt'), key: join(live, 'tls.key') };
  const copy = (from: TlsSet) => {
    copyFileSync(from.caFile, files.ca);
    copyFileSync(from.clientCertFile, files.cert);
    copyFileSync(from.clientKeyFile, files.key);
  };
  copy(set);
  return { ...files, copy };
}

async function daemon(name: string, uri: string, env: NodeJS.ProcessEnv): Promise<{ d: DyelineProcess; snapshot: string }> {
  mkdirSync(join(dir, name));
  const snapshot = join(dir, name, 'snapshot.json');
  const d = await startDaemon({ sources: [uri], snapshot, env });
  running.push(d);
  return { d, snapshot };
}

const source = (node: TestNacosNode, params: string) => `nacos://${node.address}?group=DYELINE&dataId=rules.yaml&tls=true${params}`;

describe('Nacos over gRPC with TLS', () => {
  it('config push and naming push over TLS, nothing in plaintext, no HTTP; reloaded files keep the open connections', async () => {
    const node = await tlsNode();
    const files = liveFiles('push', first);
    const { d, snapshot } = await daemon('push', source(node, '&services=orders&transport=grpc'), { DYELINE_NACOS_CA_FILE: files.ca });
    await snapshotWhere(snapshot, hasLane('blue'), 'the config read over gRPC-TLS');
    const pushesBefore = node.grpc.pushTotals.pushes;
    node.state.publishConfig('rules.yaml', 'DYELINE', `${lane('blue')}---\n${lane('green')}`);
    await snapshotWhere(snapshot, hasLane('green'), 'the changed config, pushed');
    node.http.registerInstance('orders', { ip: '127.0.0.1', port: 18081 });
    await snapshotWhere(snapshot, hasInstance('orders', 18081), 'the new instance, pushed');
    // Both changes came as pushes (a ConfigChangeNotifyRequest, a NotifySubscriberRequest), acknowledged.
    await waitFor(() => node.grpc.pushTotals.acks >= pushesBefore + 2, { what: 'both pushes acknowledged' });
    expect(node.grpc.pushTotals.pushes).toBeGreaterThanOrEqual(pushesBefore + 2);
    expect(node.grpc.accepted).toEqual({ tls: 2, plaintext: 0 });
    expect(node.grpc.connections.map((c) => c.module).sort()).toEqual(['config', 'naming']);
    expect(node.http.requests).toEqual([]);
    // New files (here a bundle of both CAs) are for new connections: the open ones, which hold
    // the subscriptions, stay.
    const ids = node.grpc.connections.map((c) => c.id).sort();
    appendFileSync(files.ca, readFileSync(second.caFile));
    await d.waitForLog((l) => l.msg === 'TLS files reloaded', 15_000);
    node.state.publishConfig('rules.yaml', 'DYELINE', `${lane('blue')}---\n${lane('green')}---\n${lane('teal')}`);
    await snapshotWhere(snapshot, hasLane('teal'), 'pushed on the same connection');
    expect(node.grpc.connections.map((c) => c.id).sort()).toEqual(ids);
  });

  it('transport=auto with tls=true picks gRPC over TLS', async () => {
    const node = await tlsNode();
    const files = liveFiles('auto', first);
    const { d, snapshot } = await daemon('auto', source(node, '&services='), { DYELINE_NACOS_CA_FILE: files.ca });
    await snapshotWhere(snapshot, hasLane('blue'), 'the config read');
    expect(await d.waitForLog((l) => String(l.msg).startsWith('nacos transport:'))).toMatchObject({ msg: 'nacos transport: gRPC over TLS', transport: 'grpc', tls: true });
    // The probe and the config connection, both over TLS.
    expect(node.grpc.accepted).toEqual({ tls: 2, plaintext: 0 });
    expect(node.http.requests).toEqual([]);
  });

  it('without the right CA the daemon is refused and says why; it never falls back to plaintext', async () => {
    const node = await tlsNode();
    // No DYELINE_NACOS_CA_FILE: the system's roots do not know the test CA.
    const { d, snapshot } = await daemon('no-ca', source(node, '&services=orders&transport=grpc'), {});
    const st = await statusWhere(d, (s) => !s.connected && s.error !== null, 'the refusal in /status');
    expect(st.sources[0]!.error).toMatch(/certificate/);
    const warn = await d.waitForLog((l) => l.msg === 'nacos disconnected; keeping its last known content');
    expect(String(warn.error)).toMatch(/certificate/);
    // Not a request reached the server: neither over TLS nor, falling back, in plaintext.
    expect(node.grpc.accepted.plaintext).toBe(0);
    expect(node.grpc.requests).toEqual([]);
    // Nothing read, so nothing written: the daemon holds no snapshot from this source.
    const snap = await readSnapshotFile(snapshot).catch(() => undefined);
    expect(snap?.lanes ?? []).toEqual([]);
  });

  it('a rotated server certificate: refused while the CA file is the old one, content kept; caught up once the file follows', async () => {
    const node = await tlsNode();
    node.http.registerInstance('orders', { ip: '127.0.0.1', port: 18082 });
    const files = liveFiles('rotate-server', first);
    const { d, snapshot } = await daemon('rotate-server', source(node, '&services=orders&transport=grpc'), { DYELINE_NACOS_CA_FILE: files.ca });
    await snapshotWhere(snapshot, (s) => hasLane('blue')(s) && hasInstance('orders', 18082)(s), 'config and instance');
    // Nacos reloads its certificate (a new CA); open connections keep the old one until they break.
    node.grpc.useCertificate(second);
    node.grpc.killConnections();
    const st = await statusWhere(d, (s) => !s.connected && /certificate/.test(s.error ?? ''), 'refused with the old CA');
    expect(st.sources[0]!.error).toMatch(/certificate/);
    node.state.publishConfig('rules.yaml', 'DYELINE', `${lane('blue')}---\n${lane('red')}`);
    // Refused, it keeps everything it had.
    const kept = await snapshotWhere(snapshot, () => true, 'the snapshot');
    expect(hasLane('blue')(kept) && hasInstance('orders', 18082)(kept)).toBe(true);
    expect(hasLane('red')(kept)).toBe(false);
    copyFileSync(second.caFile, files.ca);
    await d.waitForLog((l) => l.msg === 'TLS files reloaded', 15_000);
    await snapshotWhere(snapshot, (s) => hasLane('red')(s) && hasInstance('orders', 18082)(s), 'caught up with the new CA', 20_000);
    await statusWhere(d, (s) => s.connected, 'connected again');
  });

  it('mutual TLS: the client certificate is required and presented, registrations go over it, and a rotated client certificate is followed', async () => {
    const node = await tlsNode(true);
    const files = liveFiles('mtls', first);
    const uri = source(node, '&services=payments&transport=grpc');

    const noCert = await daemon('mtls-no-cert', uri, { DYELINE_NACOS_CA_FILE: files.ca });
    const refused = await statusWhere(noCert.d, (s) => !s.connected && s.error !== null, 'refused without a client certificate');
    expect(refused.sources[0]!.error).toMatch(/certificate required/);
    await noCert.d.stop('SIGKILL');

    const env = { DYELINE_NACOS_CA_FILE: files.ca, DYELINE_NACOS_CERT_FILE: files.cert, DYELINE_NACOS_KEY_FILE: files.key };
    const { d, snapshot } = await daemon('mtls', uri, env);
    await snapshotWhere(snapshot, hasLane('blue'), 'the config read with a client certificate');
    const pod = await startRegisteredPod({ service: 'payments', color: 'canary', podName: 'payments-canary-1', snapshot });
    running.push(pod);
    await waitFor(() => node.http.instances('payments').length === 1, { what: 'registered over gRPC with mutual TLS' });
    expect(node.grpc.requestsOf('InstanceRequest').map((r) => `${r.body.type} ${r.errorCode}`)).toContain('registerInstance 0');
    await snapshotWhere(snapshot, hasInstance('payments', pod.port), 'the registered instance in the snapshot');
    expect(node.grpc.accepted.plaintext).toBe(0);

    // Nacos now trusts only the second CA: reconnections fail until the daemon's files are the second set.
    node.grpc.useCertificate(second);
    node.grpc.killConnections();
    await statusWhere(d, (s) => !s.connected, 'refused with the old client certificate');
    files.copy(second);
    await d.waitForLog((l) => l.msg === 'TLS files reloaded', 15_000);
    await statusWhere(d, (s) => s.connected, 'connected with the new client certificate', 20_000);
    await waitFor(() => node.http.instances('payments').length === 1, { timeoutMs: 20_000, what: 'registered again over the new connection' });
  });
});
