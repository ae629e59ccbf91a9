/**
 * The controller's status port (docs/reference.md#progressive-delivery): `/healthz`, `/readyz`
 * (200 once the source has been read), `/metrics`, `/rollouts` (each rollout's phase, step,
 * share, last analysis; and who holds the lease) and `/history` (each LaneState's audit trail, by lane).
 */
import type { Server } from 'node:http';
import { createAdminServer, sendJson, sendText } from '../../shared/http-admin.ts';
import type { Logger } from '../../shared/log.ts';
import type { Metrics } from '../../shared/metrics.ts';
import type { RolloutController } from './controller.ts';
import type { SourceView } from './source-view.ts';

/** The status server of a controller. */
export function rolloutStatusServer(controller: RolloutController, view: SourceView, metrics: Metrics, log: Logger): Server {
  return createAdminServer(
    {
      '/healthz': (_req, res) => sendText(res, 200, 'ok\n'),
      '/readyz': (_req, res) => (view.synced ? sendText(res, 200, 'ready\n') : sendText(res, 503, `not ready: the source has not been read yet${view.error ? ` (${view.error})` : ''}\n`)),
      '/metrics': (req, res) => metrics.handle(req, res),
      '/rollouts': (_req, res) => {
        res.setHeader('x-dyeline-leader', controller.leader ? 'true' : 'false');
        if (controller.leaseHolder !== undefined) res.setHeader('x-dyeline-lease-holder', controller.leaseHolder);
        sendJson(res, 200, controller.statuses());
      },
      '/history': (_req, res) => {
        const out: Record<string, unknown> = {};
        for (const [lane, doc] of view.laneStates()) out[lane] = doc.spec.history;
        sendJson(res, 200, out);
      },
    },
    log,
  );
}
