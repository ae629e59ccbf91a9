/**
 * The routing tables the agent compiles once per snapshot, and what a request asks of them.
 * Compiled tables are immutable; a new snapshot produces a new table that is swapped in as
 * one object, and a request keeps the table it started with. Live per-instance state (in-flight
 * count, ejection) lives in EndpointState objects that survive table swaps, keyed by address:port.
 */
import type { Service } from '../../shared/schema/documents.ts';
import type { MatchRule } from '../../shared/schema/fields.ts';
import type { Snapshot } from '../../shared/schema/snapshot.ts';
import type { LaneRuntime } from './lane-states.ts';

/** Read-only view of a request used by dye rules and split stickiness. Names are lower-case. */
export interface RequestView {
  /** Header value (several values joined by ", "), or undefined. */
  header(name: string): string | undefined;
  /** Cookie value from the `cookie` header, or undefined. */
  cookie(name: string): string | undefined;
  /** Query parameter value, or undefined. */
  query(name: string): string | undefined;
}

/** Mutable live state of one instance (address:port), shared by every table that names it. */
export interface EndpointState {
  readonly key: string;
  /** Requests in flight to this instance (the balancer's load signal). */
  inflight: number;
  /** Epoch ms until which the instance is ejected (0: not ejected). */
  ejectedUntil: number;
  /** Consecutive failures seen (outlier detection). */
  consecutiveFailures: number;
  /** How many times it has been ejected (ejection time grows with it). */
  ejections: number;
}

/** One instance as the compiled table sees it. */
export interface Endpoint {
  /** `address:port` (IPv6 addresses in brackets). */
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  readonly labels: Readonly<Record<string, string>>;
  /** Registry health (Nacos `healthy`); unhealthy endpoints get no traffic. */
  readonly healthy: boolean;
  /** Instance document name. */
  readonly name: string;
  readonly state: EndpointState;
  /** The instance's `color` label, or `stable` when it has none (for display; lanes use selectors). */
  readonly color: string;
}

/** The instances of one service that belong to one lane. */
export interface Subset {
  readonly service: string;
  readonly lane: string;
  /** Routable members only: registry-healthy with weight > 0 (ejection is live state, checked per pick). */
  readonly endpoints: readonly Endpoint[];
  /** Members that get no traffic (unhealthy or weight 0), for /clusters and explain. */
  readonly excluded: readonly Endpoint[];
  /** Sum of `endpoints` weights. */
  readonly totalWeight: number;
  /**
   * Running sums of `endpoints` weights (same length), for weighted sampling by the balancer;
   * undefined when every weight is equal (uniform sampling).
   */
  readonly cumulativeWeights: readonly number[] | undefined;
}

/** A lane as compiled: its colour and the fallback chain after it. */
export interface CompiledLane {
  readonly color: string;
  /** Lanes to try, in order, when this one cannot serve (excludes itself; empty when strict). */
  readonly fallbackChain: readonly string[];
  readonly strict: boolean;
  /** Lane document name (`stable` for the implicit stable lane). */
  readonly name: string;
  /** Dye priority (0 by default). */
  readonly priority: number;
  /** Its LaneState says degraded: its traffic goes to its fallback chain, reason `degraded`. */
  readonly degraded: boolean;
}

/** Everything known about one upstream service. */
export interface ServiceRoutes {
  readonly name: string;
  /** The Service spec with defaults (the schema's defaults when the service has no document). */
  readonly spec: Service['spec'];
  /** Lane → subset (only lanes with at least one instance). */
  readonly subsets: ReadonlyMap<string, Subset>;
  /** Every instance of the service, routable or not, in a subset or not (for /clusters). */
  readonly endpoints: readonly Endpoint[];
  /** For uncoloured requests: the lane picked by `split` (sticky by splitKey), or stable. */
  pickUncolored(req: RequestView, random: () => number): string;
}

/** Why a request was served outside its requested lane (docs/reference.md#routing). */
export type FallbackReason = 'no-instance' | 'circuit-open' | 'error' | 'degraded';

/** The outcome of routing one request to one service. */
export interface RouteDecision {
  /** The lane asked for: the request colour, or the split/stable choice when uncoloured. */
  readonly requested: string;
  /** Subsets to try in order: the requested lane first when it can serve, then fallbacks. */
  readonly candidates: readonly Subset[];
  /** Set when candidates[0] is not the requested lane. */
  readonly fallback?: FallbackReason;
}

/** A dye rule whose conditions held for a request (its random `percent`, if any, not drawn yet). */
export interface DyeMatch {
  /** Lane document name. */
  readonly lane: string;
  readonly color: string;
  /** Index in the lane's `spec.dye.match`. */
  readonly rule: number;
  /** The rule's random percentage, or undefined. */
  readonly percent: number | undefined;
  /** The rule as written. */
  readonly match: MatchRule;
}

/** One compiled snapshot. */
export interface RoutingTable {
  readonly version: number;
  readonly loadedAt: string;
  /** The snapshot's checksum (`sha256:<hex>`). */
  readonly checksum: string;
  /** The snapshot this table was compiled from (the effective rules, for /config). */
  readonly snapshot: Snapshot;
  /** The LaneStates in effect (share, degraded), by lane colour. */
  readonly laneStates: ReadonlyMap<string, LaneRuntime>;
  /** Every service the snapshot knows (Service documents and services of Instance documents). */
  services(): Iterable<ServiceRoutes>;
  /** True when `address` is the address of an Instance document (a mesh peer: --accept-color mesh). */
  isInstanceAddress(address: string): boolean;
  /** Every lane: Lane documents plus the implicit `stable`. */
  lanes(): Iterable<CompiledLane>;
  /** Routes for a service, or undefined when the snapshot does not know it (pass-through). */
  service(name: string): ServiceRoutes | undefined;
  lane(color: string): CompiledLane | undefined;
  /** True when `address` is the address of an Instance document (a mesh peer). */
  isInstanceAddress(address: string): boolean;
  /**
   * Inbound dyeing at `service`: the colour an uncoloured request gets from lane dye rules
   * (lanes by descending priority, first match wins), with the lane and rule index that matched.
   * `onMatch` hears of every rule whose conditions held, before its random percent is drawn.
   */
  dye(service: string, req: RequestView, random: () => number, onMatch?: (match: DyeMatch) => void): { color: string; lane: string; rule: number } | undefined;
}
