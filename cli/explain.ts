/** `dyeline explain` (contract §9). */
import type { Command } from 'commander';
import { option, repeatable, subcommand } from './flags.ts';

export function registerExplain(program: Command): void {
  subcommand(program, 'explain', 'show the routing decision for a hypothetical request, from a snapshot alone')
    .addOption(option('--snapshot <FILE>', 'snapshot file', '/var/run/dyeline/snapshot.json'))
    .addOption(option('--service <S>', 'the upstream service the request is for (required)'))
    .addOption(option('--from <CALLER>', 'the calling service (dye rules of entry services apply at its inbound)'))
    .option('-H, --header <NAME: VALUE>', 'request header (repeatable)', repeatable)
    .option('--cookie <K=V>', 'request cookie (repeatable)', repeatable)
    .option('--query <K=V>', 'query parameter (repeatable)', repeatable)
    .option('--json', 'print JSON')
    .action(async () => {
      process.stderr.write('dyeline explain: not yet implemented (issue 3)\n');
      process.exit(1);
    });
}
