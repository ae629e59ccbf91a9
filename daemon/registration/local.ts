/**
 * Registered instances when the daemon has no registry (file sources only): they go straight
 * into this node's snapshot, as the documents of a source of their own, `registered://node`
 * (docs/reference.md#registration). Other nodes do not see them.
 *
 * After a daemon restart the snapshot on disk still lists the instances registered before, and
 * they stay while their agents reconnect; `graceMs` after the start, whatever did not register
 * again is dropped. Without a snapshot on disk there is nothing to wait for.
 */
import { access } from 'node:fs/promises';
import { API_VERSION } from '../../shared/schema/kinds.ts';
import type { RegistrationState } from '../../shared/registration.ts';
import type { Source, SourceItem, SourceSink } from '../sources/source.ts';
import type { Registrar, Registration } from './server.ts';

/** The pseudo-source's URI (its scheme is the snapshot's source kind). */
export const LOCAL_REGISTRATIONS_URI = 'registered://node';

/** Options of {@link LocalRegistrations}. */
export interface LocalRegistrationsOptions {
  /** The snapshot file: when it exists, registrations from before a restart are kept for `graceMs`. */
  snapshotPath: string;
  /** How long agents have to register again after a restart, ms (default 5000). */
  graceMs?: number;
}

/** Both the source the daemon mirrors and the registrar the registration socket writes to. */
export class LocalRegistrations implements Source, Registrar {
  readonly kind = 'registered';
  readonly uri = LOCAL_REGISTRATIONS_URI;
  readonly target = 'snapshot';
  readonly #o: Required<LocalRegistrationsOptions>;
  readonly #items = new Map<string, SourceItem>();
  #sink: SourceSink | undefined;
  #synced = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: LocalRegistrationsOptions) {
    this.#o = { graceMs: 5000, ...options };
  }

  async start(sink: SourceSink): Promise<void> {
    this.#sink = sink;
    sink.setConnected(true);
    const restarted = await access(this.#o.snapshotPath).then(
      () => true,
      () => false,
    );
    if (!restarted) return this.#sync();
    this.#timer = setTimeout(() => this.#sync(), this.#o.graceMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
  }

  add(reg: Registration, onState: (state: RegistrationState, error?: string) => void): void {
    const { service, address, port, weight, labels } = reg.instance;
    const item: SourceItem = {
      key: reg.key,
      documents: [{ apiVersion: API_VERSION, kind: 'Instance', metadata: { name: reg.id }, spec: { service, address, port, weight, labels } }],
    };
    this.#items.set(reg.key, item);
    this.#sink?.put(item);
    onState('registered');
  }

  async remove(key: string): Promise<void> {
    if (this.#items.delete(key)) this.#sink?.delete(key);
  }

  async close(): Promise<void> {
    clearTimeout(this.#timer);
  }

  /** From now on the content is exactly what is registered. */
  #sync(): void {
    if (this.#synced) return;
    this.#synced = true;
    this.#sink?.replaceAll([...this.#items.values()]);
  }
}
