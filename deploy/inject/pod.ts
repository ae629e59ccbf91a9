/**
 * What injection does to one pod (a workload's pod template, or a pod at admission): the
 * single code path behind `dyeline inject` and `dyeline webhook` (docs/reference.md#kubernetes).
 * Per-pod settings come from annotations (labels for the colour), see {@link ANNOTATIONS}.
 */
import { isValidColor } from '../../shared/color.ts';
import { DyelineError, ErrorCode } from '../../shared/errors.ts';
import { AGENT_NODE_OPTIONS } from '../node-options.ts';
import { addPropagate, PROPAGATE_ANNOTATION, propagateMode } from './propagate.ts';

export const AGENT_CONTAINER = 'dyeline-agent';
export const INBOUND_PORT = 15006;
export const OUTBOUND_PORT = 15001;
export const STATUS_PORT = 15090;
/** The hostPath the node's daemon writes its snapshot into (and the agents read). */
export const RUN_DIR = '/var/run/dyeline';
const RUN_VOLUME = 'dyeline-run';

/** The annotations injection reads (on the pod, or the pod template). */
export const ANNOTATIONS = {
  /** `"false"` skips the pod (also on the workload itself). */
  inject: 'dyeline.io/inject',
  /** Set by injection; a pod that has it is left alone. */
  injected: 'dyeline.io/injected',
  /** The service name (default: label app.kubernetes.io/name, then app, then the workload name). */
  service: 'dyeline.io/service',
  /** The lane (default: label color, then stable). */
  color: 'dyeline.io/color',
  /** The app's port (default: the first container port). */
  appPort: 'dyeline.io/app-port',
  /** `any` or `mesh`: which peers may set a colour on the inbound listener. */
  acceptColor: 'dyeline.io/accept-color',
  /** `"false"`: the agent does not register its instance. */
  register: 'dyeline.io/register',
  /** Extra instance labels, `k=v,k2=v2`. */
  labels: 'dyeline.io/labels',
  /** `node`: load dyeline/propagate into the app containers (also on the workload; propagate.ts). */
  propagate: PROPAGATE_ANNOTATION,
} as const;

/** How to inject. */
export interface InjectOptions {
  /** Sidecar image (default `dyeline:<package version>`). */
  image: string;
  /** Put the agent among `containers` instead of a native sidecar init container. */
  legacySidecar?: boolean;
  /** Leave Services' targetPort alone (`dyeline inject` only). */
  keepServices?: boolean;
}

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const objectAt = (parent: Obj, key: string): Obj => {
  if (!isObj(parent[key])) parent[key] = {};
  return parent[key] as Obj;
};
const listAt = (parent: Obj, key: string): Obj[] => {
  if (!Array.isArray(parent[key])) parent[key] = [];
  return parent[key] as Obj[];
};
/** The list under `key`, or an empty one (never creates the field). */
const listOf = (parent: Obj, key: string): Obj[] => (Array.isArray(parent[key]) ? (parent[key] as Obj[]) : []);

/** One pod to inject: its metadata and spec (objects of the document, changed in place). */
export interface PodParts {
  metadata: Obj;
  spec: Obj;
}

/** What the workload around the pod adds: its name and annotations, its namespace. */
export interface PodOwner {
  name?: string;
  namespace?: string;
  annotations?: Obj;
}

/** What Services selecting an injected pod need to know. */
export interface InjectedPod {
  labels: Obj;
  appPort?: number;
  namespace?: string;
}

/** The per-pod settings read from annotations and labels. */
interface PodSettings {
  service: string;
  color: string;
  appPort?: number;
  acceptColor?: string;
  register: boolean;
  labels?: string;
}

/** True when the pod (or its workload) opted out with `dyeline.io/inject: "false"`. */
export function optedOut(pod: PodParts, owner: PodOwner = {}): boolean {
  const ann = isObj(pod.metadata.annotations) ? pod.metadata.annotations : {};
  return ann[ANNOTATIONS.inject] === 'false' || owner.annotations?.[ANNOTATIONS.inject] === 'false';
}

