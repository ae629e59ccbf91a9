/**
 * One upstream service as compiled: its spec with defaults, its subsets, the split of
 * uncoloured traffic, and the route plan of each requested lane (made on first use, kept for
 * the life of the table).
 */
import { STABLE } from '../../shared/color.ts';
import type { Service } from '../../shared/schema/documents.ts';
import { hashBucket } from './hash.ts';
import { RoutePlan, subsetsInOrder } from './plan.ts';
import type { CompiledLane, Endpoint, RequestView, ServiceRoutes, Subset } from './types.ts';

/** How many plans for colours unknown to the snapshot a service keeps (colours come from requests). */
export const UNKNOWN_COLOR_PLANS = 64;

/** `split` as cumulative buckets: lane i owns [cumulative[i-1], cumulative[i]). */
interface SplitTable {
  readonly lanes: readonly string[];
  readonly cumulative: readonly number[];
}

/**
 * Split lanes in bucket order: non-stable lanes by name, then stable, so a lane with weight W
 * owns buckets 0..W-1 of the sticky hash, exactly as `hashPercent: W` on the same key does, and
 * raising its weight only adds users to it.
 */
function compileSplit(split: Record<string, number> | undefined): SplitTable | undefined {
  if (split === undefined) return undefined;
  const lanes = Object.keys(split)
    .filter((l) => split[l] > 0)
    .sort((a, b) => (a === STABLE ? 1 : b === STABLE ? -1 : a < b ? -1 : a > b ? 1 : 0));
  if (lanes.length === 0) return undefined;
  let sum = 0;
  const cumulative = lanes.map((l) => (sum += split[l]));
  return { lanes, cumulative };
}

/** The compiled routes of one service. */
export class CompiledService implements ServiceRoutes {
  readonly name: string;
  readonly spec: Service['spec'];
  readonly subsets: ReadonlyMap<string, Subset>;
  readonly endpoints: readonly Endpoint[];
  readonly #lanes: ReadonlyMap<string, CompiledLane>;
  readonly #split: SplitTable | undefined;
  readonly #keyKind: 'header' | 'cookie' | undefined;
  readonly #keyName: string;
  readonly #plans = new Map<string, RoutePlan>();
  readonly #unknownPlans = new Map<string, RoutePlan>();
  readonly #uncoloredPlans = new Map<string, RoutePlan>();
  /** Lanes whose LaneState says degraded are left out of every plan. */
  readonly #degraded = (lane: string): boolean => this.#lanes.get(lane)?.degraded === true;

  constructor(
    name: string,
    spec: Service['spec'],
    endpoints: readonly Endpoint[],
    subsets: ReadonlyMap<string, Subset>,
    lanes: ReadonlyMap<string, CompiledLane>,
  ) {
    this.name = name;
    this.spec = spec;
    this.endpoints = endpoints;
    this.subsets = subsets;
    this.#lanes = lanes;
    this.#split = compileSplit(spec.split);
    const key = spec.splitKey;
    if (key === undefined) {
      this.#keyKind = undefined;
      this.#keyName = '';
    } else {
      const colon = key.indexOf(':');
      this.#keyKind = key.slice(0, colon) === 'header' ? 'header' : 'cookie';
      const keyName = key.slice(colon + 1);
      this.#keyName = this.#keyKind === 'header' ? keyName.toLowerCase() : keyName;
    }
  }

  /** The `split` weights in bucket order, or undefined when the service has no split. */
  get split(): SplitTable | undefined {
    return this.#split;
  }

  /** The value stickiness reads (`splitKey`), or undefined when absent or not configured. */
  splitKeyValue(req: RequestView): string | undefined {
    if (this.#keyKind === undefined) return undefined;
    return this.#keyKind === 'header' ? req.header(this.#keyName) : req.cookie(this.#keyName);
  }

  /**
   * The lane for an uncoloured request: by `split` weights when the service has one — sticky
   * by the FNV-1a bucket of the `splitKey` value when it is set and present, random otherwise —
   * else `stable`.
   */
  pickUncolored(req: RequestView, random: () => number): string {
    const split = this.#split;
    if (split === undefined) return STABLE;
    const value = this.splitKeyValue(req);
    const bucket = value !== undefined ? hashBucket(value) : random() * 100;
    const cum = split.cumulative;
    for (let i = 0; i < cum.length; i++) if (bucket < cum[i]) return split.lanes[i];
    return split.lanes[split.lanes.length - 1];
  }

  /**
   * The plan for a request coloured `color`: its lane's subset, then the lane's fallback chain.
   * A colour with no Lane document routes to its own subset when instances carry it, then to
   * stable (as Istio subsets and Nacos gray tags behave); without such instances, to stable.
   */
  planFor(color: string): RoutePlan {
    const known = this.#plans.get(color) ?? this.#unknownPlans.get(color);
    if (known !== undefined) return known;
    const lane = this.#lanes.get(color);
    let chain: readonly string[];
    if (lane !== undefined) chain = lane.fallbackChain;
    else chain = [STABLE, ...(this.#lanes.get(STABLE)?.fallbackChain ?? []).filter((c) => c !== color)];
    const plan = new RoutePlan(color, subsetsInOrder([color, ...chain], this.subsets, this.#degraded), lane?.degraded === true && this.subsets.has(color) ? 'degraded' : 'no-instance');
    if (lane !== undefined || this.subsets.has(color)) this.#plans.set(color, plan);
    else if (this.#unknownPlans.size < UNKNOWN_COLOR_PLANS) this.#unknownPlans.set(color, plan);
    return plan;
  }

  /**
   * The plan for an uncoloured request that `pickUncolored` sent to `lane`: that lane, then
   * stable. Uncoloured traffic never follows a lane's own fallback chain (it would reach lanes
   * no split gave it) and is never strict: a split lane with no instance falls back to stable.
   */
  uncoloredPlan(lane: string): RoutePlan {
    let plan = this.#uncoloredPlans.get(lane);
    if (plan === undefined) {
      plan = new RoutePlan(lane, subsetsInOrder([lane, STABLE], this.subsets, this.#degraded), this.#degraded(lane) && this.subsets.has(lane) ? 'degraded' : 'no-instance');
      this.#uncoloredPlans.set(lane, plan);
    }
    return plan;
  }
}
