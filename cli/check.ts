/**
 * `dyeline check` (docs/reference.md#progressive-delivery): probe a lane hop by hop through an
 * agent's outbound listener, optionally assert its SLOs against Prometheus; exit 0 pass, 1 fail,
 * 2 could not check (and bad flags).
 */
import type { Command } from 'commander';
import { UsageError } from '../shared/errors.ts';
import { httpUrl } from './rollout.ts';
import { headerFlag, option, repeatable, serviceFlag, subcommand } from './flags.ts';

interface CheckFlags {
  via?: string;
  service?: string;
  color?: string;
  header?: string[];
  path: string;
  requests: string;
  timeoutMs: string;
  prometheus?: string;
  prometheusMatch?: string;
  windowMs: string;
  maxErrorRatePercent?: string;
  maxLatencyRatio?: string;
  minRequests?: string;
  json?: boolean;
}

function count(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max) throw new UsageError(`${flag}: expected a whole number ${min}-${max}, got ${JSON.stringify(value)}`);
  return n;
}

function decimal(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`${flag}: expected a number ${min}-${max}, got ${JSON.stringify(value)}`);
  return n;
}

export function registerCheck(program: Command): void {
  subcommand(program, 'check', 'gray health check for CI: probe a lane hop by hop through an agent, assert its SLOs; exit 0 pass, 1 fail, 2 could not check')
    .addOption(option('--via <HOST:PORT>', "an agent's outbound listener to send the probes through"))
    .addOption(option('--service <NAME>', 'the service to probe (the entry of the chain)'))
    .addOption(option('--color <COLOR>', 'the lane to probe'))
    .addOption(option('-H, --header <NAME: VALUE>', 'a header sent with every probe (repeatable)').argParser(repeatable))
    .addOption(option('--path <PATH>', 'request path of the probes', '/'))
    .addOption(option('--requests <N>', 'probes to send', '10'))
    .addOption(option('--timeout-ms <MS>', 'time each probe may take', '10000'))
    .addOption(option('--prometheus <URL>', "assert the lane's SLOs against this Prometheus"))
    .addOption(option('--prometheus-match <MATCHERS>', 'more label matchers for every query, e.g. namespace="shop"'))
    .addOption(option('--window-ms <MS>', 'how far back the SLOs are measured', '60000'))
    .addOption(option('--max-error-rate-percent <N>', 'SLO: highest error rate of the lane (default: the Rollout analysis default)'))
    .addOption(option('--max-latency-ratio <N>', "SLO: highest ratio of the lane's latency quantile to stable's (default: the Rollout analysis default)"))
    .addOption(option('--min-requests <N>', 'requests to the lane in the window below which the SLOs cannot be judged (default: the Rollout analysis default)'))
    .addOption(option('--json', 'print the report as JSON'))
    .action(async (opts: CheckFlags) => {
      const { parseHostPort } = await import('../shared/net.ts');
      const { Color } = await import('../shared/schema/fields.ts');
      if (!opts.via) throw new UsageError("--via: expected the HOST:PORT of an agent's outbound listener (required)");
      const via = parseHostPort(opts.via, '--via');
      const service = serviceFlag('--service', opts.service, true)!;
      if (!opts.color || !Color.safeParse(opts.color).success) throw new UsageError(`--color: expected a lane colour (lowercase letters, digits, "-"), got ${JSON.stringify(opts.color ?? '')}`);
      if (!opts.path.startsWith('/')) throw new UsageError(`--path: expected a path starting with /, got ${JSON.stringify(opts.path)}`);
      const plan = {
        via: `${via.host.includes(':') ? `[${via.host}]` : via.host}:${via.port}`,
        service,
        color: opts.color,
        path: opts.path,
        headers: Object.fromEntries((opts.header ?? []).map(headerFlag)),
        requests: count('--requests', opts.requests, 1, 10_000),
        timeoutMs: count('--timeout-ms', opts.timeoutMs, 1, 3_600_000),
      };
      const { RolloutAnalysis } = await import('../shared/schema/rollout.ts');
      const defaults = RolloutAnalysis.parse({});
      const slo =
        opts.prometheus === undefined
          ? undefined
          : {
              prometheus: httpUrl('--prometheus', opts.prometheus),
              matchers: opts.prometheusMatch,
              windowMs: count('--window-ms', opts.windowMs, 1000, 86_400_000),
              thresholds: {
                ...defaults,
                maxErrorRatePercent: decimal('--max-error-rate-percent', opts.maxErrorRatePercent, 0, 100) ?? defaults.maxErrorRatePercent,
                maxLatencyRatio: decimal('--max-latency-ratio', opts.maxLatencyRatio, 1, 1000) ?? defaults.maxLatencyRatio,
                minRequests: opts.minRequests === undefined ? defaults.minRequests : count('--min-requests', opts.minRequests, 1, 1e9),
              },
            };
      const { runCheck, exitCode } = await import('../check/check.ts');
      const report = await runCheck(plan, slo);
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else process.stdout.write((await import('../check/report.ts')).formatReport(report));
      process.exitCode = exitCode(report.verdict);
    });
}
