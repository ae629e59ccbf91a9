/** Injection with `dyeline.io/propagate: node` (deploy/inject/propagate.ts): `dyeline inject` and the webhook. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastJsonPatch from 'fast-json-patch';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { inject } from '../../deploy/inject/inject.ts';
import { PRELOAD_IN_IMAGE } from '../../deploy/inject/propagate.ts';
import { review } from '../../deploy/webhook/review.ts';
import { schemaErrors } from '../support/k8s-schema.ts';

type Any = Record<string, any>;
const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Any);
const FLAG = '--import=/dyeline-propagate/propagate.mjs';

const deployment = (annotations: string, env = '') => `apiVersion: apps/v1
kind: Deployment
metadata: { name: orders }
spec:
  selector: { matchLabels: { app: orders } }
  template:
    metadata:
      labels: { app: orders }
      annotations: { ${annotations} }
    spec:
      initContainers: [{ name: migrate, image: shop/migrate }]
      containers:
        - name: orders
          image: shop/orders
          ports: [{ containerPort: 8080 }]
${env}        - name: worker
          image: shop/worker
`;

describe('dyeline inject: dyeline.io/propagate: node', () => {
  it('copies the preload from the dyeline image into an emptyDir and loads it in every app container', () => {
    const [dep] = docs(inject(deployment('dyeline.io/propagate: node'), { image: 'dyeline:test' }));
    const spec = dep!.spec.template.spec;
    expect(spec.initContainers.map((c: Any) => c.name)).toEqual(['dyeline-agent', 'migrate', 'dyeline-propagate']);
    const copy = spec.initContainers[2];
    expect(copy).toMatchObject({ image: 'dyeline:test', command: ['cp', PRELOAD_IN_IMAGE, '/dyeline-propagate/propagate.mjs'] });
    expect(copy.volumeMounts).toEqual([{ name: 'dyeline-propagate', mountPath: '/dyeline-propagate' }]);
    expect(spec.volumes).toContainEqual({ name: 'dyeline-propagate', emptyDir: { sizeLimit: '1Mi' } });
    for (const app of spec.containers.filter((c: Any) => c.name !== 'dyeline-agent')) {
      expect(app.volumeMounts).toEqual([{ name: 'dyeline-propagate', mountPath: '/dyeline-propagate', readOnly: true }]);
      expect(app.env).toContainEqual({ name: 'NODE_OPTIONS', value: FLAG });
    }
    // The agent keeps its own options; the app's init containers are left alone.
    expect(spec.initContainers[0].env).toContainEqual({ name: 'NODE_OPTIONS', value: '--max-semi-space-size=1' });
    expect(spec.initContainers[1]).toEqual({ name: 'migrate', image: 'shop/migrate' });
  });

  it('emits a Deployment valid against the Kubernetes API schema', async () => {
    const [dep] = docs(inject(deployment('dyeline.io/propagate: node'), { image: 'dyeline:test' }));
    expect(await schemaErrors(dep!)).toEqual([]);
  });

  it("appends to the container's own NODE_OPTIONS and is idempotent, also on an already injected pod", () => {
    const env = '          env: [{ name: NODE_OPTIONS, value: "--max-old-space-size=512 --enable-source-maps" }]\n';
    const once = inject(deployment('dyeline.io/propagate: node', env), { image: 'i' });
    const orders = docs(once)[0]!.spec.template.spec.containers.find((c: Any) => c.name === 'orders');
    expect(orders.env).toEqual([
      { name: 'NODE_OPTIONS', value: `--max-old-space-size=512 --enable-source-maps ${FLAG}` },
      { name: 'HTTP_PROXY', value: 'http://127.0.0.1:15001' },
      { name: 'http_proxy', value: 'http://127.0.0.1:15001' },
      { name: 'NO_PROXY', value: 'localhost,127.0.0.1,::1' },
      { name: 'no_proxy', value: 'localhost,127.0.0.1,::1' },
      { name: 'NODE_USE_ENV_PROXY', value: '1' },
    ]);
    expect(inject(once, { image: 'i' })).toBe(once);
    // Annotated after a first injection without it: a second run adds the preload, a third changes nothing.
    const plain = inject(deployment('dyeline.io/color: canary'), { image: 'i' });
    const annotated = plain.replace('dyeline.io/color: canary', 'dyeline.io/color: canary\n        dyeline.io/propagate: node');
    const twice = inject(annotated, { image: 'i' });
    expect(docs(twice)[0]!.spec.template.spec.initContainers.map((c: Any) => c.name)).toEqual(['dyeline-agent', 'migrate', 'dyeline-propagate']);
    expect(inject(twice, { image: 'i' })).toBe(twice);
  });

  it('leaves pods without the annotation alone and rejects what it cannot honour', () => {
    expect(inject(deployment('dyeline.io/color: canary'), { image: 'i' })).not.toContain('dyeline-propagate');
    expect(() => inject(deployment('dyeline.io/propagate: java'), { image: 'i' })).toThrow(/Deployment\/orders: annotation dyeline.io\/propagate must be "node", not "java"/);
    const fromConfigMap = '          env: [{ name: NODE_OPTIONS, valueFrom: { configMapKeyRef: { name: c, key: k } } }]\n';
    expect(() => inject(deployment('dyeline.io/propagate: node', fromConfigMap), { image: 'i' })).toThrow(/container orders takes NODE_OPTIONS from valueFrom/);
  });

  it('the webhook patches an annotated pod the same way', () => {
    const admission = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/admission/pod-create.json', import.meta.url)), 'utf8')) as Any;
    const pod = admission.request.object;
    pod.metadata.annotations = { ...pod.metadata.annotations, 'dyeline.io/propagate': 'node' };
    const result = review(admission, { image: 'dyeline:hook' });
    expect(result.outcome).toBe('injected');
    const patched = fastJsonPatch.applyPatch(structuredClone(pod), JSON.parse(Buffer.from(result.answer.response.patch!, 'base64').toString('utf8')) as fastJsonPatch.Operation[]).newDocument as Any;
    expect(patched.spec.initContainers.find((c: Any) => c.name === 'dyeline-propagate')).toMatchObject({ image: 'dyeline:hook', command: ['cp', PRELOAD_IN_IMAGE, '/dyeline-propagate/propagate.mjs'] });
    expect(patched.spec.containers[0].env).toContainEqual({ name: 'NODE_OPTIONS', value: FLAG });
    pod.metadata.annotations['dyeline.io/propagate'] = 'python';
    expect(review(admission, { image: 'dyeline:hook' })).toMatchObject({ outcome: 'not-injected', reason: expect.stringMatching(/dyeline.io\/propagate must be "node"/) });
  });

  it('finds the preload where the Dockerfile puts it in the image', () => {
    const dockerfile = readFileSync(fileURLToPath(new URL('../../Dockerfile', import.meta.url)), 'utf8');
    const workdir = [...dockerfile.matchAll(/^WORKDIR (\S+)/gm)].at(-1)![1];
    expect(dockerfile).toMatch(/^COPY propagate \.\/propagate$/m);
    expect(`${workdir}/propagate/propagate.mjs`).toBe(PRELOAD_IN_IMAGE);
  });
});
