/**
 * TLS material named by environment variables (docs/reference.md#daemon): a CA bundle to verify
 * the server with (absent: the system's roots) and an optional client certificate and key. The
 * files are read at start and re-read when they change (shared/watched-files.ts), so rotated
 * certificates are used without a restart; a new set that does not load (a key that does not
 * match its certificate yet) is refused and the previous one stays.
 *
 * `node:tls` is loaded on first use, not with this module: loading it starts parsing Node's
 * bundled root certificates on a thread of their own, ~2 MiB a daemon without TLS sources
 * would keep (docs/footprint.md#the-daemon).
 */
import { errorMessage, UsageError } from './errors.ts';
import type { Logger } from './log.ts';
import { watchFiles } from './watched-files.ts';

/** The files, by path (each optional). */
export interface TlsFileNames {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** Their contents. */
export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** TLS material kept current. */
export interface WatchedTls {
  current(): TlsMaterial;
  close(): void;
}

/**
 * Reads the TLS file names of a source from the environment: `<PREFIX>_CA_FILE`, and, when
 * `clientCert`, `<PREFIX>_CERT_FILE` and `<PREFIX>_KEY_FILE` (both or neither).
 */
export function tlsFileNames(env: NodeJS.ProcessEnv, prefix: string, clientCert: boolean): TlsFileNames {
  const get = (name: string) => env[`${prefix}_${name}`]?.trim() || undefined;
  const names: TlsFileNames = { caFile: get('CA_FILE') };
  if (clientCert) {
    names.certFile = get('CERT_FILE');
    names.keyFile = get('KEY_FILE');
    if ((names.certFile === undefined) !== (names.keyFile === undefined)) {
      throw new UsageError(`${prefix}_CERT_FILE and ${prefix}_KEY_FILE: set both (a client certificate and its key) or neither`);
    }
  }
  return names;
}

/** Throws when the material does not load (bad PEM, a key that does not match its certificate). */
export function checkTls(m: TlsMaterial): void {
  process.getBuiltinModule('node:tls').createSecureContext({ ca: m.ca, cert: m.cert, key: m.key });
}

/**
 * Reads the named files (throws when one cannot be read or they do not load together) and
 * calls `onChange` with the new material whenever they change and load.
 */
export async function watchTls(names: TlsFileNames, log: Logger, onChange: (m: TlsMaterial) => void): Promise<WatchedTls> {
  const fields = (['caFile', 'certFile', 'keyFile'] as const).filter((f) => names[f] !== undefined);
  const toMaterial = (contents: Buffer[]): TlsMaterial => {
    const m: TlsMaterial = {};
    fields.forEach((f, i) => (m[f === 'caFile' ? 'ca' : f === 'certFile' ? 'cert' : 'key'] = contents[i]));
    return m;
  };
  if (fields.length === 0) return { current: () => ({}), close() {} };
  let material: TlsMaterial | undefined;
  const files = await watchFiles(
    fields.map((f) => names[f]!),
    {
      onChange: (contents) => {
        const next = toMaterial(contents);
        checkTls(next);
        material = next;
        log.info({ files: fields.map((f) => names[f]) }, 'TLS files reloaded');
        onChange(next);
        return true;
      },
      onError: (err) => log.warn({ err: errorMessage(err) }, 'TLS files not (re)loaded; the previous ones stay in use'),
    },
  );
  material = toMaterial(files.current());
  try {
    checkTls(material);
  } catch (err) {
    files.close();
    throw err;
  }
  return { current: () => material!, close: () => files.close() };
}
