/**
 * `dyeline webhook` as a real process over HTTPS, with the certificate deploy/k8s/webhook-cert.sh
 * makes, verified as the API server verifies it (its CA, the Service's DNS name). An
 * AdmissionReview in the API's documented form (test/fixtures/admission/pod-create.json: a pod
 * of a Deployment as the ReplicaSet controller creates it) gets a JSONPatch that, applied with
 * fast-json-patch, makes the pod exactly what `dyeline inject` makes of it.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TLSSocket } from 'node:tls';
import fastJsonPatch from 'fast-json-patch';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from '../../deploy/inject/inject.ts';
import { WEBHOOK_SERVER_NAME, type WebhookCerts, webhookCerts } from '../support/certs.ts';
import { schemaErrors } from '../support/k8s-schema.ts';
import { DYELINE_BIN, type DyelineProcess, startDyeline } from '../support/process.ts';
import { waitFor } from '../support/wait.ts';

type Any = Record<string, any>;
const FIXTURE = fileURLToPath(new URL('../fixtures/admission/pod-create.json', import.meta.url));
const fixture = (): Any => JSON.parse(readFileSync(FIXTURE, 'utf8')) as Any;
const IMAGE = 'registry.example/dyeline:9.9.9';

let dir: string;
let certs: WebhookCerts;
let served: { cert: string; key: string };
let webhook: DyelineProcess;

/** One HTTPS request to the webhook, verified like the API server does; the peer certificate's fingerprint too. */
function call(method: string, path: string, body?: string, ca: Buffer = certs.ca): Promise<{ status: number; text: string; json: Any; fingerprint: string }> {
  const [host, port] = webhook.listeners.get('webhook')!.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), method, path, ca, servername: WEBHOOK_SERVER_NAME, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => {
        let json: Any = {};
        try {
          json = JSON.parse(text) as Any;
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, text, json, fingerprint });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
const admit = async (review: unknown) => (await call('POST', '/inject?timeout=5s', typeof review === 'string' ? review : JSON.stringify(review))).json;
const patchOf = (answer: Any): fastJsonPatch.Operation[] => JSON.parse(Buffer.from(answer.response.patch, 'base64').toString('utf8')) as fastJsonPatch.Operation[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dyeline-webhook-'));
  certs = webhookCerts(join(dir, 'certs'));
  served = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') };
  copyFileSync(certs.cert, served.cert);
  copyFileSync(certs.key, served.key);
  webhook = await startDyeline(['webhook', '--listen', '127.0.0.1:0', '--tls-cert', served.cert, '--tls-key', served.key, '--image', IMAGE], {
    listeners: ['webhook'],
    env: { DYELINE_LOG_LEVEL: 'debug' },
  });
});

