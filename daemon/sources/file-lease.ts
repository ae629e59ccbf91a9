/**
 * The lease of a file source (docs/reference.md#progressive-delivery): a lock file in the
 * source's directory (`.dyeline-rollout.lease`, a name the daemon does not read) holding
 * `{holder, renewedAt, ttlMs}`. It is created whole or not at all (a temp file hard-linked to the
 * name: EEXIST when someone holds it), renewed by replacing it (rename), and taken from a holder
 * that stopped renewing by moving it aside first — only the one controller whose rename moved
 * the very lock it judged stale goes on to create a new one; a fresh lock moved by mistake is
 * linked back.
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Lease, type LeaseContent as LockContent, parseLeaseContent as parse } from './lease.ts';

/** The lock file's name in the source directory. */
export const LEASE_FILE = '.dyeline-rollout.lease';

const same = (a: LockContent | undefined, b: LockContent | undefined) => a !== undefined && b !== undefined && a.holder === b.holder && a.renewedAt === b.renewedAt;

/** A lease held as a lock file in `dir`. */
export class FileLease implements Lease {
  readonly #path: string;
  readonly #identity: string;
  readonly #ttlMs: number;
  readonly #clock: () => number;
  #holder: string | undefined;

  /**
   * @param identity this controller (host/pid/random): how others see the holder.
   * @param clock milliseconds since the epoch (injected in tests).
   */
  constructor(dir: string, identity: string, ttlMs: number, clock: () => number = Date.now) {
    this.#path = join(dir, LEASE_FILE);
    this.#identity = identity;
    this.#ttlMs = ttlMs;
    this.#clock = clock;
  }

  get holder(): string | undefined {
    return this.#holder;
  }

  async hold(): Promise<boolean> {
    try {
      return await this.#hold();
    } catch {
      this.#holder = undefined;
      return false;
    }
  }

  async #hold(): Promise<boolean> {
    const now = this.#clock();
    const current = await this.#read();
    if (current === 'missing') return this.#create(now);
    if (current !== undefined && current.holder === this.#identity) {
      await this.#replace(now);
      return true;
    }
    this.#holder = current?.holder;
    const stale = current === undefined || now - current.renewedAt > current.ttlMs;
    if (!stale) return false;
    // Move the stale lock aside; only the controller that moved that very lock takes over.
    const aside = `${this.#path}.${randomBytes(6).toString('hex')}.stale`;
    try {
      await rename(this.#path, aside);
    } catch {
      return false;
    }
    const moved = parse(await readFile(aside, 'utf8').catch(() => ''));
    if (current !== undefined && !same(moved, current)) {
      // Someone renewed or took it between our read and our rename: put it back.
      await link(aside, this.#path).catch(() => undefined);
      await unlink(aside).catch(() => undefined);
      return false;
    }
    await unlink(aside).catch(() => undefined);
    return this.#create(now);
  }

  /** The lock's content, 'missing' when there is none, undefined when it cannot be parsed. */
  async #read(): Promise<LockContent | 'missing' | undefined> {
    try {
      return parse(await readFile(this.#path, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw err;
    }
  }

  async #writeTemp(now: number): Promise<string> {
    const tmp = `${this.#path}.${randomBytes(6).toString('hex')}.tmp`;
    const content: LockContent = { holder: this.#identity, renewedAt: now, ttlMs: this.#ttlMs };
    await writeFile(tmp, JSON.stringify(content));
    return tmp;
  }

  /** Creates the lock whole, or not at all when someone else just did. */
  async #create(now: number): Promise<boolean> {
    const tmp = await this.#writeTemp(now);
    try {
      await link(tmp, this.#path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    this.#holder = this.#identity;
    return true;
  }

  async #replace(now: number): Promise<void> {
    const tmp = await this.#writeTemp(now);
    await rename(tmp, this.#path);
    this.#holder = this.#identity;
  }

  async release(): Promise<void> {
    try {
      const current = await this.#read();
      if (current !== 'missing' && current?.holder === this.#identity) await unlink(this.#path);
    } catch {
      /* nothing to give up */
    }
    this.#holder = undefined;
  }
}
