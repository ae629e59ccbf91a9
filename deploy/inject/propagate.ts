/**
 * The `dyeline.io/propagate: node` part of injection (pod.ts; docs/reference.md#zero-code-propagation):
 * an init container from the dyeline image copies the propagate preload into an emptyDir, which
 * every app container mounts read-only and loads through `NODE_OPTIONS=--import=…` (appended to
 * the container's own NODE_OPTIONS). The app's image is not changed. Every step checks whether it
 * was done before, so injecting twice changes nothing.
 */
import { DyelineError, ErrorCode } from '../../shared/errors.ts';

type Obj = Record<string, unknown>;
const listAt = (parent: Obj, key: string): Obj[] => {
  if (!Array.isArray(parent[key])) parent[key] = [];
  return parent[key] as Obj[];
};

export const PROPAGATE_ANNOTATION = 'dyeline.io/propagate';
export const PROPAGATE_CONTAINER = 'dyeline-propagate';
const VOLUME = 'dyeline-propagate';
const MOUNT = '/dyeline-propagate';
/** Where the Dockerfile puts the preload in the dyeline image. */
export const PRELOAD_IN_IMAGE = '/app/propagate/propagate.mjs';
export const PRELOAD_FLAG = `--import=${MOUNT}/propagate.mjs`;

/** The propagation the pod's annotation asks for (the workload's when the pod has none), or undefined. */
export function propagateMode(podMetadata: Obj, ownerAnnotations: Obj | undefined, where: string): 'node' | undefined {
  const ann = podMetadata.annotations;
  const value = (ann !== null && typeof ann === 'object' ? (ann as Obj)[PROPAGATE_ANNOTATION] : undefined) ?? ownerAnnotations?.[PROPAGATE_ANNOTATION];
  if (value === undefined) return undefined;
  if (value === 'node') return 'node';
  throw new DyelineError(ErrorCode.BadRequest, `${where}: annotation ${PROPAGATE_ANNOTATION} must be "node", not ${JSON.stringify(value)}`);
}

/** Adds the preload to the pod spec and to each app container. */
export function addPropagate(spec: Obj, apps: Obj[], image: string, where: string): void {
  for (const c of apps) {
    const env = listAt(c, 'env');
    const options = env.find((e) => e.name === 'NODE_OPTIONS');
    if (options !== undefined && options.valueFrom !== undefined) {
      throw new DyelineError(ErrorCode.BadRequest, `${where}: container ${String(c.name)} takes NODE_OPTIONS from valueFrom; ${PROPAGATE_ANNOTATION} can only append to a literal value`);
    }
  }
  const inits = listAt(spec, 'initContainers');
  if (!inits.some((c) => c.name === PROPAGATE_CONTAINER)) {
    inits.push({
      name: PROPAGATE_CONTAINER,
      image,
      command: ['cp', PRELOAD_IN_IMAGE, `${MOUNT}/propagate.mjs`],
      resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
      securityContext: { runAsNonRoot: true, runAsUser: 1000, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
      volumeMounts: [{ name: VOLUME, mountPath: MOUNT }],
    });
  }
  const volumes = listAt(spec, 'volumes');
  if (!volumes.some((v) => v.name === VOLUME)) volumes.push({ name: VOLUME, emptyDir: { sizeLimit: '1Mi' } });
  for (const c of apps) {
    const mounts = listAt(c, 'volumeMounts');
    if (!mounts.some((m) => m.name === VOLUME)) mounts.push({ name: VOLUME, mountPath: MOUNT, readOnly: true });
    const env = listAt(c, 'env');
    const options = env.find((e) => e.name === 'NODE_OPTIONS');
    if (options === undefined) env.push({ name: 'NODE_OPTIONS', value: PRELOAD_FLAG });
    else {
      const value = String(options.value ?? '').trim();
      if (!value.split(/\s+/).includes(PRELOAD_FLAG)) options.value = value === '' ? PRELOAD_FLAG : `${value} ${PRELOAD_FLAG}`;
    }
  }
}
