/** `dyeline validate PATH...` — exit 0 valid, 1 invalid, 2 usage (docs/reference.md#commands). */
import type { Command } from 'commander';
import { UsageError } from '../shared/errors.ts';
import { option, subcommand } from './flags.ts';

export function registerValidate(program: Command): void {
  subcommand(program, 'validate', 'lint rule documents (files or dirs); exit 0 valid, 1 invalid, 2 usage')
    .argument('[PATH...]', 'rule files (*.yaml, *.yml, *.json) or directories')
    .addOption(option('--print-schema', 'print the JSON Schema of rule documents (for editors) and exit'))
    .addOption(option('--json', 'print results as JSON'))
    .action(async (paths: string[], opts: { printSchema?: boolean; json?: boolean }) => {
      const { validatePaths, printSchema } = await import('../shared/schema/lint.ts');
      if (opts.printSchema) {
        process.stdout.write(printSchema());
        return;
      }
      if (paths.length === 0) throw new UsageError('validate: expected at least one PATH (file or directory)');
      const ok = await validatePaths(paths, { json: opts.json === true, out: process.stdout });
      process.exitCode = ok ? 0 : 1;
    });
}
