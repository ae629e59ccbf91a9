/**
 * What a test Nacos holds, shared by its protocol front-ends (nacos-server.ts: the v1 HTTP API,
 * nacos-grpc-server.ts: the gRPC API) so that one Nacos — or a cluster of several servers — can be
 * served over both: configs (md5 as Nacos computes it), naming (namespace → grouped service →
 * instances, Nacos's defaults and instanceId format), users and access tokens. Every change is
 * announced to the front-ends (long polls answered, pushes sent).
 */
import { createHash, randomBytes } from 'node:crypto';

export const DEFAULT_GROUP = 'DEFAULT_GROUP';
export const DEFAULT_NAMESPACE = 'public';
export const DEFAULT_CLUSTER = 'DEFAULT';
const WORD = '\x02';

/** A refusal with the HTTP status Nacos answers it with. */
export class NacosStateError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** A Nacos instance as stored and listed. */
export interface NacosInstance {
  instanceId: string;
  ip: string;
  port: number;
  weight: number;
  healthy: boolean;
  enabled: boolean;
  ephemeral: boolean;
  clusterName: string;
  serviceName: string;
  metadata: Record<string, string>;
}

/** Fields of an instance a test registers; the rest take Nacos defaults. */
export interface InstanceInput {
  ip: string;
  port: number;
  weight?: number;
  healthy?: boolean;
  enabled?: boolean;
  ephemeral?: boolean;
  clusterName?: string;
  metadata?: Record<string, string>;
}

/** Where a naming call points: namespace (default public) and group (default DEFAULT_GROUP). */
export interface NamingScope {
  namespaceId?: string;
  groupName?: string;
}

/** A stored config. */
export interface StoredConfig {
  dataId: string;
  group: string;
  /** '' for the public namespace. */
  tenant: string;
  content: string;
  md5: string;
  type: string;
  lastModified: number;
}

/** Options; every default is Nacos's own. */
export interface NacosStateOptions {
  /** Enables auth with this one user. Default: auth off. */
  username?: string;
  password?: string;
  /** Access token lifetime (Nacos: 18000 s). */
  tokenTtlSeconds?: number;
  /** `cacheMillis` in instance lists (Nacos pull default: 3000 ms; pushes carry 10000). */
  cacheMillis?: number;
}

/** Hex md5 of the UTF-8 bytes, as Nacos's MD5Utils.md5Hex(content, "UTF-8"). */
export function nacosMd5(content: string): string {
  return createHash('md5').update(content, 'utf8').digest('hex');
}

/** The key of a config: dataId ^2 group ^2 tenant. */
export function configKey(dataId: string, group: string, tenant: string): string {
  return [dataId, group, normTenant(tenant)].join(WORD);
}

/** The public namespace is '' for config (Nacos 2.x); `public` means the same. */
export function normTenant(tenant: string | undefined | null): string {
  const t = (tenant ?? '').trim();
  return t === DEFAULT_NAMESPACE ? '' : t;
}

/** Nacos's ServiceNameFilter: a name without `@@` gets the group (default DEFAULT_GROUP) in front. */
export function groupedServiceName(serviceName: string | undefined, groupName: string | undefined): string {
  const name = (serviceName ?? '').trim();
  if (!name) throw new NacosStateError(400, "Param 'serviceName' is required.");
  const grouped = name.includes('@@') ? name : `${(groupName ?? '').trim() || DEFAULT_GROUP}@@${name}`;
  const parts = grouped.split('@@');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new NacosStateError(400, "Param 'serviceName' is illegal, it should be format as 'groupName@@serviceName'");
  }
  return grouped;
}

/** Namespace of a naming call: blank → public. */
export function namingNamespace(ns: string | undefined | null): string {
  return (ns ?? '').trim() || DEFAULT_NAMESPACE;
}

type ConfigListener = (key: string, cfg: { dataId: string; group: string; tenant: string }) => void;
type ServiceListener = (namespaceId: string, grouped: string) => void;

/** The data of one test Nacos. */
export class NacosState {
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tokenTtlSeconds: number;
  cacheMillis: number;

  readonly #configs = new Map<string, StoredConfig>();
  /** namespace → grouped service → `ip#port#cluster` → instance. */
  readonly #services = new Map<string, Map<string, Map<string, NacosInstance>>>();
  readonly #refTime = new Map<string, number>();
  /** `namespace|grouped|ip#port#cluster` of instances a gRPC connection registered (not beat-checked). */
  readonly #connectionBound = new Set<string>();
  readonly #tokens = new Map<string, number>();
  readonly #configListeners = new Set<ConfigListener>();
  readonly #serviceListeners = new Set<ServiceListener>();

  constructor(opts: NacosStateOptions = {}) {
    this.username = opts.username;
    this.password = opts.password;
    this.tokenTtlSeconds = opts.tokenTtlSeconds ?? 18_000;
    this.cacheMillis = opts.cacheMillis ?? 3000;
  }

