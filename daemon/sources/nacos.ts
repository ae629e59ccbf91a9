/**
 * The `nacos://` kind: its URI, and which transport its source speaks — gRPC with server push
 * (Nacos 2.x/3.x), HTTP v1 with polling (Nacos 1.x, or any Nacos serving the v1 API), or `auto`.
 * Items, sync and outages: docs/sources.md#nacos; the gRPC protocol: docs/nacos-grpc.md. The
 * transports are loaded only when a source of this kind is created.
 */
import { errorMessage, UsageError } from '../../shared/errors.ts';
import { type TlsFileNames, tlsFileNames } from '../../shared/tls-files.ts';
import type { NacosSourceConfig, NacosTransportChoice } from './nacos/config.ts';
import type { NacosTlsFiles } from './nacos/tls.ts';
import type { Source, SourceContext, SourceKind } from './source.ts';
import { badSourceUri, serverUri, tlsParam, userCredentials } from './uri.ts';

export type { NacosSourceConfig, NacosTransportChoice } from './nacos/config.ts';

const CREDENTIALS = userCredentials('DYELINE_NACOS');
/** nacos-config's rule for dataId and group (ParamUtils.isValid). */
const VALID_CONFIG_NAME = /^[a-zA-Z0-9_.:-]+$/;
const TRANSPORTS: readonly NacosTransportChoice[] = ['auto', 'grpc', 'http'];

/**
 * The `nacos` kind: `nacos://host:port[,...]?namespace=&group=DYELINE&dataId=dyeline-rules.yaml&services=*&transport=auto&tls=false`;
 * with `tls=true`, gRPC over TLS and https, verified with DYELINE_NACOS_CA_FILE (else the system's
 * roots), presenting DYELINE_NACOS_CERT_FILE / DYELINE_NACOS_KEY_FILE when set.
 */
export const nacosSource: SourceKind<NacosSourceConfig> = {
  scheme: 'nacos',
  usage: 'nacos://host:port[,host:port...]?namespace=&group=DYELINE&dataId=dyeline-rules.yaml&services=*&transport=auto|grpc|http&grpcPort=&tls=false',
  credentials: CREDENTIALS,
  parseUri(uri, env) {
    const known = ['namespace', 'group', 'dataId', 'services', 'transport', 'grpcPort', 'tls'];
    const { hosts: servers, params, username, password } = serverUri(uri, env, known, CREDENTIALS);
    const tls = tlsParam(uri);
    const namespace = params.get('namespace') ?? '';
    const group = params.get('group') || 'DYELINE';
    const dataId = params.get('dataId') || 'dyeline-rules.yaml';
    const servicesRaw = params.get('services') ?? '*';
    for (const [k, v] of [['dataId', dataId], ['group', group]] as const) {
      if (!VALID_CONFIG_NAME.test(v)) throw badSourceUri(uri, `nacos ${k} "${v}" may hold only letters, digits and _ - . :`);
    }
    const transport = (params.get('transport') || 'auto') as NacosTransportChoice;
    if (!TRANSPORTS.includes(transport)) throw badSourceUri(uri, `nacos transport "${transport}" is not one of ${TRANSPORTS.join(', ')}`);
    const grpcPortRaw = params.get('grpcPort');
    const grpcPort = grpcPortRaw ? Number(grpcPortRaw) : undefined;
    if (grpcPort !== undefined && !(Number.isInteger(grpcPort) && grpcPort >= 1 && grpcPort <= 65535)) {
      throw badSourceUri(uri, `nacos grpcPort "${grpcPortRaw}" is not a port (1-65535)`);
    }
    const services = servicesRaw.split(',').map((s) => s.trim()).filter(Boolean);
    const q = new URLSearchParams({ namespace, group, dataId, services: servicesRaw, ...(tls && { tls: 'true' }) });
    // Written out only when set: the URI names the source in snapshots kept across upgrades.
    if (transport !== 'auto') q.set('transport', transport);
    if (grpcPort !== undefined) q.set('grpcPort', String(grpcPort));
    let files: TlsFileNames | undefined;
    try {
      files = tls ? tlsFileNames(env, 'DYELINE_NACOS', true) : undefined;
    } catch (err) {
      throw new UsageError(`--source: ${errorMessage(err)}`);
    }
    return {
      kind: 'nacos',
      uri: `nacos://${uri.authority}?${q.toString().replace(/%2C/g, ',').replace(/%2A/g, '*')}`,
      servers,
      namespace,
      group,
      dataId,
      services,
      transport,
      grpcPort,
      username,
      password,
      ...(files && { tls: files }),
    };
  },
  create: (config, context) => createNacosSource(config, context),
  writer: async (config, context) => new (await import('./nacos/writer.ts')).NacosWriter(config, context),
};

/** The source of a transport (a chosen one, or one that chooses at start), with one set of TLS files for all its parts. */
async function createNacosSource(config: NacosSourceConfig, context: SourceContext): Promise<Source> {
  let tls: NacosTlsFiles | undefined;
  if (config.tls) {
    const { NacosTlsFiles } = await import('./nacos/tls.ts');
    tls = new NacosTlsFiles(config.tls, context.log);
  }
  if (config.transport !== 'auto') return createTransportSource(config, config.transport, context, tls);
  const { NacosAutoSource } = await import('./nacos/auto-source.ts');
  return new NacosAutoSource(config, { log: context.log, tls, create: (transport) => createTransportSource(config, transport, context, tls) });
}

/** The source of one transport, its module loaded now. */
async function createTransportSource(config: NacosSourceConfig, transport: 'grpc' | 'http', { log }: SourceContext, tls: NacosTlsFiles | undefined) {
  if (transport === 'http') {
    const { NacosHttpSource } = await import('./nacos/http-source.ts');
    return new NacosHttpSource({ ...config, transport }, { log, tls });
  }
  const { NacosGrpcSource } = await import('./nacos/grpc-source.ts');
  return new NacosGrpcSource({ ...config, transport }, { log, tls });
}
