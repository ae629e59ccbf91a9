/**
 * Registered instances in etcd (docs/reference.md#registration): each at
 * `P instances/<service>/<id>` = {"address","port","weight","labels"} under a lease of its own
 * (TTL 10 s), kept alive every TTL/3 over one keep-alive stream for all of them. A lease etcd no
 * longer knows (it expired during an outage longer than the TTL) is granted again and the key
 * written again; a failed round is retried at the next. Removing revokes the lease, which
 * deletes the key; if etcd cannot be reached the lease simply runs out.
 */
import type { Etcd3, IDuplexStream, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse } from 'etcd3';
import { errorMessage } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { RegistrationState } from '../../shared/registration.ts';
import type { Registrar, Registration } from './server.ts';

/** Options of {@link EtcdRegistrar}. */
export interface EtcdRegistrarOptions {
  /** The source URI (no secrets), shown to agents. */
  target: string;
  /** The source's prefix P. */
  prefix: string;
  /** The client to use now (it may be replaced, e.g. when certificates rotate). */
  client: () => Etcd3;
  log: Logger;
  /** Lease TTL in seconds (default 10; at most 15). */
  ttlSeconds?: number;
  /** Deadline of each call, ms (default 3000). */
  callTimeoutMs?: number;
}

interface Entry {
  reg: Registration;
  value: string;
  /** The lease the key is written under, once granted. */
  lease?: string;
  /** The value last written under `lease`. */
  written?: string;
  state: RegistrationState;
  error?: string;
  onState: (state: RegistrationState, error?: string) => void;
  /** Whether `onState` has heard the current state. */
  told: boolean;
}

/** Writes registered instances to etcd under per-instance leases. */
export class EtcdRegistrar implements Registrar {
  readonly target: string;
  readonly #o: Required<EtcdRegistrarOptions>;
  readonly #entries = new Map<string, Entry>();
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #stream: { client: Etcd3; stream: IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>; waiting: Map<string, (ttl: number) => void> } | undefined;

  constructor(options: EtcdRegistrarOptions) {
    this.#o = { ttlSeconds: 10, callTimeoutMs: 3000, ...options };
    if (this.#o.ttlSeconds < 2 || this.#o.ttlSeconds > 15) throw new RangeError('lease TTL must be 2-15 s');
    this.target = options.target;
  }

  add(reg: Registration, onState: (state: RegistrationState, error?: string) => void): void {
    const { address, port, weight, labels } = reg.instance;
    const value = JSON.stringify({ address, port, ...(weight !== undefined && { weight }), labels: labels ?? {} });
    const entry = this.#entries.get(reg.key);
    if (entry) Object.assign(entry, { reg, value, onState, told: false });
    else this.#entries.set(reg.key, { reg, value, state: 'pending', onState, told: false });
    this.#kick();
  }

  async remove(key: string): Promise<void> {
    const entry = this.#entries.get(key);
    this.#entries.delete(key);
    if (entry?.lease === undefined) return;
    await this.#o.client().leaseClient.leaseRevoke({ ID: entry.lease }, this.#deadline());
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#stream?.stream.end();
    this.#stream = undefined;
    await this.#round;
  }

  #deadline() {
    return { deadline: Date.now() + this.#o.callTimeoutMs };
  }

  /** Runs a round now (or right after the one running). */
  #kick(): void {
    if (this.#closed) return;
    if (this.#round) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#round = this.#run().finally(() => {
      this.#round = undefined;
      if (this.#closed) return;
      if (this.#again) {
        this.#again = false;
        this.#kick();
      } else {
        this.#timer = setTimeout(() => this.#kick(), (this.#o.ttlSeconds * 1000) / 3);
        this.#timer.unref();
      }
    });
  }

  /** One round: keeps every granted lease alive, grants and writes what needs it. */
  async #run(): Promise<void> {
    const entries = [...this.#entries.values()];
    const alive = entries.filter((e) => e.lease !== undefined);
    if (alive.length > 0) {
      try {
        const ttls = await this.#keepAlive(alive.map((e) => e.lease!));
        alive.forEach((e, i) => {
          if (ttls[i]! <= 0) {
            this.#o.log.warn({ key: e.reg.key }, 'registration lease expired; granting a new one');
            e.lease = undefined;
          }
        });
      } catch (err) {
        for (const e of alive) this.#set(e, 'pending', `etcd keep-alive failed: ${errorMessage(err)}`);
        this.#stream?.stream.end();
        this.#stream = undefined;
        return;
      }
    }
    for (const e of entries) {
      if (this.#closed || this.#entries.get(e.reg.key) !== e) continue;
      try {
        const client = this.#o.client();
        if (e.lease === undefined) {
          const granted = await client.leaseClient.leaseGrant({ TTL: this.#o.ttlSeconds }, this.#deadline());
          e.lease = granted.ID;
          e.written = undefined;
        }
        if (e.written !== e.value) {
          const value = e.value;
          await client.kv.put({ key: Buffer.from(`${this.#o.prefix}instances/${e.reg.key}`), value: Buffer.from(value), lease: e.lease }, this.#deadline());
          e.written = value;
        }
        // Removed meanwhile: its lease is revoked here, as remove() could not see it.
        if (this.#entries.get(e.reg.key) !== e) await client.leaseClient.leaseRevoke({ ID: e.lease }, this.#deadline()).catch(() => {});
        else this.#set(e, 'registered');
      } catch (err) {
        this.#set(e, 'pending', `etcd: ${errorMessage(err)}`);
      }
    }
  }

  #set(e: Entry, state: RegistrationState, error?: string): void {
    if (e.told && e.state === state && e.error === error) return;
    e.told = true;
    if (state === 'registered') this.#o.log.info({ key: e.reg.key, lease: e.lease }, 'instance registered in etcd');
    else this.#o.log.warn({ key: e.reg.key, err: error }, 'instance not registered in etcd yet; retrying');
    e.state = state;
    e.error = error;
    e.onState(state, error);
  }

  /** One keep-alive per lease over the shared stream; resolves with each lease's remaining TTL (≤ 0: gone). */
  async #keepAlive(leases: string[]): Promise<number[]> {
    const client = this.#o.client();
    if (this.#stream?.client !== client) {
      this.#stream?.stream.end();
      const stream = await client.leaseClient.leaseKeepAlive();
      const waiting = new Map<string, (ttl: number) => void>();
      stream.on('data', (res: ILeaseKeepAliveResponse) => {
        const done = waiting.get(String(res.ID));
        waiting.delete(String(res.ID));
        done?.(Number(res.TTL));
      });
      const fail = () => {
        if (this.#stream?.stream === stream) this.#stream = undefined;
        for (const done of waiting.values()) done(Number.NaN);
        waiting.clear();
      };
      stream.on('error', () => fail());
      stream.on('end', () => fail());
      this.#stream = { client, stream, waiting };
    }
    const { stream, waiting } = this.#stream!;
    const answers = leases.map(
      (id) =>
        new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => {
            waiting.delete(id);
            reject(new Error('no keep-alive answer'));
          }, this.#o.callTimeoutMs);
          waiting.set(id, (ttl) => {
            clearTimeout(timer);
            if (Number.isNaN(ttl)) reject(new Error('keep-alive stream closed'));
            else resolve(ttl);
          });
        }),
    );
    for (const id of leases) stream.write({ ID: id });
    const results = await Promise.allSettled(answers);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    return results.map((r) => (r as PromiseFulfilledResult<number>).value);
  }
}
