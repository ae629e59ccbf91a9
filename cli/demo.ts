/** `dyeline demo` (issue 6). */
import type { Command } from 'commander';
import { subcommand } from './flags.ts';

export function registerDemo(program: Command): void {
  subcommand(program, 'demo', 'a local mesh on this machine that shows the whole product working')
    .option('--keep', 'leave the mesh running for curl')
    .option('--fast', 'shorter traffic phases (used by the tests)')
    .action(async () => {
      process.stderr.write('dyeline demo: not yet implemented (issue 6)\n');
      process.exit(1);
    });
}
