/**
 * One admission review: an `admission.k8s.io/v1` AdmissionReview of a pod in, the
 * AdmissionReview answer out, whose JSONPatch makes the pod what `dyeline inject` makes of it
 * (the same injectPod, then a diff). Pod creation is never blocked: an opted-out or already
 * injected pod gets no patch, and anything that goes wrong answers `allowed: true` with a
 * warning (docs/reference.md#kubernetes).
 */
import fastJsonPatch from 'fast-json-patch';
import { errorMessage } from '../../shared/errors.ts';
import { alreadyInjected, type InjectOptions, injectPod, isObj, type Obj, optedOut } from '../inject/pod.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

/** The AdmissionReview answer (`response` as the API server reads it). */
export interface AdmissionReviewAnswer {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: {
    uid: string;
    allowed: true;
    patchType?: 'JSONPatch';
    /** base64 of the JSON Patch (RFC 6902) operations. */
    patch?: string;
    warnings?: string[];
  };
}

/** What happened to the pod, for the log. */
export type ReviewOutcome = 'injected' | 'opted-out' | 'already-injected' | 'ignored' | 'not-injected' | 'malformed';

/** An answer and what led to it. */
export interface ReviewResult {
  answer: AdmissionReviewAnswer;
  outcome: ReviewOutcome;
  /** Namespace/name (or generateName) of the pod, when known. */
  pod?: string;
  /** Why the pod was not injected (outcomes not-injected and malformed). */
  reason?: string;
  /** Number of patch operations. */
  operations?: number;
}

/** The API server shows warnings to clients; they must be one line and short. */
const MAX_WARNING = 256;
const warning = (text: string): string => `dyeline: ${text}`.replace(/\s+/g, ' ').slice(0, MAX_WARNING);

function answer(uid: string, extra: Partial<AdmissionReviewAnswer['response']> = {}): AdmissionReviewAnswer {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response: { uid, allowed: true, ...extra } };
}

/** Answers one AdmissionReview (already parsed from JSON, or anything else that arrived). */
export function review(body: unknown, opts: InjectOptions): ReviewResult {
  const request = isObj(body) && isObj(body.request) ? body.request : undefined;
  const uid = request && typeof request.uid === 'string' ? request.uid : '';
  const malformed = (reason: string): ReviewResult => ({ answer: answer(uid, { warnings: [warning(`malformed AdmissionReview, pod not injected: ${reason}`)] }), outcome: 'malformed', reason });
  if (!isObj(body) || body.kind !== 'AdmissionReview' || body.apiVersion !== ADMISSION_API_VERSION) {
    return malformed(`expected kind AdmissionReview of ${ADMISSION_API_VERSION}`);
  }
  if (!request || uid === '') return malformed('request.uid is missing');
  if (!isObj(request.kind)) return malformed('request.kind is missing');
  const kind = request.kind;
  if (kind.kind !== 'Pod' || request.operation !== 'CREATE' || request.subResource) return { answer: answer(uid), outcome: 'ignored' };
  const original = request.object;
  if (!isObj(original) || !isObj(original.metadata) || !isObj(original.spec)) return malformed('request.object is not a pod');
  const meta = original.metadata;
  const namespace = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : typeof request.namespace === 'string' ? request.namespace : undefined;
  const name = typeof meta.name === 'string' && meta.name !== '' ? meta.name : undefined;
  const pod = `${namespace ?? ''}/${name ?? (typeof meta.generateName === 'string' ? `${meta.generateName}*` : '?')}`;
  try {
    if (optedOut({ metadata: meta, spec: original.spec })) return { answer: answer(uid), outcome: 'opted-out', pod };
    if (alreadyInjected({ metadata: meta, spec: original.spec })) return { answer: answer(uid), outcome: 'already-injected', pod };
    const injected = structuredClone(original) as Obj;
    injectPod({ metadata: injected.metadata as Obj, spec: injected.spec as Obj }, opts, `Pod ${pod}`, { name, namespace });
    const ops = fastJsonPatch.compare(original, injected);
    if (ops.length === 0) return { answer: answer(uid), outcome: 'already-injected', pod };
    const patch = Buffer.from(JSON.stringify(ops)).toString('base64');
    return { answer: answer(uid, { patchType: 'JSONPatch', patch }), outcome: 'injected', pod, operations: ops.length };
  } catch (err) {
    const reason = errorMessage(err);
    return { answer: answer(uid, { warnings: [warning(`pod not injected: ${reason}`)] }), outcome: 'not-injected', pod, reason };
  }
}
