/**
 * `dyeline explain` (docs/reference.md#explain): what the agent would do with a hypothetical
 * request, from a compiled snapshot alone — no traffic sent. It runs the agent's own code: the
 * colour carriers, the entry colour (dye rules at the caller's inbound) and the router, on fresh
 * endpoint state (nothing in flight, nothing ejected, circuits closed). Randomness is made
 * explicit instead of drawn: a `percent` dye rule is listed as a possible random dye, and a split
 * without a sticky key yields one route per lane with its share.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { MatchRule } from '../shared/schema/fields.ts';
import { entryColor } from './entry/entry-color.ts';
import { ReusableRequestView } from './forward/request-view.ts';
import type { CarrierName } from './propagation/carriers.ts';
import { readColor } from './propagation/color.ts';
import type { CompiledTable } from './routing/compile.ts';
import { hashBucket } from './routing/hash.ts';
import { route } from './routing/router.ts';
import type { DyeMatch, Endpoint, FallbackReason, RouteDecision, Subset } from './routing/types.ts';

/** The hypothetical request. Header names any case; values as sent. */
export interface ExplainInput {
  /** The upstream service called. */
  service: string;
  /** The calling service: dye rules of lanes entering there apply to an uncoloured request. */
  from?: string;
  /** [name, value] pairs (a `cookie` header is merged with `cookies`). */
  headers: readonly (readonly [string, string])[];
  cookies: readonly (readonly [string, string])[];
  query: readonly (readonly [string, string])[];
}

/** Where the colour came from: one of the colour carriers (propagation/carriers.ts), or a dye rule. */
export type ColorSource = CarrierName | 'dye';

/** One instance as explain shows it. */
export interface ExplainInstance {
  name: string;
  address: string;
  port: number;
  weight: number;
  labels: Record<string, string>;
  /** false: unhealthy or weight 0 — member of the subset but gets no traffic. */
  routable: boolean;
  healthy: boolean;
}

/** One subset of a route, in try order. */
export interface ExplainSubset {
  lane: string;
  instances: ExplainInstance[];
}

/** One way the request can be routed (several only for a random split). */
export interface ExplainRoute {
  /** Percentage of such requests that take this route (100 unless a random split). */
  share: number;
  /** The lane asked for (colour, or split/stable choice). */
  requested: string;
  /** The lane that serves, or null when none can (503 no-instance). */
  served: string | null;
  /** Why served outside the requested lane, or null. */
  fallback: FallbackReason | null;
  /** Subsets in try order: the first serves, the rest are for retries after a failure. */
  candidates: ExplainSubset[];
}

/** A dye rule that matched. */
export interface ExplainDye {
  lane: string;
  color: string;
  /** Index in the lane's `spec.dye.match`. */
  rule: number;
  match: MatchRule;
}

/** The whole explanation. */
export interface ExplainResult {
  snapshot: { version: number; checksum: string; generatedAt: string };
  service: string;
  from: string | null;
  /** false: the snapshot does not know the service; the agent passes the request through (DNS). */
  known: boolean;
  /** The request colour after reading and dyeing; null: uncoloured. */
  color: string | null;
  colorSource: ColorSource | null;
  /** Set when the deciding source held an invalid colour (treated as none, never forwarded). */
  invalidColorIn: ColorSource | null;
  /** The rule that dyed the request, when it arrived uncoloured at `from`. */
  dyedBy: ExplainDye | null;
  /** Rules with a random `percent` that could dye the request instead (tried before the result). */
  randomDyes: (ExplainDye & { percent: number })[];
  /** The lane of the colour: its fallback chain and strictness, or null when undocumented. */
  lane: { name: string; color: string; fallbackChain: string[]; strict: boolean } | null;
  /** The service's split, for uncoloured requests. */
  split: { weights: Record<string, number>; key: string | null; keyValue: string | null; bucket: number | null; sticky: boolean } | null;
  routes: ExplainRoute[];
}

/** Headers, cookie header and request target built from the input, as the agent would see them. */
export function requestOf(input: ExplainInput): { headers: IncomingHttpHeaders; url: string } {
  const headers: Record<string, string> = {};
  for (const [name, value] of input.headers) {
    const n = name.toLowerCase();
    const sep = n === 'cookie' ? '; ' : ', ';
    headers[n] = headers[n] === undefined ? value : `${headers[n]}${sep}${value}`;
  }
  if (input.cookies.length > 0) {
    const c = input.cookies.map(([k, v]) => `${k}=${v}`).join('; ');
    headers.cookie = headers.cookie === undefined ? c : `${headers.cookie}; ${c}`;
  }
  const q = input.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return { headers, url: q === '' ? '/' : `/?${q}` };
}

