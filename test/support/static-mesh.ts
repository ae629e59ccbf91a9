/**
 * A mesh of real agents on a snapshot file the test writes itself (no daemon): publish the lanes
 * first, start the pods, then publish them as Instance documents (their inbound addresses) and
 * wait until every agent routes with that version.
 *
 *   await publishSnapshot(path, lanes, 1);
 *   ...start pods on `path`...
 *   await publishMesh(path, lanes, pods.map((p) => ({ name, service, color, inbound: p.inbound, admin: p.admin })), 2);
 */
import { rename, writeFile } from 'node:fs/promises';
import type { DocumentInput } from '../../shared/schema/documents.ts';
import { getJson } from './process.ts';
import { instance, snapshotText } from './snapshot-builder.ts';
import { waitFor } from './wait.ts';

/** One agent of the mesh: its instance's name, service and lane, inbound and admin addresses. */
export interface MeshMember {
  name: string;
  service: string;
  color: string;
  inbound: string;
  admin: string;
}

/** Replaces the snapshot at `path` atomically (temp file + rename, as the daemon does). */
export async function publishSnapshot(path: string, docs: readonly DocumentInput[], version: number): Promise<void> {
  await writeFile(`${path}.tmp`, snapshotText(docs, version));
  await rename(`${path}.tmp`, path);
}

/** Publishes `docs` plus one Instance per member, then waits until every member uses `version`. */
export async function publishMesh(path: string, docs: readonly DocumentInput[], members: readonly MeshMember[], version: number): Promise<void> {
  const instances = members.map((m) => {
    const at = m.inbound.lastIndexOf(':');
    return instance(m.name, m.service, m.inbound.slice(0, at), { port: Number(m.inbound.slice(at + 1)), ...(m.color !== 'stable' && { color: m.color }) });
  });
  await publishSnapshot(path, [...docs, ...instances], version);
  for (const m of members) {
    await waitFor(async () => (await getJson<{ snapshotVersion: number }>(m.admin, '/config')).body.snapshotVersion === version, { timeoutMs: 20_000, what: `${m.name} on snapshot ${version}` });
  }
}
