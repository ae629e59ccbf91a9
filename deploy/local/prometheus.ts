/**
 * A Prometheus server for the demo's progressive-delivery phase: the binary from
 * DYELINE_PROMETHEUS_BIN, else `prometheus` on PATH or in /usr/bin, /usr/local/bin; a config
 * scraping the given targets every `scrapeIntervalMs` (file-based discovery, so the test harness
 * can move targets too), a TSDB in the given directory, listening on loopback.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, renameSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The Prometheus binary, or undefined when there is none. */
export function findPrometheus(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  const candidates = [env.DYELINE_PROMETHEUS_BIN, ...dirs.filter(Boolean).map((d) => join(d, 'prometheus'))];
  for (const c of candidates) {
    if (c === undefined || c === '') continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Writes `targets` (name → host:port, the name as label `pod`) as the discovery file in `dir`. */
export function writePrometheusTargets(dir: string, targets: Readonly<Record<string, string>>): void {
  const groups = Object.entries(targets).map(([pod, address]) => ({ targets: [address], labels: { pod } }));
  const tmp = join(dir, 'targets.json.tmp');
  writeFileSync(tmp, JSON.stringify(groups));
  renameSync(tmp, join(dir, 'targets.json'));
}

/** Writes the config (and targets) into `dir`; returns the arguments that run Prometheus on `address` with it. */
export function prometheusSetup(dir: string, address: string, scrapeIntervalMs: number, targets: Readonly<Record<string, string>>): string[] {
  const interval = `${scrapeIntervalMs}ms`;
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: `${Math.max(100, scrapeIntervalMs - 100)}ms` },
    scrape_configs: [{ job_name: 'dyeline', file_sd_configs: [{ files: [join(dir, 'targets.json')], refresh_interval: '1s' }] }],
  };
  // JSON is YAML: the config needs no YAML writer.
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  writePrometheusTargets(dir, targets);
  return [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    '--storage.tsdb.retention.time=1h',
    `--web.listen-address=${address}`,
    '--log.level=warn',
  ];
}

/** Starts Prometheus (output to `log`); the caller waits for `/-/ready` and kills it. */
export function startPrometheus(bin: string, args: readonly string[], log: NodeJS.WritableStream): ChildProcess {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return child;
}
