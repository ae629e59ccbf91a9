/** `dyeline agent` flags (docs/reference.md#agent); the agent checks them (agent/config.ts). */
import type { Command } from 'commander';
import type { AgentFlags } from '../agent/config.ts';
import { option, repeatable, subcommand } from './flags.ts';

export function registerAgent(program: Command): void {
  subcommand(program, 'agent', 'per-pod sidecar: inbound + outbound listeners')
    .addOption(option('--service <NAME>', 'the service this pod belongs to (required)'))
    .addOption(option('--color <COLOR>', 'the lane of this pod\'s instance', 'stable'))
    .addOption(option('--app-port <PORT>', 'inbound traffic is forwarded to 127.0.0.1:PORT (without it the agent opens no inbound listener)'))
    .addOption(option('--inbound <HOST:PORT>', 'traffic from other services to this pod', '0.0.0.0:15006'))
    .addOption(option('--outbound <HOST:PORT>', 'traffic from this pod\'s app to other services', '127.0.0.1:15001'))
    .addOption(option('--status <HOST:PORT>', '/healthz, /readyz, /metrics', '0.0.0.0:15090'))
    .addOption(option('--admin <HOST:PORT>', '/config, /clusters (keep it on loopback)', '127.0.0.1:15000'))
    .addOption(option('--snapshot <PATH>', 'snapshot file written by the daemon', '/var/run/dyeline/snapshot.json'))
    .addOption(option('--drain-timeout-ms <MS>', 'on SIGTERM, how long in-flight requests may take to finish', '15000'))
    .addOption(option('--max-hops <N>', 'agent hops after which a request is answered 508 (loop guard)', '32'))
    .addOption(option('--connect-timeout-ms <MS>', 'connect timeout to upstream instances', '3000'))
    .addOption(option('--access-log <BOOL>', 'one JSON log line per request, with trace_id, span_id and color (true|false)', 'true'))
    .addOption(option('--register', 'register this pod\'s instance through the node\'s daemon while the app accepts connections'))
    .addOption(option('--advertise <HOST[:PORT]>', 'the address other agents call (default: $POD_IP and the inbound port)'))
    .addOption(option('--label <K=V>', 'an instance label besides color (repeatable)').argParser(repeatable))
    .addOption(option('--deregister-wait-ms <MS>', 'on SIGTERM, how long the inbound keeps accepting after deregistration', '1000'))
    .addOption(option('--leak-window-ms <MS>', 'how long the colour of a trace that arrived coloured is remembered, to re-colour calls that lost it (0: off)', '30000'))
    .addOption(option('--leak-traces <N>', 'how many such traces are remembered at most', '4096'))
    .addOption(option('--accept-color <any|mesh>', 'whose colour the inbound listener honours: any caller, or only mesh instances of the snapshot (others\' is removed and counted)', 'any'))
    .action(async (opts: AgentFlags) => {
      const { parseAgentConfig } = await import('../agent/config.ts');
      const config = parseAgentConfig(opts);
      const { runAgent } = await import('../agent/main.ts');
      await runAgent(config);
    });
}
