import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { inject } from '../../deploy/inject/inject.ts';
import { DYELINE_BIN } from '../support/process.ts';

const example = readFileSync(fileURLToPath(new URL('../../deploy/k8s/example-orders.yaml', import.meta.url)), 'utf8');
type Any = Record<string, any>;
const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Any);

describe('dyeline inject', () => {
  it('adds a native sidecar with service, colour and app port, the snapshot volume and the proxy env', () => {
    const [dep, svc] = docs(inject(example, { image: 'dyeline:test' }));
    const pod = dep!.spec.template;
    const agent = pod.spec.initContainers[0];
    expect(agent).toMatchObject({ name: 'dyeline-agent', image: 'dyeline:test', args: ['agent'], restartPolicy: 'Always' });
    const env = Object.fromEntries(agent.env.map((e: Any) => [e.name, e.value]));
    expect(env).toMatchObject({ DYELINE_SERVICE: 'orders', DYELINE_COLOR: 'canary', DYELINE_APP_PORT: '8080', NODE_OPTIONS: '--max-semi-space-size=1' });
    expect(agent.volumeMounts).toEqual([{ name: 'dyeline-run', mountPath: '/var/run/dyeline', readOnly: true }]);
    const app = pod.spec.containers[0];
    expect(app.env).toContainEqual({ name: 'HTTP_PROXY', value: 'http://127.0.0.1:15001' });
    expect(app.env).toContainEqual({ name: 'NODE_USE_ENV_PROXY', value: '1' });
    expect(pod.spec.volumes).toContainEqual({ name: 'dyeline-run', hostPath: { path: '/var/run/dyeline', type: 'DirectoryOrCreate' } });
    expect(pod.metadata.annotations['dyeline.io/injected']).toBe('true');
    expect(svc!.spec.ports[0].targetPort).toBe(15006);
    expect(svc!.metadata.annotations['dyeline.io/original-target-port']).toBe('8080');
  });

  it('is idempotent', () => {
    const once = inject(example, { image: 'dyeline:test' });
    expect(inject(once, { image: 'dyeline:test' })).toBe(once);
  });

  it('honours annotations, the legacy sidecar mode and opt-out', () => {
    const text = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: { dyeline.io/service: pricing, dyeline.io/app-port: "9000" }\nspec:\n  containers: [{ name: app, image: x }]\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata: { name: nightly, annotations: { dyeline.io/inject: "false" } }\nspec:\n  jobTemplate: { spec: { template: { spec: { containers: [{ name: job, image: y }] } } } }\n`;
    const [pod, cron] = docs(inject(text, { image: 'i', legacySidecar: true }));
    const agent = pod!.spec.containers.find((c: Any) => c.name === 'dyeline-agent');
    expect(agent.restartPolicy).toBeUndefined();
    const env = Object.fromEntries(agent.env.map((e: Any) => [e.name, e.value]));
    expect(env).toMatchObject({ DYELINE_SERVICE: 'pricing', DYELINE_APP_PORT: '9000', DYELINE_COLOR: 'stable' });
    expect(JSON.stringify(cron)).not.toContain('dyeline-agent');
  });

  it('rejects what it cannot inject with a clear message', () => {
    expect(() => inject('kind: Deployment\nmetadata: { name: x }\nspec: { template: { metadata: { labels: { color: Bad_Color } }, spec: { containers: [{ name: a }] } } }\n', { image: 'i' })).toThrow(
      /Deployment\/x: "Bad_Color" is not a valid colour/,
    );
    expect(() => inject('a: [1\n', { image: 'i' })).toThrow(/document 0: YAML/);
  });

  it('reads stdin and writes stdout through the CLI', () => {
    const r = spawnSync(process.execPath, [DYELINE_BIN, 'inject', '--image', 'dyeline:cli'], { input: example, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('image: dyeline:cli');
    const bad = spawnSync(process.execPath, [DYELINE_BIN, 'inject', '-f', '/no/such.yaml'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
  });
});
