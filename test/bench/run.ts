/**
 * `npm run bench`: provisions the peers the benchmarks need (wrk, nginx, HAProxy, etcd — found,
 * or installed with apt-get when missing and running as root, by scripts/ensure-debian.sh;
 * otherwise it stops with a clear message), builds the production entry (npm run build) that the
 * whole-system benches run, prints the machine and the peers' versions, then runs every benchmark
 * in test/bench/ one after the other, each in its own process group and bounded in time (killed
 * with everything it started when over), with TMPDIR set to a fresh directory removed after it,
 * so a killed bench leaves no files behind. The sections the benches report (report.ts) make
 * BENCHMARKS.md: a full run of every bench rewrites it; a quick or partial run writes
 * .bench-out/BENCHMARKS.md. Exits 1 when any benchmark failed.
 *
 *   npm run bench                 the full run: 6–8 min in all (2 cores)
 *   npm run bench -- --quick      a smoke pass: short runs, small sizes (~2 min)
 *   npm run bench -- proxy        only the benches whose file name contains one of the words given
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGE_NODE_FLAGS } from '../../scripts/build.ts';
import { machine } from './machine.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENSURE = fileURLToPath(new URL('../../scripts/ensure-debian.sh', import.meta.url));

/** One benchmark: its file, its arguments in the full and the quick run, and its time limit. */
interface Bench {
  file: string;
  full: string[];
  quick: string[];
  /** Seconds before it is killed (full run; the quick run gets half). */
  limitS: number;
  nodeArgs?: string[];
}

/** In run order: whole-system benches first, then the micro-benchmarks. */
const BENCHES: readonly Bench[] = [
  // 8 targets × (fixed rate 2 + 4 s, wrk 2 × (2 + 4) s) + 3 rounds × 3 targets × (2 + 4) s + 3 × 30 s held ≈ 290 s
  { file: 'proxy.ts', full: ['4', '32', '1000', '3', '30'], quick: ['1', '32', '1000', '3', '3'], limitS: 450 },
  // 20 agents starting, 100 puts ≈ 40 s
  { file: 'config-sync.ts', full: ['100', '20'], quick: ['20', '5'], limitS: 120 },
  // 5 set-ups × (2 s warm-up + 2 rounds × 3 s) ≈ 40 s
  { file: 'telemetry.ts', full: ['3', '32', '2'], quick: ['1', '32', '1'], limitS: 120 },
  // warm-up + 2000 + 2000 + 500 reviews ≈ 10 s
  { file: 'webhook.ts', full: ['2000', '8'], quick: ['300', '8'], limitS: 60 },
  // 3 clients × (2 × 2 s warm-up + 2 set-ups × 10 turns × 2 s) ≈ 130 s
  { file: 'propagate.ts', full: ['2', '32', '10'], quick: ['1', '32', '2'], limitS: 240 },
  // 3 set-ups × (3 s warm-up + 3 rounds × 4 s) + the in-process part ≈ 60 s
  { file: 'lane-share.ts', full: ['4', '32', '3'], quick: ['1', '32', '1'], limitS: 150 },
  { file: 'etcd-put-to-snapshot.ts', full: ['150', '200'], quick: ['30', '200'], limitS: 90 },
  // gRPC, plaintext and TLS: 2 × 2 × 100 pushes (~10 s); HTTP v1: 100 long polls + 20 instance polls at 3 s (~40 s)
  { file: 'nacos-push-to-snapshot.ts', full: ['100', '20'], quick: ['20', '4'], limitS: 150 },
  // module load accounting of an idle agent and daemon (a rebuild with marks each): ~10 s each
  { file: 'footprint.ts', full: ['agent', '3', '12'], quick: ['agent', '1', '8'], limitS: 60 },
  { file: 'footprint.ts', full: ['daemon', '3', '12'], quick: ['daemon', '1', '8'], limitS: 60 },
  { file: 'snapshot-build.ts', full: ['10000', '10', '2000'], quick: ['1000', '10', '200'], limitS: 90 },
  { file: 'compile-snapshot.ts', full: ['10000', '10', '20', '100'], quick: ['1000', '10', '20', '100'], limitS: 90 },
  // 2 rounds × 2 node-flag sets × (start ~1.5 s + 9 s of fixed-rate load) + building the snapshot ≈ 50 s
  { file: 'reload-stall.ts', full: ['10000', '10', '200', '2'], quick: ['1000', '10', '200', '1'], limitS: 150 },
  { file: 'breaker.ts', full: ['1000000'], quick: ['100000'], limitS: 60, nodeArgs: ['--expose-gc'] },
  { file: 'telemetry-micro.ts', full: [], quick: [], limitS: 60 },
  { file: 'propagate-micro.ts', full: [], quick: ['50000'], limitS: 60 },
  { file: 'lane-memory.ts', full: ['4096', '2000000'], quick: ['4096', '200000'], limitS: 60, nodeArgs: ['--expose-gc'] },
];

/** Binaries the benches start, with the Debian package that has each. */
const PEERS: readonly [binary: string, debianPackage: string][] = [
  ['wrk', 'wrk'],
  ['nginx', 'nginx'],
  ['haproxy', 'haproxy'],
  ['etcd', 'etcd-server'],
];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.filter((a) => !a.startsWith('--'));
const selected = BENCHES.filter((b) => only.length === 0 || only.some((w) => b.file.includes(w)));
if (selected.length === 0) {
  console.error(`no benchmark matches ${only.join(', ')}; benchmarks: ${BENCHES.map((b) => b.file).join(', ')}`);
  process.exit(2);
}