  // ------------------------------------------------------------------ change announcements

  /** `fn` hears every config change; returns the unsubscribe function. */
  onConfigChange(fn: ConfigListener): () => void {
    this.#configListeners.add(fn);
    return () => this.#configListeners.delete(fn);
  }

  /** `fn` hears every change of a service's instances; returns the unsubscribe function. */
  onServiceChange(fn: ServiceListener): () => void {
    this.#serviceListeners.add(fn);
    return () => this.#serviceListeners.delete(fn);
  }

  // ------------------------------------------------------------------ auth

  /** Whether auth is on (nacos.core.auth.enabled). */
  get authEnabled(): boolean {
    return this.username !== undefined;
  }

  /** Logs in; throws 403 `unknown user!` on wrong credentials. */
  login(username: string | undefined, password: string | undefined): { accessToken: string; tokenTtl: number } {
    if (!this.authEnabled || username !== this.username || password !== this.password) throw new NacosStateError(403, 'unknown user!');
    const token = randomBytes(24).toString('base64url');
    this.#tokens.set(token, Date.now() + this.tokenTtlSeconds * 1000);
    return { accessToken: token, tokenTtl: this.tokenTtlSeconds };
  }

  /** Throws 403 `token invalid!` / `token expired!` unless `token` is valid. */
  checkToken(token: string): void {
    const exp = this.#tokens.get(token);
    if (exp === undefined) throw new NacosStateError(403, 'token invalid!');
    if (exp < Date.now()) throw new NacosStateError(403, 'token expired!');
  }

