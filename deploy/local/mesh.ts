/**
 * The demo mesh as real processes on loopback: one daemon (file source), and per instance an
 * app (deploy/local/app.ts, run as `dyeline demo --app`) with its own agent, which registers the
 * instance through the daemon (--register; with file sources only the daemon puts it into its
 * snapshot): no Instance document is written. Ports are fixed offsets from a base port so the
 * printed curl commands are stable; each process logs to a file in the run directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoRuleFiles } from './rules.ts';

/**
 * The entry this process runs (bin/dyeline.js, or the built dist/dyeline.mjs): the daemon, the
 * agents and the apps (`dyeline demo --app`) are started from it, so a built entry runs the whole
 * demo by itself.
 */
export const ENTRY = process.argv[1]!;

/** One instance of the demo: service, lane, the next service it calls. */
export interface PodSpec {
  service: string;
  color: string;
  next?: string;
}

/** The demo's topology: frontend → orders → inventory → pricing; inventory has no canary. */
export const TOPOLOGY: PodSpec[] = [
  { service: 'frontend', color: 'stable', next: 'orders' },
  { service: 'orders', color: 'stable', next: 'inventory' },
  { service: 'orders', color: 'canary', next: 'inventory' },
  { service: 'inventory', color: 'stable', next: 'pricing' },
  { service: 'pricing', color: 'stable' },
  { service: 'pricing', color: 'canary' },
];

export interface Pod extends PodSpec {
  name: string;
  appPort: number;
  inbound: number;
  outbound: number;
  status: number;
  admin: number;
}

export interface Mesh {
  dir: string;
  daemon: { status: number; admin: number };
  collector: number;
  pods: Pod[];
  stop(): Promise<void>;
}

async function assertFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = createServer();
    s.once('error', () => reject(new Error(`port ${port} is in use; pick another range with --base-port`)));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
}

/** Ports: daemon status/admin at base, base+1; collector base+2; pod i at base+10+10i … +4. */
export function plan(base: number): Omit<Mesh, 'dir' | 'stop'> {
  const pods = TOPOLOGY.map((p, i) => {
    const b = base + 10 + 10 * i;
    return { ...p, name: `${p.service}-${p.color}`, appPort: b, inbound: b + 1, outbound: b + 2, status: b + 3, admin: b + 4 };
  });
  return { daemon: { status: base, admin: base + 1 }, collector: base + 2, pods };
}

/** Starts the daemon and every pod; resolves when every agent is ready. */
export async function startMesh(base: number, onProgress: (what: string) => void): Promise<Mesh> {
  const p = plan(base);
  const ports = [p.daemon.status, p.daemon.admin, ...p.pods.flatMap((x) => [x.appPort, x.inbound, x.outbound, x.status, x.admin])];
  for (const port of ports) await assertFree(port);
  const dir = await mkdtemp(join(tmpdir(), 'dyeline-demo-'));
  await mkdir(join(dir, 'rules'));
  for (const [name, text] of Object.entries(await demoRuleFiles())) await writeFile(join(dir, 'rules', name), text);
  const snapshot = join(dir, 'snapshot.json');
  const children: ChildProcess[] = [];
  const run = (name: string, args: string[], env: NodeJS.ProcessEnv) => {
    const log = createWriteStream(join(dir, `${name}.log`));
    // The children run with this process's node flags (the image's, when the demo runs there).
    const child = spawn(process.execPath, [...process.execArgv, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    children.push(child);
    return child;
  };
  const mesh: Mesh = {
    ...p,
    dir,
    async stop() {
      for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              const t = setTimeout(() => c.kill('SIGKILL'), 5000);
              c.once('exit', () => {
                clearTimeout(t);
                resolve();
              });
            }),
        ),
      );
    },
  };
  try {
    onProgress('starting the daemon (file source)');
    run('daemon', [ENTRY, 'daemon', '--source', `file://${join(dir, 'rules')}`, '--snapshot', snapshot, '--status', `127.0.0.1:${p.daemon.status}`, '--admin', `127.0.0.1:${p.daemon.admin}`], {});
    await waitHttp(`http://127.0.0.1:${p.daemon.status}/readyz`, 15_000, 'the daemon to write its first snapshot');
    for (const pod of p.pods) {
      onProgress(`starting ${pod.name} and its agent`);
      run(`${pod.name}-app`, [ENTRY, 'demo', '--app'], {
        SERVICE: pod.service,
        COLOR: pod.color,
        PORT: String(pod.appPort),
        NEXT: pod.next ?? '',
        HTTP_PROXY: `http://127.0.0.1:${pod.outbound}`,
        NODE_USE_ENV_PROXY: '1',
        NO_PROXY: '',
      });
      run(`${pod.name}-agent`, [ENTRY, 'agent', '--service', pod.service, '--color', pod.color, '--app-port', String(pod.appPort),
        '--inbound', `127.0.0.1:${pod.inbound}`, '--outbound', `127.0.0.1:${pod.outbound}`, '--status', `127.0.0.1:${pod.status}`,
        '--admin', `127.0.0.1:${pod.admin}`, '--snapshot', snapshot, '--register'], {
        OTEL_SERVICE_NAME: pod.service,
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${p.collector}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '200',
        DYELINE_ACCESS_LOG: 'false',
      });
    }
    for (const pod of p.pods) await waitHttp(`http://127.0.0.1:${pod.status}/readyz`, 20_000, `agent of ${pod.name} to be ready`);
    onProgress('waiting for every instance to register');
    await waitRegistered(p.daemon.admin, p.pods, 20_000);
  } catch (err) {
    await mesh.stop();
    throw new Error(`${(err as Error).message} (logs in ${dir})`);
  }
  return mesh;
}

/**
 * Waits until the daemon's snapshot holds `pods.length` registered instances and every agent
 * has loaded that snapshot (its /config version).
 */
async function waitRegistered(daemonAdmin: number, pods: readonly Pod[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const json = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(1000) })).json() as Promise<Record<string, unknown>>;
  let version: number | undefined;
  for (;;) {
    try {
      if (version === undefined) {
        const snap = (await json(`http://127.0.0.1:${daemonAdmin}/snapshot`)) as { version: number; instances: unknown[] };
        if (snap.instances.length >= pods.length) version = snap.version;
      }
      if (version !== undefined) {
        const loaded = await Promise.all(pods.map(async (pod) => (await json(`http://127.0.0.1:${pod.admin}/config`)).snapshotVersion as number));
        if (loaded.every((v) => v >= version!)) return;
      }
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pods.length} instances to register`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls `url` until it answers 200. */
export async function waitHttp(url: string, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
