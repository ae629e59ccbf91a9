/**
 * The `nacos` kind's writer (docs/sources.md#writing-into-a-source): a Nacos source reads its rule
 * documents from one config (`group`/`dataId`), so a document is written into that config — its
 * own document replaced (or appended) in the text, every other byte kept (config-documents.ts) —
 * and published with `casMd5` = the md5 just read: an edit made meanwhile (a person's, another
 * writer's) is never overwritten; the writer reads again and retries. The lease is lease.ts.
 * Both over the source's transport, credentials and TLS files (config-api.ts). Loaded only when
 * a controller starts on a Nacos source.
 */
import type { Logger } from '../../../shared/log.ts';
import type { Lease } from '../lease.ts';
import type { SourceWriter, WritableDocument } from '../source.ts';
import type { NacosSourceConfig } from './config.ts';
import type { NacosConfigApi } from './config-api.ts';
import { createConfigApi } from './open-config-api.ts';
import { replaceDocument } from './config-documents.ts';
import { CREATE_MD5, NacosLease, leaseDataId } from './lease.ts';
import { NacosTlsFiles } from './tls.ts';

/** Read-and-publish rounds before a write that keeps meeting changes gives up. */
const ATTEMPTS = 5;

/** Writes documents into a Nacos source's config. */
export class NacosWriter implements SourceWriter {
  readonly #cfg: NacosSourceConfig;
  readonly #api: NacosConfigApi;
  readonly #tls: NacosTlsFiles | undefined;
  readonly #log: Logger;

  constructor(cfg: NacosSourceConfig, o: { log: Logger; api?: NacosConfigApi }) {
    this.#cfg = cfg;
    this.#log = o.log;
    this.#tls = cfg.tls ? new NacosTlsFiles(cfg.tls, o.log) : undefined;
    this.#api = o.api ?? createConfigApi(cfg, { log: o.log, tls: this.#tls });
  }

  async write(doc: WritableDocument): Promise<void> {
    const { dataId, group } = this.#cfg;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const current = await this.#api.read(dataId);
      const text = replaceDocument(current?.content ?? null, doc);
      if (current !== null && text === current.content) return;
      if (await this.#api.publish(dataId, text, current?.md5 ?? CREATE_MD5)) return;
      // Changed since the read (or a read that lagged a write): read again, a little later.
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
    throw new Error(`Nacos config ${group}/${dataId} kept changing while ${doc.kind}/${doc.metadata.name} was written (${ATTEMPTS} attempts)`);
  }

  lease(identity: string, ttlMs: number): Lease {
    return new NacosLease(this.#api, leaseDataId(this.#cfg.dataId), identity, ttlMs, { log: this.#log });
  }

  async close(): Promise<void> {
    await this.#api.close();
    this.#tls?.close();
  }
}
