/**
 * Checks Kubernetes objects against the Kubernetes API schema with the `kubernetes-models`
 * packages (validators generated from the official OpenAPI: types, required fields, enums,
 * formats; cert-manager's from its CRDs). Those validators accept fields the schema does not
 * have, which the API server's strict field validation (kubectl's default) rejects; so each
 * object is validated through a proxy that records which fields the validator reads, and any
 * field it never read is reported as unknown.
 *
 *   expect(await schemaErrors(doc)).toEqual([]);
 */
import type { Model } from '@kubernetes-models/base';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The module of the models of an apiVersion. */
function modelModule(apiVersion: string): string {
  if (apiVersion === 'v1') return 'kubernetes-models/v1';
  if (apiVersion.includes('cert-manager.io/')) return `@kubernetes-models/cert-manager/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}

/**
 * Wraps `value` so that reading a field records its path in `read`, and reading any field of
 * an object (present or not: the generated validators test each property they know) records
 * the object's path in `inspected`.
 */
function tracked(value: unknown, path: string, read: Set<string>, inspected: Set<string>): unknown {
  if (value === null || typeof value !== 'object') return value;
  return new Proxy(value, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if (typeof key !== 'string' || key === 'length') return v;
      inspected.add(path);
      if (!Object.hasOwn(target, key)) return v;
      const at = `${path}/${key}`;
      read.add(at);
      return tracked(v, at, read, inspected);
    },
  });
}

/**
 * Paths of the fields of `value` never read. An object none of whose fields the validator
 * looked at is free-form in the schema (managedFields' fieldsV1, a CRD's preserved fields):
 * its content is not checked.
 */
function unread(value: unknown, path: string, read: Set<string>, inspected: Set<string>, out: string[]): string[] {
  if (value === null || typeof value !== 'object' || !inspected.has(path)) return out;
  for (const key of Object.keys(value)) {
    const at = `${path}/${key}`;
    if (!read.has(at)) out.push(at);
    else unread((value as Obj)[key], at, read, inspected, out);
  }
  return out;
}

/**
 * The schema errors of one Kubernetes object (empty when valid): ajv messages of the model's
 * validator (`data/spec/... must be ...`) and `data/<path> is an unknown field`.
 */
export async function schemaErrors(doc: unknown): Promise<string[]> {
  if (!isObj(doc) || typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string') return ['not a Kubernetes object (apiVersion and kind are required)'];
  let models: Record<string, unknown>;
  try {
    models = (await import(modelModule(doc.apiVersion))) as Record<string, unknown>;
  } catch {
    return [`unknown apiVersion ${doc.apiVersion}`];
  }
  const model = models[doc.kind] as (new () => Model<unknown>) | undefined;
  if (typeof model !== 'function') return [`unknown kind ${doc.kind} in ${doc.apiVersion}`];
  const read = new Set<string>();
  const inspected = new Set<string>();
  try {
    model.prototype.validate.call(tracked(doc, '', read, inspected));
  } catch (err) {
    return [(err as Error).message];
  }
  return unread(doc, '', read, inspected, []).map((p) => `data${p} is an unknown field`);
}

/** The schema errors of several objects, each prefixed with `Kind/name`. */
export async function schemaErrorsOfAll(docs: readonly unknown[]): Promise<string[]> {
  const out: string[] = [];
  for (const doc of docs) {
    const d = isObj(doc) ? doc : {};
    const name = `${String(d.kind)}/${String(isObj(d.metadata) ? d.metadata.name : '?')}`;
    for (const e of await schemaErrors(doc)) out.push(`${name}: ${e}`);
  }
  return out;
}
