/**
 * The `etcd` kind's writer (docs/sources.md#writing-into-a-source): a document is put at
 * `P rules/<kind>/<name>` as YAML, where the source reads rules; the lease is the key
 * `P leases/rollout` (outside the layout the source reads), holding the holder's identity and
 * attached to an etcd lease of the TTL: created only when absent (a transaction), kept by
 * keep-alives, gone with its etcd lease when the holder stops renewing it. Loaded only when a
 * controller starts on an etcd source.
 */
import type { Etcd3, Lease as EtcdLease } from 'etcd3';
import { Etcd3 as Etcd3Client } from 'etcd3';
import { stringify } from 'yaml';
import type { Lease } from './lease.ts';
import type { SourceWriter, WritableDocument } from './source.ts';

/** What the writer needs of an etcd source's config. */
export interface EtcdWriterConfig {
  readonly hosts: readonly string[];
  /** Key prefix, ending in `/`. */
  readonly prefix: string;
  readonly username?: string;
  readonly password?: string;
}

/** The lease key under the prefix. */
export const LEASE_KEY = 'leases/rollout';

/** Deadline of each call, ms. */
const CALL_TIMEOUT_MS = 5_000;

/** The lease of an etcd source. */
class EtcdSourceLease implements Lease {
  readonly #client: Etcd3;
  readonly #key: string;
  readonly #identity: string;
  readonly #ttlSeconds: number;
  #lease: EtcdLease | undefined;
  #leaseId: string | undefined;
  #holder: string | undefined;

  constructor(client: Etcd3, key: string, identity: string, ttlMs: number) {
    this.#client = client;
    this.#key = key;
    this.#identity = identity;
    this.#ttlSeconds = Math.max(2, Math.ceil(ttlMs / 1000));
  }

  get holder(): string | undefined {
    return this.#holder;
  }

  async hold(): Promise<boolean> {
    try {
      await this.#keepOrGrant();
      const res = await this.#client
        .if(this.#key, 'Create', '==', 0)
        .then(this.#client.put(this.#key).value(this.#identity).lease(this.#leaseId!))
        .else(this.#client.get(this.#key))
        .commit();
      if (res.succeeded) {
        this.#holder = this.#identity;
        return true;
      }
      const kv = res.responses[0]?.response_range?.kvs?.[0];
      this.#holder = kv?.value.toString('utf8');
      // Ours only while attached to the etcd lease just kept alive.
      return this.#holder === this.#identity && kv?.lease === this.#leaseId;
    } catch {
      this.#holder = undefined;
      return false;
    }
  }

  /** Keeps this controller's etcd lease alive, or grants a new one when it is gone. */
  async #keepOrGrant(): Promise<void> {
    if (this.#lease !== undefined) {
      try {
        const res = await this.#lease.keepaliveOnce({ deadline: Date.now() + CALL_TIMEOUT_MS });
        if (Number(res.TTL) > 0) return;
      } catch {
        /* expired or revoked: grant a new one */
      }
      this.#lease.release();
      this.#lease = undefined;
    }
    const lease = this.#client.lease(this.#ttlSeconds, { autoKeepAlive: false });
    lease.on('lost', () => undefined);
    this.#leaseId = await lease.grant();
    this.#lease = lease;
  }

  async release(): Promise<void> {
    const lease = this.#lease;
    this.#lease = undefined;
    this.#holder = undefined;
    // Revoking the etcd lease deletes the key with it: the next controller takes over at once.
    await lease?.revoke({ deadline: Date.now() + CALL_TIMEOUT_MS }).catch(() => undefined);
  }
}

/** Writes documents under an etcd source's prefix. */
export class EtcdWriter implements SourceWriter {
  readonly #config: EtcdWriterConfig;
  readonly #client: Etcd3;

  constructor(config: EtcdWriterConfig) {
    this.#config = config;
    const { username, password } = config;
    this.#client = new Etcd3Client({
      hosts: [...config.hosts],
      auth: username ? { username, password: password ?? '', callOptions: () => ({ deadline: Date.now() + CALL_TIMEOUT_MS }) } : undefined,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
    });
  }

  async write(doc: WritableDocument): Promise<void> {
    await this.#client.put(`${this.#config.prefix}rules/${doc.kind}/${doc.metadata.name}`).value(stringify(doc, { lineWidth: 0 }));
  }

  lease(identity: string, ttlMs: number): Lease {
    return new EtcdSourceLease(this.#client, `${this.#config.prefix}${LEASE_KEY}`, identity, ttlMs);
  }

  async close(): Promise<void> {
    this.#client.close();
  }
}
