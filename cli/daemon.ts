/**
 * `dyeline daemon` flags (docs/reference.md#daemon). Its help lists the source kinds from their
 * registry, loaded only when the help is printed or the daemon runs.
 */
import type { Command } from 'commander';
import { createRequire } from 'node:module';
import type * as Registry from '../daemon/sources/registry.ts';
import { option, repeatable, splitEnvList, subcommand } from './flags.ts';

/** One entry per source kind: its URI form and where its credentials come from. */
function sourcesHelp(): string {
  // Help text is built synchronously: require() loads the (ES module) registry on demand.
  const { sourceKinds } = createRequire(import.meta.url)('../daemon/sources/registry.ts') as typeof Registry;
  const lines = sourceKinds().map((k) => `  ${k.usage}${k.credentials ? `\n      credentials from ${k.credentials.env.join(' / ')}` : ''}`);
  return `\nSources (later sources win on the same document):\n${lines.join('\n')}\n`;
}

export function registerDaemon(program: Command): void {
  subcommand(program, 'daemon', 'per-node config sync daemon: sources → validated snapshot file')
    .addOption(option('--source <URI>', 'where rules and instances come from, one of the Sources below (repeatable; later wins)').argParser(repeatable))
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
