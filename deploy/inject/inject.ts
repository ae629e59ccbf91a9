/**
 * `dyeline inject`: adds the sidecar to Kubernetes workloads (Deployment, StatefulSet,
 * DaemonSet, ReplicaSet, Job, CronJob, Pod) of a multi-document YAML text. Each pod template
 * gets what pod.ts does to a pod (the webhook does the same at pod creation); Services in the
 * same input that select injected pods on their app port get `targetPort` pointed at the
 * agent's inbound listener. Running it twice changes nothing (docs/reference.md#kubernetes).
 */
import { parseAllDocuments, stringify } from 'yaml';
import { DyelineError, ErrorCode } from '../../shared/errors.ts';
import { INBOUND_PORT, type InjectedPod, type InjectOptions, injectPod, isObj, type Obj, type PodParts } from './pod.ts';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const objectAt = (parent: Obj, key: string): Obj => {
  if (!isObj(parent[key])) parent[key] = {};
  return parent[key] as Obj;
};
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);

/** The pod template of a workload (or the pod itself), if it has one. */
function podTemplate(doc: Obj): PodParts | undefined {
  const spec = isObj(doc.spec) ? doc.spec : undefined;
  if (!spec) return undefined;
  if (doc.kind === 'Pod') return { metadata: objectAt(doc, 'metadata'), spec };
  let template: unknown;
  if (WORKLOADS.has(String(doc.kind))) template = spec.template;
  else if (doc.kind === 'CronJob' && isObj(spec.jobTemplate) && isObj(spec.jobTemplate.spec)) template = spec.jobTemplate.spec.template;
  if (!isObj(template)) return undefined;
  return { metadata: objectAt(template, 'metadata'), spec: objectAt(template, 'spec') };
}

/** Points a Service's ports at the agent when it selects injected pods on their app port. */
function rewriteService(doc: Obj, pods: InjectedPod[]): void {
  const spec = isObj(doc.spec) ? doc.spec : undefined;
  const selector = spec && isObj(spec.selector) ? spec.selector : undefined;
  if (!spec || !selector || Object.keys(selector).length === 0) return;
  const ns = str((doc.metadata as Obj | undefined)?.namespace);
  const pod = pods.find((p) => p.namespace === ns && Object.entries(selector).every(([k, v]) => p.labels[k] === v));
  if (!pod || pod.appPort === undefined) return;
  for (const port of Array.isArray(spec.ports) ? (spec.ports as Obj[]) : []) {
    const target = port.targetPort ?? port.port;
    if (target === pod.appPort || target === String(pod.appPort)) {
      port.targetPort = INBOUND_PORT;
      const ann = objectAt(objectAt(doc, 'metadata'), 'annotations');
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
  const pods: InjectedPod[] = [];
  for (const [i, v] of values.entries()) {
    if (!isObj(v)) continue;
    const pod = podTemplate(v);
    if (!pod) continue;
    const meta = isObj(v.metadata) ? v.metadata : {};
    const where = `${String(v.kind)}/${String(meta.name ?? i)}`;
    const owner = { name: str(meta.name), namespace: str(meta.namespace), annotations: isObj(meta.annotations) ? meta.annotations : undefined };
    const injected = injectPod(pod, opts, where, owner);
    if (injected) pods.push(injected);
  }
  if (!opts.keepServices) for (const v of values) if (isObj(v) && v.kind === 'Service') rewriteService(v, pods);
  return values
    .filter((v) => v !== null && v !== undefined)
    .map((v) => stringify(v, { lineWidth: 0 }))
    .join('---\n');
}
