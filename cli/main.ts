/**
 * `dyeline` — one command, its subcommands (docs/reference.md#commands). Each subcommand's
 * implementation is loaded only when it runs, so `dyeline validate` starts without the data plane.
 */
import { Command, CommanderError } from 'commander';
import { UsageError } from '../shared/errors.ts';
import { registerAgent } from './agent.ts';
import { registerCheck } from './check.ts';
import { registerDaemon } from './daemon.ts';
import { envBooleans } from './flags.ts';
import { registerDemo } from './demo.ts';
import { registerExplain } from './explain.ts';
import { registerInject } from './inject.ts';
import { registerRollout } from './rollout.ts';
import { registerValidate } from './validate.ts';
import { VERSION } from './version.ts';
import { registerWebhook } from './webhook.ts';

const program = new Command('dyeline')
  .description('Service-mesh sidecar for canary releases with full-link traffic dyeing')
  .version(VERSION)
  // A command's options are its own, before its subcommands (`rollout --source` vs `rollout history --source`).
  .enablePositionalOptions()
  .exitOverride()
  .configureOutput({ outputError: () => {} });

registerDaemon(program);
registerAgent(program);
registerValidate(program);
registerExplain(program);
registerInject(program);
registerDemo(program);
registerWebhook(program);
registerRollout(program);
registerCheck(program);

const settle = (cmd: Command): void => {
  cmd.exitOverride().configureOutput({ outputError: () => {} });
  envBooleans(cmd);
  for (const sub of cmd.commands) settle(sub);
};
for (const cmd of program.commands) settle(cmd);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') process.exit(0);
    if (err.code === 'commander.help') process.exit(0);
    process.stderr.write(`dyeline: ${err.message.replace(/^error: /, '')}\n`);
    process.exit(2);
  }
  if (err instanceof UsageError) {
    process.stderr.write(`dyeline: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`dyeline: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}
