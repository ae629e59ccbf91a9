/**
 * `dyeline daemon`: sources → validated, merged, versioned snapshot file, plus the status
 * and admin ports. SIGTERM/SIGINT stop it cleanly.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createLogger, logListening } from '../shared/log.ts';
import { createMetrics } from '../shared/metrics.ts';
import { recordOperation } from '../shared/telemetry/operation.ts';
import { createTracing } from '../shared/telemetry/tracing.ts';
import { boundAddress, listen } from '../shared/net.ts';
import { adminServer, statusServer } from './admin.ts';
import type { DaemonConfig } from './config.ts';
import { Daemon } from './daemon.ts';
import { daemonMetrics } from './metrics.ts';
import { createSource, sourceSecretPaths } from './sources/registry.ts';
import { errorMessage } from '../shared/errors.ts';
import { registrationSocketPath } from '../shared/registration.ts';
import { stopOnSignals } from '../shared/shutdown.ts';
import { LocalRegistrations } from './registration/local.ts';
import { RegistrationServer } from './registration/server.ts';
import type { Source } from './sources/source.ts';

/** The source registered instances go to: the registry source of lowest rank, the first on the command line among equals. */
function registrySource(sources: readonly Source[]): Source | undefined {
  let best: Source | undefined;
  for (const s of sources) if (s.registration && (!best || s.registration.rank < best.registration!.rank)) best = s;
  return best;
}

export async function runDaemon(cfg: DaemonConfig): Promise<void> {
  const log = createLogger({ component: 'daemon' }, undefined, sourceSecretPaths());
  log.info({ sources: cfg.sources.map((s) => s.uri), snapshot: cfg.snapshot }, 'starting');
  await mkdir(dirname(cfg.snapshot), { recursive: true });
  const metrics = createMetrics('dyeline-daemon');
  // OTEL_* configure traces (service.name defaults to dyeline-daemon): one span per snapshot write.
  const tracing = createTracing({ defaultServiceName: 'dyeline-daemon', log, meterProvider: metrics.provider });
  const counted = daemonMetrics(metrics);
  const measured = {
    ...counted,
    written(version: number, seconds: number) {
      counted.written(version, seconds);
      const end = performance.now();
      recordOperation(tracing, 'snapshot write', end - seconds * 1000, end, { 'dyeline.snapshot.version': version, 'file.path': cfg.snapshot });
    },
  };
  const sources = await Promise.all(cfg.sources.map((s) => createSource(s, log)));
  // Self-registration (docs/reference.md#registration): into the registry among the sources,
  // else (file sources only) into this node's snapshot through a source of its own.
  const registry = registrySource(sources);
  const local = registry ? undefined : new LocalRegistrations({ snapshotPath: cfg.snapshot });
  const daemon = new Daemon(local ? [...sources, local] : sources, { snapshotPath: cfg.snapshot }, log, measured);
  let registration: RegistrationServer | undefined;

  await daemon.init();
  const status = statusServer(daemon, metrics, log);
  const admin = adminServer(daemon, log, () => (registration ? { registry: registration.registry, registrations: registration.status() } : undefined));
  await listen(status, cfg.status);
  logListening(log, 'status', boundAddress(status));
  await listen(admin, cfg.admin);
  logListening(log, 'admin', boundAddress(admin));

  const stopping = stopOnSignals(log, async () => {
    // Registrations stay in the registry: the agents register again with the next daemon.
    await registration?.stop();
    await daemon.stop();
    status.close();
    admin.close();
    status.closeAllConnections();
    admin.closeAllConnections();
    await tracing.shutdown().catch(() => {});
    await metrics.shutdown().catch(() => {});
  });

  await daemon.start();
  const registrar = registry ? registry.registration!.registrar(log) : local!;
  const server = new RegistrationServer({ socketPath: registrationSocketPath(cfg.snapshot), registrar, log });
  try {
    await server.start();
    if (!stopping()) registration = server;
  } catch (err) {
    log.error({ err: errorMessage(err), socket: registrationSocketPath(cfg.snapshot) }, 'registration socket not available; agents cannot register on this node');
  }
}
