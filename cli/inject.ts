/** `dyeline inject [-f FILE]` — Kubernetes workload YAML, stdin → stdout by default (docs/reference.md#kubernetes). */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { UsageError } from '../shared/errors.ts';
import { option, subcommand } from './flags.ts';
import { VERSION } from './version.ts';

/** The sidecar image injected by default: this package's own version. */
export const defaultImage = `dyeline:${VERSION}`;

export function registerInject(program: Command): void {
  subcommand(program, 'inject', 'add the sidecar to Kubernetes workload YAML (stdin → stdout by default)')
    .addOption(option('-f, --file <FILE>', 'read this file instead of stdin'))
    .addOption(option('--image <IMAGE>', 'sidecar image', defaultImage))
    .addOption(option('--legacy-sidecar', 'add the agent to containers instead of as a native sidecar (Kubernetes < 1.29)'))
    .addOption(option('--keep-services', 'do not point Services\' targetPort at the agent inbound listener'))
    .addHelpText(
      'after',
      [
        '',
        'Annotations on the pod template: dyeline.io/service, dyeline.io/color (or label color), dyeline.io/app-port,',
        'dyeline.io/accept-color (any|mesh), dyeline.io/labels (k=v,k2=v2: instance labels), dyeline.io/register: "false"',
        '(no self-registration), dyeline.io/propagate: node (load dyeline/propagate into Node app containers),',
        'dyeline.io/inject: "false" to skip. YAML comments are not preserved.',
      ].join('\n'),
    )
    .action(async (opts: { file?: string; image: string; legacySidecar?: boolean; keepServices?: boolean }) => {
      const legacySidecar = opts.legacySidecar === true;
      let text: string;
      if (opts.file) {
        try {
          text = await readFile(opts.file, 'utf8');
        } catch (err) {
          throw new UsageError(`--file: cannot read ${opts.file}: ${(err as Error).message}`);
        }
      } else {
        if (process.stdin.isTTY) throw new UsageError('inject: pipe workload YAML on stdin or pass -f FILE');
        const chunks: Buffer[] = [];
        for await (const c of process.stdin) chunks.push(c as Buffer);
        text = Buffer.concat(chunks).toString('utf8');
      }
      const { inject } = await import('../deploy/inject/inject.ts');
      try {
        process.stdout.write(inject(text, { image: opts.image, legacySidecar, keepServices: opts.keepServices }));
      } catch (err) {
        process.stderr.write(`dyeline inject: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
