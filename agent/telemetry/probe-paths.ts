/**
 * The paths of probes (docs/reference.md#dyeline-check): a request asking for its path
 * (`x-dyeline-probe`) that the inbound listener serves, from a peer that may probe (loopback or an
 * instance of the snapshot), registers here by trace id; the app's outbound calls of the same
 * trace find it, carry the probe downstream and add the path each one got back (their own entry,
 * then the downstream agent's answer); the inbound answer then carries them all in
 * `x-dyeline-path`. Bounded: at most MAX_ACTIVE probes registered at once (more are answered
 * without their calls' paths) and MAX_PATH_ENTRIES entries per probe. For requests that are not
 * probes this costs a header lookup on each listener, and a map size check outbound.
 */
import { concatPaths, formatEntry, joinPath, MAX_PATH_ENTRIES, PATH_HEADER, PROBE_HEADER } from '../../shared/probe-path.ts';
import type { Exchange } from '../forward/exchange.ts';
import type { ResponseHeaderList } from '../forward/headers.ts';
import type { RoutingTable, ServiceRoutes } from '../routing/types.ts';

/** Probes registered at once, at most. */
export const MAX_ACTIVE = 64;

/** What one probing request collects: the paths of the calls made while serving it. */
export class ProbeRecord {
  readonly paths: string[] = [];
  #entries = 0;

  /** Adds the path one call got back (dropped once the probe holds MAX_PATH_ENTRIES entries). */
  add(path: string): void {
    if (this.#entries >= MAX_PATH_ENTRIES) return;
    this.paths.push(path);
    this.#entries += 1 + (path.match(/, /g)?.length ?? 0);
  }
}

/** The probes in flight on one agent, by trace id. */
export class ProbePaths {
  readonly #byTrace = new Map<string, ProbeRecord>();

  /** Probes registered now (0: no outbound call needs a lookup). */
  get active(): number {
    return this.#byTrace.size;
  }

  /** Registers a probe served under `traceId`; its record (not registered when MAX_ACTIVE are). */
  begin(traceId: string): ProbeRecord {
    const record = new ProbeRecord();
    if (this.#byTrace.size < MAX_ACTIVE && !this.#byTrace.has(traceId)) this.#byTrace.set(traceId, record);
    return record;
  }

  /** The probe served under `traceId`, if any. */
  of(traceId: string): ProbeRecord | undefined {
    return this.#byTrace.get(traceId);
  }

  /** The probe `record` ended. */
  end(traceId: string, record: ProbeRecord): void {
    if (this.#byTrace.get(traceId) === record) this.#byTrace.delete(traceId);
  }
}

/** What the probe steps need of the agent (its AgentContext). */
interface ProbeContext {
  readonly config: { readonly service: string };
  readonly table: RoutingTable | undefined;
  readonly probes: ProbePaths;
}

/** A peer that may ask for a path: loopback (the pod itself) or an instance of the snapshot (a mesh peer). */
export function mayProbe(peer: string | undefined, table: RoutingTable | undefined): boolean {
  if (peer === undefined) return false;
  const address = peer.startsWith('::ffff:') && peer.includes('.') ? peer.slice(7) : peer;
  if (address === '::1' || address.startsWith('127.')) return true;
  return table !== undefined && table.isInstanceAddress(address);
}

/** Inbound: a probing request from a peer that may probe starts collecting the paths of its trace. */
export function beginInboundProbe(ctx: ProbeContext, ex: Exchange): void {
  if (ex.req.headers[PROBE_HEADER] === undefined || !mayProbe(ex.req.socket.remoteAddress, ctx.table)) return;
  ex.probe = ctx.probes.begin(ex.trace.traceId);
}

/** Inbound: the answer to a probe carries the paths its app's calls collected. */
export function inboundPathHeader(ex: Exchange, headers: ResponseHeaderList): void {
  if (ex.probe !== undefined) headers.push(PATH_HEADER, concatPaths(ex.probe.paths));
}

/** Inbound: the probe ended. */
export function endInboundProbe(ctx: ProbeContext, ex: Exchange): void {
  if (ex.probe instanceof ProbeRecord) ctx.probes.end(ex.trace.traceId, ex.probe);
}

/**
 * Outbound, for a request to a known service: a probe when it asks for a path itself or belongs
 * to a probe this agent's inbound serves; then the probe goes on downstream (`out`: the headers
 * forwarded).
 */
export function beginOutboundProbe(ctx: ProbeContext, ex: Exchange, out: string[]): void {
  const asked = ex.req.headers[PROBE_HEADER] !== undefined;
  const record = ctx.probes.active > 0 ? ctx.probes.of(ex.trace.traceId) : undefined;
  if (record === undefined && !asked) return;
  ex.probe = record ?? new ProbeRecord();
  if (!asked) out.push(PROBE_HEADER, '1');
}

/**
 * Outbound: this hop's entry followed by the downstream path, as the answer's `x-dyeline-path`
 * (set in `headers`, or on the response when the agent answers itself), added to the probe.
 */
export function outboundPath(ctx: ProbeContext, ex: Exchange, routes: ServiceRoutes | undefined, status: number, headers?: ResponseHeaderList): void {
  const probe = ex.probe;
  if (probe === undefined) return;
  const lane = ex.color === '' ? undefined : routes?.subsets.get(ex.color);
  const own = formatEntry({
    depth: 0,
    caller: ctx.config.service,
    service: ex.service,
    requested: ex.color,
    served: ex.servedColor,
    fallback: ex.fallback,
    laneInstances: lane === undefined ? 0 : lane.endpoints.length + lane.excluded.length,
    status,
  });
  const path = joinPath(own, ex.nestedPath);
  if (headers !== undefined) headers.push(PATH_HEADER, path);
  else if (!ex.res.headersSent) ex.res.setHeader(PATH_HEADER, path);
  probe.add(path);
}
