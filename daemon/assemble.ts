/**
 * Assembles the snapshot file text from the merged documents. Each document's JSON was
 * computed once when it was accepted, so a write is a sort and a join, not a re-serialisation
 * of every document.
 */
import type { SnapshotSource } from '../shared/schema/snapshot.ts';
import type { Merged } from './merge.ts';

/** The documents part of a snapshot body, as JSON members (`"lanes":[…],"services":[…],"instances":[…]`). */
export function documentsJson(merged: Merged): string {
  const lanes: string[] = [];
  const services: string[] = [];
  const instances: string[] = [];
  const ids = [...merged.docs.keys()].sort();
  for (const id of ids) {
    const a = merged.docs.get(id)!;
    if (a.doc.kind === 'Lane') lanes.push(a.json);
    else if (a.doc.kind === 'Service') services.push(a.json);
    else instances.push(a.json);
  }
  return `"lanes":[${lanes.join(',')}],"services":[${services.join(',')}],"instances":[${instances.join(',')}]`;
}

/** The whole body JSON (without checksum). */
export function bodyJson(version: number, generatedAt: string, sources: readonly SnapshotSource[], docs: string): string {
  return `{"apiVersion":"dyeline.io/v1","kind":"Snapshot","version":${version},"generatedAt":${JSON.stringify(generatedAt)},"sources":${JSON.stringify(sources)},${docs}}`;
}
