/**
 * Nacos naming → dyeline: which services a `services=` list names, the source key of each, and
 * the `Instance` documents built from the hosts Nacos lists for a service.
 */
import { API_VERSION } from '../../shared/schema/kinds.ts';

/** Nacos's default naming group, where services are registered unless they say otherwise. */
export const NACOS_DEFAULT_GROUP = 'DEFAULT_GROUP';

/** One Nacos service: group and name. */
export interface NacosServiceRef {
  group: string;
  name: string;
}

/** What a `services=` list asks for. */
export interface NacosServiceSelection {
  /** Services named one by one. */
  named: NacosServiceRef[];
  /** Groups whose every service is mirrored (`*` → DEFAULT_GROUP, `GROUP@@*` → GROUP). */
  allOf: string[];
}

/**
 * Reads a `services=` list: `orders` (in DEFAULT_GROUP), `GROUP@@orders` (Nacos's grouped
 * name), `*` (every service of DEFAULT_GROUP) or `GROUP@@*`.
 */
export function selectServices(entries: readonly string[]): NacosServiceSelection {
  const named = new Map<string, NacosServiceRef>();
  const allOf = new Set<string>();
  for (const raw of entries) {
    const entry = raw.trim();
    if (!entry) continue;
    const at = entry.indexOf('@@');
    const group = at >= 0 ? entry.slice(0, at) || NACOS_DEFAULT_GROUP : NACOS_DEFAULT_GROUP;
    const name = at >= 0 ? entry.slice(at + 2) : entry;
    if (!name) continue;
    if (name === '*') allOf.add(group);
    else named.set(`${group}@@${name}`, { group, name });
  }
  return { named: [...named.values()], allOf: [...allOf] };
}

/** Source key of a service's instances: `naming:<service>`, or `naming:<GROUP>@@<service>` outside DEFAULT_GROUP. */
export function namingKey(ref: NacosServiceRef): string {
  return ref.group === NACOS_DEFAULT_GROUP ? `naming:${ref.name}` : `naming:${ref.group}@@${ref.name}`;
}

/** The most a dyeline weight can be (the schema's limit). */
const MAX_WEIGHT = 10_000;

/**
 * One `Instance` document per enabled Nacos host, sorted by name:
 * ip → address, port → port, weight (Nacos float, 1.0 by default) × 100 rounded (capped at
 * 10000), healthy (or the legacy `valid`) → healthy, metadata → labels (values as strings),
 * instanceId (or `ip#port`) → metadata.name. Hosts with `enabled: false` are left out. Malformed
 * hosts still become documents, so validation rejects each with the field at fault.
 */
export function instanceDocuments(service: string, hosts: readonly unknown[]): unknown[] {
  const docs: { metadata: { name: string } }[] = [];
  for (const raw of hosts) {
    const h = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    if (h.enabled === false) continue;
    const ip = typeof h.ip === 'string' ? h.ip : undefined;
    const name = typeof h.instanceId === 'string' && h.instanceId.trim() ? h.instanceId : `${ip ?? ''}#${String(h.port ?? '')}`;
    const weight = typeof h.weight === 'number' && Number.isFinite(h.weight) ? Math.min(Math.max(Math.round(h.weight * 100), 0), MAX_WEIGHT) : 100;
    const healthy = typeof h.healthy === 'boolean' ? h.healthy : typeof h.valid === 'boolean' ? h.valid : true;
    const labels: Record<string, string> = {};
    if (h.metadata && typeof h.metadata === 'object') {
      for (const [k, v] of Object.entries(h.metadata as Record<string, unknown>)) {
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') labels[k] = String(v);
      }
    }
    docs.push({
      apiVersion: API_VERSION,
      kind: 'Instance',
      metadata: { name },
      spec: { service, address: ip, port: h.port, weight, labels, healthy },
    } as { metadata: { name: string } });
  }
  return docs.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
}
