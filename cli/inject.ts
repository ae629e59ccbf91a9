/** `dyeline inject` (contract §1). */
import type { Command } from 'commander';
import { subcommand } from './flags.ts';

export function registerInject(program: Command): void {
  subcommand(program, 'inject', 'add the sidecar to Kubernetes workload YAML (stdin → stdout by default)')
    .option('-f, --file <FILE>', 'read this file instead of stdin')
    .action(async () => {
      process.stderr.write('dyeline inject: not yet implemented\n');
      process.exit(1);
    });
}
