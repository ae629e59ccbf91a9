/**
 * The snapshot: what the daemon writes and every agent on the node loads. One JSON file with
 * a top-level integer `version` (monotonic, also across daemon restarts), an integrity
 * `checksum`, the state of each source, and every document with its provenance.
 */
import { z } from 'zod';
import { Instance, Lane, LaneState, Rollout, Service } from './documents.ts';
import { API_VERSION, SOURCE_SCHEME } from './kinds.ts';

/** Where a document came from (what each source puts here: docs/sources.md). */
export const Provenance = z.strictObject({
  source: z.string().describe('Source URI (no credentials).'),
  key: z.string().describe('The item the document came from, as its source names it (a file path, a key, a config).'),
  index: z.int().min(0).optional().describe('Position of the document inside a multi-document item, from 0.'),
  revision: z.string().optional().describe('The item\'s revision in its source, where it has one.'),
  md5: z.string().optional().describe('The content digest its source reports, where it reports one.'),
});
export type Provenance = z.infer<typeof Provenance>;

/** A source as it was when the snapshot was written. */
export const SnapshotSource = z.strictObject({
  uri: z.string(),
  kind: z.string().regex(SOURCE_SCHEME).describe('The source kind: its URI scheme.'),
  synced: z.boolean().describe('false: the content is the last known one (source down or not yet synced).'),
  revision: z.string().nullable(),
  syncedAt: z.string().nullable(),
});
export type SnapshotSource = z.infer<typeof SnapshotSource>;

const entry = <T extends z.ZodType>(document: T) => z.strictObject({ provenance: Provenance, document });

export const SnapshotBody = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Snapshot'),
  version: z.int().min(1).describe('Increases with every write, also across daemon restarts.'),
  generatedAt: z.string(),
  sources: z.array(SnapshotSource),
  lanes: z.array(entry(Lane)),
  services: z.array(entry(Service)),
  instances: z.array(entry(Instance)),
  // Absent from snapshots of daemons older than progressive delivery.
  rollouts: z.array(entry(Rollout)).default([]),
  laneStates: z.array(entry(LaneState)).default([]),
});
export type SnapshotBody = z.infer<typeof SnapshotBody>;
export type SnapshotEntry<D> = { provenance: Provenance; document: D };

export const Snapshot = SnapshotBody.extend({
  checksum: z.string().regex(/^sha256:[0-9a-f]{64}$/).describe('sha256 of the file bytes after the checksum field.'),
});
export type Snapshot = z.infer<typeof Snapshot>;
