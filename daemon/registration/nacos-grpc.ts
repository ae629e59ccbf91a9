/**
 * The Nacos registrar's calls over gRPC (docs/nacos-grpc.md#registration-of-ephemeral-instances):
 * InstanceRequest on a `naming` connection of its own. Nacos keeps such an instance as long as
 * the connection that registered it, so there are no beats: a "beat" only checks that the
 * connection is up, and every instance is registered again after each reconnection
 * (NacosRegistrations), as Nacos's own client redoes its registrations. When the daemon stops,
 * the connection closes and Nacos removes the instances at once (the next daemon registers them
 * again as its agents reconnect).
 */
import { type GrpcServer, NacosRpcClient, type RpcTiming } from '../sources/nacos/grpc-client.ts';
import { NacosRegistrations } from '../sources/nacos/grpc-naming.ts';
import type { NacosLogin } from '../sources/nacos/login.ts';
import type { NacosTlsFiles } from '../sources/nacos/tls.ts';
import type { NacosInstance, NamingWriter } from './nacos.ts';

/** Where and as whom the writer registers. */
export interface GrpcNamingWriterOptions {
  servers: readonly GrpcServer[];
  namespace: string;
  login?: NacosLogin;
  /** `tls=true`: the source's TLS files. */
  tls?: NacosTlsFiles;
  timing?: Partial<RpcTiming>;
}

/** How often the registrar looks at the connection (ms); nothing is sent for it. */
const CHECK_MS = 5000;

/** A NamingWriter over Nacos's gRPC API. */
export function createGrpcNamingWriter(o: GrpcNamingWriterOptions): NamingWriter {
  const rpc = new NacosRpcClient({ servers: o.servers, module: 'naming', namespace: o.namespace, login: o.login, tls: o.tls, timing: o.timing });
  const registrations = new NacosRegistrations(rpc, o.namespace);
  // Connected on the first registration: a node whose agents register nothing holds no connection for it.
  const started = () => rpc.start();
  const target = (i: NacosInstance) => ({ service: i.service, group: i.group });
  const instance = (i: NacosInstance) => ({ ip: i.ip, port: i.port, weight: i.weight, clusterName: i.cluster, metadata: i.metadata });
  return {
    async register(i) {
      started();
      // The first registration opens the connection: give it the time of one request.
      await rpc.whenConnected(o.timing?.requestTimeoutMs ?? 3000);
      await registrations.register(target(i), instance(i));
    },
    async beat() {
      if (!rpc.connected) throw new Error(`not connected to Nacos${rpc.lastError ? ` (${rpc.lastError})` : ''}`);
      // Registered again by NacosRegistrations after every reconnection: Nacos has it while connected.
      return { known: true, intervalMs: CHECK_MS };
    },
    deregister: (i) => registrations.deregister(target(i), instance(i)),
    close() {
      registrations.stop();
      rpc.stop();
    },
  };
}
