/**
 * A mesh for the progressive-delivery e2e tests, all real processes on loopback: a `dyeline
 * daemon` on a rules directory (file source), pods (an app and its `dyeline agent`) of the given
 * services and lanes — chain apps (app-main.ts) or fault apps (fault-app.ts) whose failures a
 * test switches — a client agent with no app (`gateway`, outbound only) to send requests
 * through, and optionally a real Prometheus scraping every agent's status port.
 *
 *   const mesh = await LaneMesh.start({ pods: [['frontend', 'stable'], ['orders', 'canary', 'fault']], rules: RULES, prometheus: true });
 *   await mesh.get('frontend', '/chain?via=orders', { 'x-user-id': 'u1' });
 *   await mesh.stop();
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { startAgentProcess, startPod } from './apps.ts';
import { type FaultApp, startFaultApp } from './faults.ts';
import { type DyelineProcess, getJson, startDaemon } from './process.ts';
import { PrometheusServer } from './prometheus-server.ts';
import { waitFor } from './wait.ts';

/** [service, lane, kind, instance]: a chain app (default) or a fault app; instance name default `<service>-<lane>`. */
export type PodSpec = [service: string, color: string, kind?: 'chain' | 'fault', instance?: string];

/** One pod of the mesh. */
export interface MeshPod {
  readonly service: string;
  readonly color: string;
  readonly instance: string;
  readonly agent: DyelineProcess;
  readonly inbound: string;
  readonly status: string;
  readonly admin: string;
  /** The fault app, for pods of kind `fault`. */
  readonly fault: FaultApp | undefined;
  stop(): Promise<void>;
}

/** What a mesh is made of. */
export interface LaneMeshOptions {
  readonly pods: readonly PodSpec[];
  /** Rule documents (YAML) written to rules.yaml before the daemon starts. */
  readonly rules: string;
  /** Start a Prometheus scraping every agent (scrape interval 500 ms). */
  readonly prometheus?: boolean;
  readonly scrapeIntervalMs?: number;
}

function instanceDoc(p: MeshPod): string {
  const i = p.inbound.lastIndexOf(':');
  const labels = p.color === 'stable' ? '' : `, labels: { color: ${p.color} }`;
  return `apiVersion: dyeline.io/v1\nkind: Instance\nmetadata: { name: ${p.instance} }\nspec: { service: ${p.service}, address: ${p.inbound.slice(0, i)}, port: ${p.inbound.slice(i + 1)}${labels} }\n`;
}

/** A running mesh. */
export class LaneMesh {
  readonly dir: string;
  readonly rulesDir: string;
  readonly snapshot: string;
  readonly pods: MeshPod[] = [];
  daemon!: DyelineProcess;
  gateway!: DyelineProcess;
  /** The gateway agent's outbound listener. */
  gatewayOutbound = '';
  prom: PrometheusServer | undefined;
  #pool!: Pool;

  private constructor(dir: string) {
    this.dir = dir;
    this.rulesDir = join(dir, 'rules');
    this.snapshot = join(dir, 'run', 'snapshot.json');
  }

  static async start(opts: LaneMeshOptions): Promise<LaneMesh> {
    const mesh = new LaneMesh(await mkdtemp(join(tmpdir(), 'dyeline-lane-mesh-')));
    try {
      await mesh.#start(opts);
    } catch (err) {
      await mesh.stop();
      throw err;
    }
    return mesh;
  }

  async #start(opts: LaneMeshOptions): Promise<void> {
    await mkdir(this.rulesDir);
    await writeFile(join(this.rulesDir, 'rules.yaml'), opts.rules);
    this.daemon = await startDaemon({ sources: [`file://${this.rulesDir}`], snapshot: this.snapshot });
    // Two at a time: the machine has two cores.
    for (let i = 0; i < opts.pods.length; i += 2) this.pods.push(...(await Promise.all(opts.pods.slice(i, i + 2).map((p) => this.#pod(p)))));
    this.gateway = await startAgentProcess({ service: 'gateway', snapshot: this.snapshot });
    this.gatewayOutbound = this.gateway.listeners.get('outbound')!;
    this.#pool = new Pool(`http://${this.gatewayOutbound}`, { connections: 32, pipelining: 1 });
    await writeFile(join(this.rulesDir, 'instances.yaml'), this.pods.map(instanceDoc).join('---\n'));
    for (const p of this.pods) {
      await waitFor(async () => (await fetch(`http://${p.status}/readyz`)).status === 200, { timeoutMs: 20_000, what: `${p.instance} ready` });
    }
    await this.settled();
    if (opts.prometheus) {
      const targets: Record<string, string> = { gateway: this.gateway.listeners.get('status')! };
      for (const p of this.pods) targets[p.instance] = p.status;
      this.prom = await PrometheusServer.start({ targets, scrapeIntervalMs: opts.scrapeIntervalMs ?? 500 });
      for (const address of Object.values(targets)) await this.prom.waitForScrape(address);
    }
  }

  async #pod([service, color, kind, name]: PodSpec): Promise<MeshPod> {
    const instance = name ?? `${service}-${color}`;
    if (kind === 'fault') {
      const fault = await startFaultApp(instance, color);
      const agent = await startAgentProcess({ service, color, appPort: fault.port, snapshot: this.snapshot });
      return {
        service,
        color,
        instance,
        agent,
        fault,
        inbound: agent.listeners.get('inbound')!,
        status: agent.listeners.get('status')!,
        admin: agent.listeners.get('admin')!,
        stop: async () => void (await Promise.allSettled([agent.stop(), fault.stop()])),
      };
    }
    const pod = await startPod(service, color, this.snapshot, instance);
    return { service, color, instance, agent: pod.agent, fault: undefined, inbound: pod.inbound, status: pod.status, admin: pod.admin, stop: () => pod.stop() };
  }

  /** Admin addresses of every agent (the pods' and the gateway's). */
  get admins(): string[] {
    return [...this.pods.map((p) => p.admin), this.gateway.listeners.get('admin')!];
  }

  /** The snapshot version every agent routes with, once they all agree on the daemon's latest. */
  async settled(timeoutMs = 20_000): Promise<number> {
    return waitFor(
      async () => {
        const versions = await Promise.all(this.admins.map(async (a) => (await getJson<{ snapshotVersion: number | null }>(a, '/config')).body.snapshotVersion));
        const daemon = (await getJson<{ snapshotVersion: number }>(this.daemon.listeners.get('admin')!, '/status')).body.snapshotVersion;
        return versions.every((v) => v === daemon) ? daemon : undefined;
      },
      { timeoutMs, intervalMs: 50, what: 'every agent on the latest snapshot' },
    );
  }

  /** Writes (or replaces) a rule file of the rules directory. */
  async writeRules(file: string, yaml: string): Promise<void> {
    await writeFile(join(this.rulesDir, file), yaml);
  }

  /** GET http://<service><path> through the gateway agent. */
  async get(service: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    const res = await this.#pool.request({ path: `http://${service}${path}`, method: 'GET', headers: { host: service, ...headers } });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  }

  /** The pod of `service` in lane `color`. */
  pod(service: string, color: string): MeshPod {
    const p = this.pods.find((x) => x.service === service && x.color === color);
    if (p === undefined) throw new Error(`no pod ${service}/${color}`);
    return p;
  }

  async stop(): Promise<void> {
    await this.#pool?.close().catch(() => undefined);
    await Promise.allSettled([...this.pods.map((p) => p.stop()), this.gateway?.stop(), this.daemon?.stop(), this.prom?.cleanup()]);
    await rm(this.dir, { recursive: true, force: true });
  }
}
