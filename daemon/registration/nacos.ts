/**
 * Registered instances in Nacos (docs/reference.md#registration): each an ephemeral instance of
 * its service in DEFAULT_GROUP (ip, port, weight ÷ 100, metadata = labels), kept alive by a beat
 * every few seconds (the interval Nacos answers, 5 s by default). Nacos marks an instance whose
 * beats stop unhealthy after 15 s and removes it after 30 s; a beat that Nacos answers "unknown"
 * (it restarted, or expired the instance during an outage) registers it again. Removing
 * deregisters it.
 *
 * The calls go through a {@link NamingWriter}: the HTTP v1 API today (nacos-v1.ts); another
 * transport (gRPC, where the instance lives as long as its connection) implements the same three
 * calls.
 */
import { errorMessage } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { RegistrationState } from '../../shared/registration.ts';
import type { Registrar, Registration } from './server.ts';

/** One instance as Nacos naming takes it. */
export interface NacosInstance {
  service: string;
  group: string;
  ip: string;
  port: number;
  /** Nacos weight (dyeline weight ÷ 100). */
  weight: number;
  metadata: Record<string, string>;
  cluster: string;
}

/** The naming calls registration needs. */
export interface NamingWriter {
  /** Registers (or updates) an ephemeral instance. */
  register(instance: NacosInstance): Promise<void>;
  /** Sends one beat; `known: false` when Nacos does not have the instance; `intervalMs` is the next beat's delay. */
  beat(instance: NacosInstance): Promise<{ known: boolean; intervalMs: number }>;
  /** Removes the instance. */
  deregister(instance: NacosInstance): Promise<void>;
  close(): void;
}

/** Options of {@link NacosRegistrar}. */
export interface NacosRegistrarOptions {
  /** The source URI (no secrets), shown to agents. */
  target: string;
  writer: NamingWriter;
  log: Logger;
  /** Beat interval until Nacos says otherwise, ms (default 5000). */
  beatMs?: number;
  /** Retry delay after a failure, ms (default 1000). */
  retryMs?: number;
}

interface Entry {
  reg: Registration;
  instance: NacosInstance;
  registered: boolean;
  state: RegistrationState;
  error?: string;
  onState: (state: RegistrationState, error?: string) => void;
  /** Whether `onState` has heard the current state. */
  told: boolean;
  timer?: NodeJS.Timeout;
}

/** Writes registered instances to Nacos naming as ephemeral instances. */
export class NacosRegistrar implements Registrar {
  readonly target: string;
  readonly #o: Required<NacosRegistrarOptions>;
  readonly #entries = new Map<string, Entry>();
  #closed = false;

  constructor(options: NacosRegistrarOptions) {
    this.#o = { beatMs: 5000, retryMs: 1000, ...options };
    this.target = options.target;
  }

  add(reg: Registration, onState: (state: RegistrationState, error?: string) => void): void {
    const { service, address, port, weight, labels } = reg.instance;
    const instance: NacosInstance = { service, group: 'DEFAULT_GROUP', ip: address, port, weight: (weight ?? 100) / 100, metadata: { ...labels }, cluster: 'DEFAULT' };
    const old = this.#entries.get(reg.key);
    if (old) clearTimeout(old.timer);
    const entry: Entry = { reg, instance, registered: false, state: 'pending', onState, told: false };
    this.#entries.set(reg.key, entry);
    void this.#step(entry);
  }

  async remove(key: string): Promise<void> {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    clearTimeout(entry.timer);
    await this.#o.writer.deregister(entry.instance);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const e of this.#entries.values()) clearTimeout(e.timer);
    this.#entries.clear();
    this.#o.writer.close();
  }

  /** Registers, or beats; then schedules the next step. */
  async #step(e: Entry): Promise<void> {
    let delay = this.#o.beatMs;
    try {
      if (!e.registered) {
        await this.#o.writer.register(e.instance);
        e.registered = true;
      } else {
        const beat = await this.#o.writer.beat(e.instance);
        if (beat.intervalMs > 0) delay = beat.intervalMs;
        if (!beat.known) {
          this.#o.log.warn({ key: e.reg.key }, 'Nacos no longer has the instance; registering it again');
          await this.#o.writer.register(e.instance);
        }
      }
      if (this.#entries.get(e.reg.key) === e) this.#set(e, 'registered');
    } catch (err) {
      delay = this.#o.retryMs;
      if (this.#entries.get(e.reg.key) === e) this.#set(e, 'pending', `nacos: ${errorMessage(err)}`);
    }
    if (this.#closed || this.#entries.get(e.reg.key) !== e) return;
    e.timer = setTimeout(() => void this.#step(e), delay);
    e.timer.unref();
  }

  #set(e: Entry, state: RegistrationState, error?: string): void {
    if (e.told && e.state === state && e.error === error) return;
    e.told = true;
    if (state === 'registered') this.#o.log.info({ key: e.reg.key }, 'instance registered in Nacos');
    else this.#o.log.warn({ key: e.reg.key, err: error }, 'instance not registered in Nacos yet; retrying');
    e.state = state;
    e.error = error;
    e.onState(state, error);
  }
}
