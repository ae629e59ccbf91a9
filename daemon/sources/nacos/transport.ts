/**
 * Where Nacos's gRPC ports are (the HTTP port + 1000, or `grpcPort`), and `transport=auto`
 * (docs/nacos-grpc.md#how-auto-decides): gRPC when a server's gRPC port answers a
 * ServerCheckRequest, else HTTP v1 when a server's HTTP port answers a v1 request (anything but
 * 404/501), else undecided — the caller reports both reasons and asks again later.
 */
import type { GrpcServer } from './grpc-client.ts';

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

/** Picks the transport for `servers` (HTTP `host:port`) and their gRPC addresses; throws when neither answers. */
export async function chooseTransport(servers: readonly string[], grpc: readonly GrpcServer[], timeoutMs: number): Promise<NacosTransport> {
  const { answersGrpc } = await import('./grpc-connection.ts');
  const reasons: string[] = [];
  for (const g of grpc) {
    try {
      if (await answersGrpc(`${g.host}:${g.port}`, timeoutMs)) return 'grpc';
    } catch (err) {
      reasons.push(err instanceof Error ? err.message : String(err));
    }
  }
  for (const server of servers) {
    try {
      const res = await fetch(`http://${server}${V1_PROBE}`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel();
      if (res.status !== 404 && res.status !== 501) return 'http';
      reasons.push(`${server} has no v1 HTTP API (${res.status})`);
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      reasons.push(`${server}: ${cause ?? (err instanceof Error ? err.message : String(err))}`);
    }
  }
  throw new Error(`no Nacos gRPC port nor v1 HTTP API answered: ${reasons.join('; ')}`);
}
