/**
 * The status listener (docs/reference.md#agent-endpoints): `/healthz` (the process is up), `/readyz` (a snapshot is
 * loaded, the app port accepts connections, and the agent is not draining), `/metrics`
 * (Prometheus text).
 */
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { createAdminServer, sendJson } from '../../shared/http-admin.ts';
import type { Metrics } from '../../shared/metrics.ts';
import type { AgentContext } from '../context.ts';

/** How long /readyz waits for the app port to accept a connection, ms. */
export const APP_PROBE_TIMEOUT_MS = 1000;

/** Resolves true when 127.0.0.1:`port` accepts a TCP connection within `timeoutMs`. */
export function portAccepts(port: number, timeoutMs: number = APP_PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Why the agent is not ready, or undefined when it is. */
export async function notReadyReason(ctx: AgentContext): Promise<string | undefined> {
  if (ctx.draining) return 'draining';
  if (ctx.table === undefined) return `no snapshot loaded yet from ${ctx.config.snapshot}`;
  const port = ctx.config.appPort;
  if (port !== undefined && !(await portAccepts(port))) return `the app port 127.0.0.1:${port} does not accept connections`;
  return undefined;
}

/** Creates the status server; the caller binds it. */
export function createStatusServer(ctx: AgentContext, metrics: Metrics): Server {
  return createAdminServer(
    {
      '/healthz': (_req, res) => sendJson(res, 200, { status: 'ok' }),
      '/readyz': async (_req, res) => {
        const reason = await notReadyReason(ctx);
        if (reason === undefined) sendJson(res, 200, { ready: true, snapshotVersion: ctx.table?.version });
        else sendJson(res, 503, { ready: false, reason });
      },
      '/metrics': (req, res) => metrics.handle(req, res),
    },
    ctx.log,
  );
}
