/**
 * `npm run build`: the production entry `dist/dyeline.mjs` — the `dyeline` CLI with every
 * subcommand and every dependency in one ES module (esbuild), run by plain Node 24 with no type
 * stripping. How the few things that are not plain imports are carried (docs/footprint.md#the-build):
 *
 * - files read at run time are embedded at build time: etcd3's gRPC `.proto` files become a
 *   protobuf JSON descriptor (`@grpc/proto-loader` `fromJSON` in place of `loadSync` of a path),
 *   and the demo's rule files become a module (deploy/local/rules.ts);
 * - modules the sources load on demand, by `import()` or `createRequire(import.meta.url)(path)`,
 *   are bundled as modules initialised on first use;
 * - CommonJS packages that `require()` Node built-ins get a real `require` (createRequire);
 * - there are no native addons among the runtime dependencies; the build fails if one appears.
 *
 *   node scripts/build.ts [--outdir DIR] [--analyze]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRequire, isBuiltin } from 'node:module';
import * as esbuild from 'esbuild';
import type * as Protobuf from 'protobufjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** etcd3 reads `proto/rpc.proto` next to its own file at load time; the bundle carries it as JSON. */
function etcdProtos(): esbuild.Plugin {
  return {
    name: 'etcd3-protos',
    setup(build) {
      build.onLoad({ filter: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, (args) => {
        const src = readFileSync(args.path, 'utf8');
        const call = /\(0, proto_loader_1\.loadSync\)\(`\$\{__dirname\}\/\.\.\/proto\/rpc\.proto`, (\{[^}]*\})\)/;
        const m = call.exec(src);
        if (!m) throw new Error(`etcd3: the loadSync call of ${args.path} changed; update scripts/build.ts`);
        // protobufjs as etcd3's proto-loader resolves it, with the parse option etcd3 passes
        // (keepCase changes field names at parse time).
        const loader = createRequire(args.path).resolve('@grpc/proto-loader');
        const protobuf = createRequire(loader)('protobufjs') as typeof Protobuf;
        const root = new protobuf.Root().loadSync(join(args.path, '../../proto/rpc.proto'), { keepCase: true });
        const json = JSON.stringify(root.toJSON());
        return { contents: src.replace(call, `(0, proto_loader_1.fromJSON)(${json}, $1)`), loader: 'js' };
      });
    },
  };
}

/** deploy/local/rules.ts reads deploy/local/rules/ from the checkout; the bundle embeds the files. */
function demoRules(): esbuild.Plugin {
  return {
    name: 'demo-rules',
    setup(build) {
      build.onLoad({ filter: /[\\/]deploy[\\/]local[\\/]rules\.ts$/ }, (args) => {
        const dir = join(args.path, '../rules');
        const files = Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
        return {
          contents: `/** The demo's rule files, embedded by scripts/build.ts. */\nexport async function demoRuleFiles() { return ${JSON.stringify(files)}; }\n`,
          loader: 'js',
        };
      });
    },
  };
}

/**
 * The sources load a few modules synchronously on demand with `createRequire(import.meta.url)(path)`
 * (Node 24 requires ES modules); the bundle turns each into a plain `require(path)`, which esbuild
 * bundles as a module initialised on first use — still loaded only when that code runs.
 */
function lazyRequires(): esbuild.Plugin {
  const call = 'createRequire(import.meta.url)(';
  return {
    name: 'lazy-requires',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, (args) => {
        if (args.path.includes('/node_modules/')) return undefined;
        const text = readFileSync(args.path, 'utf8');
        if (!text.includes(call)) return undefined;
        return { contents: text.replaceAll(call, 'require('), loader: 'ts' };
      });
      // A package of SEPARATE_FILES is not bundled into the chunk that requires it: that chunk
      // requires the package's own file, `chunks/<name>.mjs`, when the code first runs.
      const names = Object.keys(SEPARATE_FILES);
      build.onResolve({ filter: new RegExp(`^(${names.join('|')})$`) }, (args) =>
        args.kind === 'require-call' && !args.importer.includes('/node_modules/') ? { path: `./${args.path}.mjs`, external: true } : undefined,
      );
    },
  };
}

/**
 * Packages the sources require on first use that the build makes a file of their own
 * (`chunks/<name>.mjs`, Node 24 requires an ES module synchronously), instead of a module of the
 * chunk that requires them: a module initialised on first use still has its source read, parsed
 * and kept with its chunk. re2js (dye matchers' regular expressions, 0.2 MiB of source, ~0.7 MiB
 * resident) is read only when a rule has a regex (docs/footprint.md#the-build). Name → the file
 * the package's ES module build starts from.
 */
export const SEPARATE_FILES: Readonly<Record<string, string>> = { re2js: fileURLToPath(import.meta.resolve('re2js')) };

