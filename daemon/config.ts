/**
 * Daemon configuration: flags and environment → a checked config. Each `--source` is read by
 * the kind its scheme names (sources/registry.ts). Credentials come from the environment only
 * (never from a URI), and never appear in logs or status pages.
 */
import { UsageError } from '../shared/errors.ts';
import { type HostPort, parseHostPort } from '../shared/net.ts';
import { sourceKind, sourceKinds } from './sources/registry.ts';
import type { SourceConfig } from './sources/source.ts';
import { badSourceUri, splitSourceUri } from './sources/uri.ts';

export interface DaemonConfig {
  sources: SourceConfig[];
  snapshot: string;
  status: HostPort;
  admin: HostPort;
}

/** Parses one `--source` URI with the kind its scheme names. */
export function parseSourceUri(raw: string, env: NodeJS.ProcessEnv): SourceConfig {
  const uri = splitSourceUri(raw);
  if (!uri) throw badSourceUri({ raw }, `expected ${sourceKinds().map((k) => k.usage).join(', ')}`);
  const kind = sourceKind(uri.scheme);
  if (uri.authority.includes('@')) {
    const from = kind?.credentials?.env.join(' / ') ?? 'environment variables';
    // The error names the URI without the credentials it must not carry.
    throw badSourceUri({ raw: raw.replace(/\/\/[^/?#]*@/, '//[redacted]@') }, `credentials are not allowed in the URI (use ${from})`);
  }
  if (!kind) throw badSourceUri(uri, `unknown scheme "${uri.scheme}" (${sourceKinds().map((k) => k.scheme).join(', ')})`);
  return kind.parseUri(uri, env);
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