/** First line a program prints about its version (stdout or stderr), '' when it prints none. */
function version(bin: string, flag: string): string {
  const r = spawnSync(bin, [flag], { encoding: 'utf8', timeout: 5_000 });
  return `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
}

const env: NodeJS.ProcessEnv = { ...process.env };
const versions: string[] = [];
for (const [binary, pkg] of PEERS) {
  let bin: string;
  try {
    bin = execFileSync('bash', [ENSURE, binary, pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  } catch {
    console.error(`bench: ${binary} is missing and could not be installed (see above); nothing was run.`);
    process.exit(1);
  }
  env[`DYELINE_${binary.toUpperCase()}_BIN`] = bin;
  versions.push(version(bin, binary === 'etcd' ? '--version' : '-v').replace(/ Copyright.*$| - https?:.*$/, ''));
}

const machineLine = `${machine()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the start`;
console.log(`machine: ${machineLine}`);
console.log(`peers: ${versions.join('; ')}`);
// The whole-system benches run the production entry, as a cluster would.
try {
  execFileSync(process.execPath, ['scripts/build.ts'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
} catch {
  console.error('bench: npm run build failed (see above); nothing was run.');
  process.exit(1);
}
env.DYELINE_TEST_ENTRY = join(ROOT, 'dist/dyeline.mjs');
env.DYELINE_TEST_NODE_FLAGS = IMAGE_NODE_FLAGS.join(' ');
console.log(`mode: ${quick ? 'quick (smoke pass: short runs, small sizes; figures are rough)' : 'full'}; ${selected.length} benchmarks\n`);

let current: ChildProcess | undefined;
let currentTmp: string | undefined;
/** Kills a bench and everything it started (its process group). */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    if (current) killGroup(current);
    if (currentTmp) rmSync(currentTmp, { recursive: true, force: true });
    process.exit(130);
  });
}

/**
 * Runs one bench; resolves with its exit code (null when killed), whether the time limit killed
 * it, and the markdown it reported.
 */
function runOne(b: Bench, benchArgs: string[], limitS: number): Promise<{ code: number | null; timedOut: boolean; markdown: string }> {
  const tmp = mkdtempSync(join(tmpdir(), 'dyeline-bench-run-'));
  currentTmp = tmp;
  const reportFile = join(tmp, 'report.md');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...(b.nodeArgs ?? []), `test/bench/${b.file}`, ...benchArgs], {
      cwd: ROOT,
      env: { ...env, TMPDIR: tmp, BENCH_REPORT: reportFile },
      stdio: 'inherit',
      detached: true,
    });
    current = child;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`\nbench: ${b.file} ran over ${limitS} s; killed`);
      // SIGTERM first so its finally blocks stop its peers; the whole group goes 3 s later.
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
      setTimeout(() => killGroup(child), 3_000).unref();
    }, limitS * 1000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      current = undefined;
      // Anything it left behind in its group (a peer whose parent died) goes too.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* nothing left */
      }
      const markdown = existsSync(reportFile) ? readFileSync(reportFile, 'utf8') : '';
      rmSync(tmp, { recursive: true, force: true });
      currentTmp = undefined;
      resolve({ code, timedOut, markdown });
    });
  });
}

const summary: string[] = [];
const sections: string[] = [];
let failed = 0;
const t0 = performance.now();
for (const b of selected) {
  const benchArgs = quick ? b.quick : b.full;
  const limitS = quick ? Math.ceil(b.limitS / 2) : b.limitS;
  console.log(`${'='.repeat(100)}\n${b.file} ${benchArgs.join(' ')}\n${'='.repeat(100)}`);
  const started = performance.now();
  const { code, timedOut, markdown } = await runOne(b, benchArgs, limitS);
  if (markdown) sections.push(markdown);
  const s = ((performance.now() - started) / 1000).toFixed(1);
  const ok = code === 0 && !timedOut;
  if (!ok) failed++;
  summary.push(`${b.file.padEnd(26)} ${ok ? 'ok    ' : timedOut ? 'KILLED' : `FAILED`} ${s.padStart(6)} s${ok || timedOut ? '' : ` (exit ${code})`}`);
  console.log('');
}
const totalS = ((performance.now() - t0) / 1000).toFixed(0);
console.log(`${'='.repeat(100)}\nsummary (${totalS} s in all)`);
for (const line of summary) console.log(line);

// BENCHMARKS.md: rewritten by a full run of every bench that all passed; otherwise a side copy.
const complete = !quick && only.length === 0 && failed === 0;
const page = `# Benchmarks

Generated by \`npm run bench\` (test/bench/run.ts) — every figure on this page comes from one run
(${quick ? 'quick' : 'full'}, ${totalS} s, ${new Date().toISOString().slice(0, 10)}). Re-run it on the machine you care about: on a
shared or busy machine the figures move by tens of percent between runs.

- machine: ${machineLine}
- peers: ${versions.join('; ')}
- dyeline: \`dist/dyeline.mjs\` (npm run build), run as the image runs it (\`node ${IMAGE_NODE_FLAGS.join(' ')}\`), for every process the benches start; the scale
  sections run the modules in-process. Where the memory goes: [docs/footprint.md](docs/footprint.md).

${sections.join('\n').trim()}
`;
const out = complete ? join(ROOT, 'BENCHMARKS.md') : join(ROOT, '.bench-out', 'BENCHMARKS.md');
mkdirSync(join(out, '..'), { recursive: true });
writeFileSync(out, page);
console.log(`\n${complete ? 'wrote' : 'not a full run of every bench: wrote'} ${out.slice(ROOT.length)}`);
process.exit(failed === 0 ? 0 : 1);