/** How the bundle names the files of {@link SEPARATE_FILES}: `./<name>.mjs`, beside the chunk that requires them. */
const SEPARATE_FILE_PATHS: ReadonlySet<string> = new Set(Object.keys(SEPARATE_FILES).map((n) => `./${n}.mjs`));

/**
 * Outputs that must be in `chunks/` for a file of {@link SEPARATE_FILES} to be found but are not:
 * the bundle requires it as `./<name>.mjs` through esbuild's `__require`, whose `require` is that
 * of the file that defines it (the banner's createRequire of its own URL).
 */
export function separateFilesMisplaced(meta: esbuild.Metafile, outdir: string): string[] {
  if (!Object.values(meta.outputs).some((o) => o.imports.some((i) => i.external && SEPARATE_FILE_PATHS.has(i.path)))) return [];
  const chunks = join(outdir, 'chunks');
  return Object.keys(meta.outputs)
    .filter((file) => file.endsWith('.mjs') && readFileSync(join(ROOT, file), 'utf8').includes('__require=') && dirname(join(ROOT, file)) !== chunks)
    .sort();
}

/**
 * undici's Client requires its HTTP/2 connection code, and with it `node:http2` (and `node:tls`),
 * when it is loaded, though it runs only on a connection that negotiated h2 by ALPN — never for
 * the agent's plain HTTP/1.1 pools. The bundle requires it on the first such connection instead:
 * the same function, called with the same arguments (docs/footprint.md#the-build).
 */
export function lazyUndiciH2(): esbuild.Plugin {
  const eager = "const connectH2 = require('./client-h2.js')";
  return {
    name: 'lazy-undici-h2',
    setup(build) {
      build.onLoad({ filter: /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client\.js$/ }, (args) => {
        const src = readFileSync(args.path, 'utf8');
        if (src.split(eager).length !== 2 || src.split('connectH2').length !== 3) throw new Error(`undici: how ${args.path} loads client-h2.js changed; update scripts/build.ts`);
        return { contents: src.replace(eager, "const connectH2 = (client, socket) => require('./client-h2.js')(client, socket)"), loader: 'js' };
      });
    },
  };
}

/**
 * Node built-ins are taken with `require()`, as CommonJS code takes them, not with `import`: an
 * ES module import of `node:http` builds its namespace by reading every export, and one of them
 * is a lazy getter that loads Node's own copy of undici (~2 MiB resident) — `require` leaves it
 * unread (docs/footprint.md#the-build). A dynamic `import()` of a built-in (the OTLP exporter's
 * `import('http')` on its first export: +5 MiB, `node:tls`, `node:http2` and web streams) gets
 * a module that requires it and exports its data properties by name, its accessors only through
 * `default`, so that no lazy getter runs.
 */
export function builtinsAsRequire(): esbuild.Plugin {
  return {
    name: 'builtins-as-require',
    setup(build) {
      build.onResolve({ filter: /^[a-z_:/]+$/ }, (args) => {
        if (!isBuiltin(args.path) || args.path === 'node:module') return undefined;
        const lazy = args.namespace !== 'builtin-lazy' && LAZY_BUILTINS.has(args.path.replace(/^node:/, ''));
        if (lazy && (args.kind === 'import-statement' || args.kind === 'require-call')) return { path: args.path, namespace: 'builtin-lazy' };
        if (args.kind === 'import-statement') return { path: args.path, namespace: 'builtin' };
        if (args.kind === 'dynamic-import') return { path: args.path, namespace: 'builtin-dynamic' };
        return undefined;
      });
      build.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
      build.onLoad({ filter: /.*/, namespace: 'builtin-dynamic' }, (args) => ({ contents: builtinNamespace(args.path), loader: 'js' }));
      build.onLoad({ filter: /.*/, namespace: 'builtin-lazy' }, (args) => ({ contents: lazyBuiltin(args.path), loader: 'js' }));
    },
  };
}

/**
 * Built-ins that code the agent loads imports at its top but calls only on paths the agent never
 * takes; the bundle requires them on the first use of one of their exports instead
 * (docs/footprint.md#the-build). `zlib`: undici's fetch and the OTLP exporter's gzip compression
 * (off unless OTEL_EXPORTER_OTLP_COMPRESSION=gzip). `fs/promises` (and with it Node's readline):
 * the daemon's and the CLI's file work; the agent reads its files through `node:fs`
 * (shared/fs-read.ts). Together 0.6 MiB resident in an idle agent.
 */
export const LAZY_BUILTINS: ReadonlySet<string> = new Set(['zlib', 'fs/promises']);

/**
 * The module {@link builtinsAsRequire} gives an import or require of a {@link LAZY_BUILTINS}
 * built-in: an object with the built-in's export names (as this Node has them) whose getters
 * require it on first use.
 */
