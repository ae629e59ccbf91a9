/**
 * The key layout of the etcd source (docs/reference.md#source-uris), under the prefix P:
 *
 *   P rules/<kind>/<name>          → one rule document, YAML or JSON text
 *   P instances/<service>/<id>     → {"address","port","weight"?,"labels"?} as JSON
 *
 * This file only decodes a key/value into a SourceItem; validating the documents is the
 * daemon's. Keys of any other shape under P are not ours and are ignored.
 */
import type { Issue } from '../../shared/errors.ts';
import { API_VERSION } from '../../shared/schema/kinds.ts';
import type { SourceItem } from './source.ts';

/** Fields an instance value may carry. */
export const INSTANCE_VALUE_FIELDS = ['address', 'port', 'weight', 'labels'] as const;

const RULES = 'rules/';
const INSTANCES = 'instances/';

/** What a key under the prefix holds. */
export type EtcdKeyKind = 'rule' | 'instance' | 'ignored';

/** Classifies a key by its shape alone, so a delete is classified like the put before it. */
export function classifyKey(prefix: string, key: string): EtcdKeyKind {
  if (!key.startsWith(prefix)) return 'ignored';
  const rest = key.slice(prefix.length);
  if (rest.startsWith(RULES)) return rest.length > RULES.length && !rest.endsWith('/') ? 'rule' : 'ignored';
  if (rest.startsWith(INSTANCES)) return rest.length > INSTANCES.length ? 'instance' : 'ignored';
  return 'ignored';
}

/**
 * Decodes one key/value into a SourceItem, or `undefined` for a key that is not part of the
 * layout. Never throws: a value that cannot be decoded becomes an item with `problems`.
 */
export function decodeEntry(prefix: string, key: string, value: Buffer | string, revision: string): SourceItem | undefined {
  const kind = classifyKey(prefix, key);
  if (kind === 'ignored') return undefined;
  const text = typeof value === 'string' ? value : value.toString('utf8');
  if (kind === 'rule') return { key, text, revision };
  return decodeInstance(key, key.slice(prefix.length + INSTANCES.length), text, revision);
}

/** `<service>/<id>` and a JSON value → an Instance document, or the problems found. */
function decodeInstance(key: string, path: string, text: string, revision: string): SourceItem {
  const problem = (message: string, at = ''): SourceItem => ({ key, revision, problems: [{ path: at, message }] });
  const parts = path.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    return problem(`instance keys are instances/<service>/<id>, got "instances/${path}"`);
  }
  const [service, id] = parts as [string, string];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return problem(`instance value is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return problem(`instance value must be a JSON object like {"address":"10.0.0.5","port":8080}, got ${Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'null' : `a ${typeof value}`}`);
  }
  const fields = value as Record<string, unknown>;
  const problems: Issue[] = [];
  for (const field of Object.keys(fields)) {
    if (!(INSTANCE_VALUE_FIELDS as readonly string[]).includes(field)) {
      problems.push({ path: field, message: `unknown field in instance value (allowed: ${INSTANCE_VALUE_FIELDS.join(', ')})` });
    }
  }
  if (problems.length > 0) return { key, revision, problems };
  const spec: Record<string, unknown> = { service, address: fields.address, port: fields.port };
  if (fields.weight !== undefined) spec.weight = fields.weight;
  if (fields.labels !== undefined) spec.labels = fields.labels;
  return {
    key,
    revision,
    documents: [{ apiVersion: API_VERSION, kind: 'Instance', metadata: { name: id }, spec }],
  };
}
