/** `dyeline demo` (issue 6): a local mesh on this machine that shows the whole product working. */
import type { Command } from 'commander';
import { UsageError } from '../shared/errors.ts';
import { option, subcommand } from './flags.ts';

export function registerDemo(program: Command): void {
  subcommand(program, 'demo', 'a local mesh on this machine that shows the whole product working')
    .addOption(option('--keep', 'leave the mesh running for curl (Ctrl-C stops it)'))
    .addOption(option('--fast', 'shorter traffic phases (used by the tests)'))
    .addOption(option('--base-port <PORT>', 'first of the ~80 loopback ports the demo uses', '18000'))
    .action(async (opts: { keep?: boolean; fast?: boolean; basePort: string }) => {
      const base = Number(opts.basePort);
      if (!Number.isInteger(base) || base < 1024 || base > 65000) throw new UsageError(`--base-port: expected a port 1024-65000, got "${opts.basePort}"`);
      const { runDemo } = await import('../deploy/local/demo.ts');
      process.exitCode = await runDemo({ keep: opts.keep, fast: opts.fast, basePort: base });
    });
}
