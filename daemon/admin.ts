/**
 * The daemon's two HTTP ports (docs/reference.md#daemon-endpoints): status (`/healthz`, `/readyz`, `/metrics`) and
 * admin (`/status`, `/snapshot`; loopback by default). Neither shows credentials: source URIs
 * never carry them.
 */
import type { Server } from 'node:http';
import { createAdminServer, sendJson, sendText } from '../shared/http-admin.ts';
import type { Logger } from '../shared/log.ts';
import type { Metrics } from '../shared/metrics.ts';
import type { Daemon } from './daemon.ts';
import type { RegistrationStatus } from './registration/server.ts';

/** The registrations the daemon holds, for /status (docs/reference.md#registration). */
export interface RegistrationView {
  registry: string;
  registrations: RegistrationStatus[];
}

export function statusServer(daemon: Daemon, metrics: Metrics, log: Logger): Server {
  return createAdminServer(
    {
      '/healthz': (_req, res) => sendText(res, 200, 'ok\n'),
      '/readyz': (_req, res) =>
        daemon.ready ? sendText(res, 200, 'ready\n') : sendText(res, 503, 'not ready: waiting for every source to sync once\n'),
      '/metrics': (req, res) => metrics.handle(req, res),
    },
    log,
  );
}

export function adminServer(daemon: Daemon, log: Logger, registration?: () => RegistrationView | undefined): Server {
  return createAdminServer(
    {
      '/status': (_req, res) => sendJson(res, 200, { ...daemon.status(), ...registration?.() }),
      '/snapshot': (_req, res) => {
        const bytes = daemon.snapshotBytes;
        if (bytes === undefined) return sendJson(res, 404, { error: 'no-snapshot', message: 'no snapshot written yet' });
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': bytes.length });
        res.end(bytes);
      },
    },
    log,
  );
}
