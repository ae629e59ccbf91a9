/**
 * `dyeline webhook`: the HTTPS server the Kubernetes API server calls at pod creation.
 * `POST /inject` answers an AdmissionReview (review.ts), `GET /healthz` answers 200. The
 * certificate and key are re-read when their files change (a rotated Secret), without dropping
 * a connection (docs/reference.md#kubernetes).
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { createSecureContext } from 'node:tls';
import { errorMessage } from '../../shared/errors.ts';
import { createLogger, type Logger, logListening } from '../../shared/log.ts';
import { boundAddress, type HostPort, listen } from '../../shared/net.ts';
import { watchFiles, type WatchedFiles } from '../../shared/watched-files.ts';
import type { InjectOptions } from '../inject/pod.ts';
import { review } from './review.ts';

/** A checked webhook configuration. */
export interface WebhookConfig {
  listen: HostPort;
  certFile: string;
  keyFile: string;
  inject: InjectOptions;
  /** How often the certificate files are polled besides fs.watch (default 10 s). */
  certPollMs?: number;
}

/** A running webhook (for tests); `stop` finishes the reviews in flight. */
export interface RunningWebhook {
  address: string;
  /** Re-reads the certificate files now. */
  reloadCertificate(): Promise<void>;
  stop(): Promise<void>;
}

/** Largest AdmissionReview read (a pod is at most ~1.5 MB in etcd). */
const MAX_BODY = 8 * 1024 * 1024;

function describeCert(cert: Buffer): { notAfter: string; fingerprint: string } {
  const x = new X509Certificate(cert);
  return { notAfter: x.validTo, fingerprint: x.fingerprint256 };
}

function send(res: ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the webhook; resolves once it listens. Throws when the certificate cannot be read. */
export async function startWebhook(config: WebhookConfig, log: Logger): Promise<RunningWebhook> {
  let server: Server | undefined;
  const files: WatchedFiles = await watchFiles([config.certFile, config.keyFile], {
    pollMs: config.certPollMs,
    onChange: ([cert, key]) => {
      createSecureContext({ cert, key }); // throws on a key that does not match the certificate
      server?.setSecureContext({ cert: cert!, key: key! });
      log.info({ certificate: describeCert(cert!) }, 'certificate reloaded');
      return true;
    },
    onError: (err) => log.warn({ err: errorMessage(err) }, 'certificate files not (re)loaded; the previous certificate stays in use'),
  });
  const [cert, key] = files.current();
  log.info({ certificate: describeCert(cert!) }, 'certificate loaded');

  async function handleInject(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const text = await readBody(req);
    if (text === undefined) {
      send(res, 413, JSON.stringify({ error: 'AdmissionReview larger than 8 MiB' }));
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const result = review(body, config.inject);
    send(res, 200, JSON.stringify(result.answer));
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const line = { uid: result.answer.response.uid, pod: result.pod, outcome: result.outcome, operations: result.operations, reason: result.reason, ms };
    if (result.outcome === 'not-injected' || result.outcome === 'malformed') log.warn(line, 'admission');
    else log.info(line, 'admission');
  }

  server = createServer({ cert, key, minVersion: 'TLSv1.2' }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/inject' && req.method === 'POST') {
      handleInject(req, res).catch((err: unknown) => {
        log.error({ err: errorMessage(err) }, 'admission review failed');
        if (!res.headersSent) send(res, 500, JSON.stringify({ error: 'internal error' }));
      });
    } else if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      send(res, 200, 'ok\n', 'text/plain');
    } else {
      send(res, 404, JSON.stringify({ error: 'not found' }));
    }
  });
  server.on('tlsClientError', (err) => log.debug({ err: errorMessage(err) }, 'TLS handshake failed'));
  try {
    await listen(server, config.listen);
  } catch (err) {
    files.close();
    throw err;
  }
  const address = boundAddress(server);
  logListening(log, 'webhook', address);
  return {
    address,
    reloadCertificate: () => files.check(),
    async stop() {
      files.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}

/** Runs the webhook until SIGTERM/SIGINT, then stops accepting, finishes reviews in flight and exits 0. */
export async function runWebhook(config: WebhookConfig): Promise<void> {
  const log = createLogger({ component: 'webhook' });
  const running = await startWebhook(config, log);
  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down');
    const exit = () => {
      const t = setTimeout(() => process.exit(0), 1000);
      t.unref();
      log.flush(() => process.exit(0));
    };
    const force = setTimeout(exit, 5000);
    force.unref();
    void running.stop().then(exit);
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
