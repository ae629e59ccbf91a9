/**
 * The Nacos registrar's calls over the HTTP v1 API (nacos-naming's NamingProxy, through the
 * same HTTP channel as the source): POST/DELETE `/nacos/v1/ns/instance` with `ephemeral=true`,
 * and PUT `/nacos/v1/ns/instance/beat` with the full beat, so a Nacos that lost the instance
 * (a restart) takes it back from the beat itself; its `code` 20404 says it did not have it.
 */
import { createNamingProxy, type NacosClientOptions, type NacosNamingInstance } from '../sources/nacos-client.ts';
import type { NacosInstance, NamingWriter } from './nacos.ts';

/** Nacos's answer code for a beat of an instance it does not have. */
const RESOURCE_NOT_FOUND = 20404;

/** A NamingWriter over Nacos's HTTP v1 API. */
export function createV1NamingWriter(options: NacosClientOptions): NamingWriter {
  const proxy = createNamingProxy(options);
  const grouped = (i: NacosInstance) => `${i.group}@@${i.service}`;
  const asNaming = (i: NacosInstance): NacosNamingInstance => ({
    ip: i.ip,
    port: i.port,
    weight: i.weight,
    clusterName: i.cluster,
    enabled: true,
    healthy: true,
    ephemeral: true,
    metadata: i.metadata,
  });
  return {
    async register(i) {
      await proxy.registerService(grouped(i), i.group, asNaming(i));
    },
    async beat(i) {
      const beat = { serviceName: grouped(i), ip: i.ip, port: i.port, cluster: i.cluster, weight: i.weight, metadata: i.metadata, scheduled: false };
      const body = await proxy._reqAPI('/nacos/v1/ns/instance/beat', { beat: JSON.stringify(beat), serviceName: grouped(i) }, 'PUT');
      const answer = JSON.parse(body) as { clientBeatInterval?: number; code?: number };
      return { known: answer.code !== RESOURCE_NOT_FOUND, intervalMs: Number(answer.clientBeatInterval) || 0 };
    },
    async deregister(i) {
      await proxy.deregisterService(grouped(i), asNaming(i));
    },
    close() {
      options.http.close();
    },
  };
}