function lazyBuiltin(name: string): string {
  const names = Object.keys(process.getBuiltinModule(name) as object).filter((n) => n !== 'default');
  return [
    'let m;',
    `const load = () => (m ??= require(${JSON.stringify(name)}));`,
    `for (const k of ${JSON.stringify(names)}) Object.defineProperty(module.exports, k, { enumerable: true, get: () => load()[k] });`,
    '',
  ].join('\n');
}

/** The module {@link builtinsAsRequire} gives a dynamic import of the built-in `name`. */
function builtinNamespace(name: string): string {
  const descriptors = Object.getOwnPropertyDescriptors(process.getBuiltinModule(name) as object);
  const names = Object.keys(descriptors).filter((n) => 'value' in descriptors[n]! && n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n));
  return `const m = require(${JSON.stringify(name)});\nexport default m;\nexport const { ${names.join(', ')} } = m;\n`;
}

/** Fails the build on a native addon: the entry must run wherever Node 24 runs. */
function noNativeAddons(): esbuild.Plugin {
  return {
    name: 'no-native-addons',
    setup(build) {
      build.onResolve({ filter: /\.node$/ }, (args) => ({ errors: [{ text: `native addon ${args.path} (imported by ${args.importer}) cannot be bundled` }] }));
    },
  };
}

/**
 * Node flags the image runs the entry with (Dockerfile ENTRYPOINT; benches run dist the same way).
 * `--single-threaded`: V8 compiles and collects garbage on the main thread instead of a pool of
 * background threads, whose own malloc arenas kept ~40 MiB more resident under load
 * (docs/footprint.md#v8-flags). Not allowed in NODE_OPTIONS, hence a command-line flag.
 * `--preserve-symlinks`: Node's ES module loader resolves each of the ~200 imports between the
 * bundle's files without taking the real path of the file and turning it back into a URL, whose
 * path normalisation loop otherwise gets hot enough at start-up for V8's optimising compiler
 * from any directory longer than 6 characters (`/app` is 4): 5–6 MiB more of the node binary
 * resident in an idle process (docs/footprint.md#start-up-and-the-install-directory). The image
 * holds no symbolic links, so what it loads is the same.
 * `--no-incremental-marking --no-allocation-site-pretenuring`: under saturation held for more than
 * a few seconds, V8 otherwise fills its old generation with request garbage — objects from
 * allocation sites it decided to pretenure (an in-flight request outlives a scavenge of the 1 MiB
 * young generation), and everything allocated while an incremental mark runs — to ~60 MB before
 * each mark-compact; with both off, the old generation holds 8–16 MB for the first half minute
 * and the agent's peak RSS over 25 s at 32 connections is 94–100 MiB instead of 135–143, with
 * requests/s and CPU per request no worse side by side (with `--single-threaded` the marking ran
 * on the main thread anyway). The price: a reload of a very large snapshot (10,000 services)
 * under traffic stalls requests 0.1–0.4 s longer, its mark-compacts one pause each
 * (docs/footprint.md#v8-flags, test/bench/reload-stall.ts).
 */
export const IMAGE_GC_FLAGS = ['--no-incremental-marking', '--no-allocation-site-pretenuring'];
export const IMAGE_V8_FLAGS = ['--single-threaded', ...IMAGE_GC_FLAGS];
export const IMAGE_NODE_FLAGS = [...IMAGE_V8_FLAGS, '--preserve-symlinks'];

/**
 * Optional packages the dependencies try to `require()` and that are not installed: left as a
 * run-time require that fails as it does from node_modules, and is handled there — mz falls back
 * to `fs` when graceful-fs is missing; urllib wants proxy-agent only behind URLLIB_ENABLE_PROXY,
 * which dyeline never sets. Any other import that is not a Node built-in fails the build.
 */
export const ABSENT_OPTIONAL = ['graceful-fs', 'proxy-agent'];

/**
 * Packages the sources load with `import()` that esbuild can only give as a default export: a
 * CommonJS package imported dynamically becomes a chunk whose one export is `default`, so its named
 * exports are undefined in the split build while they work from node_modules. Such a package is
 * imported through an ES module of ours that re-exports its names (daemon/sources/etcd-client.ts).
 */
export function commonJsImportedDynamically(meta: esbuild.Metafile): string[] {
  const out: string[] = [];
  for (const o of Object.values(meta.outputs)) {
    if (o.entryPoint?.includes('node_modules/') && o.exports.length === 1 && o.exports[0] === 'default' && !o.entryPoint.endsWith('.mjs')) out.push(o.entryPoint);
  }
  return out.sort();
}

