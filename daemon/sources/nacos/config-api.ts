/**
 * Reading and publishing configs of one Nacos, for the writer (docs/sources.md#writing-into-a-source):
 * the same calls over either transport of the source — gRPC (`config-api-grpc.ts`) or the v1 HTTP
 * OpenAPI (`config-api-http.ts`), opened by `open-config-api.ts`. A publish with `casMd5` is
 * Nacos's compare-and-swap: an absent config is created whatever `casMd5` says; a present one is
 * replaced only when its md5 is `casMd5`.
 */
import type { Logger } from '../../../shared/log.ts';
import type { NacosTlsFiles } from './tls.ts';

/** A config as read: its content and md5 (hex md5 of the UTF-8 content, as Nacos computes it). */
export interface ReadConfig {
  content: string;
  md5: string;
}

/** The config calls of one Nacos, in the source's namespace and group. */
export interface NacosConfigApi {
  /** The config `dataId`, or null when it does not exist; throws when Nacos did not answer. */
  read(dataId: string): Promise<ReadConfig | null>;
  /**
   * Publishes `content` to `dataId`, as a compare-and-swap on `casMd5` when given; resolves false
   * when Nacos refused it (an md5 that differs, a racing create), throws when Nacos did not answer.
   */
  publish(dataId: string, content: string, casMd5?: string): Promise<boolean>;
  /** Whether this Nacos honours `casMd5` (over HTTP v1 only from Nacos 2.3; probed once). */
  honoursCas(): Promise<boolean>;
  close(): Promise<void>;
}

/** What an API is made with. */
export interface ConfigApiContext {
  log: Logger;
  tls: NacosTlsFiles | undefined;
}

/** Budget of one call (ms). */
export const CALL_TIMEOUT_MS = 5000;
