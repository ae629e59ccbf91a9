/**
 * Who acts on a source (docs/sources.md#writing-into-a-source): several `dyeline rollout` may run
 * against one source, and only the holder of its lease writes. A holder renews it on every pass;
 * one that stops (crash, partition, pause) loses it after its time to live, and another takes it.
 */

/** A lease on one source, for one controller identity. */
export interface Lease {
  /**
   * Takes the lease when it is free or its holder has not renewed it within its time to live,
   * renews it when this controller holds it; resolves whether this controller holds it now.
   * Never throws: a source it cannot reach means not holding.
   */
  hold(): Promise<boolean>;
  /** Gives it up (on shutdown) so that another controller takes over at once. */
  release(): Promise<void>;
  /** The holder as last seen (this controller's identity when it holds it), for the status API. */
  readonly holder: string | undefined;
}

/** What the file and Nacos leases store: who holds it, when it last renewed it (its clock), for how long. */
export interface LeaseContent {
  holder: string;
  renewedAt: number;
  ttlMs: number;
}

/** The stored lease, or undefined when the text is not one (torn, foreign, hand-edited). */
export function parseLeaseContent(text: string): LeaseContent | undefined {
  try {
    const v = JSON.parse(text) as Partial<LeaseContent>;
    if (typeof v.holder === 'string' && typeof v.renewedAt === 'number' && typeof v.ttlMs === 'number') return v as LeaseContent;
  } catch {
    /* not JSON */
  }
  return undefined;
}
