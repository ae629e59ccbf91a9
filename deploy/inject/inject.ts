/**
 * `dyeline inject`: adds the sidecar to Kubernetes workloads (Deployment, StatefulSet,
 * DaemonSet, ReplicaSet, Job, CronJob, Pod). Per pod template it adds:
 * - the `dyeline-agent` container — a native sidecar (an init container with
 *   `restartPolicy: Always`, Kubernetes ≥ 1.29) so it starts before the app and stops after
 *   it; `--legacy-sidecar` puts it among the containers instead;
 * - the node's snapshot directory (hostPath /var/run/dyeline, read-only);
 * - `HTTP_PROXY`/`NODE_USE_ENV_PROXY` on the app containers so their outbound calls go
 *   through the agent;
 * and, for Services in the same input that select the pods, points `targetPort` at the
 * agent's inbound listener so inbound traffic is dyed and traced.
 * Per-pod settings come from annotations (`dyeline.io/service`, `dyeline.io/color`,
 * `dyeline.io/app-port`, `dyeline.io/inject: "false"` to skip). Running it twice changes nothing.
 */
import { parseAllDocuments, stringify } from 'yaml';
import { isValidColor } from '../../shared/color.ts';
import { DyelineError, ErrorCode } from '../../shared/errors.ts';

export const AGENT_CONTAINER = 'dyeline-agent';
export const INBOUND_PORT = 15006;
export const OUTBOUND_PORT = 15001;
export const STATUS_PORT = 15090;
const RUN_VOLUME = 'dyeline-run';
/** V8 options of the injected agent (see the README's benchmarks). */
export const AGENT_NODE_OPTIONS = '--max-semi-space-size=1';

export interface InjectOptions {
  /** Sidecar image (default `dyeline:<package version>`). */
  image: string;
  /** Put the agent among `containers` instead of a native sidecar init container. */
  legacySidecar?: boolean;
  /** Leave Services' targetPort alone. */
  keepServices?: boolean;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const obj = (parent: Obj, key: string): Obj => {
  if (!isObj(parent[key])) parent[key] = {};
  return parent[key] as Obj;
};
const list = (parent: Obj, key: string): Obj[] => {
  if (!Array.isArray(parent[key])) parent[key] = [];
  return parent[key] as Obj[];
};
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The pod template of a workload (or the pod itself), if it has one. */
function podTemplate(doc: Obj): { metadata: Obj; spec: Obj; owner: Obj } | undefined {
  const kind = doc.kind;
  const spec = isObj(doc.spec) ? doc.spec : undefined;
  if (kind === 'Pod' && spec) return { metadata: obj(doc, 'metadata'), spec, owner: doc };
  if (!spec) return undefined;
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].includes(String(kind)) && isObj(spec.template)) {
    const t = spec.template as Obj;
    return { metadata: obj(t, 'metadata'), spec: obj(t, 'spec'), owner: doc };
  }
  if (kind === 'CronJob' && isObj(spec.jobTemplate) && isObj((spec.jobTemplate as Obj).spec)) {
    const js = (spec.jobTemplate as Obj).spec as Obj;
    if (isObj(js.template)) {
      const t = js.template as Obj;
      return { metadata: obj(t, 'metadata'), spec: obj(t, 'spec'), owner: doc };
    }
  }
  return undefined;
}

interface Injected {
  labels: Obj;
  appPort?: number;
  namespace?: string;
}

function addEnv(container: Obj, name: string, value: string): void {
  const env = list(container, 'env');
  if (!env.some((e) => e.name === name)) env.push({ name, value });
}

