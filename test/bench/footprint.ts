/**
 * Where the memory of a dyeline process goes: module load accounting on the production bundle.
 * The bundle is built as `npm run build` builds it, plus a mark after every module's top-level
 * code; the process runs with a preload that, at each mark, collects garbage and reads the heap,
 * so the heap each module's evaluation leaves behind is attributed to it (in load order: a
 * module's imports are marked before it). The report is taken `seconds` after the last mark. Totals by package, then the process as a whole:
 * V8 heap by space, external memory (the source text of each loaded file is an external string), RSS split
 * into anonymous memory and file pages (the node binary).
 *
 *   node test/bench/footprint.ts [agent|daemon] [seconds=3] [top=25]
 *
 * Run as the image runs it (its node flags). agent: `dyeline agent` on a two-instance snapshot,
 * tracing on (OTLP to a closed port), access log off, NODE_OPTIONS as `dyeline inject` sets it;
 * daemon: `dyeline daemon` on the demo's rule files, NODE_OPTIONS as the DaemonSet sets it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { AGENT_NODE_OPTIONS, DAEMON_NODE_OPTIONS, IMAGE_ENV } from '../../deploy/node-options.ts';
import { IMAGE_NODE_FLAGS, buildOptions } from '../../scripts/build.ts';
import { instance, lane, service, snapshotText } from '../support/snapshot-builder.ts';
import { machine } from './machine.ts';
import { report, table } from './report.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const [what = 'agent', secondsArg = '3', topArg = '25'] = process.argv.slice(2);

/** Appends a mark to every JavaScript/TypeScript module the other plugins do not load themselves. */
const marks: esbuild.Plugin = {
  name: 'footprint-marks',
  setup(build) {
    build.onLoad({ filter: /\.(c|m)?[jt]s$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const loader = args.path.endsWith('.ts') ? 'ts' : 'js';
      return { contents: `${text}\n;globalThis.__footprintMark?.(${JSON.stringify(relative(ROOT, args.path))});\n`, loader };
    });
  },
};

/** The preload: a mark collects garbage and records the heap; the report is written after `seconds`. */
const PRELOAD = `
import { readFileSync, writeFileSync } from 'node:fs';
import v8 from 'node:v8';
const marks = [];
const heap = () => { globalThis.gc(); return process.memoryUsage(); };
let timer;
const later = () => { clearTimeout(timer); timer = setTimeout(write, Number(process.env.FOOTPRINT_SECONDS) * 1000); timer.unref(); };
marks.push(['(node start)', heap().heapUsed]);
globalThis.__footprintMark = (id) => { marks.push([id, heap().heapUsed]); later(); };
later();
function write() {
  const m = heap();
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (k) => Number(new RegExp(k + ':\\\\s+(\\\\d+)').exec(status)?.[1]) * 1024;
  writeFileSync(process.env.FOOTPRINT_OUT, JSON.stringify({
    marks, memory: m, rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'),
    spaces: v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size, s.physical_space_size]),
    code: v8.getHeapCodeStatistics(),
  }));
}
`;

interface Report {
  marks: [string, number][];
  memory: NodeJS.MemoryUsage;
  rss: number;
  anon: number;
  file: number;
  spaces: [string, number, number][];
  code: { code_and_metadata_size: number; bytecode_and_metadata_size: number; external_script_source_size: number };
}

