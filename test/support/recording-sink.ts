/**
 * A SourceSink for source tests: records every call in order and keeps the content the calls
 * add up to (key → item), the way the daemon would see it.
 */
import type { SourceItem, SourceSink } from '../../daemon/sources/source.ts';
import { waitFor } from './wait.ts';

/** One recorded sink call. */
export type SinkCall =
  | { op: 'replaceAll'; items: SourceItem[]; revision?: string; at: number }
  | { op: 'put'; item: SourceItem; revision?: string; at: number }
  | { op: 'delete'; key: string; revision?: string; at: number }
  | { op: 'setConnected'; connected: boolean; error?: string; at: number };

/** Records calls and computes the current content. */
export class RecordingSink implements SourceSink {
  /** Every call, oldest first. */
  readonly calls: SinkCall[] = [];
  /** Current content: key → latest item. */
  readonly content = new Map<string, SourceItem>();
  /** Last reported connection state (undefined before any report). */
  connected: boolean | undefined;
  /** Last reported connection error. */
  error: string | undefined;

  replaceAll(items: SourceItem[], revision?: string): void {
    this.calls.push({ op: 'replaceAll', items, revision, at: Date.now() });
    this.content.clear();
    for (const item of items) this.content.set(item.key, item);
  }

  put(item: SourceItem, revision?: string): void {
    this.calls.push({ op: 'put', item, revision, at: Date.now() });
    this.content.set(item.key, item);
  }

  delete(key: string, revision?: string): void {
    this.calls.push({ op: 'delete', key, revision, at: Date.now() });
    this.content.delete(key);
  }

  setConnected(connected: boolean, error?: string): void {
    this.calls.push({ op: 'setConnected', connected, error, at: Date.now() });
    this.connected = connected;
    this.error = error;
  }

  /** Calls of one kind, optionally only those after index `since` in `calls`. */
  callsOf<K extends SinkCall['op']>(op: K, since = 0): Extract<SinkCall, { op: K }>[] {
    return this.calls.slice(since).filter((c): c is Extract<SinkCall, { op: K }> => c.op === op);
  }

  /** Content as key → text (rules) or JSON of the documents/problems (instances), for comparisons. */
  snapshot(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, item] of this.content) {
      out[key] = item.text ?? JSON.stringify(item.problems ? { problems: item.problems } : item.documents);
    }
    return out;
  }

  /** Waits until `pred` holds for this sink (bounded). */
  until(pred: (sink: this) => boolean, what: string, timeoutMs = 15_000): Promise<true> {
    return waitFor(() => pred(this) || undefined, { timeoutMs, what });
  }
}
