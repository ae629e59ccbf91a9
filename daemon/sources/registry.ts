/**
 * The source kinds the daemon knows, by URI scheme. `--source` parsing, `--help`, log redaction
 * and source creation all read this list: a new kind is one module and one line in BUILT_IN
 * (docs/sources.md#adding-a-source-kind).
 */
import { type Logger, secretPathsIn } from '../../shared/log.ts';
import { SOURCE_SCHEME } from '../../shared/schema/kinds.ts';
import { etcdSource } from './etcd.ts';
import { fileSource } from './file.ts';
import { nacosSource } from './nacos.ts';
import type { Source, SourceConfig, SourceKind } from './source.ts';

const BUILT_IN: readonly SourceKind[] = [fileSource, etcdSource, nacosSource];

const kinds = new Map<string, SourceKind>();
for (const kind of BUILT_IN) registerSourceKind(kind);

/** Adds a kind (built-in ones above; tests add their own). Its scheme must be new. */
export function registerSourceKind(kind: SourceKind): void {
  if (!SOURCE_SCHEME.test(kind.scheme)) throw new Error(`source scheme "${kind.scheme}" is not a URI scheme`);
  if (kinds.has(kind.scheme)) throw new Error(`source scheme "${kind.scheme}" is already registered`);
  kinds.set(kind.scheme, kind);
}

/** The kind of a scheme, if registered. */
export function sourceKind(scheme: string): SourceKind | undefined {
  return kinds.get(scheme);
}

/** Every registered kind, in registration order. */
export function sourceKinds(): SourceKind[] {
  return [...kinds.values()];
}

/** Creates the source of a parsed `--source`, its log lines bound to its URI. */
export async function createSource(config: SourceConfig, log: Logger): Promise<Source> {
  const kind = kinds.get(config.kind);
  if (!kind) throw new Error(`no source kind "${config.kind}" is registered`);
  return kind.create(config, { log: log.child({ source: config.uri }) });
}

/** Log paths the daemon censors for its kinds: the usual secret names and each kind's credential fields, under its scheme. */
export function sourceSecretPaths(): string[] {
  return sourceKinds().flatMap((k) => secretPathsIn(k.scheme, k.credentials?.fields));
}
