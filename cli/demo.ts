/** `dyeline demo` (issue 6): a local mesh on this machine that shows the whole product working. */
import { type Command, Option } from 'commander';
import { UsageError } from '../shared/errors.ts';
import { option, subcommand } from './flags.ts';

export function registerDemo(program: Command): void {
  subcommand(program, 'demo', 'a local mesh on this machine that shows the whole product working')
    .addOption(option('--keep', 'leave the mesh running for curl (Ctrl-C stops it)'))
    .addOption(option('--fast', 'shorter traffic phases (used by the tests)'))
    .addOption(option('--base-port <PORT>', 'first of the ~80 loopback ports the demo uses', '18000'))
    // One demo app instance (deploy/local/app.ts, configured by its environment): the demo starts
    // its apps through the same entry as its agents, so a built entry carries the whole demo.
    .addOption(new Option('--app', 'run one demo app instance').hideHelp())
    .action(async (opts: { keep?: boolean; fast?: boolean; basePort: string; app?: boolean }) => {
      if (opts.app) {
        await import('../deploy/local/app.ts');
        return;
      }
      const base = Number(opts.basePort);
      if (!Number.isInteger(base) || base < 1024 || base > 65000) throw new UsageError(`--base-port: expected a port 1024-65000, got "${opts.basePort}"`);
      const { runDemo } = await import('../deploy/local/demo.ts');
      process.exitCode = await runDemo({ keep: opts.keep, fast: opts.fast, basePort: base });
    });
}