afterAll(async () => {
  await webhook?.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('dyeline webhook', () => {
  it('patches a pod of the documented AdmissionReview into exactly what dyeline inject makes of it', async () => {
    const review = fixture();
    const answer = await admit(review);
    expect(answer).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch' } });
    expect(answer.response.warnings).toBeUndefined();
    const pod = review.request.object as Any;
    const patched = fastJsonPatch.applyPatch(structuredClone(pod), patchOf(answer), true).newDocument;
    const injected = parse(inject(stringify(pod), { image: IMAGE })) as Any;
    expect(patched).toEqual(injected);
    // What the patch did, in brief: the agent as a native sidecar for service orders, lane canary.
    expect(patched.spec.initContainers[0]).toMatchObject({ name: 'dyeline-agent', image: IMAGE, restartPolicy: 'Always' });
    expect(patched.spec.initContainers[0].env).toContainEqual({ name: 'DYELINE_COLOR', value: 'canary' });
    expect(patched.spec.containers[0].env).toContainEqual({ name: 'LOG_LEVEL', value: 'info' });
    expect(patched.metadata.annotations['dyeline.io/injected']).toBe('true');
    expect(await schemaErrors(patched)).toEqual([]);
    await webhook.waitForLog((l) => l.msg === 'admission' && l.uid === review.request.uid && l.outcome === 'injected' && l.pod === 'shop/orders-canary-6d8f7b9c5-*');
  });

  it('gives no patch to an opted-out pod, an injected pod, or a request that is not a pod creation', async () => {
    const optedOut = fixture();
    optedOut.request.object.metadata.annotations = { 'dyeline.io/inject': 'false' };
    const injected = fixture();
    injected.request.uid = 'second-pass';
    injected.request.object = fastJsonPatch.applyPatch(structuredClone(injected.request.object), patchOf(await admit(fixture()))).newDocument;
    const update = fixture();
    update.request.operation = 'UPDATE';
    const other = fixture();
    other.request.kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
    for (const review of [optedOut, injected, update, other]) {
      const answer = await admit(review);
      expect(answer.response).toEqual({ uid: review.request.uid, allowed: true });
    }
  });

  it('answers allowed with a warning, never an error, when it cannot inject', async () => {
    const badColor = fixture();
    badColor.request.object.metadata.labels.color = 'Not_A_Colour';
    const noContainers = fixture();
    noContainers.request.object.spec.containers = [];
    const noService = fixture();
    noService.request.object.metadata.labels = {};
    const cases: [unknown, RegExp, string][] = [
      [badColor, /^dyeline: pod not injected: Pod shop\/orders-canary-6d8f7b9c5-\*: "Not_A_Colour" is not a valid colour$/, badColor.request.uid],
      [noContainers, /pod not injected: .*no containers/, noContainers.request.uid],
      [noService, /pod not injected: .*set annotation dyeline.io\/service/, noService.request.uid],
      ['{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionRev', /malformed AdmissionReview/, ''],
      [{ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: fixture().request }, /malformed AdmissionReview.*admission.k8s.io\/v1/, fixture().request.uid],
      [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u-1' } }, /malformed AdmissionReview.*request.kind/, 'u-1'],
      [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { ...fixture().request, uid: 'u-2', object: 'pod' } }, /malformed AdmissionReview.*not a pod/, 'u-2'],
    ];
    for (const [review, warning, uid] of cases) {
      const answer = await admit(review);
      expect(answer.response.allowed).toBe(true);
      expect(answer.response.uid).toBe(uid);
      expect(answer.response.patch).toBeUndefined();
      expect(answer.response.warnings).toHaveLength(1);
      expect(answer.response.warnings[0]).toMatch(warning);
      expect(answer.response.warnings[0].length).toBeLessThanOrEqual(256);
    }
    const warned = () => webhook.logs.filter((l) => l.msg === 'admission' && l.level === 'warn');
    await waitFor(() => warned().length >= cases.length, { what: 'one warning line per review not injected' });
    expect(warned().map((l) => l.outcome)).toEqual(['not-injected', 'not-injected', 'not-injected', 'malformed', 'malformed', 'malformed', 'malformed']);
  });

  it('serves /healthz, and 404 elsewhere', async () => {
    expect(await call('GET', '/healthz')).toMatchObject({ status: 200, text: 'ok\n' });
    expect((await call('GET', '/inject')).status).toBe(404);
    expect((await call('POST', '/mutate', '{}')).status).toBe(404);
  });

  it('re-reads a rotated certificate, keeping the old one while the new key and certificate do not match', async () => {
    const before = (await call('GET', '/healthz')).fingerprint;
    const renewed = webhookCerts(certs.dir); // a new serving certificate under the same CA
    writeFileSync(served.key, readFileSync(renewed.key)); // half-way: the key no longer matches the certificate
    await webhook.waitForLog((l) => l.msg === 'certificate files not (re)loaded; the previous certificate stays in use');
    expect((await call('GET', '/healthz')).fingerprint).toBe(before);
    writeFileSync(served.cert, readFileSync(renewed.cert));
    const after = await waitFor(
      async () => {
        const r = await call('GET', '/healthz');
        return r.fingerprint !== before && r;
      },
      { timeoutMs: 15_000, what: 'the renewed certificate being served' },
    );
    expect(after.status).toBe(200);
    expect(webhook.logs.filter((l) => l.msg === 'certificate reloaded')).toHaveLength(1);
    // Another CA's clients are refused: the certificate really is verified.
    const other = webhookCerts(join(dir, 'other-ca'));
    await expect(call('GET', '/healthz', undefined, other.ca)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    expect((await admit(fixture())).response.patchType).toBe('JSONPatch');
  });

  it('exits 2 naming the flag when the certificate is missing or unreadable', () => {
    const run = (args: string[]) => spawnSync(process.execPath, [DYELINE_BIN, 'webhook', '--listen', '127.0.0.1:0', ...args], { encoding: 'utf8', timeout: 20_000 });
    for (const [args, message] of [
      [['--tls-key', served.key], /--tls-cert: required/],
      [['--tls-cert', served.cert], /--tls-key: required/],
      [['--tls-cert', join(dir, 'nope.crt'), '--tls-key', served.key], /--tls-cert\/--tls-key: cannot read/],
      [['--tls-cert', served.cert, '--tls-key', served.key, '--listen', 'nowhere'], /--listen: expected HOST:PORT/],
    ] as [string[], RegExp][]) {
      const r = run(args);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  });
});