/** Injects one pod template; returns what Services need to know, or undefined when skipped. */
function injectPod(doc: Obj, opts: InjectOptions, where: string): Injected | undefined {
  const pod = podTemplate(doc);
  if (!pod) return undefined;
  const ann = isObj(pod.metadata.annotations) ? (pod.metadata.annotations as Obj) : {};
  const ownerAnn = isObj((doc.metadata as Obj | undefined)?.annotations) ? ((doc.metadata as Obj).annotations as Obj) : {};
  if (ann['dyeline.io/inject'] === 'false' || ownerAnn['dyeline.io/inject'] === 'false') return undefined;
  const labels = isObj(pod.metadata.labels) ? (pod.metadata.labels as Obj) : {};
  const containers = list(pod.spec, 'containers');
  const inits = list(pod.spec, 'initContainers');
  const already = [...containers, ...inits].some((c) => c.name === AGENT_CONTAINER);
  const apps = containers.filter((c) => c.name !== AGENT_CONTAINER);
  if (apps.length === 0) throw new DyelineError(ErrorCode.BadRequest, `${where}: the pod template has no containers`);

  const service =
    str(ann['dyeline.io/service']) ?? str(labels['app.kubernetes.io/name']) ?? str(labels.app) ?? str((doc.metadata as Obj | undefined)?.name);
  if (!service) throw new DyelineError(ErrorCode.BadRequest, `${where}: cannot tell the service name; set annotation dyeline.io/service`);
  const color = str(ann['dyeline.io/color']) ?? str(labels.color) ?? 'stable';
  if (!isValidColor(color)) throw new DyelineError(ErrorCode.BadRequest, `${where}: "${color}" is not a valid colour`);
  let appPort: number | undefined;
  if (ann['dyeline.io/app-port'] !== undefined) {
    appPort = Number(ann['dyeline.io/app-port']);
    if (!Number.isInteger(appPort) || appPort < 1 || appPort > 65535) {
      throw new DyelineError(ErrorCode.BadRequest, `${where}: annotation dyeline.io/app-port must be a port number`);
    }
  } else {
    for (const c of apps) {
      const p = Array.isArray(c.ports) ? (c.ports as Obj[]).find((x) => typeof x.containerPort === 'number') : undefined;
      if (p) {
        appPort = p.containerPort as number;
        break;
      }
    }
  }
  const result: Injected = { labels, ...(appPort !== undefined && { appPort }), namespace: str((doc.metadata as Obj | undefined)?.namespace) };
  if (already) return result;

  const env: Obj[] = [
    { name: 'DYELINE_SERVICE', value: service },
    { name: 'DYELINE_COLOR', value: color },
    { name: 'DYELINE_INBOUND', value: `0.0.0.0:${INBOUND_PORT}` },
    { name: 'DYELINE_OUTBOUND', value: `127.0.0.1:${OUTBOUND_PORT}` },
    { name: 'DYELINE_STATUS', value: `0.0.0.0:${STATUS_PORT}` },
  ];
  if (appPort !== undefined) env.push({ name: 'DYELINE_APP_PORT', value: String(appPort) });
  // A 1 MiB young generation: ~25% less RSS under load for ~5% more CPU per request
  // (test/bench/proxy.ts with BENCH_AGENT_NODE_OPTIONS); a sidecar on every pod pays memory more.
  env.push({ name: 'NODE_OPTIONS', value: AGENT_NODE_OPTIONS });
  const agent: Obj = {
    name: AGENT_CONTAINER,
    image: opts.image,
    args: ['agent'],
    ...(opts.legacySidecar ? {} : { restartPolicy: 'Always' }),
    env,
    ports: [
      { name: 'dyeline-in', containerPort: INBOUND_PORT },
      { name: 'dyeline-status', containerPort: STATUS_PORT },
    ],
    readinessProbe: { httpGet: { path: '/readyz', port: STATUS_PORT }, periodSeconds: 2 },
    livenessProbe: { httpGet: { path: '/healthz', port: STATUS_PORT }, periodSeconds: 10 },
    resources: { requests: { cpu: '10m', memory: '48Mi' }, limits: { memory: '256Mi' } },
    securityContext: { runAsNonRoot: true, runAsUser: 1000, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
    volumeMounts: [{ name: RUN_VOLUME, mountPath: '/var/run/dyeline', readOnly: true }],
  };
  if (opts.legacySidecar) containers.push(agent);
  else inits.unshift(agent);
  if (inits.length === 0) delete pod.spec.initContainers;

  for (const c of apps) {
    addEnv(c, 'HTTP_PROXY', `http://127.0.0.1:${OUTBOUND_PORT}`);
    addEnv(c, 'http_proxy', `http://127.0.0.1:${OUTBOUND_PORT}`);
    addEnv(c, 'NO_PROXY', 'localhost,127.0.0.1,::1');
    addEnv(c, 'no_proxy', 'localhost,127.0.0.1,::1');
    addEnv(c, 'NODE_USE_ENV_PROXY', '1');
  }
  const volumes = list(pod.spec, 'volumes');
  if (!volumes.some((v) => v.name === RUN_VOLUME)) volumes.push({ name: RUN_VOLUME, hostPath: { path: '/var/run/dyeline', type: 'DirectoryOrCreate' } });
  const podAnn = obj(pod.metadata, 'annotations');
  podAnn['dyeline.io/injected'] = 'true';
  podAnn['prometheus.io/scrape'] ??= 'true';
  podAnn['prometheus.io/port'] ??= String(STATUS_PORT);
  return result;
}

/** Points a Service's ports at the agent when it selects injected pods on their app port. */
function rewriteService(doc: Obj, pods: Injected[]): void {
  const spec = isObj(doc.spec) ? doc.spec : undefined;
  const selector = spec && isObj(spec.selector) ? (spec.selector as Obj) : undefined;
  if (!spec || !selector || Object.keys(selector).length === 0) return;
  const ns = str((doc.metadata as Obj | undefined)?.namespace);
  const pod = pods.find((p) => p.namespace === ns && Object.entries(selector).every(([k, v]) => p.labels[k] === v));
  if (!pod || pod.appPort === undefined) return;
  for (const port of Array.isArray(spec.ports) ? (spec.ports as Obj[]) : []) {
    const target = port.targetPort ?? port.port;
    if (target === pod.appPort || target === String(pod.appPort)) {
      port.targetPort = INBOUND_PORT;
      const ann = obj(obj(doc, 'metadata'), 'annotations');
      ann['dyeline.io/original-target-port'] = String(pod.appPort);
    }
  }
}

/** Injects every workload of a multi-document YAML text; returns the new text. */
export function inject(text: string, opts: InjectOptions): string {
  const docs = parseAllDocuments(text);
  const values: unknown[] = [];
  for (const [i, d] of docs.entries()) {
    if (d.errors.length > 0) throw new DyelineError(ErrorCode.Parse, `document ${i}: YAML: ${d.errors[0]!.message.split('\n')[0]}`);
    values.push(d.toJS());
  }
  const pods: Injected[] = [];
  for (const [i, v] of values.entries()) {
    if (!isObj(v)) continue;
    const name = `${String(v.kind)}/${String((v.metadata as Obj | undefined)?.name ?? i)}`;
    const injected = injectPod(v, opts, name);
    if (injected) pods.push(injected);
  }
  if (!opts.keepServices) for (const v of values) if (isObj(v) && v.kind === 'Service') rewriteService(v, pods);
  return values
    .filter((v) => v !== null && v !== undefined)
    .map((v) => stringify(v, { lineWidth: 0 }))
    .join('---\n');
}