/** True when the pod already has the agent (or says it was injected). */
export function alreadyInjected(pod: PodParts): boolean {
  const ann = isObj(pod.metadata.annotations) ? pod.metadata.annotations : {};
  if (ann[ANNOTATIONS.injected] === 'true') return true;
  return [...listOf(pod.spec, 'containers'), ...listOf(pod.spec, 'initContainers')].some((c) => c.name === AGENT_CONTAINER);
}

const LABEL_PAIR = /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,251}[A-Za-z0-9])?=[A-Za-z0-9._-]{0,63}$/;

function readSettings(pod: PodParts, owner: PodOwner, apps: Obj[], where: string): PodSettings {
  const ann = isObj(pod.metadata.annotations) ? pod.metadata.annotations : {};
  const labels = isObj(pod.metadata.labels) ? pod.metadata.labels : {};
  const bad = (message: string) => new DyelineError(ErrorCode.BadRequest, `${where}: ${message}`);
  const service = str(ann[ANNOTATIONS.service]) ?? str(labels['app.kubernetes.io/name']) ?? str(labels.app) ?? owner.name;
  if (!service) throw bad(`cannot tell the service name; set annotation ${ANNOTATIONS.service}`);
  const color = str(ann[ANNOTATIONS.color]) ?? str(labels.color) ?? 'stable';
  if (!isValidColor(color)) throw bad(`"${color}" is not a valid colour`);
  let appPort: number | undefined;
  if (ann[ANNOTATIONS.appPort] !== undefined) {
    appPort = Number(ann[ANNOTATIONS.appPort]);
    if (!Number.isInteger(appPort) || appPort < 1 || appPort > 65535) throw bad(`annotation ${ANNOTATIONS.appPort} must be a port number`);
  } else {
    for (const c of apps) {
      const p = listOf(c, 'ports').find((x) => typeof x.containerPort === 'number');
      if (p) {
        appPort = p.containerPort as number;
        break;
      }
    }
  }
  const acceptColor = str(ann[ANNOTATIONS.acceptColor]);
  if (acceptColor !== undefined && acceptColor !== 'any' && acceptColor !== 'mesh') throw bad(`annotation ${ANNOTATIONS.acceptColor} must be "any" or "mesh"`);
  const rawLabels = str(ann[ANNOTATIONS.labels]);
  let instanceLabels: string | undefined;
  if (rawLabels !== undefined) {
    const pairs = rawLabels.split(',').map((p) => p.trim()).filter((p) => p !== '');
    const wrong = pairs.find((p) => !LABEL_PAIR.test(p));
    if (wrong !== undefined) throw bad(`annotation ${ANNOTATIONS.labels}: "${wrong}" is not key=value`);
    instanceLabels = pairs.join(' ');
  }
  return { service, color, appPort, acceptColor, register: ann[ANNOTATIONS.register] !== 'false', labels: instanceLabels };
}

function addEnv(container: Obj, name: string, value: string): void {
  const env = listAt(container, 'env');
  if (!env.some((e) => e.name === name)) env.push({ name, value });
}

/** The env of the agent container for these settings. */
function agentEnv(s: PodSettings): Obj[] {
  const env: Obj[] = [
    { name: 'DYELINE_SERVICE', value: s.service },
    { name: 'DYELINE_COLOR', value: s.color },
    { name: 'DYELINE_INBOUND', value: `0.0.0.0:${INBOUND_PORT}` },
    { name: 'DYELINE_OUTBOUND', value: `127.0.0.1:${OUTBOUND_PORT}` },
    { name: 'DYELINE_STATUS', value: `0.0.0.0:${STATUS_PORT}` },
  ];
  if (s.appPort !== undefined) env.push({ name: 'DYELINE_APP_PORT', value: String(s.appPort) });
  if (s.register) env.push({ name: 'DYELINE_REGISTER', value: 'true' });
  if (s.labels !== undefined) env.push({ name: 'DYELINE_LABEL', value: s.labels });
  if (s.acceptColor !== undefined) env.push({ name: 'DYELINE_ACCEPT_COLOR', value: s.acceptColor });
  // The pod's own address and name (the registered instance's address and id).
  env.push({ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } });
  env.push({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
  env.push({ name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } });
  // A 1 MiB young generation: ~25% less RSS under load for ~5% more CPU per request
  // (docs/footprint.md#v8-flags); a sidecar on every pod pays memory more.
  env.push({ name: 'NODE_OPTIONS', value: AGENT_NODE_OPTIONS });
  return env;
}

