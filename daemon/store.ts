/**
 * What the daemon knows of one source: its items (files, etcd keys, Nacos configs and
 * services), each item's accepted documents and its rejections. Each document is validated on
 * its own; a rejected document keeps its previous valid version in effect.
 */
import { describeIssues, type Issue } from '../shared/errors.ts';
import type { Document } from '../shared/schema/documents.ts';
import { claimedIdentity, documentIdentity } from '../shared/schema/kinds.ts';
import type { Provenance } from '../shared/schema/snapshot.ts';
import { parseDocumentsText } from '../shared/schema/text.ts';
import { validateDocument } from '../shared/schema/validate.ts';
import type { SourceItem } from './sources/source.ts';

/** A document in effect, with its provenance and its snapshot entry pre-serialised. */
export interface Accepted {
  /** Merge identity (kind/name, or Instance/service/name). */
  readonly identity: string;
  readonly doc: Document;
  readonly provenance: Provenance;
  /**
   * `,{"provenance":…,"document":…}` as UTF-8, serialised once when accepted. The leading
   * comma lets the assembler copy one buffer per document (the first of a list skips it).
   */
  readonly bytes: Buffer;
}

/** One rejected document (or item), as shown in /status. */
export interface Rejection {
  key: string;
  reason: string;
}

interface ItemState {
  /** Accepted documents by a key local to the item: identity, or `#<index>` fallback. */
  docs: Map<string, Accepted & { index: number }>;
  rejected: Rejection[];
}

/** Makes an accepted entry. */
export function accept(doc: Document, provenance: Provenance): Accepted {
  return {
    identity: documentIdentity(doc),
    doc,
    provenance,
    bytes: Buffer.from(`,{"provenance":${JSON.stringify(provenance)},"document":${JSON.stringify(doc)}}`),
  };
}

/** Where a document stands in its source, as /status shows it: the item key, plus `#<index>` inside a multi-document item. */
export function documentKey(at: { key: string; index?: number }): string {
  return at.index === undefined ? at.key : `${at.key}#${at.index}`;
}

/** The content of one source. */
export class SourceStore {
  readonly uri: string;
  private readonly items = new Map<string, ItemState>();
  /** Bumped on every change; the merger uses it to skip unchanged sources. */
  generation = 0;

  constructor(uri: string) {
    this.uri = uri;
  }

  /** Seeds content from a snapshot on disk (last known content before the source syncs). */
  seed(entries: readonly { provenance: Provenance; document: Document }[]): void {
    for (const e of entries) {
      let item = this.items.get(e.provenance.key);
      if (!item) this.items.set(e.provenance.key, (item = { docs: new Map(), rejected: [] }));
      const a = accept(e.document, e.provenance);
      item.docs.set(a.identity, { ...a, index: e.provenance.index ?? 0 });
    }
    this.generation++;
  }

  /** Replaces the whole content (first sync, resync). Returns the new rejections. */
  replaceAll(items: readonly SourceItem[]): Rejection[] {
    const previous = new Map(this.items);
    this.items.clear();
    const out: Rejection[] = [];
    for (const it of items) out.push(...this.apply(it, previous.get(it.key)));
    this.generation++;
    return out;
  }

  /** Adds or changes one item. Returns its rejections. */
  put(item: SourceItem): Rejection[] {
    const out = this.apply(item, this.items.get(item.key));
    this.generation++;
    return out;
  }

  /** Removes one item and every document it held. */
  delete(key: string): boolean {
    const had = this.items.delete(key);
    if (had) this.generation++;
    return had;
  }

  /** Every accepted document, in item-key order. */
  *accepted(): IterableIterator<Accepted> {
    const keys = [...this.items.keys()].sort();
    for (const k of keys) {
      const docs = [...this.items.get(k)!.docs.values()].sort((a, b) => a.index - b.index);
      yield* docs;
    }
  }

  /** Rejections of the current items. */
  rejections(): Rejection[] {
    const out: Rejection[] = [];
    for (const item of this.items.values()) out.push(...item.rejected);
    return out;
  }

  get itemCount(): number {
    return this.items.size;
  }

  private apply(it: SourceItem, prev: ItemState | undefined): Rejection[] {
    const base = { source: this.uri, key: it.key, ...(it.revision !== undefined && { revision: it.revision }), ...(it.md5 !== undefined && { md5: it.md5 }) };
    const state: ItemState = { docs: new Map(), rejected: [] };
    this.items.set(it.key, state);
    if (it.problems && it.problems.length > 0) {
      // The source could not decode the item at all: keep everything it held before.
      state.rejected.push({ key: it.key, reason: describeIssues(it.problems) });
      if (prev) for (const [k, v] of prev.docs) state.docs.set(k, v);
      return state.rejected;
    }
    const raws =
      it.documents !== undefined
        ? it.documents.map((value, index) => ({ index, value, issues: undefined as Issue[] | undefined }))
        : parseDocumentsText(it.text ?? '');
    const multi = raws.length > 1;
    const unclaimed: number[] = [];
    for (const raw of raws) {
      const key = documentKey({ key: it.key, index: multi ? raw.index : undefined });
      const claimed = raw.issues ? undefined : claimedIdentity(raw.value);
      const v = raw.issues ? ({ ok: false, issues: raw.issues } as const) : validateDocument(raw.value);
      if (v.ok) {
        const a = accept(v.value, { ...base, ...(multi && { index: raw.index }) });
        if (state.docs.has(a.identity)) {
          state.rejected.push({ key, reason: `${a.identity} is defined twice in this item; the first one is kept` });
          continue;
        }
        state.docs.set(a.identity, { ...a, index: raw.index });
        continue;
      }
      const label = claimed ? `${claimed}: ` : '';
      const old = claimed ? prev?.docs.get(claimed) : undefined;
      state.rejected.push({ key, reason: `${label}${describeIssues(v.issues)}${old ? ' (previous version kept)' : ''}` });
      if (old && !state.docs.has(old.identity)) state.docs.set(old.identity, old);
      else if (!claimed) unclaimed.push(raw.index);
    }
    // A document too broken to name itself: keep the previous document at the same position.
    if (prev && unclaimed.length > 0) {
      for (const old of prev.docs.values()) {
        if (unclaimed.includes(old.index) && !state.docs.has(old.identity)) {
          state.docs.set(old.identity, old);
          const r = state.rejected.find((x) => x.key === documentKey({ key: it.key, index: multi ? old.index : undefined }));
          if (r) r.reason += ` (previous version ${old.identity} kept)`;
        }
      }
    }
    return state.rejected;
  }
}
