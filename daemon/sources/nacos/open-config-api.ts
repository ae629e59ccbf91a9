/**
 * The writer's config calls (config-api.ts) over the source's transport, with its servers,
 * credentials and TLS files; with `auto` the first call asks the servers (transport.ts), as the
 * source does, and a failed choice is asked again at the next call.
 */
import type { NacosSourceConfig } from './config.ts';
import type { ConfigApiContext, NacosConfigApi } from './config-api.ts';
import { chooseTransport, grpcServers } from './transport.ts';

/** The API over the source's transport; with `auto`, the first call chooses it. */
export function createConfigApi(config: NacosSourceConfig, context: ConfigApiContext): NacosConfigApi {
  let chosen: Promise<NacosConfigApi> | undefined;
  const api = (): Promise<NacosConfigApi> =>
    (chosen ??= open(config, context).catch((err: unknown) => {
      chosen = undefined;
      throw err;
    }));
  return {
    read: async (dataId) => (await api()).read(dataId),
    publish: async (dataId, content, casMd5) => (await api()).publish(dataId, content, casMd5),
    honoursCas: async () => (await api()).honoursCas(),
    close: async () => {
      const opened = chosen;
      chosen = undefined;
      await (await opened?.catch(() => undefined))?.close();
    },
  };
}

async function open(config: NacosSourceConfig, context: ConfigApiContext): Promise<NacosConfigApi> {
  let transport = config.transport;
  if (transport === 'auto') {
    transport = await chooseTransport(config.servers, grpcServers(config.servers, config.grpcPort), 3000, await context.tls?.material());
    context.log.info({ transport }, `nacos writer transport: ${transport === 'grpc' ? 'gRPC' : 'HTTP v1'}`);
  }
  if (transport === 'grpc') return new (await import('./config-api-grpc.ts')).GrpcConfigApi(config, context);
  return new (await import('./config-api-http.ts')).HttpConfigApi(config, context);
}
