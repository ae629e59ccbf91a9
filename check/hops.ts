/**
 * The hop-by-hop verdict of `dyeline check` (docs/reference.md#progressive-delivery): over every
 * probe's path, each hop (caller → service, at its depth) must have been served by the lane
 * wherever the caller's agent knew instances of it; a fallback is fine only where the lane has
 * none (no-instance with 0 lane instances). A hop that arrived without the lane's colour lost it
 * on the way (the caller's app does not forward it).
 */
import type { PathEntry } from '../shared/probe-path.ts';

/** What one probe request brought back. */
export interface ProbeAnswer {
  /** HTTP status (0 when the request failed). */
  readonly status: number;
  /** Why it failed, when it did. */
  readonly error?: string;
  readonly entries: readonly PathEntry[];
  /** Entries an agent dropped to keep the header bounded. */
  readonly dropped: number;
}

/** One hop over every probe. */
export interface HopReport {
  readonly depth: number;
  readonly caller: string;
  readonly service: string;
  /** Probes that took this hop. */
  readonly requests: number;
  /** Served lane → count ('' when nothing answered). */
  readonly served: Record<string, number>;
  /** Fallback reason → count. */
  readonly fallbacks: Record<string, number>;
  /** Most instances of the lane the callers knew for the service. */
  readonly laneInstances: number;
  readonly passed: boolean;
  /** Why not (each problem once, with how many probes had it). */
  readonly problems: string[];
}

const key = (e: PathEntry) => `${e.depth}\u0000${e.caller}\u0000${e.service}`;
const bump = (m: Record<string, number>, k: string) => void (m[k] = (m[k] ?? 0) + 1);

/** The problem of one entry for lane `color`, undefined when it is as it should be. */
export function entryProblem(e: PathEntry, color: string): string | undefined {
  if (e.requested !== color) {
    return e.requested === ''
      ? `arrived without colour ${color}: ${e.caller} did not forward it`
      : `arrived coloured ${e.requested}, not ${color}`;
  }
  if (e.served === color) return undefined;
  if (e.fallback === 'no-instance' && e.laneInstances === 0) return undefined;
  const by = e.served === '' ? 'not served' : `served by ${e.served}`;
  return `${by} (fallback ${e.fallback || 'none'}) though lane ${color} has ${e.laneInstances} instance(s) there`;
}

/** The hops of `answers` for lane `color`, in the order first seen (depth first, as the paths run). */
export function hopReports(answers: readonly ProbeAnswer[], color: string): HopReport[] {
  const hops = new Map<string, { e: PathEntry; requests: number; served: Record<string, number>; fallbacks: Record<string, number>; laneInstances: number; problems: Map<string, number> }>();
  for (const a of answers) {
    for (const e of a.entries) {
      let h = hops.get(key(e));
      if (h === undefined) {
        h = { e, requests: 0, served: {}, fallbacks: {}, laneInstances: 0, problems: new Map() };
        hops.set(key(e), h);
      }
      h.requests++;
      bump(h.served, e.served);
      if (e.fallback !== '') bump(h.fallbacks, e.fallback);
      h.laneInstances = Math.max(h.laneInstances, e.laneInstances);
      const p = entryProblem(e, color);
      if (p !== undefined) h.problems.set(p, (h.problems.get(p) ?? 0) + 1);
    }
  }
  return [...hops.values()].map((h) => ({
    depth: h.e.depth,
    caller: h.e.caller,
    service: h.e.service,
    requests: h.requests,
    served: h.served,
    fallbacks: h.fallbacks,
    laneInstances: h.laneInstances,
    passed: h.problems.size === 0,
    problems: [...h.problems].map(([p, n]) => `${p} (${n} of ${h.requests})`),
  }));
}
