/**
 * Benchmark: `dyeline webhook` latency, a real process over HTTPS with the certificate
 * deploy/k8s/webhook-cert.sh makes, answering the AdmissionReview of
 * test/fixtures/admission/pod-create.json (a pod that gets injected: inject + diff + base64).
 * Timed from the request's first byte to the answer's last, as the API server waits for it:
 * over kept-alive connections (the API server reuses them) one at a time and `concurrency` at
 * once, and with a new TLS connection per review (the handshake included).
 *
 *   node test/bench/webhook.ts [reviews=2000] [concurrency=8]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WEBHOOK_SERVER_NAME, webhookCerts } from '../support/certs.ts';
import { startDyeline } from '../support/process.ts';
import { machine, pct } from './machine.ts';

const [reviews = 2000, concurrency = 8] = process.argv.slice(2).map(Number);
const body = readFileSync(fileURLToPath(new URL('../fixtures/admission/pod-create.json', import.meta.url)));

const dir = mkdtempSync(join(tmpdir(), 'dyeline-bench-webhook-'));
const certs = webhookCerts(join(dir, 'certs'));
const webhook = await startDyeline(['webhook', '--listen', '127.0.0.1:0', '--tls-cert', certs.cert, '--tls-key', certs.key], {
  listeners: ['webhook'],
  env: { DYELINE_LOG_LEVEL: 'info' }, // as deployed: one log line per review
});
const [host, port] = webhook.listeners.get('webhook')!.split(':');

/** One review; resolves with its latency in ms. */
function review(agent: Agent | false): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port: Number(port), method: 'POST', path: '/inject?timeout=5s', agent, ca: certs.ca, servername: WEBHOOK_SERVER_NAME, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => (res.statusCode === 200 && n > 0 ? resolve(performance.now() - t0) : reject(new Error(`status ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `count` reviews, `parallel` at a time; returns sorted latencies and the wall time. */
async function run(count: number, parallel: number, agent: () => Agent | false): Promise<{ sorted: number[]; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      const a = agent();
      while (next < count) {
        next++;
        latencies.push(await review(a));
      }
    }),
  );
  return { sorted: latencies.sort((a, b) => a - b), seconds: (performance.now() - t0) / 1000 };
}

const row = (name: string, r: { sorted: number[]; seconds: number }) =>
  `${name.padEnd(34)} ${String(r.sorted.length).padStart(6)} ${(r.sorted.length / r.seconds).toFixed(0).padStart(8)} ${pct(r.sorted, 50).toFixed(2).padStart(8)} ${pct(r.sorted, 90).toFixed(2).padStart(8)} ${pct(r.sorted, 99).toFixed(2).padStart(8)} ${r.sorted.at(-1)!.toFixed(2).padStart(8)}`;

try {
  console.log(`machine: ${machine()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`webhook: one dyeline webhook process, AdmissionReview of ${body.length} bytes (a pod that gets injected)\n`);
  const keepAlive = (sockets: number) => () => new Agent({ keepAlive: true, maxSockets: sockets, ca: certs.ca, servername: WEBHOOK_SERVER_NAME });
  await run(Math.min(300, reviews), 1, keepAlive(1)); // warm-up
  console.log(`${'reviews'.padEnd(34)} ${'n'.padStart(6)} ${'per s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p90 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)}`);
  console.log(row('kept-alive, one at a time', await run(reviews, 1, keepAlive(1))));
  console.log(row(`kept-alive, ${concurrency} at once`, await run(reviews, concurrency, keepAlive(1))));
  console.log(row('new TLS connection each', await run(Math.ceil(reviews / 4), 1, () => false)));
} finally {
  await webhook.stop();
  rmSync(dir, { recursive: true, force: true });
}
