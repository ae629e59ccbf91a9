/**
 * The TLS files of a `nacos://…&tls=true` source (docs/reference.md#nacos-over-grpc): one set per
 * source, shared by everything that connects to that Nacos — the probe of `transport=auto`, the
 * gRPC connections, the login, the HTTP v1 clients and the registrations. Read at first use (a
 * file that cannot be read fails that attempt, which is reported and retried) and kept current by
 * shared/tls-files.ts: each new connection takes the files as they are then.
 */
import { errorMessage } from '../../../shared/errors.ts';
import type { Logger } from '../../../shared/log.ts';
import { type TlsFileNames, type TlsMaterial, type WatchedTls, watchTls } from '../../../shared/tls-files.ts';

/** The CA, and the client certificate and key when set, of one Nacos source. */
export class NacosTlsFiles {
  readonly #names: TlsFileNames;
  readonly #log: Logger;
  readonly #listeners = new Set<() => void>();
  #watched: WatchedTls | undefined;
  #loading: Promise<WatchedTls> | undefined;
  #closed = false;

  constructor(names: TlsFileNames, log: Logger) {
    this.#names = names;
    this.#log = log;
  }

  /** The material, reading the files the first time (rejects when they cannot be read or do not load). */
  async material(): Promise<TlsMaterial> {
    if (this.#watched) return this.#watched.current();
    this.#loading ??= watchTls(this.#names, this.#log, () => {
      for (const fn of [...this.#listeners]) fn();
    })
      .catch((err: unknown) => {
        throw new Error(`TLS files not loaded: ${errorMessage(err)}`, { cause: err });
      })
      .finally(() => (this.#loading = undefined));
    const watched = await this.#loading;
    if (this.#closed) watched.close();
    else this.#watched ??= watched;
    return watched.current();
  }

  /** The material as last read; undefined until material() has succeeded. */
  current(): TlsMaterial | undefined {
    return this.#watched?.current();
  }

  /** `fn` runs after each reload of the files; the returned function removes it. */
  onChange(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Stops watching the files (idempotent). */
  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    this.#watched?.close();
  }
}