/** node_modules/@scope/name/… → @scope/name; agent/x/y.ts → agent/x; cli/z.ts → cli. */
function owner(id: string): string {
  const nm = id.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = id.slice(nm + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const parts = id.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

const MiB = (b: number) => (b / 2 ** 20).toFixed(1);
const dir = await mkdtemp(join(tmpdir(), 'dyeline-footprint-'));
try {
  const opts = buildOptions(dir);
  // A first mark in the banner of the entry and of each chunk: what compiling a file's top level
  // costs, before any of its modules runs.
  const banner = { js: `${opts.banner?.js ?? ''}\nglobalThis.__footprintMark?.('(the bundle, compiled)');` };
  const built = await esbuild.build({ ...opts, banner, plugins: [...(opts.plugins ?? []), marks], sourcemap: false, legalComments: 'none', logLevel: 'error' });
  const code = Object.entries(built.metafile!.outputs).filter(([f]) => f.endsWith('.mjs'));
  const entry = join(dir, 'dyeline.mjs');
  await writeFile(join(dir, 'preload.mjs'), PRELOAD);
  const out = join(dir, 'report.json');
  let args: string[];
  let nodeOptions = '';
  if (what === 'agent') {
    const snap = join(dir, 'snapshot.json');
    await writeFile(snap, snapshotText([lane('canary'), service('echo'), instance('e1', 'echo', '127.0.0.1', { port: 9 }), instance('e2', 'echo', '127.0.0.1', { port: 9, color: 'canary' })]));
    args = ['agent', '--service', 'bench', '--snapshot', snap, '--outbound', '127.0.0.1:0', '--status', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--access-log', 'false'];
    nodeOptions = AGENT_NODE_OPTIONS;
  } else {
    args = ['daemon', '--source', `file://${join(ROOT, 'deploy/local/rules')}`, '--snapshot', join(dir, 'run/snapshot.json'), '--status', '127.0.0.1:0', '--admin', '127.0.0.1:0'];
    nodeOptions = DAEMON_NODE_OPTIONS;
  }
  const child = spawn(process.execPath, [...IMAGE_NODE_FLAGS, '--expose-gc', '--import', join(dir, 'preload.mjs'), entry, ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      ...IMAGE_ENV,
      NODE_OPTIONS: nodeOptions,
      FOOTPRINT_OUT: out,
      FOOTPRINT_SECONDS: secondsArg,
      DYELINE_LOG_LEVEL: 'warn',
      ...(what === 'agent' ? { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' } : {}),
    },
  });
  const deadline = Date.now() + 60_000;
  while (!existsSync(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 200));
  child.kill('SIGKILL');
  const rep = JSON.parse(await readFile(out, 'utf8')) as Report;

  const byOwner = new Map<string, { bytes: number; modules: number }>();
  for (let i = 1; i < rep.marks.length; i++) {
    const [id, heap] = rep.marks[i]!;
    const o = owner(id);
    const e = byOwner.get(o) ?? { bytes: 0, modules: 0 };
    e.bytes += heap - rep.marks[i - 1]![1];
    e.modules++;
    byOwner.set(o, e);
  }
  const first = rep.marks[0]![1];
  const last = rep.marks.at(-1)![1];
  console.log(`machine: ${machine()}`);
  const files = rep.marks.filter(([id]) => id === '(the bundle, compiled)').length;
  console.log(`dyeline ${what} from the production bundle (${code.length} files, ${MiB(code.reduce((n, [, o]) => n + o.bytes, 0))} MiB with marks): ${files} files loaded, ${rep.marks.length - files} modules evaluated, after ${secondsArg} s:\n`);
  console.log(`RSS ${MiB(rep.rss)} MiB = anonymous ${MiB(rep.anon)} + file pages ${MiB(rep.file)} (the node binary and shared libraries)`);
  console.log(`V8 heap used ${MiB(rep.memory.heapUsed)} of ${MiB(rep.memory.heapTotal)} MiB committed; external ${MiB(rep.memory.external)} MiB (script sources ${MiB(rep.code.external_script_source_size)}); bytecode ${MiB(rep.code.bytecode_and_metadata_size)}, code ${MiB(rep.code.code_and_metadata_size)} MiB`);
  console.log(`heap spaces (used / committed MiB): ${rep.spaces.filter(([, , p]) => p > 0).map(([n, u, p]) => `${n.replace(/_space$/, '')} ${MiB(u)}/${MiB(p)}`).join(', ')}`);
  console.log(`heap after GC: ${MiB(first)} MiB before the first module, ${MiB(last)} MiB after the last; ${MiB(rep.memory.heapUsed - last)} MiB more at the end (state built at run time)\n`);
  const top = [...byOwner].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, Number(topArg));
  console.log('heap retained by module evaluation, by package (MiB, modules):');
  for (const [o, e] of top) console.log(`  ${MiB(e.bytes).padStart(6)}  ${String(e.modules).padStart(4)}  ${o}`);
  const v8Heap = rep.spaces.reduce((n, [, , p]) => n + p, 0);
  report(`## Where the memory of the ${what} goes

\`test/bench/footprint.ts ${what} ${secondsArg} ${topArg}\`: the ${what} from the production bundle, idle ${secondsArg} s after its last module loaded${what === 'agent' ? ' (tracing on, access log off, as injected)' : ' (file source, the demo rules)'}. Analysis in [docs/footprint.md](docs/footprint.md).

${table(
  ['part', 'MiB'],
  [
    ['RSS', MiB(rep.rss)],
    ['… file pages (the node binary, shared by every process that runs it)', MiB(rep.file)],
    ['… anonymous (this process alone)', MiB(rep.anon)],
    ['V8 heap committed (of which used)', `${MiB(v8Heap)} (${MiB(rep.memory.heapUsed)})`],
    ['external: script sources (the bundle, Node\'s own modules)', MiB(rep.code.external_script_source_size)],
    [`V8 heap of Node before the first module`, MiB(first)],
  ],
)}

Heap left behind by each package's module evaluation (after GC, in load order), the largest:

${table(
  ['package', 'MiB', 'modules'],
  top.map(([o, e]) => [o, MiB(e.bytes), String(e.modules)]),
)}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
