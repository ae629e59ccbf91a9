/**
 * The writer's config calls over the v1 HTTP OpenAPI (`/nacos/v1/cs/configs`): GET to read, POST
 * (form `dataId`, `group`, `tenant`, `content`, `type`) to publish, with the `casMd5` header for a
 * compare-and-swap — which Nacos honours over HTTP only from 2.3 (before, it publishes
 * unconditionally). So before the first compare-and-swap the writer probes once: it publishes a
 * scratch config `<dataId>.cas-probe`, publishes it again with an md5 it cannot have, and removes
 * it; a Nacos that took the second publish does not honour `casMd5`. Calls go to each server in
 * turn until one answers, over https with the source's TLS files, with an access token from the
 * source's login (login.ts) when it has credentials.
 */
import type { NacosSourceConfig } from './config.ts';
import { CALL_TIMEOUT_MS, type ConfigApiContext, type NacosConfigApi, type ReadConfig } from './config-api.ts';
import { nacosHttpCall } from './http-call.ts';
import { NacosLogin } from './login.ts';
import { md5Hex } from './mirror.ts';
import type { NacosTlsFiles } from './tls.ts';

const PATH = '/nacos/v1/cs/configs';

/** A v1 call that got no answer from any server. */
class NoAnswer extends Error {}

/** Config calls over HTTP v1. */
export class HttpConfigApi implements NacosConfigApi {
  readonly #cfg: NacosSourceConfig;
  readonly #tls: NacosTlsFiles | undefined;
  readonly #login: NacosLogin | undefined;
  #next = 0;
  #honoursCas: Promise<boolean> | undefined;

  constructor(cfg: NacosSourceConfig, { tls }: ConfigApiContext) {
    this.#cfg = cfg;
    this.#tls = tls;
    this.#login =
      cfg.username !== undefined ? new NacosLogin({ servers: cfg.servers, username: cfg.username, password: cfg.password ?? '', timeoutMs: CALL_TIMEOUT_MS, tls }) : undefined;
  }

  /** One call: each server in turn until one answers; a refused token is renewed once. */
  async #call(method: 'GET' | 'POST' | 'DELETE', params: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
    const servers = this.#cfg.servers;
    for (let attempt = 0; ; attempt++) {
      const token = await this.#login?.token();
      const q = new URLSearchParams({ ...params, ...(token !== undefined && { accessToken: token }) }).toString();
      const body = method === 'POST' ? q : undefined;
      const path = method === 'POST' ? PATH : `${PATH}?${q}`;
      const tls = await this.#tls?.material();
      let answer: { status: number; text: string } | undefined;
      const reasons: string[] = [];
      for (let i = 0; i < servers.length && answer === undefined; i++) {
        const server = servers[(this.#next + i) % servers.length]!;
        try {
          answer = await nacosHttpCall(server, path, {
            method,
            headers: { ...(body !== undefined && { 'content-type': 'application/x-www-form-urlencoded' }), ...headers },
            body,
            timeoutMs: CALL_TIMEOUT_MS,
            tls,
          });
          this.#next = (this.#next + i) % servers.length;
        } catch (err) {
          reasons.push(`${server}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      if (answer === undefined) throw new NoAnswer(`no Nacos server answered: ${reasons.join('; ')}`);
      if (answer.status === 403 && token !== undefined && attempt === 0) {
        this.#login!.invalidate(token);
        continue;
      }
      return answer;
    }
  }

  #params(dataId: string): Record<string, string> {
    return { dataId, group: this.#cfg.group, ...(this.#cfg.namespace && { tenant: this.#cfg.namespace }) };
  }

  async read(dataId: string): Promise<ReadConfig | null> {
    const { status, text } = await this.#call('GET', this.#params(dataId));
    if (status === 404) return null;
    if (status !== 200) throw new Error(`Nacos answered GET ${PATH} with ${status}: ${text.trim().slice(0, 200)}`);
    return { content: text, md5: md5Hex(text) };
  }

  async publish(dataId: string, content: string, casMd5?: string): Promise<boolean> {
    if (casMd5 && !(await this.honoursCas())) throw new Error('this Nacos ignores casMd5 over HTTP v1 (Nacos before 2.3): use transport=grpc');
    return this.#publish(dataId, content, casMd5);
  }

  async #publish(dataId: string, content: string, casMd5?: string): Promise<boolean> {
    const { status, text } = await this.#call('POST', { ...this.#params(dataId), content, type: 'yaml' }, casMd5 ? { casMd5 } : {});
    return status === 200 && text.trim() === 'true';
  }

  honoursCas(): Promise<boolean> {
    this.#honoursCas ??= this.#probe().catch((err: unknown) => {
      this.#honoursCas = undefined;
      throw err;
    });
    return this.#honoursCas;
  }

  async #probe(): Promise<boolean> {
    const dataId = `${this.#cfg.dataId}.cas-probe`;
    const content = `dyeline checks that this Nacos honours casMd5 (${Date.now()})`;
    if (!(await this.#publish(dataId, content))) throw new Error(`Nacos refused to publish ${this.#cfg.group}/${dataId}`);
    try {
      return !(await this.#publish(dataId, `${content}.`, md5Hex(`not ${content}`)));
    } finally {
      await this.#call('DELETE', this.#params(dataId)).catch(() => undefined);
    }
  }

  async close(): Promise<void> {}
}