  /** Test control: every token issued so far has expired. */
  expireTokens(): void {
    for (const token of this.#tokens.keys()) this.#tokens.set(token, 0);
  }

  // ------------------------------------------------------------------ config

  /** Publishes a config. */
  publishConfig(dataId: string, group: string, content: string, tenant = '', type = 'yaml'): void {
    const t = normTenant(tenant);
    const key = configKey(dataId, group, t);
    this.#configs.set(key, { dataId, group, tenant: t, content, md5: nacosMd5(content), type, lastModified: Date.now() });
    this.#configChanged(key, dataId, group, t);
  }

  /**
   * Publishes with `casMd5` as Nacos's insertOrUpdateCas does (Nacos 2.x ConfigPublishRequest,
   * v1 HTTP `casMd5` header from 2.3): an absent config is created whatever the md5 says; a
   * present one is replaced only when its md5 is `casMd5`. False when refused.
   */
  publishConfigCas(dataId: string, group: string, content: string, casMd5: string, tenant = '', type = 'yaml'): boolean {
    const current = this.config(dataId, group, tenant);
    if (current !== undefined && current.md5 !== casMd5) return false;
    this.publishConfig(dataId, group, content, tenant, type);
    return true;
  }

  /** Removes a config. */
  removeConfig(dataId: string, group: string, tenant = ''): void {
    const t = normTenant(tenant);
    const key = configKey(dataId, group, t);
    this.#configs.delete(key);
    this.#configChanged(key, dataId, group, t);
  }

  /** The stored config, or undefined. */
  config(dataId: string, group: string, tenant = ''): StoredConfig | undefined {
    return this.#configs.get(configKey(dataId, group, tenant));
  }

  /** md5 of a config by key ('' when absent). */
  md5Of(key: string): string {
    return this.#configs.get(key)?.md5 ?? '';
  }

  #configChanged(key: string, dataId: string, group: string, tenant: string): void {
    for (const fn of this.#configListeners) fn(key, { dataId, group, tenant });
  }

  // ------------------------------------------------------------------ naming

  /** Registers (or replaces) an instance; returns it as stored. `connectionBound`: a gRPC connection owns it. */
  putInstance(namespaceId: string, grouped: string, input: InstanceInput, connectionBound = false): NacosInstance {
    const weight = input.weight ?? 1;
    if (!(weight >= 0 && weight <= 10_000)) throw new NacosStateError(400, 'instance format invalid: The weights range from 0.0 to 10000.0');
    if (!Number.isInteger(input.port) || input.port < 0 || input.port > 65535) throw new NacosStateError(400, `instance format invalid: port ${input.port}`);
    const clusterName = input.clusterName || DEFAULT_CLUSTER;
    const inst: NacosInstance = {
      instanceId: `${input.ip}#${input.port}#${clusterName}#${grouped}`,
      ip: input.ip,
      port: input.port,
      weight,
      healthy: input.healthy ?? true,
      enabled: input.enabled ?? true,
      ephemeral: input.ephemeral ?? true,
      clusterName,
      serviceName: grouped,
      metadata: { ...(input.metadata ?? {}) },
    };
    let svcs = this.#services.get(namespaceId);
    if (!svcs) this.#services.set(namespaceId, (svcs = new Map()));
    let insts = svcs.get(grouped);
    if (!insts) svcs.set(grouped, (insts = new Map()));
    insts.set(`${inst.ip}#${inst.port}#${clusterName}`, inst);
    const at = `${namespaceId}|${grouped}|${inst.ip}#${inst.port}#${clusterName}`;
    if (connectionBound) this.#connectionBound.add(at);
    else this.#connectionBound.delete(at);
    this.#serviceChanged(namespaceId, grouped);
    return inst;
  }

  /** Removes an instance; true when there was one. */
  removeInstance(namespaceId: string, grouped: string, ip: string, port: number, clusterName = DEFAULT_CLUSTER): boolean {
    const removed = this.#services.get(namespaceId)?.get(grouped)?.delete(`${ip}#${port}#${clusterName}`) ?? false;
    this.#connectionBound.delete(`${namespaceId}|${grouped}|${ip}#${port}#${clusterName}`);
    if (removed) this.#serviceChanged(namespaceId, grouped);
    return removed;
  }

  /** The stored instance, or undefined. */
  instance(namespaceId: string, grouped: string, ip: string, port: number, clusterName = DEFAULT_CLUSTER): NacosInstance | undefined {
    return this.#services.get(namespaceId)?.get(grouped)?.get(`${ip}#${port}#${clusterName}`);
  }

  /** Marks an instance healthy or not (what Nacos's health checks do). */
  setHealthy(namespaceId: string, grouped: string, ip: string, port: number, healthy: boolean, clusterName = DEFAULT_CLUSTER): void {
    const inst = this.instance(namespaceId, grouped, ip, port, clusterName);
    if (!inst) throw new Error(`no instance ${ip}:${port} in ${grouped}`);
    inst.healthy = healthy;
    this.#serviceChanged(namespaceId, grouped);
  }

  /** Whether a service was ever created (it stays once created, as no cleanup runs). */
  hasService(namespaceId: string, grouped: string): boolean {
    return this.#services.get(namespaceId)?.has(grouped) ?? false;
  }

  /** Every instance of a service (enabled or not). */
  instances(namespaceId: string, grouped: string): NacosInstance[] {
    return [...(this.#services.get(namespaceId)?.get(grouped)?.values() ?? [])];
  }

  /** Every instance of every service, with where it is and whether a gRPC connection owns it. */
  *everyInstance(): Generator<{ namespaceId: string; grouped: string; instance: NacosInstance; connectionBound: boolean }> {
    for (const [namespaceId, svcs] of this.#services) {
      for (const [grouped, insts] of svcs) {
        for (const [key, instance] of [...insts]) {
          yield { namespaceId, grouped, instance, connectionBound: this.#connectionBound.has(`${namespaceId}|${grouped}|${key}`) };
        }
      }
    }
  }

  /** Names (without group) of the services of `group`, sorted. A service stays listed once created. */
  serviceNames(namespaceId: string, group: string): string[] {
    return [...(this.#services.get(namespaceId)?.keys() ?? [])]
      .filter((g) => g.startsWith(`${group}@@`))
      .map((g) => g.slice(group.length + 2))
      .sort();
  }

  /** Instance and service counts, for the metrics endpoint. */
  counts(): { serviceCount: number; instanceCount: number } {
    let instanceCount = 0;
    let serviceCount = 0;
    for (const svcs of this.#services.values()) {
      serviceCount += svcs.size;
      for (const insts of svcs.values()) instanceCount += insts.size;
    }
    return { serviceCount, instanceCount };
  }

  /**
   * The hosts Nacos lists for a service: enabled instances (healthy ones only with `healthyOnly`)
   * of the `clusters` asked for (all when blank), with the derived heartbeat fields Nacos adds.
   */
  hosts(namespaceId: string, grouped: string, clusters: string, healthyOnly: boolean): Record<string, unknown>[] {
    const wanted = new Set(clusters.split(',').map((c) => c.trim()).filter(Boolean));
    return this.instances(namespaceId, grouped)
      .filter((i) => i.enabled && (!healthyOnly || i.healthy) && (wanted.size === 0 || wanted.has(i.clusterName)))
      .map((i) => ({
        ...i,
        metadata: { ...i.metadata },
        instanceHeartBeatInterval: 5000,
        instanceIdGenerator: 'simple',
        instanceHeartBeatTimeOut: 15000,
        ipDeleteTimeout: 30000,
      }));
  }

  /** When a service's instances last changed (ms epoch). */
  refTime(namespaceId: string, grouped: string): number {
    return this.#refTime.get(`${namespaceId}|${grouped}`) ?? Date.now();
  }

  #serviceChanged(namespaceId: string, grouped: string): void {
    this.#refTime.set(`${namespaceId}|${grouped}`, Date.now());
    for (const fn of this.#serviceListeners) fn(namespaceId, grouped);
  }
}
