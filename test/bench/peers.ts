/**
 * What the whole-system benchmarks share: the peer programs (wrk as the load generator, nginx as
 * upstream and as a peer proxy, HAProxy as a second peer proxy), started on free loopback ports in
 * a temp dir, and the measures taken of a process under load (CPU time, RSS).
 *
 *   const peers = new Peers(dir);
 *   const upPort = await freePort();
 *   await peers.nginx(`server { listen 127.0.0.1:${upPort}; location / { return 200 "ok\\n"; } }`);
 *   const r = await wrk(`http://127.0.0.1:${upPort}/`, { seconds: 5, connections: 32 });
 *   await peers.stop();
 *
 * Binaries come from `DYELINE_<NAME>_BIN`, else scripts/ensure-debian.sh finds them (and installs
 * them with apt-get when missing and running as root; otherwise it fails with a clear message).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../support/wait.ts';

export { freePort } from '../support/ports.ts';

const ENSURE = fileURLToPath(new URL('../../scripts/ensure-debian.sh', import.meta.url));
const found = new Map<string, string>();

/**
 * Path of a peer binary: `DYELINE_<BINARY>_BIN` (e.g. DYELINE_WRK_BIN), else what
 * `scripts/ensure-debian.sh <binary> <debianPackage>` prints (default package: the binary's name).
 */
export function peerBinary(binary: string, debianPackage = binary): string {
  const env = process.env[`DYELINE_${binary.toUpperCase().replaceAll('-', '_')}_BIN`];
  if (env) return env;
  let bin = found.get(binary);
  if (bin === undefined) {
    bin = execFileSync('bash', [ENSURE, binary, debianPackage], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    found.set(binary, bin);
  }
  return bin;
}

/** HTTP status of one GET (0 when the connection fails). */
function status(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    get(url, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', () => resolve(0));
  });
}

/** Waits until a GET of `url` answers 200 (polls every 100 ms; throws after `timeoutMs`, default 15 s). */
export async function waitHttp(url: string, headers: Record<string, string> = {}, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => (await status(url, headers)) === 200, { timeoutMs, intervalMs: 100, what: `${url} to answer 200` });
}

/** One wrk run: requests per second, latency percentiles in ms, and any errors wrk reported ('' when none). */
export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  errors: string;
}

/** Options of {@link wrk}: duration and connections over one wrk thread; `headers` as 'Name: value'; a Lua `script` (-s). */
export interface WrkOptions {
  seconds: number;
  connections: number;
  headers?: readonly string[];
  script?: string;
}

/** wrk's latency figure ('52.00us', '1.23ms', '2.00s') in milliseconds; NaN when unreadable. */
function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

/**
 * Runs `wrk -t1 -c<connections> -d<seconds>s --latency` against `url` and parses its report
 * (asynchronously, so the bench can sample the target meanwhile).
 */
export async function wrk(url: string, opts: WrkOptions): Promise<WrkResult> {
  const args = ['-t1', `-c${opts.connections}`, `-d${opts.seconds}s`, '--latency', ...(opts.headers ?? []).flatMap((h) => ['-H', h]), ...(opts.script ? ['-s', opts.script] : []), url];
  const out = await new Promise<string>((resolve, reject) =>
    execFile(peerBinary('wrk'), args, { encoding: 'utf8' }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
  const p99 = toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const errors = [/Non-2xx or 3xx responses: \d+/.exec(out)?.[0], /Socket errors: [^\n]+/.exec(out)?.[0]].filter(Boolean).join('; ');
  return { rps, p50, p99, errors };
}

/** CPU seconds a process has used so far, from /proc/<pid>/stat (clock ticks of 10 ms). */
export async function cpuSeconds(pid: number): Promise<{ user: number; sys: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) / 100, sys: Number(f[12]) / 100 };
}

/** Resident memory of a process, MiB: all of it, and its anonymous part (not file pages such as the node binary's). */
export interface Resident {
  rss: number;
  anon: number;
}

/** Resident memory of a process in MiB, from /proc/<pid>/status. */
export async function residentMiB(pid: number): Promise<Resident> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1]) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon') };
}

/** Resident set size of a process in MiB, from /proc/<pid>/status. */
export async function rssMiB(pid: number): Promise<number> {
  return (await residentMiB(pid)).rss;
}

/** `pid` and its descendants (an nginx master and its worker), from the parent ids in /proc. */
export async function processTree(pid: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = await readFile(`/proc/${e}/stat`, 'utf8');
      parents.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  return tree;
}

/** CPU seconds (user + system) used so far by the processes `pids`. */
export async function treeCpuSeconds(pids: readonly number[]): Promise<number> {
  let sum = 0;
  for (const pid of pids) {
    const { user, sys } = await cpuSeconds(pid);
    sum += user + sys;
  }
  return sum;
}

/** Resident memory of the processes `pids` together, MiB. */
export async function treeResidentMiB(pids: readonly number[]): Promise<Resident> {
  const sum = { rss: 0, anon: 0 };
  for (const pid of pids) {
    const r = await residentMiB(pid);
    sum.rss += r.rss;
    sum.anon += r.anon;
  }
  return sum;
}