/** Imports the bundle leaves to run time that are neither Node built-ins, {@link ABSENT_OPTIONAL} nor {@link SEPARATE_FILES}. */
export function unexpectedExternals(meta: esbuild.Metafile): string[] {
  const out = new Set<string>();
  for (const o of Object.values(meta.outputs))
    for (const i of o.imports) if (i.external && !isBuiltin(i.path) && !ABSENT_OPTIONAL.includes(i.path) && !SEPARATE_FILE_PATHS.has(i.path)) out.add(i.path);
  return [...out].sort();
}

/**
 * How a Node program is bundled into one ES module: Node 24, whitespace and syntax minified
 * (comments and non-ASCII escapes gone, so V8 keeps the source as one byte a character), names
 * kept, and a real `require` for the CommonJS code that requires Node built-ins. Also used for
 * the benchmarks' Node peers (test/bench/peers.ts), so that every Node process compared is built alike.
 */
export function bundleOptions(entryPoints: Record<string, string>, outdir: string): esbuild.BuildOptions {
  return {
    absWorkingDir: ROOT,
    entryPoints,
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    // ES module builds where a package has one (tree-shaken), CommonJS otherwise.
    mainFields: ['module', 'main'],
    minifySyntax: true,
    minifyWhitespace: true,
    keepNames: true,
    logLevel: 'warning',
    banner: { js: "import { createRequire as __dyelineCreateRequire } from 'node:module';\nconst require = __dyelineCreateRequire(import.meta.url);" },
  };
}

/** The build options of the production entry. */
export function buildOptions(outdir: string): esbuild.BuildOptions {
  const separate = Object.fromEntries(Object.entries(SEPARATE_FILES).map(([name, file]) => [`chunks/${name}`, file]));
  const common = bundleOptions({ dyeline: join(ROOT, 'cli/main.ts'), ...separate }, outdir);
  return {
    ...common,
    legalComments: 'linked',
    sourcemap: 'linked',
    metafile: true,
    // What a subcommand loads with import() (and what only that code shares) becomes a chunk of its
    // own, read when that code first runs: an agent holds none of the daemon's etcd, gRPC or Nacos
    // source, nor zod (docs/footprint.md#the-build).
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    banner: {
      js: `#!/usr/bin/env node\n// dyeline: the production entry, built from the TypeScript sources by scripts/build.ts (npm run build).\n${common.banner!.js}`,
    },
    external: ['proxy-agent'],
    plugins: [etcdProtos(), demoRules(), lazyUndiciH2(), lazyRequires(), builtinsAsRequire(), noNativeAddons()],
  };
}

/**
 * Files the build puts next to the bundle as they are: the zero-code propagation preload, one
 * self-contained module with no dependencies that `dyeline inject` copies from the image into
 * Node app pods. Output name → source path.
 */
export const COPIED: Readonly<Record<string, string>> = { 'propagate.mjs': 'propagate/propagate.mjs' };

if (import.meta.main) {
  const { values } = parseArgs({ options: { outdir: { type: 'string', default: join(ROOT, 'dist') }, analyze: { type: 'boolean', default: false } } });
  const outdir = values.outdir!;
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const result = await esbuild.build(buildOptions(outdir));
  const unexpected = unexpectedExternals(result.metafile!);
  if (unexpected.length > 0) {
    process.stderr.write(`build: the bundle would import ${unexpected.join(', ')} at run time (not bundled, not a Node built-in)\n`);
    process.exit(1);
  }
  const misplaced = separateFilesMisplaced(result.metafile!, outdir);
  if (misplaced.length > 0) {
    process.stderr.write(`build: ${misplaced.join(', ')} define(s) the bundle's require, which finds ${Object.keys(SEPARATE_FILES).join(', ')} as ./<name>.mjs in chunks/, but not in chunks/\n`);
    process.exit(1);
  }
  const commonJs = commonJsImportedDynamically(result.metafile!);
  if (commonJs.length > 0) {
    process.stderr.write(`build: import() of CommonJS ${commonJs.join(', ')}: its named exports would be undefined in the split build; import() an ES module that re-exports them\n`);
    process.exit(1);
  }
  await writeFile(join(outdir, 'meta.json'), JSON.stringify(result.metafile));
  for (const [name, source] of Object.entries(COPIED)) await copyFile(join(ROOT, source), join(outdir, name));
  const code = Object.entries(result.metafile!.outputs).filter(([f]) => f.endsWith('.mjs'));
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  const entry = result.metafile!.outputs[relative(ROOT, join(outdir, 'dyeline.mjs'))]?.bytes ?? 0;
  const total = code.reduce((n, [, o]) => n + o.bytes, 0);
  process.stderr.write(`built ${relative(process.cwd(), join(outdir, 'dyeline.mjs'))} (${mib(entry)} MiB) and ${code.length - 1} chunks (${mib(total)} MiB in all), ${Object.keys(result.metafile!.inputs).length} modules\n`);
  if (values.analyze) process.stdout.write(await esbuild.analyzeMetafile(result.metafile!, { verbose: false }));
}
