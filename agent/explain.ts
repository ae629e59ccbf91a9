/**
 * `dyeline explain` (contract §9): what the agent would do with a hypothetical request, from
 * a compiled snapshot alone — no traffic sent. It runs the agent's own code: colour reading
 * (propagation/color.ts), dye rules at the caller's inbound, the router and the fallback
 * chains, on fresh endpoint state (nothing in flight, nothing ejected, circuits closed).
 * Randomness is made explicit instead of drawn: a `percent` dye rule is listed as a possible
 * random dye, and a split without a sticky key yields one route per lane with its share.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { COLOR_HEADER } from '../shared/color.ts';
import type { MatchRule } from '../shared/schema/fields.ts';
import { ReusableRequestView } from './forward/request-view.ts';
import { INVALID_COLOR, readColor } from './propagation/color.ts';
import type { CompiledTable } from './routing/compile.ts';
import { hashBucket } from './routing/hash.ts';
import { matchesDeterministic } from './routing/matcher.ts';
import { resolvePlan } from './routing/router.ts';
import type { RoutePlan } from './routing/plan.ts';
import type { Endpoint, RequestView, Subset } from './routing/types.ts';

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

/** Where the colour came from. */
export type ColorSource = 'header' | 'baggage' | 'cookie' | 'query' | 'dye';

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
  fallback: 'no-instance' | 'circuit-open' | 'error' | null;
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

/** Which source decided the colour: the first that carries a value (same order as readColor). */
function colorSourceOf(headers: IncomingHttpHeaders, url: string): Exclude<ColorSource, 'dye'> | null {
  if (readColor({ [COLOR_HEADER]: headers[COLOR_HEADER] }, '/') !== undefined) return 'header';
  if (readColor({ baggage: headers.baggage }, '/') !== undefined) return 'baggage';
  if (readColor({ cookie: headers.cookie }, '/') !== undefined) return 'cookie';
  if (readColor({}, url) !== undefined) return 'query';
  return null;
}

/** Deterministic dyeing: the first rule that always matches, and the random rules tried before it. */
function dyeOf(table: CompiledTable, from: string, req: RequestView): { dyedBy: ExplainDye | null; randomDyes: (ExplainDye & { percent: number })[] } {
  const randomDyes: (ExplainDye & { percent: number })[] = [];
  for (const lane of table.dyeTable.lanesFor(from)) {
    for (const rule of lane.rules) {
      if (!matchesDeterministic(rule, req)) continue;
      const found = { lane: lane.name, color: lane.color, rule: rule.index, match: rule.source };
      const pct = rule.percent;
      if (pct === undefined || pct >= 100) return { dyedBy: found, randomDyes };
      if (pct > 0) randomDyes.push({ ...found, percent: pct });
    }
  }
  return { dyedBy: null, randomDyes };
}

function instanceOf(ep: Endpoint, routable: boolean): ExplainInstance {
  return { name: ep.name, address: ep.address, port: ep.port, weight: ep.weight, labels: { ...ep.labels }, routable, healthy: ep.healthy };
}

function subsetOf(s: Subset): ExplainSubset {
  return { lane: s.lane, instances: [...s.endpoints.map((e) => instanceOf(e, true)), ...s.excluded.map((e) => instanceOf(e, false))] };
}

function routeOf(plan: RoutePlan, share: number): ExplainRoute {
  const d = resolvePlan(plan, undefined, Date.now());
  return {
    share,
    requested: d.requested,
    served: d.candidates[0]?.lane ?? null,
    fallback: d.fallback ?? null,
    candidates: d.candidates.map(subsetOf),
  };
}

/** Explains `input` against `table`. */
export function explain(table: CompiledTable, input: ExplainInput): ExplainResult {
  const { headers, url } = requestOf(input);
  const view = new ReusableRequestView().reset(headers, url);
  const raw = readColor(headers, url);
  const source = colorSourceOf(headers, url);
  let color = raw === INVALID_COLOR ? undefined : raw;
  let colorSource: ColorSource | null = color === undefined ? null : source;
  let dyedBy: ExplainDye | null = null;
  let randomDyes: (ExplainDye & { percent: number })[] = [];
  if (color === undefined && input.from !== undefined) {
    ({ dyedBy, randomDyes } = dyeOf(table, input.from, view));
    if (dyedBy !== null) {
      color = dyedBy.color;
      colorSource = 'dye';
    }
  }
  const lane = color === undefined ? undefined : table.lane(color);
  const result: ExplainResult = {
    snapshot: { version: table.version, checksum: table.checksum, generatedAt: table.snapshot.generatedAt },
    service: input.service,
    from: input.from ?? null,
    known: false,
    color: color ?? null,
    colorSource,
    invalidColorIn: raw === INVALID_COLOR ? source : null,
    dyedBy,
    randomDyes,
    lane: lane === undefined ? null : { name: lane.name, color: lane.color, fallbackChain: [...lane.fallbackChain], strict: lane.strict },
    split: null,
    routes: [],
  };
  const svc = table.service(input.service);
  if (svc === undefined) return result;
  result.known = true;
  if (color !== undefined) {
    result.routes.push(routeOf(svc.planFor(color), 100));
    return result;
  }
  const split = svc.split;
  if (split === undefined) {
    result.routes.push(routeOf(svc.uncoloredPlan(svc.pickUncolored(view, Math.random)), 100));
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
    result.routes.push(routeOf(svc.uncoloredPlan(svc.pickUncolored(view, Math.random)), 100));
  } else {
    for (const l of split.lanes) result.routes.push(routeOf(svc.uncoloredPlan(l), svc.spec.split![l]));
  }
  return result;
}
