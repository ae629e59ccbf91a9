/**
 * A real Prometheus server for tests (Debian's prometheus, 2.42): started on a free loopback port
 * in a temp dir, scraping the targets it is given every `scrapeIntervalMs` (file-based discovery,
 * so targets can change while it runs; the config is the demo's, deploy/local/prometheus.ts). The binary comes from `DYELINE_PROMETHEUS_BIN` (set by
 * `npm test` through scripts/ensure-prometheus.sh); when unset, the script is run to find (or
 * install) it.
 *
 *   const prom = await PrometheusServer.start({ targets: { 'orders-canary': agentStatus } });
 *   await prom.waitForScrape(agentStatus);
 *   const v = await prom.query('sum(dyeline_requests_total)');
 *   await prom.cleanup();
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prometheusSetup, writePrometheusTargets } from '../../deploy/local/prometheus.ts';
import { freePort } from './ports.ts';
import { ensuredBinary, ServerProcess } from './server-process.ts';
import { waitFor } from './wait.ts';

/** Path of the prometheus binary: `DYELINE_PROMETHEUS_BIN`, else what scripts/ensure-prometheus.sh prints. */
export const prometheusBinary = ensuredBinary('DYELINE_PROMETHEUS_BIN', 'ensure-prometheus.sh');

/** Options of {@link PrometheusServer.start}. */
export interface PrometheusServerOptions {
  /** pod name → `host:port` of a `/metrics` endpoint; the name becomes the `pod` label. */
  targets?: Record<string, string>;
  /** Scrape (and rule evaluation) interval. Default 1000 ms. */
  scrapeIntervalMs?: number;
  /** Milliseconds to wait for /-/ready. Default 20,000. */
  readyTimeoutMs?: number;
}

/** One sample of an instant-vector answer. */
export interface VectorSample {
  metric: Record<string, string>;
  value: number;
}

/** One Prometheus process on loopback with its own config, targets file and TSDB. */
export class PrometheusServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly dir: string;
  readonly scrapeIntervalMs: number;
  private readonly process = new ServerProcess('prometheus');
  private args: string[] = [];
  private targets: Record<string, string>;

  private constructor(port: number, dir: string, opts: PrometheusServerOptions) {
    this.url = `http://127.0.0.1:${port}`;
    this.dir = dir;
    this.scrapeIntervalMs = opts.scrapeIntervalMs ?? 1000;
    this.targets = { ...opts.targets };
  }

  /** Writes the config and targets into a temp dir and starts Prometheus (new port on a clash). */
  static async start(opts: PrometheusServerOptions = {}): Promise<PrometheusServer> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const dir = mkdtempSync(join(tmpdir(), 'dyeline-prometheus-'));
      const server = new PrometheusServer(await freePort(), dir, opts);
      try {
        server.writeConfig();
        await server.launch(opts.readyTimeoutMs ?? 20_000);
        return server;
      } catch (err) {
        lastErr = err;
        await server.cleanup();
      }
    }
    throw lastErr;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.process.running;
  }

  private writeConfig(): void {
    this.args = prometheusSetup(this.dir, this.url.slice('http://'.length), this.scrapeIntervalMs, this.targets);
  }

  private writeTargets(): void {
    writePrometheusTargets(this.dir, this.targets);
  }

  /** Adds (or moves) a scrape target; Prometheus picks it up within about a second. */
  setTarget(pod: string, address: string): void {
    this.targets[pod] = address;
    this.writeTargets();
  }

  /** Removes a scrape target. */
  removeTarget(pod: string): void {
    delete this.targets[pod];
    this.writeTargets();
  }

  private async launch(readyTimeoutMs: number): Promise<void> {
    const args = this.args;
    const ready = async () => {
      const res = await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return res.ok;
    };
    await this.process.start(prometheusBinary(), args, ready, { timeoutMs: readyTimeoutMs, what: `prometheus ready on ${this.url}` });
  }

  /** Starts it again after stop(): same dir, port and targets. */
  async restart(): Promise<void> {
    await this.launch(20_000);
  }

  /** SIGTERM and wait for exit; the dir is kept. */
  async stop(): Promise<void> {
    await this.process.signal('SIGTERM');
  }

  /** SIGSTOP: Prometheus hangs with its port open (queries time out). */
  freeze(): void {
    this.process.freeze();
  }

  /** SIGCONT after freeze(). */
  thaw(): void {
    this.process.thaw();
  }

  /** Kills Prometheus and removes its dir. */
  async cleanup(): Promise<void> {
    await this.process.signal('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** An instant query; throws on an HTTP or PromQL error, or a non-vector answer. */
  async query(promql: string): Promise<VectorSample[]> {
    const res = await fetch(`${this.url}/api/v1/query`, {
      method: 'POST',
      body: new URLSearchParams({ query: promql }),
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (body.status !== 'success' || body.data === undefined) throw new Error(`query ${promql} failed: ${body.error ?? res.status}`);
    if (body.data.resultType !== 'vector') throw new Error(`query ${promql} answered a ${body.data.resultType}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** Waits until `address` has been scraped successfully (`up == 1`). */
  async waitForScrape(address: string, timeoutMs = 15_000): Promise<void> {
    await waitFor(
      async () => {
        const up = await this.query(`up{instance="${address}"}`);
        return up.length === 1 && up[0]!.value === 1;
      },
      { timeoutMs, intervalMs: 200, what: `a successful scrape of ${address} by ${this.url}` },
    );
  }

  /** The last stderr lines (for failure messages). */
  log(): string {
    return this.process.stderr;
  }
}
