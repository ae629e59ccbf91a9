/** `dyeline explain` (docs/reference.md#explain): exit 0 answered, 1 snapshot unreadable, 2 bad flags. */
import type { Command } from 'commander';
import { UsageError } from '../shared/errors.ts';
import { headerFlag, option, repeatable, serviceFlag, subcommand } from './flags.ts';

interface ExplainFlags {
  snapshot: string;
  service?: string;
  from?: string;
  header?: string[];
  cookie?: string[];
  query?: string[];
  json?: boolean;
}

/** `k=v` → [k, v]. */
function pairFlag(flag: string, v: string): [string, string] {
  const eq = v.indexOf('=');
  if (eq <= 0) throw new UsageError(`${flag}: expected 'key=value', got ${JSON.stringify(v)}`);
  return [v.slice(0, eq), v.slice(eq + 1)];
}

export function registerExplain(program: Command): void {
  subcommand(program, 'explain', 'show the routing decision for a hypothetical request, from a snapshot alone')
    .addOption(option('--snapshot <FILE>', 'snapshot file', '/var/run/dyeline/snapshot.json'))
    .addOption(option('--service <S>', 'the upstream service the request is for (required)'))
    .addOption(option('--from <CALLER>', 'the calling service (dye rules of entry services apply at its inbound)'))
    .addOption(option('-H, --header <NAME: VALUE>', 'request header (repeatable)').argParser(repeatable))
    .addOption(option('--cookie <K=V>', 'request cookie (repeatable)').argParser(repeatable))
    .addOption(option('--query <K=V>', 'query parameter (repeatable)').argParser(repeatable))
    .addOption(option('--json', 'print JSON'))
    .action(async (opts: ExplainFlags) => {
      const service = serviceFlag('--service', opts.service, true)!;
      const from = serviceFlag('--from', opts.from, false);
      const headers = (opts.header ?? []).map(headerFlag);
      const cookies = (opts.cookie ?? []).map((v) => pairFlag('--cookie', v));
      const query = (opts.query ?? []).map((v) => pairFlag('--query', v));
      if (!opts.snapshot) throw new UsageError('--snapshot: expected a file path');

      const { EndpointStates } = await import('../agent/routing/endpoint-states.ts');
      const { loadSnapshot } = await import('../agent/snapshot/load.ts');
      const { explain } = await import('../agent/explain.ts');
      const { formatExplain } = await import('../agent/explain-format.ts');
      const { errorMessage } = await import('../shared/errors.ts');
      let loaded;
      try {
        loaded = await loadSnapshot(opts.snapshot, new EndpointStates());
      } catch (err) {
        process.stderr.write(`dyeline explain: cannot use snapshot ${opts.snapshot}: ${errorMessage(err)}\n`);
        process.exitCode = 1;
        return;
      }
      if (loaded.kind !== 'loaded') {
        process.stderr.write(`dyeline explain: cannot use snapshot ${opts.snapshot}: no such file\n`);
        process.exitCode = 1;
        return;
      }
      const result = explain(loaded.table, { service, from, headers, cookies, query });
      process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : formatExplain(result));
    });
}
