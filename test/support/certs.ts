/**
 * Certificates for tests, made with openssl (scripts/ensure-debian.sh installs it when
 * missing): the webhook's through deploy/k8s/webhook-cert.sh itself, so the tests exercise the
 * bootstrap operators run.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Path of the openssl binary (installed when missing and running as root). */
export function opensslBin(): string {
  return execFileSync('bash', [join(ROOT, 'scripts/ensure-debian.sh'), 'openssl', 'openssl'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** The name the API server checks on the webhook's certificate (deploy/k8s/base/webhook.yaml). */
export const WEBHOOK_SERVER_NAME = 'dyeline-webhook.dyeline-system.svc';

/** Files of one run of webhook-cert.sh. */
export interface WebhookCerts {
  dir: string;
  ca: Buffer;
  cert: string;
  key: string;
}

/** Runs deploy/k8s/webhook-cert.sh --dir DIR (re-run with the same dir: a new serving certificate under the same CA). */
export function webhookCerts(dir: string, extraArgs: string[] = []): WebhookCerts {
  const openssl = opensslBin();
  execFileSync('bash', [join(ROOT, 'deploy/k8s/webhook-cert.sh'), '--dir', dir, ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PATH: `${join(openssl, '..')}:${process.env.PATH ?? ''}` },
  });
  return { dir, ca: readFileSync(join(dir, 'ca.crt')), cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') };
}
