/**
 * deploy/k8s/webhook-cert.sh, the webhook's certificate bootstrap without cert-manager: real
 * openssl; with --apply, the kubectl commands it runs are recorded by a kubectl stand-in on
 * PATH, and the caBundle patch it sends is applied to the MutatingWebhookConfiguration of
 * deploy/k8s/base/webhook.yaml.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastJsonPatch from 'fast-json-patch';
import { parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { opensslBin, WEBHOOK_SERVER_NAME, webhookCerts } from '../support/certs.ts';
import { schemaErrors } from '../support/k8s-schema.ts';

type Any = Record<string, any>;
const SCRIPT = fileURLToPath(new URL('../../deploy/k8s/webhook-cert.sh', import.meta.url));
const WEBHOOK_YAML = fileURLToPath(new URL('../../deploy/k8s/base/webhook.yaml', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'dyeline-webhook-cert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('deploy/k8s/webhook-cert.sh', () => {
  it('makes a CA and a serving certificate for the webhook Service that the CA verifies', () => {
    const certs = webhookCerts(join(dir, 'a'));
    const ca = new X509Certificate(certs.ca);
    const leaf = new X509Certificate(readFileSync(certs.cert));
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkIssued(ca)).toBe(true);
    for (const name of ['dyeline-webhook', 'dyeline-webhook.dyeline-system', WEBHOOK_SERVER_NAME, `${WEBHOOK_SERVER_NAME}.cluster.local`]) expect(leaf.checkHost(name)).toBe(name);
    expect(leaf.checkHost('other.dyeline-system.svc')).toBeUndefined();
    expect(leaf.keyUsage).toContain('1.3.6.1.5.5.7.3.1'); // serverAuth
    const days = (Date.parse(leaf.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(363);
    expect(days).toBeLessThan(366);
    expect(readFileSync(certs.key, 'utf8')).toMatch(/PRIVATE KEY/);
  });

  it('keeps the CA on a second run (the caBundle stays valid) and issues a new serving certificate', () => {
    const first = webhookCerts(join(dir, 'b'));
    const firstLeaf = readFileSync(first.cert, 'utf8');
    const second = webhookCerts(join(dir, 'b'), ['--days', '30']);
    expect(second.ca.equals(first.ca)).toBe(true);
    const leaf = new X509Certificate(readFileSync(second.cert));
    expect(leaf.toString()).not.toBe(firstLeaf);
    expect(leaf.checkIssued(new X509Certificate(second.ca))).toBe(true);
    expect((Date.parse(leaf.validTo) - Date.now()) / 86_400_000).toBeLessThan(31);
  });

  it('with --apply, writes the Secret and a caBundle patch that applies to the shipped MutatingWebhookConfiguration', async () => {
    const bin = join(dir, 'bin');
    const record = join(dir, 'kubectl.log');
    execFileSync('mkdir', ['-p', bin]);
    // Stand-in for kubectl: records each call (arguments, then stdin when piped) as one JSON line.
    writeFileSync(
      join(bin, 'kubectl'),
      `#!/usr/bin/env bash\nstdin=""\nif [ ! -t 0 ] && [ "$*" = "apply -f -" ]; then stdin=$(cat); fi\nnode -e 'const fs=require("fs"); fs.appendFileSync(process.argv[1], JSON.stringify({args: process.argv.slice(3), stdin: process.argv[2]})+"\\n"); if (process.argv.includes("--dry-run=client")) process.stdout.write("kind: Secret\\n")' "${record}" "$stdin" "$@"\n`,
    );
    chmodSync(join(bin, 'kubectl'), 0o755);
    const out = join(dir, 'c');
    const r = spawnSync('bash', [SCRIPT, '--dir', out, '--apply'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${dirname(process.execPath)}:${dirname(opensslBin())}:${process.env.PATH ?? ''}` },
    });
    expect(r.status, r.stderr).toBe(0);
    const calls = readFileSync(record, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { args: string[]; stdin: string });
    expect(calls.map((c) => c.args.slice(0, 4).join(' '))).toEqual([
      '-n dyeline-system create secret',
      'apply -f -',
      'patch mutatingwebhookconfiguration dyeline --type=json',
    ]);
    expect(calls[0]!.args).toEqual(['-n', 'dyeline-system', 'create', 'secret', 'tls', 'dyeline-webhook-tls', `--cert=${out}/tls.crt`, `--key=${out}/tls.key`, '--dry-run=client', '-o', 'yaml']);
    expect(calls[1]!.stdin).toBe('kind: Secret');
    const patch = JSON.parse(calls[2]!.args[calls[2]!.args.indexOf('-p') + 1]!) as fastJsonPatch.Operation[];
    const config = parseAllDocuments(readFileSync(WEBHOOK_YAML, 'utf8'))
      .map((d) => d.toJS() as Any)
      .find((d) => d.kind === 'MutatingWebhookConfiguration')!;
    const patched = fastJsonPatch.applyPatch(config, patch, true).newDocument as Any;
    expect(Buffer.from(patched.webhooks[0].clientConfig.caBundle as string, 'base64').equals(readFileSync(join(out, 'ca.crt')))).toBe(true);
    expect(await schemaErrors(patched)).toEqual([]);
  });

  it('refuses bad arguments with exit 2', () => {
    for (const args of [['--days', 'many'], ['--bogus']]) {
      const r = spawnSync('bash', [SCRIPT, '--dir', join(dir, 'd'), ...args], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/webhook-cert.sh: /);
    }
  });
});