/**
 * The largest resident memory of `pids` seen while `work` runs (RSS and its anonymous part, each
 * its own peak), sampled every `everyMs` (default 200 ms) and once at the end.
 */
export async function peakResidentDuring<T>(pids: readonly number[], work: () => Promise<T>, everyMs = 200): Promise<{ result: T; peak: Resident }> {
  const peak = { rss: 0, anon: 0 };
  let sampling = false;
  const sample = async () => {
    if (sampling) return;
    sampling = true;
    const r = await treeResidentMiB(pids).catch(() => ({ rss: 0, anon: 0 }));
    peak.rss = Math.max(peak.rss, r.rss);
    peak.anon = Math.max(peak.anon, r.anon);
    sampling = false;
  };
  const timer = setInterval(() => void sample(), everyMs);
  try {
    const result = await work();
    await sample();
    return { result, peak };
  } finally {
    clearInterval(timer);
  }
}

/**
 * The processes of one benchmark run, all under `dir` (a temp dir the caller owns and removes):
 * nginx and HAProxy with one worker/thread each, loopback only, logs off; plus any process the
 * bench spawns itself and hands to {@link Peers.track}. {@link Peers.stop} ends them all.
 */
export class Peers {
  readonly dir: string;
  private readonly children: ChildProcess[] = [];

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Keeps `proc` to be stopped by {@link Peers.stop}; returns it. */
  track(proc: ChildProcess): ChildProcess {
    this.children.push(proc);
    return proc;
  }

  /**
   * Starts nginx (1 worker, access log off, keep-alive for up to 1,000,000 requests a connection,
   * bodies up to 64 MiB) with `blocks` inside its `http {}`: the `server`/`upstream` blocks of the
   * bench; `name` tells instances apart (their directory under `dir`). Does not wait: callers
   * wait on their own listeners with {@link waitHttp}.
   */
  async nginx(blocks: string, name = 'nginx'): Promise<ChildProcess> {
    const d = join(this.dir, name);
    await mkdir(d, { recursive: true });
    await writeFile(
      join(d, 'nginx.conf'),
      `worker_processes 1;
pid ${d}/nginx.pid;
error_log ${d}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${d}/body; proxy_temp_path ${d}/proxy;
  fastcgi_temp_path ${d}/fcgi; uwsgi_temp_path ${d}/uwsgi; scgi_temp_path ${d}/scgi;
  keepalive_requests 1000000;
  client_max_body_size 64m;
${blocks}
}
`,
    );
    return this.track(spawn(peerBinary('nginx'), ['-p', d, '-c', join(d, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'inherit' }));
  }

  /**
   * Starts HAProxy as an HTTP proxy on 127.0.0.1:`port` to the one server 127.0.0.1:`upstreamPort`:
   * one thread (nbthread 1, fair against one Node process), keep-alive on both sides
   * (`option http-keep-alive`) and idle upstream connections shared by every client connection
   * (`http-reuse always`), no logging. Does not wait (see {@link waitHttp}).
   */
  async haproxy(port: number, upstreamPort: number): Promise<ChildProcess> {
    const d = join(this.dir, 'haproxy');
    await mkdir(d, { recursive: true });
    const cfg = join(d, 'haproxy.cfg');
    await writeFile(
      cfg,
      `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s
frontend bench
  bind 127.0.0.1:${port}
  default_backend up
backend up
  server up1 127.0.0.1:${upstreamPort}
`,
    );
    // -db: stay in the foreground; -q: no start-up notices.
    return this.track(spawn(peerBinary('haproxy'), ['-db', '-q', '-f', cfg], { stdio: 'inherit' }));
  }

  /** SIGTERM to every process still running, SIGKILL to those not gone within 3 s; resolves once all exited. */
  async stop(): Promise<void> {
    await Promise.all(
      this.children.splice(0).map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
        c.kill('SIGTERM');
        const t = setTimeout(() => c.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(t);
      }),
    );
  }
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The `dyeline` entry the benches run: `DYELINE_TEST_ENTRY` when set (npm run bench builds
 * dist/dyeline.mjs and sets it), else dist/dyeline.mjs, built now (`npm run build`). Run with
 * IMAGE_NODE_FLAGS, where it is installed does not change what it holds
 * (docs/footprint.md#start-up-and-the-install-directory).
 */
export function dyelineEntry(): string {
  const env = process.env.DYELINE_TEST_ENTRY;
  if (env) return resolve(ROOT, env);
  execFileSync(process.execPath, ['scripts/build.ts'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  return join(ROOT, 'dist/dyeline.mjs');
}

/**
 * Bundles a Node peer script of test/bench (and what it imports) into `outdir` the way the
 * production entry is built (one ES module, esbuild), so every Node process of a comparison runs
 * plain JavaScript: none pays for type stripping. Returns the bundle's path.
 */
export async function bundleNodePeer(file: string, outdir: string): Promise<string> {
  const [esbuild, { bundleOptions }] = await Promise.all([import('esbuild'), import('../../scripts/build.ts')]);
  const name = basename(file, '.ts');
  await esbuild.build(bundleOptions({ [name]: join(ROOT, 'test/bench', file) }, outdir));
  return join(outdir, `${name}.mjs`);
}
