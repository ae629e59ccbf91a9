/** `dyeline webhook` flags (docs/reference.md#kubernetes). */
import type { Command } from 'commander';
import { UsageError } from '../shared/errors.ts';
import { parseHostPort } from '../shared/net.ts';
import { defaultImage } from './inject.ts';
import { option, subcommand } from './flags.ts';

interface WebhookFlags {
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  image: string;
  legacySidecar?: boolean;
}

export function registerWebhook(program: Command): void {
  subcommand(program, 'webhook', 'Kubernetes mutating admission webhook: injects the sidecar at pod creation (POST /inject, GET /healthz)')
    .addOption(option('--listen <HOST:PORT>', 'HTTPS listener', '0.0.0.0:15443'))
    .addOption(option('--tls-cert <FILE>', 'serving certificate (PEM, with its chain); re-read when it changes (required)'))
    .addOption(option('--tls-key <FILE>', 'its private key (PEM); re-read when it changes (required)'))
    .addOption(option('--image <IMAGE>', 'sidecar image', defaultImage))
    .addOption(option('--legacy-sidecar', 'add the agent to containers instead of as a native sidecar (Kubernetes < 1.29)'))
    .action(async (opts: WebhookFlags) => {
      const listen = parseHostPort(opts.listen, '--listen');
      if (!opts.tlsCert) throw new UsageError('--tls-cert: required (PEM certificate file), or set DYELINE_TLS_CERT');
      if (!opts.tlsKey) throw new UsageError('--tls-key: required (PEM private key file), or set DYELINE_TLS_KEY');
      if (!opts.image.trim()) throw new UsageError('--image: expected an image reference');
      const { runWebhook } = await import('../deploy/webhook/server.ts');
      try {
        await runWebhook({ listen, certFile: opts.tlsCert, keyFile: opts.tlsKey, inject: { image: opts.image, legacySidecar: opts.legacySidecar === true } });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'EACCES') throw new UsageError(`--tls-cert/--tls-key: cannot read: ${(err as Error).message}`);
        throw err;
      }
    });
}
