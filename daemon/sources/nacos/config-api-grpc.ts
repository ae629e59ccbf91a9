/**
 * The writer's config calls over gRPC (docs/nacos-grpc.md): a `config` connection of its own,
 * kept up like the source's (grpc-client.ts), ConfigQueryRequest to read, ConfigPublishRequest
 * (its `casMd5` field, Nacos 2.0+) to publish. A refused publish is
 * a ConfigPublishResponse that is not a success ("Cas publish fail, server md5 may have changed.").
 */
import type { NacosSourceConfig } from './config.ts';
import { CALL_TIMEOUT_MS, type ConfigApiContext, type NacosConfigApi, type ReadConfig } from './config-api.ts';
import { NacosRpcClient } from './grpc-client.ts';
import { queryConfig } from './grpc-config.ts';
import { NacosRpcError } from './grpc-protocol.ts';
import { NacosLogin } from './login.ts';
import { md5Hex } from './mirror.ts';
import { grpcServers } from './transport.ts';

/** Config calls over one gRPC connection. */
export class GrpcConfigApi implements NacosConfigApi {
  readonly #cfg: NacosSourceConfig;
  readonly #rpc: NacosRpcClient;

  constructor(cfg: NacosSourceConfig, { tls }: ConfigApiContext) {
    this.#cfg = cfg;
    const login =
      cfg.username !== undefined ? new NacosLogin({ servers: cfg.servers, username: cfg.username, password: cfg.password ?? '', timeoutMs: CALL_TIMEOUT_MS, tls }) : undefined;
    this.#rpc = new NacosRpcClient({ servers: grpcServers(cfg.servers, cfg.grpcPort), module: 'config', namespace: cfg.namespace, login, tls });
    this.#rpc.start();
  }

  async #connected(): Promise<NacosRpcClient> {
    if (!(await this.#rpc.whenConnected(CALL_TIMEOUT_MS))) throw new NacosRpcError(`not connected to Nacos${this.#rpc.lastError ? ` (${this.#rpc.lastError})` : ''}`);
    return this.#rpc;
  }

  #ref(dataId: string) {
    return { dataId, group: this.#cfg.group, tenant: this.#cfg.namespace };
  }

  async read(dataId: string): Promise<ReadConfig | null> {
    const content = await queryConfig(await this.#connected(), this.#ref(dataId), false);
    return content === null ? null : { content, md5: md5Hex(content) };
  }

  async publish(dataId: string, content: string, casMd5?: string): Promise<boolean> {
    const rpc = await this.#connected();
    try {
      await rpc.request('ConfigPublishRequest', { ...this.#ref(dataId), content, ...(casMd5 && { casMd5 }), additionMap: { type: 'yaml' }, module: 'config' });
      return true;
    } catch (err) {
      if (err instanceof NacosRpcError && err.responseType === 'ConfigPublishResponse') return false;
      throw err;
    }
  }

  /** ConfigPublishRequest has carried `casMd5` since Nacos 2.0, the first with gRPC. */
  async honoursCas(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.#rpc.stop();
  }
}
