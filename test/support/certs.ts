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

/** A CA with a server certificate (for `names`: IPs or DNS names) and a client certificate under it. */
export interface TlsSet {
  dir: string;
  /** PEM files. */
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

/**
 * Makes a CA and, under it, a server certificate for `names` and a client certificate for
 * `clientName` (openssl, EC P-256), in `dir`.
 */
export function tlsSet(dir: string, names: string[] = ['127.0.0.1', 'localhost'], clientName = 'dyeline-daemon'): TlsSet {
  const openssl = opensslBin();
  const run = (args: string[]) => execFileSync(openssl, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  execFileSync('mkdir', ['-p', dir]);
  const key = (name: string) => run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name]);
  key('ca.key');
  run(['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '2', '-subj', '/CN=dyeline-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.crt']);
  const issue = (base: string, subject: string, ext: string) => {
    key(`${base}.key`);
    run(['req', '-new', '-key', `${base}.key`, '-subj', subject, '-out', `${base}.csr`]);
    execFileSync('sh', ['-c', `printf '%s\\n' "$EXT" > ${base}.ext`], { cwd: dir, env: { ...process.env, EXT: ext } });
    run(['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-sha256', '-extfile', `${base}.ext`, '-out', `${base}.crt`]);
  };
  const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  issue('server', `/CN=${names[0]}`, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}`);
  issue('client', `/CN=${clientName}`, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth');
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    serverCertFile: join(dir, 'server.crt'),
    serverKeyFile: join(dir, 'server.key'),
    clientCertFile: join(dir, 'client.crt'),
    clientKeyFile: join(dir, 'client.key'),
  };
}
