/**
 * Nacos config over gRPC (docs/nacos-grpc.md#config): listen with ConfigBatchListenRequest (the
 * server then pushes a ConfigChangeNotifyRequest on the bi-stream when the config changes), read
 * with ConfigQueryRequest (errorCode 300 on a ConfigQueryResponse: the config does not exist).
 */
import type { NacosRpcClient } from './grpc-client.ts';
import { NacosCode, type NacosResponse, NacosRpcError } from './grpc-protocol.ts';

/** A config: dataId, group and tenant (namespace id, '' = public). */
export interface ConfigRef {
  dataId: string;
  group: string;
  tenant: string;
}

/** Nacos 3 reports the public namespace as `public`, Nacos 2 as '' (or null after a namespace transfer). */
const sameTenant = (a: unknown, b: string): boolean => normTenant(a) === normTenant(b);
function normTenant(t: unknown): string {
  return typeof t !== 'string' || t === 'public' ? '' : t;
}

/** Whether a ConfigChangeNotifyRequest (or a changedConfigs entry) is about `ref`. */
export function isAbout(body: Record<string, unknown>, ref: ConfigRef): boolean {
  return body.dataId === ref.dataId && body.group === ref.group && sameTenant(body.tenant, ref.tenant);
}

/**
 * Registers this connection as a listener of `ref`, telling Nacos the md5 the client holds;
 * resolves whether Nacos's md5 differs.
 */
export async function listenConfig(rpc: NacosRpcClient, ref: ConfigRef, md5: string): Promise<boolean> {
  const res = await rpc.request<NacosResponse & { changedConfigs?: Record<string, unknown>[] }>('ConfigBatchListenRequest', {
    listen: true,
    configListenContexts: [{ dataId: ref.dataId, group: ref.group, tenant: ref.tenant, md5 }],
    module: 'config',
  });
  return (res.changedConfigs ?? []).some((c) => isAbout(c, ref));
}

/** Reads `ref` (null: it does not exist); `notify` marks a read caused by a change notification (Nacos logs it as such). */
export async function queryConfig(rpc: NacosRpcClient, ref: ConfigRef, notify: boolean): Promise<string | null> {
  try {
    const res = await rpc.request<NacosResponse & { content?: unknown }>(
      'ConfigQueryRequest',
      { dataId: ref.dataId, group: ref.group, tenant: ref.tenant, module: 'config' },
      { headers: { notify: String(notify) } },
    );
    return typeof res.content === 'string' ? res.content : '';
  } catch (err) {
    if (err instanceof NacosRpcError && err.responseType === 'ConfigQueryResponse' && err.nacosCode === NacosCode.ConfigNotFound) {
      return null;
    }
    throw err;
  }
}
