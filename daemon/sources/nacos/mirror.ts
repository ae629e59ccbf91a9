/**
 * What a Nacos source knows Nacos holds, and how it reports that to the daemon, whatever the
 * transport: `config:<group>/<dataId>` → {text, md5} while the config exists, `naming:<service>` →
 * {documents} for every mirrored service. The first complete read is one replaceAll; after that
 * only differences are put or deleted. Only an answer from Nacos changes what is held: a failure
 * removes nothing (the source reports it through its Connection; docs/sources.md#nacos).
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../../../shared/log.ts';
import { describeNacosError } from '../nacos-client.ts';
import type { SourceItem, SourceSink } from '../source.ts';

/** Hex md5 of the UTF-8 bytes, as Nacos computes a config's md5. */
export const md5Hex = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');

/** The source's view of Nacos and the sink it reports to. */
export class NacosMirror {
  readonly #configKey: string;
  readonly #sink: SourceSink;
  readonly #log: Logger;
  /** Last config Nacos answered (content null: absent); undefined until first read. */
  #config: { content: string | null; md5: string } | undefined;
  /** Latest instance items per key. */
  readonly #instances = new Map<string, SourceItem>();
  /** What the sink holds: key → fingerprint. */
  readonly #reported = new Map<string, string>();
  #synced = false;
  #stopped = false;

  constructor(configKey: string, sink: SourceSink, log: Logger) {
    this.#configKey = configKey;
    this.#sink = sink;
    this.#log = log;
  }

  /** Whether the first complete read has been reported. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Whether the config has been read at least once. */
  get hasConfig(): boolean {
    return this.#config !== undefined;
  }

  /** md5 of the config held ('' when absent or never read). */
  get configMd5(): string {
    return this.#config?.md5 ?? '';
  }

  /** Takes the config as Nacos answered it (null: absent). */
  setConfig(content: string | null): void {
    this.#config = { content, md5: content === null ? '' : md5Hex(content) };
  }

  /** Takes a service's instance documents. */
  setInstances(key: string, documents: unknown[]): void {
    this.#instances.set(key, { key, documents });
  }

  /** Keys of the services held. */
  instanceKeys(): string[] {
    return [...this.#instances.keys()];
  }

  /** Forgets a service (Nacos's service list no longer names it). */
  dropInstances(key: string): void {
    this.#instances.delete(key);
  }

  /** After a complete read: the first time one replaceAll, later the differences. */
  commit(): void {
    if (this.#stopped) return;
    if (this.#synced) return this.flush();
    const items = [...this.#desired().values()];
    this.#sink.replaceAll(items);
    for (const item of items) this.#reported.set(item.key, fingerprint(item));
    this.#synced = true;
    this.#log.debug({ items: items.length }, 'nacos source synced');
  }

  /** After the first sync: puts what changed, deletes what Nacos no longer has. */
  flush(): void {
    if (!this.#synced || this.#stopped) return;
    const desired = this.#desired();
    for (const [key, item] of desired) {
      const fp = fingerprint(item);
      if (this.#reported.get(key) === fp) continue;
      this.#reported.set(key, fp);
      this.#sink.put(item);
    }
    for (const key of [...this.#reported.keys()]) {
      if (desired.has(key)) continue;
      this.#reported.delete(key);
      this.#sink.delete(key);
    }
  }

  /** Reports nothing more. */
  stop(): void {
    this.#stopped = true;
  }

  /** Everything the source currently knows Nacos holds. */
  #desired(): Map<string, SourceItem> {
    const items = new Map<string, SourceItem>();
    const cfg = this.#config;
    if (cfg && cfg.content !== null) items.set(this.#configKey, { key: this.#configKey, text: cfg.content, md5: cfg.md5 });
    for (const [key, item] of this.#instances) items.set(key, item);
    return items;
  }
}

function fingerprint(item: SourceItem): string {
  return item.md5 ?? JSON.stringify(item.documents ?? item.text ?? null);
}

/** Some reads of a round failed; the message names the first three and counts the rest. */
export class ReadFailed extends Error {
  constructor(errors: readonly string[]) {
    super(errors.slice(0, 3).join('; ') + (errors.length > 3 ? `; and ${errors.length - 3} more` : ''));
  }
}

/** Why a round failed, for /status: a ReadFailed says what Nacos did not answer; anything else is a bug, reported the same way. */
export function roundFailure(err: unknown, secrets: readonly (string | undefined)[]): string {
  return err instanceof ReadFailed ? err.message : `nacos source error: ${describeNacosError(err, secrets)}`;
}
