import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { inject } from '../../deploy/inject/inject.ts';
import { schemaErrorsOfAll } from '../support/k8s-schema.ts';
import { DYELINE_BIN } from '../support/process.ts';

const example = readFileSync(fileURLToPath(new URL('../../deploy/k8s/example/shop.yaml', import.meta.url)), 'utf8');
type Any = Record<string, any>;
const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Any);
const find = (all: Any[], kind: string, name: string) => all.find((d) => d.kind === kind && d.metadata.name === name)!;
const envOf = (c: Any) => Object.fromEntries(c.env.map((e: Any) => [e.name, e.value ?? e.valueFrom]));

describe('dyeline inject', () => {
  it('adds a native sidecar with service, colour, app port and registration, the snapshot volume and the proxy env', () => {
    const all = docs(inject(example, { image: 'dyeline:test' }));
    const pod = find(all, 'Deployment', 'orders-canary').spec.template;
    const agent = pod.spec.initContainers[0];
    expect(agent).toMatchObject({ name: 'dyeline-agent', image: 'dyeline:test', args: ['agent'], restartPolicy: 'Always' });
    expect(envOf(agent)).toEqual({
      DYELINE_SERVICE: 'orders',
      DYELINE_COLOR: 'canary',
      DYELINE_INBOUND: '0.0.0.0:15006',
      DYELINE_OUTBOUND: '127.0.0.1:15001',
      DYELINE_STATUS: '0.0.0.0:15090',
      DYELINE_APP_PORT: '8080',
      DYELINE_REGISTER: 'true',
      DYELINE_LABEL: 'version=v2',
      POD_IP: { fieldRef: { fieldPath: 'status.podIP' } },
      POD_NAME: { fieldRef: { fieldPath: 'metadata.name' } },
      POD_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } },
      NODE_OPTIONS: '--max-semi-space-size=1',
    });
    expect(agent.volumeMounts).toEqual([{ name: 'dyeline-run', mountPath: '/var/run/dyeline', readOnly: true }]);
    const app = pod.spec.containers[0];
    expect(app.env).toContainEqual({ name: 'HTTP_PROXY', value: 'http://127.0.0.1:15001' });
    expect(app.env).toContainEqual({ name: 'NODE_USE_ENV_PROXY', value: '1' });
    expect(pod.spec.volumes).toContainEqual({ name: 'dyeline-run', hostPath: { path: '/var/run/dyeline', type: 'DirectoryOrCreate' } });
    expect(pod.metadata.annotations['dyeline.io/injected']).toBe('true');
    const svc = find(all, 'Service', 'orders');
    expect(svc.spec.ports[0].targetPort).toBe(15006);
    expect(svc.metadata.annotations['dyeline.io/original-target-port']).toBe('8080');
    expect(envOf(find(all, 'Deployment', 'orders-stable').spec.template.spec.initContainers[0])).toMatchObject({ DYELINE_COLOR: 'stable' });
  });

  it('emits objects valid against the Kubernetes API schema, native and legacy sidecar alike', async () => {
    for (const legacySidecar of [false, true]) {
      const out = docs(inject(example, { image: 'dyeline:test', legacySidecar }));
      expect(out.length).toBe(docs(example).length);
      expect(await schemaErrorsOfAll(out)).toEqual([]);
    }
  });

  it('is idempotent, native and legacy sidecar alike', () => {
    for (const legacySidecar of [false, true]) {
      const once = inject(example, { image: 'dyeline:test', legacySidecar });
      expect(inject(once, { image: 'dyeline:test', legacySidecar })).toBe(once);
      expect(once).not.toContain('initContainers: []');
    }
  });

  it('honours annotations, the legacy sidecar mode and opt-out', () => {
    const text = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: { dyeline.io/service: pricing, dyeline.io/app-port: "9000", dyeline.io/accept-color: mesh, dyeline.io/register: "false" }\nspec:\n  containers: [{ name: app, image: x }]\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata: { name: nightly, annotations: { dyeline.io/inject: "false" } }\nspec:\n  schedule: "@daily"\n  jobTemplate: { spec: { template: { spec: { containers: [{ name: job, image: y }] } } } }\n`;
    const [pod, cron] = docs(inject(text, { image: 'i', legacySidecar: true }));
    const agent = pod!.spec.containers.find((c: Any) => c.name === 'dyeline-agent');
    expect(agent.restartPolicy).toBeUndefined();
    expect(pod!.spec.initContainers).toBeUndefined();
    const env = envOf(agent);
    expect(env).toMatchObject({ DYELINE_SERVICE: 'pricing', DYELINE_APP_PORT: '9000', DYELINE_COLOR: 'stable', DYELINE_ACCEPT_COLOR: 'mesh' });
    expect(env.DYELINE_REGISTER).toBeUndefined();
    expect(JSON.stringify(cron)).not.toContain('dyeline-agent');
  });

  it('rejects what it cannot inject with a clear message', () => {
    const pod = (ann: string) => `kind: Pod\nmetadata: { name: x, annotations: { ${ann} } }\nspec: { containers: [{ name: a }] }\n`;
    expect(() => inject('kind: Deployment\nmetadata: { name: x }\nspec: { template: { metadata: { labels: { color: Bad_Color } }, spec: { containers: [{ name: a }] } } }\n', { image: 'i' })).toThrow(
      /Deployment\/x: "Bad_Color" is not a valid colour/,
    );
    expect(() => inject(pod('dyeline.io/accept-color: some'), { image: 'i' })).toThrow(/Pod\/x: annotation dyeline.io\/accept-color must be "any" or "mesh"/);
    expect(() => inject(pod('dyeline.io/labels: "version"'), { image: 'i' })).toThrow(/Pod\/x: annotation dyeline.io\/labels: "version" is not key=value/);
    expect(() => inject(pod('dyeline.io/app-port: "http"'), { image: 'i' })).toThrow(/Pod\/x: annotation dyeline.io\/app-port must be a port number/);
    expect(() => inject('a: [1\n', { image: 'i' })).toThrow(/document 0: YAML/);
  });

  it('reads stdin and writes stdout through the CLI', () => {
    const r = spawnSync(process.execPath, [DYELINE_BIN, 'inject', '--image', 'dyeline:cli'], { input: example, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('image: dyeline:cli');
    const legacy = spawnSync(process.execPath, [DYELINE_BIN, 'inject', '--legacy-sidecar'], { input: example, encoding: 'utf8' });
    expect(legacy.status).toBe(0);
    expect(legacy.stdout).not.toContain('restartPolicy: Always');
    const bad = spawnSync(process.execPath, [DYELINE_BIN, 'inject', '-f', '/no/such.yaml'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
  });
});
