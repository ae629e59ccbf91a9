/**
 * Lane memory (docs/reference.md#lane-leak-recovery): the colour of trace ids that arrived
 * coloured on the inbound listener, kept for a bounded window and number of traces, so that the
 * outbound listener can put a call that lost its colour — an app that forwards `traceparent`
 * only — back into its lane. A ring of `capacity` slots in the order traces were last seen, and a
 * Map from trace id to slot: remembering takes the next slot (dropping the trace that held it),
 * so memory never grows past `capacity` traces whatever the traffic. The ring is allocated when
 * the first coloured trace arrives: an agent that never sees one holds nothing.
 */

/** A fixed-size, time-bounded map from trace id to colour. */
export class LaneMemory {
  readonly capacity: number;
  readonly windowMs: number;
  readonly #now: () => number;
  #ids: (string | undefined)[] = [];
  #colors: (string | undefined)[] = [];
  #until = new Float64Array(0);
  readonly #slots = new Map<string, number>();
  #next = 0;

  /** `now`: a monotonic clock in ms (tests pass their own). */
  constructor(capacity: number, windowMs: number, now: () => number = () => performance.now()) {
    this.capacity = capacity;
    this.windowMs = windowMs;
    this.#now = now;
  }

  /** How many traces are held (expired ones count until their slot is taken). */
  get size(): number {
    return this.#slots.size;
  }

  /** Remembers that `traceId` is in lane `color` for the next `windowMs`. */
  remember(traceId: string, color: string): void {
    if (this.#until.length === 0) {
      this.#ids = new Array<string | undefined>(this.capacity).fill(undefined);
      this.#colors = new Array<string | undefined>(this.capacity).fill(undefined);
      this.#until = new Float64Array(this.capacity);
    }
    const held = this.#slots.get(traceId);
    if (held !== undefined) {
      this.#ids[held] = undefined;
      this.#colors[held] = undefined;
    }
    const slot = this.#next;
    this.#next = slot + 1 === this.capacity ? 0 : slot + 1;
    const dropped = this.#ids[slot];
    if (dropped !== undefined) this.#slots.delete(dropped);
    this.#ids[slot] = traceId;
    this.#colors[slot] = color;
    this.#until[slot] = this.#now() + this.windowMs;
    this.#slots.set(traceId, slot);
  }

  /** The colour `traceId` arrived with within the window, or undefined. */
  recall(traceId: string): string | undefined {
    if (this.#slots.size === 0) return undefined;
    const slot = this.#slots.get(traceId);
    if (slot === undefined || this.#until[slot]! < this.#now()) return undefined;
    return this.#colors[slot];
  }
}
