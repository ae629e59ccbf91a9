/**
 * The controller's view of its source: the source kind's own `Source` reports into this sink,
 * each document is validated and cross-checked as the daemon does (daemon/store.ts, merge.ts),
 * and the result is the controller's world — its Rollouts, the colours of the Lanes, the
 * LaneStates. A document the daemon would reject is not acted on.
 */
import { errorMessage } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { Lane, LaneState, Rollout } from '../../shared/schema/documents.ts';
import type { SourceItem, SourceSink } from '../../daemon/sources/source.ts';
import { merge, type Merged } from '../../daemon/merge.ts';
import { SourceStore } from '../../daemon/store.ts';
import type { RolloutWorld } from './controller.ts';

/** A source's documents as the controller sees them. */
export class SourceView implements SourceSink {
  readonly #store: SourceStore;
  readonly #log: Logger;
  #merged: Merged | undefined;
  #world: RolloutWorld | undefined;
  #rejected = '';
  /** The source's connection state as it last reported it. */
  connected = false;
  error: string | undefined;

  constructor(uri: string, log: Logger) {
    this.#store = new SourceStore(uri);
    this.#log = log;
  }

  replaceAll(items: SourceItem[]): void {
    this.#store.replaceAll(items);
    this.#changed();
  }

  put(item: SourceItem): void {
    this.#store.put(item);
    this.#changed();
  }

  delete(key: string): void {
    if (this.#store.delete(key)) this.#changed();
  }

  setConnected(connected: boolean, error?: string): void {
    this.connected = connected;
    this.error = error;
  }

  /** Whether the source has been read once. */
  get synced(): boolean {
    return this.#merged !== undefined;
  }

  /** The current documents; undefined until the source has been read once. */
  world(): RolloutWorld | undefined {
    return this.#world;
  }

  /** The LaneState documents, by lane. */
  laneStates(): Map<string, LaneState> {
    const out = new Map<string, LaneState>();
    for (const a of this.#merged?.docs.values() ?? []) if (a.doc.kind === 'LaneState') out.set(a.doc.metadata.name, a.doc);
    return out;
  }

  #changed(): void {
    try {
      this.#merged = merge([this.#store], this.#merged);
    } catch (err) {
      this.#log.error({ err: errorMessage(err) }, 'could not merge the source documents');
      return;
    }
    const rejected = [...this.#store.rejections(), ...[...this.#merged.rejected.values()].flat()];
    const text = JSON.stringify(rejected);
    if (text !== this.#rejected) {
      this.#rejected = text;
      for (const r of rejected) this.#log.warn({ key: r.key, reason: r.reason }, 'document rejected');
    }
    const rollouts: Rollout[] = [];
    const lanes = new Map<string, Lane>();
    const states = new Map<string, LaneState>();
    for (const a of this.#merged.docs.values()) {
      if (a.doc.kind === 'Rollout') rollouts.push(a.doc);
      else if (a.doc.kind === 'Lane') lanes.set(a.doc.metadata.name, a.doc);
      else if (a.doc.kind === 'LaneState') states.set(a.doc.metadata.name, a.doc);
    }
    rollouts.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
    this.#world = {
      rollouts: rollouts.map((r) => ({ name: r.metadata.name, spec: r.spec })),
      laneColor: (lane) => lanes.get(lane)?.spec.color,
      laneState: (lane) => states.get(lane)?.spec,
    };
  }
}
