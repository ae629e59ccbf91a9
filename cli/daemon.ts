/** `dyeline daemon` flags (docs/reference.md#daemon); the source kinds' help comes from their registry. */
import type { Command } from 'commander';
import { sourceKinds } from '../daemon/sources/registry.ts';
import { option, repeatable, splitEnvList, subcommand } from './flags.ts';

/** One line per source kind: its URI form and where its credentials come from. */
function sourcesHelp(): string {
  const lines = sourceKinds().map((k) => `  ${k.usage}${k.credentials ? `\n      credentials from ${k.credentials.env.join(' / ')}` : ''}`);
  return `\nSources (--source; later sources win on the same document):\n${lines.join('\n')}\n`;
}

export function registerDaemon(program: Command): void {
  subcommand(program, 'daemon', 'per-node config sync daemon: sources → validated snapshot file')
    .addOption(
      option('--source <URI>', `${sourceKinds().map((k) => `${k.scheme}://…`).join(' | ')} (repeatable; later wins; see Sources below)`).argParser(repeatable),
    )
    .addOption(option('--snapshot <PATH>', 'the snapshot file agents read', '/var/run/dyeline/snapshot.json'))
    .addOption(option('--status <HOST:PORT>', '/healthz, /readyz, /metrics', '0.0.0.0:15290'))
    .addOption(option('--admin <HOST:PORT>', '/status, /snapshot (keep it on loopback)', '127.0.0.1:15200'))
    .addHelpText('after', sourcesHelp)
    .action(async (opts: { source?: string[] | string; snapshot: string; status: string; admin: string }) => {
      const { parseDaemonConfig } = await import('../daemon/config.ts');
      const config = parseDaemonConfig({ ...opts, source: splitEnvList(opts.source) }, process.env);
      const { runDaemon } = await import('../daemon/main.ts');
      await runDaemon(config);
    });
}
