/**
 * The lease of a Nacos source (docs/sources.md#writing-into-a-source): the config
 * `<dataId>.rollout-lease` in the source's group and namespace (a config no source reads) holding
 * `{holder, renewedAt, ttlMs}`, changed only by Nacos's compare-and-swap (`casMd5`):
 *
 * - created when absent by a publish with a `casMd5` no content can have: Nacos creates an absent
 *   config whatever `casMd5` says, and of racing creates its unique key lets one through; a
 *   contender that finds it present compares md5s and is refused;
 * - renewed by the holder with the md5 of what it last published (no read: a Nacos read may lag
 *   a write), so a renewal fails once anyone else has changed it;
 * - taken from a holder whose content has not changed for its `ttlMs`, timed on the taker's own
 *   clock from when it first saw that content (so clocks need not agree), with the md5 it saw:
 *   of several takers one wins;
 * - released by publishing `holder: ""` over what the holder last published: the next taker does
 *   not wait.
 */
import type { Logger } from '../../../shared/log.ts';
import { type Lease, type LeaseContent, parseLeaseContent as parse } from '../lease.ts';
import type { NacosConfigApi } from './config-api.ts';
import { md5Hex } from './mirror.ts';

/** The lease config of a source whose rules are in `dataId`. */
export const leaseDataId = (dataId: string): string => `${dataId}.rollout-lease`;

/** The `casMd5` of a create: not hex, so no content's md5. */
export const CREATE_MD5 = 'absent';

/** One controller's view of the lease config. */
export class NacosLease implements Lease {
  readonly #api: NacosConfigApi;
  readonly #dataId: string;
  readonly #identity: string;
  readonly #ttlMs: number;
  readonly #clock: () => number;
  readonly #log: Logger | undefined;
  #holder: string | undefined;
  /** md5 of what this controller last published while holding; undefined when not holding. */
  #mine: string | undefined;
  /** The md5 last seen and since when (this controller's clock). */
  #seen: { md5: string; since: number } | undefined;
  #lastFailure: string | undefined;

  /**
   * @param dataId the lease config (leaseDataId of the source's dataId).
   * @param clock milliseconds (injected in tests); only differences of it are used.
   */
  constructor(api: NacosConfigApi, dataId: string, identity: string, ttlMs: number, o: { clock?: () => number; log?: Logger } = {}) {
    this.#api = api;
    this.#dataId = dataId;
    this.#identity = identity;
    this.#ttlMs = ttlMs;
    this.#clock = o.clock ?? Date.now;
    this.#log = o.log;
  }

  get holder(): string | undefined {
    return this.#holder;
  }

  async hold(): Promise<boolean> {
    try {
      const held = await this.#hold();
      this.#lastFailure = undefined;
      return held;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (why !== this.#lastFailure) this.#log?.warn({ error: why }, 'nacos lease not held: Nacos could not be asked');
      this.#lastFailure = why;
      this.#mine = undefined;
      this.#holder = undefined;
      return false;
    }
  }

  async #hold(): Promise<boolean> {
    const now = this.#clock();
    if (this.#mine !== undefined && (await this.#publish(now, this.#mine))) return true;
    this.#mine = undefined;
    const current = await this.#api.read(this.#dataId);
    if (current === null) return this.#publish(now, CREATE_MD5);
    if (this.#seen?.md5 !== current.md5) this.#seen = { md5: current.md5, since: now };
    const lease = parse(current.content);
    this.#holder = lease?.holder || undefined;
    // Ours by its content (this controller restarted its view): renew it like any holder.
    if (lease?.holder === this.#identity) return this.#publish(now, current.md5);
    const free = lease === undefined || lease.holder === '';
    const silent = now - this.#seen.since > (lease?.ttlMs ?? this.#ttlMs);
    if (!free && !silent) return false;
    return this.#publish(now, current.md5);
  }

  /** Publishes this controller as the holder over `casMd5`; true when Nacos took it. */
  async #publish(now: number, casMd5: string): Promise<boolean> {
    const content = JSON.stringify({ holder: this.#identity, renewedAt: now, ttlMs: this.#ttlMs } satisfies LeaseContent);
    if (!(await this.#api.publish(this.#dataId, content, casMd5))) return false;
    this.#mine = md5Hex(content);
    this.#seen = { md5: this.#mine, since: now };
    this.#holder = this.#identity;
    return true;
  }

  async release(): Promise<void> {
    const mine = this.#mine;
    this.#mine = undefined;
    this.#holder = undefined;
    if (mine === undefined) return;
    const content = JSON.stringify({ holder: '', renewedAt: this.#clock(), ttlMs: 0 } satisfies LeaseContent);
    await this.#api.publish(this.#dataId, content, mine).catch(() => false);
  }
}
