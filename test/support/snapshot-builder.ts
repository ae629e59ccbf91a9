/**
 * Snapshots for tests, built the way the daemon builds them: documents parsed through the
 * schema (defaults applied, invalid input throws), wrapped with provenance, encoded with
 * encodeSnapshot and verified back with decodeSnapshot.
 */
import { decodeSnapshot, encodeSnapshot } from '../../shared/snapshot-file.ts';
import type { Document, DocumentInput } from '../../shared/schema/documents.ts';
import type { Snapshot, SnapshotBody } from '../../shared/schema/snapshot.ts';
import { parseDocument } from '../../shared/schema/validate.ts';

type LaneSpecInput = Extract<DocumentInput, { kind: 'Lane' }>['spec'];
type ServiceSpecInput = Extract<DocumentInput, { kind: 'Service' }>['spec'];
type InstanceSpecInput = Extract<DocumentInput, { kind: 'Instance' }>['spec'];
type RolloutSpecInput = Extract<DocumentInput, { kind: 'Rollout' }>['spec'];
type LaneStateSpecInput = Extract<DocumentInput, { kind: 'LaneState' }>['spec'];

/** A Lane document input. */
export function lane(name: string, spec: Omit<LaneSpecInput, 'color'> & { color?: string } = {}): DocumentInput {
  return { apiVersion: 'dyeline.io/v1', kind: 'Lane', metadata: { name }, spec: { color: name, ...spec } };
}

/** A Service document input. */
export function service(name: string, spec: ServiceSpecInput = {}): DocumentInput {
  return { apiVersion: 'dyeline.io/v1', kind: 'Service', metadata: { name }, spec };
}

/** An Instance document input; `color` sets the `color` label. */
export function instance(
  name: string,
  svc: string,
  address: string,
  opts: Partial<Omit<InstanceSpecInput, 'service' | 'address'>> & { color?: string } = {},
): DocumentInput {
  const { color, labels, port, ...rest } = opts;
  return {
    apiVersion: 'dyeline.io/v1',
    kind: 'Instance',
    metadata: { name },
    spec: { service: svc, address, port: port ?? 8080, labels: { ...(color ? { color } : {}), ...labels }, ...rest },
  };
}

/** A Rollout document input for the Lane named `lane`. */
export function rollout(name: string, lane: string, spec: Omit<RolloutSpecInput, 'lane'>): DocumentInput {
  return { apiVersion: 'dyeline.io/v1', kind: 'Rollout', metadata: { name }, spec: { lane, ...spec } };
}

/** A LaneState document input for the Lane named `lane`. */
export function laneState(lane: string, spec: LaneStateSpecInput = {}): DocumentInput {
  return { apiVersion: 'dyeline.io/v1', kind: 'LaneState', metadata: { name: lane }, spec };
}

type Entries<K extends Document['kind']> = { provenance: { source: string; key: string }; document: Extract<Document, { kind: K }> }[];

/** The body of a snapshot holding `docs` (parsed through the schema). */
export function snapshotBody(docs: readonly DocumentInput[], version = 1): SnapshotBody {
  const lists = { Lane: [] as Entries<'Lane'>, Service: [] as Entries<'Service'>, Instance: [] as Entries<'Instance'>, Rollout: [] as Entries<'Rollout'>, LaneState: [] as Entries<'LaneState'> };
  for (const raw of docs) {
    const doc = parseDocument(raw);
    const provenance = { source: 'file:///test', key: `/test/${doc.kind}/${doc.metadata.name}.yaml` };
    (lists[doc.kind] as { provenance: typeof provenance; document: Document }[]).push({ provenance, document: doc });
  }
  return {
    apiVersion: 'dyeline.io/v1',
    kind: 'Snapshot',
    version,
    generatedAt: new Date(0).toISOString(),
    sources: [{ uri: 'file:///test', kind: 'file', synced: true, revision: null, syncedAt: null }],
    lanes: lists.Lane,
    services: lists.Service,
    instances: lists.Instance,
    rollouts: lists.Rollout,
    laneStates: lists.LaneState,
  };
}

/** The encoded file text of a snapshot holding `docs`. */
export function snapshotText(docs: readonly DocumentInput[], version = 1): string {
  return encodeSnapshot(snapshotBody(docs, version));
}

/** A verified snapshot holding `docs`, as the agent loads it. */
export function buildSnapshot(docs: readonly DocumentInput[], version = 1): Snapshot {
  return decodeSnapshot(snapshotText(docs, version));
}

/** Seeded PRNG (mulberry32): numbers in [0, 1), the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A RequestView over plain maps (header names lower-case). */
export function requestView(
  headers: Record<string, string> = {},
  cookies: Record<string, string> = {},
  query: Record<string, string> = {},
): { header(n: string): string | undefined; cookie(n: string): string | undefined; query(n: string): string | undefined } {
  return {
    header: (n) => headers[n],
    cookie: (n) => cookies[n],
    query: (n) => query[n],
  };
}