function instanceOf(ep: Endpoint, routable: boolean): ExplainInstance {
  return { name: ep.name, address: ep.address, port: ep.port, weight: ep.weight, labels: { ...ep.labels }, routable, healthy: ep.healthy };
}

function subsetOf(s: Subset): ExplainSubset {
  return { lane: s.lane, instances: [...s.endpoints.map((e) => instanceOf(e, true)), ...s.excluded.map((e) => instanceOf(e, false))] };
}

function routeOf(d: RouteDecision, share: number): ExplainRoute {
  return {
    share,
    requested: d.requested,
    served: d.candidates[0]?.lane ?? null,
    fallback: d.fallback ?? null,
    candidates: d.candidates.map(subsetOf),
  };
}

/** The explanation of a dye rule. */
function dyeOf(m: DyeMatch): ExplainDye {
  return { lane: m.lane, color: m.color, rule: m.rule, match: m.match };
}

/**
 * What `random` draws for a rule's random percent: just below 1, so every percentage below 100
 * misses (explain lists those rules instead of drawing) and 100 always matches.
 */
const NO_RANDOM_DYE = (): number => 1 - Number.EPSILON / 2;

/** Explains `input` against `table`, with the agent's own colour reading, dye rules and router. */
export function explain(table: CompiledTable, input: ExplainInput): ExplainResult {
  const { headers, url } = requestOf(input);
  const view = new ReusableRequestView().reset(headers, url);
  const reading = readColor(headers, url);
  const matched: DyeMatch[] = [];
  const color = entryColor(reading, table, input.from, view, NO_RANDOM_DYE, (m) => matched.push(m));
  const dyed = reading.kind !== 'valid' && color !== undefined;
  // The rules heard of are those whose conditions held, in the order tried; when the request was
  // dyed the last one dyed it, and the random ones before it could have dyed it instead.
  const tried = dyed ? matched.slice(0, -1) : matched;
  const lane = color === undefined ? undefined : table.lane(color);
  const result: ExplainResult = {
    snapshot: { version: table.version, checksum: table.checksum, generatedAt: table.snapshot.generatedAt },
    service: input.service,
    from: input.from ?? null,
    known: false,
    color: color ?? null,
    colorSource: reading.kind === 'valid' ? reading.carrier.name : dyed ? 'dye' : null,
    invalidColorIn: reading.kind === 'invalid' ? reading.carrier.name : null,
    dyedBy: dyed ? dyeOf(matched[matched.length - 1]) : null,
    randomDyes: tried.filter((m) => m.percent !== undefined && m.percent > 0 && m.percent < 100).map((m) => ({ ...dyeOf(m), percent: m.percent! })),
    lane: lane === undefined ? null : { name: lane.name, color: lane.color, fallbackChain: [...lane.fallbackChain], strict: lane.strict },
    split: null,
    routes: [],
  };
  const svc = table.service(input.service);
  if (svc === undefined) return result;
  result.known = true;
  const routeWith = (random: () => number): RouteDecision => route(table, svc.name, color, view, random)!;
  const split = svc.split;
  if (color !== undefined || split === undefined) {
    result.routes.push(routeOf(routeWith(Math.random), 100));
    return result;
  }
  const keyValue = svc.splitKeyValue(view);
  result.split = {
    weights: { ...svc.spec.split },
    key: svc.spec.splitKey ?? null,
    keyValue: keyValue ?? null,
    bucket: keyValue === undefined ? null : hashBucket(keyValue),
    sticky: keyValue !== undefined,
  };
  if (keyValue !== undefined) {
    result.routes.push(routeOf(routeWith(Math.random), 100));
    return result;
  }
  // A random split: one route per lane, drawn at the middle of the lane's buckets.
  for (let i = 0; i < split.lanes.length; i++) {
    const start = i === 0 ? 0 : split.cumulative[i - 1];
    const weight = split.cumulative[i] - start;
    result.routes.push(routeOf(routeWith(() => (start + weight / 2) / 100), weight));
  }
  return result;
}