/**
 * Injects one pod in place. Returns what Services need to know, or undefined when the pod is
 * skipped (opted out). A pod that already has the agent is returned unchanged, so injecting
 * twice changes nothing. Throws a DyelineError naming `where` when the pod cannot be injected.
 */
export function injectPod(pod: PodParts, opts: InjectOptions, where: string, owner: PodOwner = {}): InjectedPod | undefined {
  if (optedOut(pod, owner)) return undefined;
  const labels = isObj(pod.metadata.labels) ? pod.metadata.labels : {};
  const apps = listOf(pod.spec, 'containers').filter((c) => c.name !== AGENT_CONTAINER);
  if (apps.length === 0) throw new DyelineError(ErrorCode.BadRequest, `${where}: the pod template has no containers`);
  const settings = readSettings(pod, owner, apps, where);
  const result: InjectedPod = { labels, ...(settings.appPort !== undefined && { appPort: settings.appPort }), namespace: owner.namespace };
  // Also on a pod injected before: the annotation may have come later (each step runs once).
  if (propagateMode(pod.metadata, owner.annotations, where) === 'node') addPropagate(pod.spec, apps, opts.image, where);
  if (alreadyInjected(pod)) return result;

  const agent: Obj = {
    name: AGENT_CONTAINER,
    image: opts.image,
    args: ['agent'],
    ...(opts.legacySidecar ? {} : { restartPolicy: 'Always' }),
    env: agentEnv(settings),
    ports: [
      { name: 'dyeline-in', containerPort: INBOUND_PORT },
      { name: 'dyeline-status', containerPort: STATUS_PORT },
    ],
    readinessProbe: { httpGet: { path: '/readyz', port: STATUS_PORT }, periodSeconds: 2 },
    livenessProbe: { httpGet: { path: '/healthz', port: STATUS_PORT }, periodSeconds: 10 },
    resources: { requests: { cpu: '10m', memory: '48Mi' }, limits: { memory: '256Mi' } },
    securityContext: { runAsNonRoot: true, runAsUser: 1000, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
    volumeMounts: [{ name: RUN_VOLUME, mountPath: RUN_DIR, readOnly: true }],
  };
  if (opts.legacySidecar) listAt(pod.spec, 'containers').push(agent);
  else listAt(pod.spec, 'initContainers').unshift(agent);

  for (const c of apps) {
    addEnv(c, 'HTTP_PROXY', `http://127.0.0.1:${OUTBOUND_PORT}`);
    addEnv(c, 'http_proxy', `http://127.0.0.1:${OUTBOUND_PORT}`);
    addEnv(c, 'NO_PROXY', 'localhost,127.0.0.1,::1');
    addEnv(c, 'no_proxy', 'localhost,127.0.0.1,::1');
    addEnv(c, 'NODE_USE_ENV_PROXY', '1');
  }
  const volumes = listAt(pod.spec, 'volumes');
  if (!volumes.some((v) => v.name === RUN_VOLUME)) volumes.push({ name: RUN_VOLUME, hostPath: { path: RUN_DIR, type: 'DirectoryOrCreate' } });
  const podAnn = objectAt(pod.metadata, 'annotations');
  podAnn[ANNOTATIONS.injected] = 'true';
  podAnn['prometheus.io/scrape'] ??= 'true';
  podAnn['prometheus.io/port'] ??= String(STATUS_PORT);
  return result;
}
