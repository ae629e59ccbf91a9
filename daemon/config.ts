/**
 * Daemon configuration: flags and environment → a checked config. Credentials come from the
 * environment only (never from a URI), and never appear in logs or status pages.
 */
import { UsageError } from '../shared/errors.ts';
import { type HostPort, parseHostPort } from '../shared/net.ts';

/** A parsed `--source`. */
export type SourceConfig =
  | { kind: 'file'; uri: string; dir: string }
  | { kind: 'etcd'; uri: string; hosts: string[]; prefix: string; username?: string; password?: string }
  | {
      kind: 'nacos';
      uri: string;
      servers: string[];
      namespace: string;
      group: string;
      dataId: string;
      /** Service names whose instances are mirrored; `['*']` for all; empty for none. */
      services: string[];
      username?: string;
      password?: string;
    };

export interface DaemonConfig {
  sources: SourceConfig[];
  snapshot: string;
  status: HostPort;
  admin: HostPort;
}

const HOSTS = /^[A-Za-z0-9.-]+:\d{1,5}(,[A-Za-z0-9.-]+:\d{1,5})*$/;

/** Parses one `--source` URI. */
export function parseSourceUri(raw: string, env: NodeJS.ProcessEnv): SourceConfig {
  const bad = (why: string) => new UsageError(`--source: ${why}, got "${raw}"`);
  const m = /^([a-z]+):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?$/.exec(raw);
  if (!m) throw bad('expected file:///abs/dir, etcd://host:port[,host:port]?prefix=/p/ or nacos://host:port?...');
  const [, scheme, authority = '', path = '', query = ''] = m;
  if (authority.includes('@')) throw bad('credentials are not allowed in the URI (use DYELINE_ETCD_* / DYELINE_NACOS_* variables)');
  const params = new URLSearchParams(query);
  switch (scheme) {
    case 'file': {
      if (authority !== '' && authority !== 'localhost') throw bad('file URIs name a local absolute dir: file:///abs/dir');
      if (!path.startsWith('/')) throw bad('file URIs need an absolute path');
      const dir = decodeURIComponent(path).replace(/\/+$/, '') || '/';
      return { kind: 'file', uri: `file://${dir}`, dir };
    }
    case 'etcd': {
      if (!HOSTS.test(authority)) throw bad('etcd URIs need host:port[,host:port...]');
      for (const k of params.keys()) if (k !== 'prefix') throw bad(`unknown etcd parameter "${k}" (only prefix)`);
      let prefix = params.get('prefix') ?? '/dyeline/';
      if (!prefix.endsWith('/')) prefix += '/';
      return {
        kind: 'etcd',
        uri: `etcd://${authority}?prefix=${prefix}`,
        hosts: authority.split(','),
        prefix,
        username: env.DYELINE_ETCD_USERNAME || undefined,
        password: env.DYELINE_ETCD_PASSWORD || undefined,
      };
    }
    case 'nacos': {
      if (!HOSTS.test(authority)) throw bad('nacos URIs need host:port[,host:port...]');
      const known = new Set(['namespace', 'group', 'dataId', 'services']);
      for (const k of params.keys()) if (!known.has(k)) throw bad(`unknown nacos parameter "${k}" (namespace, group, dataId, services)`);
      const namespace = params.get('namespace') ?? '';
      const group = params.get('group') || 'DYELINE';
      const dataId = params.get('dataId') || 'dyeline-rules.yaml';
      const servicesRaw = params.get('services') ?? '*';
      // Nacos accepts only letters, digits and _ - . : in dataId and group (ParamUtils.isValid).
      for (const [k, v] of [['dataId', dataId], ['group', group]] as const) {
        if (!/^[A-Za-z0-9_.:-]+$/.test(v)) throw bad(`nacos ${k} "${v}" may hold only letters, digits and _ - . :`);
      }
      const services = servicesRaw.split(',').map((s) => s.trim()).filter(Boolean);
      const q = new URLSearchParams({ namespace, group, dataId, services: servicesRaw });
      return {
        kind: 'nacos',
        uri: `nacos://${authority}?${q.toString().replace(/%2C/g, ',').replace(/%2A/g, '*')}`,
        servers: authority.split(','),
        namespace,
        group,
        dataId,
        services,
        username: env.DYELINE_NACOS_USERNAME || undefined,
        password: env.DYELINE_NACOS_PASSWORD || undefined,
      };
    }
    default:
      throw bad(`unknown scheme "${scheme}" (file, etcd, nacos)`);
  }
}

/** Checks daemon flags; throws UsageError naming the bad flag. */
export function parseDaemonConfig(
  opts: { source: string[]; snapshot: string; status: string; admin: string },
  env: NodeJS.ProcessEnv,
): DaemonConfig {
  if (opts.source.length === 0) throw new UsageError('--source: at least one source URI is required (or DYELINE_SOURCE)');
  if (!opts.snapshot) throw new UsageError('--snapshot: expected a file path');
  return {
    sources: opts.source.map((s) => parseSourceUri(s, env)),
    snapshot: opts.snapshot,
    status: parseHostPort(opts.status, '--status'),
    admin: parseHostPort(opts.admin, '--admin'),
  };
}
