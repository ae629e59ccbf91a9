/**
 * Nacos naming over gRPC (docs/nacos-grpc.md#naming), on a connection whose module label is
 * `naming`: SubscribeServiceRequest (answers the ServiceInfo; from then on the server pushes a
 * NotifySubscriberRequest on every change), ServiceListRequest (names of a group, paged), and
 * InstanceRequest for ephemeral instances, which Nacos ties to the connection: they vanish with it,
 * so NacosRegistrations registers them again after every reconnection, as Nacos's client does.
 */
import type { NacosRpcClient } from './grpc-client.ts';
import type { NacosResponse, NacosServiceInfo } from './grpc-protocol.ts';

/** Nacos naming sends the public namespace as `public`. */
const namespaceOf = (ns: string): string => ns || 'public';

/** Subscribes to (or, with `subscribe: false`, unsubscribes from) a service; resolves its ServiceInfo. */
export async function subscribeService(rpc: NacosRpcClient, namespace: string, group: string, name: string, subscribe = true): Promise<NacosServiceInfo> {
  const res = await rpc.request<NacosResponse & { serviceInfo?: NacosServiceInfo }>('SubscribeServiceRequest', {
    namespace: namespaceOf(namespace),
    serviceName: name,
    groupName: group,
    clusters: '',
    subscribe,
    module: 'naming',
  });
  if (!res.serviceInfo || !Array.isArray(res.serviceInfo.hosts)) throw new Error(`Nacos answered the subscription to ${group}@@${name} without a host list`);
  return res.serviceInfo;
}

const PAGE_SIZE = 500;

/** The names of every service of `group`, page by page (bounded by the count Nacos reports). */
export async function listServices(rpc: NacosRpcClient, namespace: string, group: string): Promise<string[]> {
  const names: string[] = [];
  let pages = 1;
  for (let pageNo = 1; pageNo <= pages; pageNo++) {
    const res = await rpc.request<NacosResponse & { count?: number; serviceNames?: string[] | null }>('ServiceListRequest', {
      namespace: namespaceOf(namespace),
      serviceName: '',
      groupName: group,
      pageNo,
      pageSize: PAGE_SIZE,
      selector: '',
      module: 'naming',
    });
    const page = res.serviceNames ?? [];
    names.push(...page);
    if (pageNo === 1) pages = Math.ceil((Number(res.count) || 0) / PAGE_SIZE) + 1;
    if (page.length < PAGE_SIZE) break;
  }
  return names;
}

/** An ephemeral instance to register. */
export interface EphemeralInstance {
  ip: string;
  port: number;
  /** Nacos weight (1.0 default). */
  weight?: number;
  clusterName?: string;
  metadata?: Record<string, string>;
}

/** Where an instance is registered: service name and group. */
export interface InstanceTarget {
  service: string;
  group: string;
}

const idOf = (t: InstanceTarget, i: EphemeralInstance) => `${t.group}@@${t.service}#${i.ip}#${i.port}#${i.clusterName ?? 'DEFAULT'}`;

/** Ephemeral instances this client keeps registered, across reconnections. */
export class NacosRegistrations {
  readonly #rpc: NacosRpcClient;
  readonly #namespace: string;
  readonly #wanted = new Map<string, { target: InstanceTarget; instance: EphemeralInstance }>();
  readonly #retryMs: number;
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;

  /** `retryMs`: pause before registering again after a failed re-registration (default 1000). */
  constructor(rpc: NacosRpcClient, namespace: string, retryMs = 1000) {
    this.#rpc = rpc;
    this.#namespace = namespace;
    this.#retryMs = retryMs;
    rpc.onConnected(() => this.#redo());
  }

  /** Registers now (throws when Nacos refuses or cannot be reached) and again after each reconnection. */
  async register(target: InstanceTarget, instance: EphemeralInstance): Promise<void> {
    this.#wanted.set(idOf(target, instance), { target, instance });
    await this.#send('registerInstance', target, instance);
  }

  /** Deregisters now, and no longer registers it again. */
  async deregister(target: InstanceTarget, instance: EphemeralInstance): Promise<void> {
    this.#wanted.delete(idOf(target, instance));
    await this.#send('deregisterInstance', target, instance);
  }

  /** Stops re-registering (instances leave Nacos when the connection closes). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
  }

  async #send(type: 'registerInstance' | 'deregisterInstance', target: InstanceTarget, i: EphemeralInstance): Promise<void> {
    await this.#rpc.request('InstanceRequest', {
      namespace: namespaceOf(this.#namespace),
      serviceName: target.service,
      groupName: target.group,
      type,
      instance: {
        ip: i.ip,
        port: i.port,
        weight: i.weight ?? 1,
        healthy: true,
        enabled: true,
        ephemeral: true,
        clusterName: i.clusterName ?? 'DEFAULT',
        metadata: i.metadata ?? {},
      },
      module: 'naming',
    });
  }

  async #redo(): Promise<void> {
    clearTimeout(this.#retry);
    let failed = false;
    for (const [id, { target, instance }] of [...this.#wanted]) {
      if (this.#stopped || !this.#rpc.connected) return;
      if (!this.#wanted.has(id)) continue; // deregistered meanwhile
      try {
        await this.#send('registerInstance', target, instance);
      } catch {
        failed = true;
      }
    }
    if (failed && !this.#stopped) this.#retry = setTimeout(() => void this.#redo(), this.#retryMs);
  }
}
