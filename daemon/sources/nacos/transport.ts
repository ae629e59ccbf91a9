/**
 * Where Nacos's gRPC ports are (the HTTP port + 1000, or `grpcPort`), and `transport=auto`
 * (docs/nacos-grpc.md#how-auto-decides): gRPC when a server's gRPC port answers a
 * ServerCheckRequest, else HTTP v1 when a server's HTTP port answers a v1 request (anything but
 * 404/501), else undecided — the caller reports both reasons and asks again later. With
 * `tls=true` both probes speak TLS (gRPC over TLS first, then https), with the source's files.
 */
import type { TlsMaterial } from '../../../shared/tls-files.ts';
import type { GrpcServer } from './grpc-client.ts';
import { failureReason, nacosHttpCall } from './http-call.ts';

/** How the source talks to Nacos. */
export type NacosTransport = 'grpc' | 'http';

/** A v1 path every Nacos 1.x/2.x serves (open, or 403 with auth on); 404 where the v1 API is gone. */
const V1_PROBE = '/nacos/v1/ns/operator/metrics';

/** The gRPC addresses of a server list: each host with `grpcPort`, or its HTTP port + 1000. */
export function grpcServers(servers: readonly string[], grpcPort?: number): GrpcServer[] {
  return servers.map((s) => {
    const i = s.lastIndexOf(':');
    const host = s.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    return { host: host.includes(':') ? `[${host}]` : host, port: grpcPort ?? Number(s.slice(i + 1)) + 1000 };
  });
}

/**
 * Picks the transport for `servers` (HTTP `host:port`) and their gRPC addresses, over TLS with
 * `tls`; throws when neither answers.
 */
export async function chooseTransport(servers: readonly string[], grpc: readonly GrpcServer[], timeoutMs: number, tls?: TlsMaterial): Promise<NacosTransport> {
  const { answersGrpc } = await import('./grpc-connection.ts');
  const reasons: string[] = [];
  for (const g of grpc) {
    try {
      if (await answersGrpc(`${g.host}:${g.port}`, timeoutMs, tls)) return 'grpc';
    } catch (err) {
      reasons.push(err instanceof Error ? err.message : String(err));
    }
  }
  for (const server of servers) {
    try {
      const { status } = await nacosHttpCall(server, V1_PROBE, { timeoutMs, tls });
      if (status !== 404 && status !== 501) return 'http';
      reasons.push(`${server} has no v1 HTTP API (${status})`);
    } catch (err) {
      reasons.push(`${server}: ${failureReason(err)}`);
    }
  }
  throw new Error(`no Nacos gRPC port nor v1 HTTP API answered: ${reasons.join('; ')}`);
}
