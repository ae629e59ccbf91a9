/**
 * `--source` URIs, split once for every kind (`scheme://authority/path?query`), and the checks
 * kinds share: a host list, known query parameters, credentials from the environment.
 */
import { UsageError } from '../../shared/errors.ts';
import { SOURCE_SCHEME } from '../../shared/schema/kinds.ts';
import type { SourceCredentials, SourceUri } from './source.ts';

const URI = /^([^:/?#]+):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?$/;
const HOSTS = /^[A-Za-z0-9.-]+:\d{1,5}(,[A-Za-z0-9.-]+:\d{1,5})*$/;

/** Splits `scheme://authority/path?query`; undefined when `raw` is not of that shape. */
export function splitSourceUri(raw: string): SourceUri | undefined {
  const m = URI.exec(raw);
  if (!m || !SOURCE_SCHEME.test(m[1]!)) return undefined;
  const [, scheme = '', authority = '', path = '', query = ''] = m;
  return { raw, scheme, authority, path, params: new URLSearchParams(query) };
}

/** The error for a bad `--source` value: names the flag, the problem and the value. */
export function badSourceUri(uri: Pick<SourceUri, 'raw'>, why: string): UsageError {
  return new UsageError(`--source: ${why}, got "${uri.raw}"`);
}

/** Throws a UsageError for a query parameter not in `known`. */
export function onlyParams(uri: SourceUri, known: readonly string[]): void {
  const allowed = known.length === 0 ? 'it takes none' : known.length === 1 ? `only ${known[0]}` : known.join(', ');
  for (const k of uri.params.keys()) if (!known.includes(k)) throw badSourceUri(uri, `unknown ${uri.scheme} parameter "${k}" (${allowed})`);
}

/** `tls=true|false` of a server URI (default false): whether to connect over TLS. */
export function tlsParam(uri: SourceUri): boolean {
  const v = uri.params.get('tls');
  if (v === null || v === 'false') return false;
  if (v === 'true') return true;
  throw badSourceUri(uri, `${uri.scheme} parameter tls must be true or false`);
}

/** A user name and password from `<prefix>_USERNAME` / `<prefix>_PASSWORD`, kept in the config's `username` / `password`. */
export interface UserCredentials extends SourceCredentials {
  read(env: NodeJS.ProcessEnv): { username?: string; password?: string };
}

export function userCredentials(prefix: string): UserCredentials {
  const [user, pass] = [`${prefix}_USERNAME`, `${prefix}_PASSWORD`];
  return { env: [user, pass], fields: ['username', 'password'], read: (env) => ({ username: env[user] || undefined, password: env[pass] || undefined }) };
}

/**
 * A server kind's URI, `scheme://host:port[,host:port...]?…`: its hosts, its parameters (only
 * `known` ones) and its credentials from the environment; a UsageError for anything else.
 */
export function serverUri(
  uri: SourceUri,
  env: NodeJS.ProcessEnv,
  known: readonly string[],
  credentials: UserCredentials,
): { hosts: string[]; params: URLSearchParams; username?: string; password?: string } {
  if (!HOSTS.test(uri.authority)) throw badSourceUri(uri, `${uri.scheme} URIs need host:port[,host:port...]`);
  onlyParams(uri, known);
  return { hosts: uri.authority.split(','), params: uri.params, ...credentials.read(env) };
}
