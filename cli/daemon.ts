/** `dyeline daemon` flags (contract §2). */
import type { Command } from 'commander';
import { option, repeatable, splitEnvList, subcommand } from './flags.ts';

export function registerDaemon(program: Command): void {
  subcommand(program, 'daemon', 'per-node config sync daemon: sources → validated snapshot file')
    .addOption(
      option('--source <URI>', 'file:///dir | etcd://host:port[,...]?prefix=/dyeline/ | nacos://host:port?... (repeatable; later wins)').argParser(
        repeatable,
      ),
    )
    .addOption(option('--snapshot <PATH>', 'the snapshot file agents read', '/var/run/dyeline/snapshot.json'))
    .addOption(option('--status <HOST:PORT>', '/healthz, /readyz, /metrics', '0.0.0.0:15290'))
    .addOption(option('--admin <HOST:PORT>', '/status, /snapshot (keep it on loopback)', '127.0.0.1:15200'))
    .action(async (opts: { source?: string[] | string; snapshot: string; status: string; admin: string }) => {
      const { parseDaemonConfig } = await import('../daemon/config.ts');
      const config = parseDaemonConfig({ ...opts, source: splitEnvList(opts.source) }, process.env);
      const { runDaemon } = await import('../daemon/main.ts');
      await runDaemon(config);
    });
}
