/**
 * deploy/k8s: every manifest is valid against the Kubernetes API schema (kubernetes-models,
 * unknown fields included), every kustomization lists what its directory holds, and the pieces
 * that must agree (webhook Service ↔ MutatingWebhookConfiguration ↔ certificate Secret ↔
 * cert-manager Certificate ↔ webhook-cert.sh, images ↔ package version) do.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DAEMON_NODE_OPTIONS } from '../../deploy/node-options.ts';
import { parseDocumentsText } from '../../shared/schema/text.ts';
import { validateDocument } from '../../shared/schema/validate.ts';
import { schemaErrors, schemaErrorsOfAll } from '../support/k8s-schema.ts';

type Any = Record<string, any>;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const K8S = join(ROOT, 'deploy/k8s');
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(name) ? [p] : [];
  });
}
const manifestFiles = yamlFiles(K8S).filter((f) => !f.endsWith('kustomization.yaml'));
const docsOf = (file: string): Any[] => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Any).filter((d) => d !== null);
const all = manifestFiles.flatMap((f) => docsOf(f).map((doc) => ({ file: relative(K8S, f), doc })));
const one = (kind: string, name: string): Any => {
  const found = all.filter((m) => m.doc.kind === kind && m.doc.metadata?.name === name);
  expect(found, `${kind}/${name}`).toHaveLength(1);
  return found[0]!.doc;
};
const containers = (doc: Any): Any[] => [...(doc.spec.template.spec.initContainers ?? []), ...doc.spec.template.spec.containers];
const envOf = (c: Any): Record<string, string> => Object.fromEntries((c.env ?? []).map((e: Any) => [e.name, e.value]));

describe('deploy/k8s manifests', () => {
  it('are all valid against the Kubernetes API schema', async () => {
    expect(manifestFiles.map((f) => relative(K8S, f)).sort()).toEqual(
      ['base/daemon.yaml', 'base/namespace.yaml', 'base/rbac.yaml', 'base/webhook.yaml', 'cert-manager/certificate.yaml', 'example/shop.yaml'].sort(),
    );
    for (const f of manifestFiles) {
      const docs = docsOf(f);
      expect(docs.length, f).toBeGreaterThan(0);
      expect(await schemaErrorsOfAll(docs), relative(K8S, f)).toEqual([]);
    }
  });

  it('the schema check catches a misspelt field, a wrong type and a missing required field', async () => {
    const webhook = structuredClone(one('MutatingWebhookConfiguration', 'dyeline'));
    webhook.webhooks[0].failurPolicy = 'Ignore';
    expect(await schemaErrors(webhook)).toEqual(['data/webhooks/0/failurPolicy is an unknown field']);
    const daemon = structuredClone(one('DaemonSet', 'dyeline-daemon'));
    daemon.spec.template.spec.containers[0].ports[0].containerPort = '15290';
    expect((await schemaErrors(daemon)).join()).toMatch(/containers\/0\/ports\/0\/containerPort must be integer/);
    const cert = structuredClone(one('Certificate', 'dyeline-webhook'));
    delete cert.spec.secretName;
    expect((await schemaErrors(cert)).join()).toMatch(/secretName/);
  });

  it('each kustomization lists every manifest of its directory, and only files that exist', () => {
    const kustomizations = yamlFiles(K8S).filter((f) => f.endsWith('kustomization.yaml'));
    expect(kustomizations.map((f) => relative(K8S, f)).sort()).toEqual(['base/kustomization.yaml', 'cert-manager/kustomization.yaml', 'example/kustomization.yaml']);
    for (const k of kustomizations) {
      const dir = dirname(k);
      const resources = (parse(readFileSync(k, 'utf8')) as { resources: string[] }).resources;
      for (const r of resources) expect(statSync(join(dir, r)), `${relative(K8S, k)}: ${r}`).toBeTruthy();
      const local = readdirSync(dir).filter((n) => /\.ya?ml$/.test(n) && n !== 'kustomization.yaml');
      expect(local.filter((n) => !resources.includes(n)), relative(K8S, k)).toEqual([]);
    }
  });

  it('the webhook configuration never blocks pod creation and calls the webhook Service on /inject', () => {
    const config = one('MutatingWebhookConfiguration', 'dyeline');
    expect(config.webhooks).toHaveLength(1);
    const hook = config.webhooks[0];
    expect(hook).toMatchObject({
      failurePolicy: 'Ignore',
      sideEffects: 'None',
      admissionReviewVersions: ['v1'],
      namespaceSelector: { matchLabels: { 'dyeline.io/inject': 'enabled' } },
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
    });
    expect(hook.timeoutSeconds).toBeLessThanOrEqual(10);
    const svc = one('Service', 'dyeline-webhook');
    expect(hook.clientConfig.service).toEqual({ namespace: svc.metadata.namespace, name: svc.metadata.name, path: '/inject', port: svc.spec.ports[0].port });
    const dep = one('Deployment', 'dyeline-webhook');
    const [container] = containers(dep);
    expect(container.ports.map((p: Any) => p.name)).toContain(svc.spec.ports[0].targetPort);
    expect(container.args).toEqual(['webhook']);
    const env = envOf(container);
    expect(env.DYELINE_LISTEN).toBe(`0.0.0.0:${container.ports[0].containerPort}`);
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/healthz', scheme: 'HTTPS' });
    // The certificate files are those of the Secret the operator or cert-manager writes.
    const mount = container.volumeMounts.find((m: Any) => env.DYELINE_TLS_CERT!.startsWith(`${m.mountPath}/`));
    const volume = dep.spec.template.spec.volumes.find((v: Any) => v.name === mount.name);
    expect(env.DYELINE_TLS_CERT).toBe(`${mount.mountPath}/tls.crt`);
    expect(env.DYELINE_TLS_KEY).toBe(`${mount.mountPath}/tls.key`);
    const secretName = volume.secret.secretName;
    const cert = one('Certificate', 'dyeline-webhook');
    expect(cert.spec.secretName).toBe(secretName);
    expect(config.metadata.annotations['cert-manager.io/inject-ca-from']).toBe(`${cert.metadata.namespace}/${cert.metadata.name}`);
    expect(cert.spec.dnsNames).toContain(`${svc.metadata.name}.${svc.metadata.namespace}.svc`);
    expect(cert.spec.issuerRef.name).toBe(one('Issuer', 'dyeline-webhook-ca').metadata.name);
    const script = readFileSync(join(K8S, 'webhook-cert.sh'), 'utf8');
    expect(script).toContain(`create secret tls ${secretName}`);
    expect(script).toContain(`mutatingwebhookconfiguration ${config.metadata.name}`);
    expect(script).toContain(`namespace=${svc.metadata.namespace}`);
    expect(script).toContain(`service=${svc.metadata.name}`);
  });

  it('runs this version\'s image, injects the same one, and keeps the daemon and webhook off the Kubernetes API', () => {
    const image = `dyeline:${version}`;
    for (const kind of ['DaemonSet', 'Deployment']) {
      for (const { doc } of all.filter((m) => m.doc.kind === kind && m.doc.metadata.namespace === 'dyeline-system')) {
        for (const c of containers(doc)) expect(c.image, `${doc.metadata.name}/${c.name}`).toBe(image);
        expect(doc.spec.template.spec.automountServiceAccountToken).toBe(false);
        const sa = one('ServiceAccount', doc.spec.template.spec.serviceAccountName);
        expect(sa.automountServiceAccountToken).toBe(false);
      }
    }
    expect(envOf(containers(one('Deployment', 'dyeline-webhook'))[0]!).DYELINE_IMAGE).toBe(image);
    // The daemon runs with the V8 options the benches and the dist e2e tests measure it with.
    expect(envOf(one('DaemonSet', 'dyeline-daemon').spec.template.spec.containers[0]).NODE_OPTIONS).toBe(DAEMON_NODE_OPTIONS);
    expect(one('Namespace', 'dyeline-system').metadata.labels['pod-security.kubernetes.io/enforce']).toBe('privileged');
  });

  it('ships rule documents that dyeline itself accepts', () => {
    const rules = one('ConfigMap', 'dyeline-rules').data as Record<string, string>;
    for (const [file, text] of Object.entries(rules)) {
      for (const raw of parseDocumentsText(text)) {
        const r = validateDocument(raw.value);
        expect(r.ok, `${file}: ${JSON.stringify(r.ok ? '' : r.issues)}`).toBe(true);
      }
    }
  });

  it('the example app has two lanes of orders behind one entry that dyes', () => {
    expect(one('Namespace', 'shop').metadata.labels['dyeline.io/inject']).toBe('enabled');
    const lanes = ['orders-stable', 'orders-canary'].map((n) => one('Deployment', n).spec.template.metadata.labels);
    expect(lanes).toEqual([
      { app: 'orders', color: 'stable' },
      { app: 'orders', color: 'canary' },
    ]);
    expect(one('Service', 'frontend').spec.ports[0].targetPort).toBe(15006);
    expect(one('ConfigMap', 'frontend-nginx').data['default.conf']).toMatch(/proxy_pass http:\/\/127\.0\.0\.1:15001;\s+proxy_set_header Host orders;/);
  });
});
