/**
 * `dyeline rollout` (the progressive-delivery controller) and `dyeline rollout history` (the
 * audit trail of each lane): docs/reference.md#progressive-delivery.
 */
import type { Command } from 'commander';
import { UsageError } from '../shared/errors.ts';
import { option, subcommand } from './flags.ts';

/** A positive whole number of milliseconds; throws UsageError naming `flag`. */
function millis(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min) throw new UsageError(`${flag}: expected a whole number of milliseconds ≥ ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/** An http(s) URL; throws UsageError naming `flag`. */
export function httpUrl(flag: string, value: string | undefined): string {
  if (value === undefined || value === '') throw new UsageError(`${flag}: expected the URL of Prometheus, e.g. http://prometheus:9090 (required)`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${flag}: expected an http:// or https:// URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${flag}: expected an http:// or https:// URL, got ${JSON.stringify(value)}`);
  return value;
}

export function registerRollout(program: Command): void {
  const rollout = subcommand(program, 'rollout', 'progressive delivery controller: steps lanes by their Rollouts, analyses Prometheus, promotes or aborts')
    .addOption(option('--source <URI>', 'the source holding the Rollouts (file:///dir, etcd://... or nacos://...); LaneStates are written into it'))
    .addOption(option('--prometheus <URL>', 'Prometheus that scrapes the agents, e.g. http://prometheus:9090'))
    .addOption(option('--prometheus-match <MATCHERS>', 'more label matchers for every query, e.g. namespace="shop"'))
    .addOption(option('--status <HOST:PORT>', '/healthz, /readyz, /metrics, /rollouts, /history', '0.0.0.0:15390'))
    .addOption(option('--lease-ttl-ms <MS>', 'time to live of the source lease (several controllers, one acts)', '15000'))
    .action(async (opts: { source?: string; prometheus?: string; prometheusMatch?: string; status: string; leaseTtlMs: string }) => {
      if (!opts.source) throw new UsageError('--source: expected the URI of the source holding the Rollouts (required)');
      const { parseSourceUri } = await import('../daemon/config.ts');
      const { parseHostPort } = await import('../shared/net.ts');
      const config = {
        source: parseSourceUri(opts.source, process.env),
        prometheus: httpUrl('--prometheus', opts.prometheus),
        prometheusMatch: opts.prometheusMatch,
        status: parseHostPort(opts.status, '--status'),
        leaseTtlMs: millis('--lease-ttl-ms', opts.leaseTtlMs, 2000),
      };
      const { runRollout } = await import('../rollout/main.ts');
      await runRollout(config);
    });
  subcommand(rollout, 'history', "print each lane's audit trail (who changed its LaneState, why, on which analysis) from a source")
    .addOption(option('--source <URI>', 'the source holding the LaneStates'))
    .addOption(option('--lane <NAME>', 'only this lane'))
    .addOption(option('--json', 'print the LaneState documents as JSON'))
    .action(async (opts: { source?: string; lane?: string; json?: boolean }) => {
      if (!opts.source) throw new UsageError('--source: expected the URI of the source holding the LaneStates (required)');
      const { parseSourceUri } = await import('../daemon/config.ts');
      const source = parseSourceUri(opts.source, process.env);
      const { printHistory } = await import('../rollout/history.ts');
      process.exitCode = await printHistory(source, { lane: opts.lane, json: opts.json === true, out: process.stdout });
    });
}
