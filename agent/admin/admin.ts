/**
 * The admin listener (docs/reference.md#agent-endpoints, loopback by default): `/config` — who this agent is, the
 * snapshot in use and the effective rules (LaneStates as applied included); `/clusters` — per upstream service its instances
 * (address, labels, colour, ejected, in flight) and each subset's circuit state.
 */
import type { Server } from 'node:http';
import { createAdminServer, sendJson } from '../../shared/http-admin.ts';
import { isoTime } from '../../shared/iso-time.ts';
import type { AgentContext } from '../context.ts';
import type { RoutingTable } from '../routing/types.ts';

/** Circuit state of a subset (agent/resilience/breaker.ts). */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** Hook for the circuit state of (service, lane): the agent passes its breakers' `stateOf`; default: closed. */
export type CircuitStateOf = (service: string, lane: string) => CircuitState;

const alwaysClosed: CircuitStateOf = () => 'closed';

/** The `/config` document (`registration`: its state when --register is on, else null). */
export function configView(ctx: AgentContext, registration?: () => unknown): Record<string, unknown> {
  const t = ctx.table;
  const base = {
    service: ctx.config.service,
    color: ctx.config.color,
    appPort: ctx.config.appPort ?? null,
    snapshot: ctx.config.snapshot,
    snapshotVersion: t?.version ?? null,
    loadedAt: t?.loadedAt ?? null,
    checksum: t?.checksum ?? null,
    draining: ctx.draining,
    registration: registration?.() ?? null,
  };
  if (t === undefined) return { ...base, lanes: [], services: [], dyeRulesHere: [], laneStates: [] };
  const s = t.snapshot;
  const lanes = [...t.lanes()].map((l) => ({ name: l.name, color: l.color, priority: l.priority, strict: l.strict, fallbackChain: l.fallbackChain, degraded: l.degraded }));
  // What this agent applies of each LaneState (docs/reference.md#progressive-delivery).
  const laneStates = [...t.laneStates.values()].map((l) => ({
    lane: l.lane,
    color: l.color,
    share: l.share,
    degraded: l.degraded,
    reason: l.reason ?? null,
    shareHere: l.shareRules.length > 0 && (l.entry === undefined || l.entry.includes(ctx.config.service)),
    shareRules: l.shareRules,
  }));
  const dyeRulesHere = s.lanes
    .filter((e) => e.document.spec.dye !== undefined && (e.document.spec.dye.entry === undefined || e.document.spec.dye.entry.includes(ctx.config.service)))
    .map((e) => ({ lane: e.document.metadata.name, color: e.document.spec.color, priority: e.document.spec.priority, match: e.document.spec.dye!.match }));
  return {
    ...base,
    lanes,
    dyeRulesHere,
    laneStates,
    services: [...t.services()].map((svc) => ({ name: svc.name, spec: svc.spec, lanes: [...svc.subsets.keys()] })),
    documents: {
      lanes: s.lanes.map((e) => ({ ...e.document, provenance: e.provenance })),
      services: s.services.map((e) => ({ ...e.document, provenance: e.provenance })),
      rollouts: s.rollouts.map((e) => ({ ...e.document, provenance: e.provenance })),
      laneStates: s.laneStates.map((e) => ({ ...e.document, provenance: e.provenance })),
    },
  };
}

/** The `/clusters` document. */
export function clustersView(table: RoutingTable | undefined, circuit: CircuitStateOf = alwaysClosed, now: number = Date.now()): Record<string, unknown> {
  if (table === undefined) return { snapshotVersion: null, services: [] };
  return {
    snapshotVersion: table.version,
    services: [...table.services()].map((svc) => ({
      name: svc.name,
      subsets: [...svc.subsets.values()].map((sub) => ({
        lane: sub.lane,
        circuit: circuit(svc.name, sub.lane),
        endpoints: sub.endpoints.map((e) => e.key),
        excluded: sub.excluded.map((e) => e.key),
      })),
      instances: svc.endpoints.map((e) => ({
        name: e.name,
        address: e.address,
        port: e.port,
        weight: e.weight,
        labels: e.labels,
        color: e.color,
        healthy: e.healthy,
        ejected: e.state.ejectedUntil > now,
        ejectedUntil: e.state.ejectedUntil > now ? isoTime(e.state.ejectedUntil) : null,
        inflight: e.state.inflight,
      })),
    })),
  };
}

/** Creates the admin server; the caller binds it. */
export function createAdminListener(ctx: AgentContext, circuit?: CircuitStateOf, registration?: () => unknown): Server {
  return createAdminServer(
    {
      '/config': (_req, res) => sendJson(res, 200, configView(ctx, registration)),
      '/clusters': (_req, res) => sendJson(res, 200, clustersView(ctx.table, circuit)),
    },
    ctx.log,
  );
}
