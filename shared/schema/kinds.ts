/**
 * What the rule documents and the snapshot are called, without their schema: the apiVersion, the
 * kinds, a document's identity, a source's kind. The daemon's sources and store use these
 * without loading zod (docs/footprint.md#the-snapshot-check); documents.ts builds the schema on them.
 */
export const API_VERSION = 'dyeline.io/v1';

export const KINDS = ['Lane', 'Service', 'Instance', 'Rollout', 'LaneState'] as const;
export type Kind = (typeof KINDS)[number];

/** A source kind: the scheme of its URI (`file`, `etcd`, ...; the daemon's registry knows which). */
export const SOURCE_SCHEME = /^[a-z][a-z0-9+.-]*$/;

/** Identity of a document when merging sources (`Lane/<name>`, `Instance/<service>/<name>`): later sources win on the same identity. */
export function documentIdentity(doc: Named): string {
  return identity(doc.kind, doc.metadata.name, doc.kind === 'Instance' ? (doc.spec as { service: string }).service : undefined);
}

/** What a valid document's identity is made of (an Instance's spec names its service). */
export interface Named {
  kind: Kind;
  metadata: { name: string };
  spec: object;
}

/** The identity a raw, maybe invalid, document claims (to find its previous valid version); undefined when it names none. */
export function claimedIdentity(raw: unknown): string | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const r = raw as { kind?: unknown; metadata?: { name?: unknown }; spec?: { service?: unknown } };
  if (typeof r.kind !== 'string' || typeof r.metadata?.name !== 'string') return undefined;
  if (r.kind !== 'Instance') return identity(r.kind, r.metadata.name);
  return typeof r.spec?.service === 'string' ? identity(r.kind, r.metadata.name, r.spec.service) : undefined;
}

function identity(kind: string, name: string, service?: string): string {
  return service === undefined ? `${kind}/${name}` : `${kind}/${service}/${name}`;
}
