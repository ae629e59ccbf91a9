/**
 * Instances → subsets (docs/reference.md#routing). An instance belongs to lane L when it matches the
 * service's selector for L: `spec.subsets[L]` (every label must match; `{}` matches all), or by
 * default the label `color: L`; instances without a `color` label are `stable`. An instance
 * may match several selectors and is then in several subsets (the same Endpoint object, so
 * the same live state). Only registry-healthy instances with weight > 0 are routable; the
 * others are kept aside in `excluded` for display.
 */
import { STABLE } from '../../shared/color.ts';
import type { Endpoint, Subset } from './types.ts';

/** True when `labels` carry every label of `selector`. */
export function matchesSelector(labels: Readonly<Record<string, string>>, selector: Readonly<Record<string, string>>): boolean {
  for (const k in selector) if (labels[k] !== selector[k]) return false;
  return true;
}

/** True when the instance gets traffic at all (ejection is live state, checked per pick). */
export function isRoutable(ep: Endpoint): boolean {
  return ep.healthy && ep.weight > 0;
}

/** Builds one subset from its members (in instance order). */
export function makeSubset(service: string, lane: string, members: readonly Endpoint[]): Subset {
  const endpoints: Endpoint[] = [];
  const excluded: Endpoint[] = [];
  for (const ep of members) (isRoutable(ep) ? endpoints : excluded).push(ep);
  let total = 0;
  let uniform = true;
  const cumulative: number[] = [];
  for (const ep of endpoints) {
    total += ep.weight;
    cumulative.push(total);
    if (ep.weight !== endpoints[0].weight) uniform = false;
  }
  return { service, lane, endpoints, excluded, totalWeight: total, cumulativeWeights: uniform ? undefined : cumulative };
}

/**
 * Groups a service's endpoints into subsets. Lanes with an explicit selector are matched by
 * selector; every other lane by the `color` label (no label: stable). Lanes with no member at
 * all get no subset.
 */
export function groupSubsets(
  service: string,
  endpoints: readonly Endpoint[],
  selectors: Readonly<Record<string, Readonly<Record<string, string>>>> | undefined,
): Map<string, Subset> {
  const members = new Map<string, Endpoint[]>();
  const add = (lane: string, ep: Endpoint) => {
    const list = members.get(lane);
    if (list === undefined) members.set(lane, [ep]);
    else list.push(ep);
  };
  // Default selectors: one pass, indexed by the colour label.
  for (const ep of endpoints) {
    const lane = ep.labels.color ?? STABLE;
    if (selectors === undefined || selectors[lane] === undefined) add(lane, ep);
  }
  // Explicit selectors: a scan each.
  if (selectors !== undefined) {
    for (const lane of Object.keys(selectors)) {
      const sel = selectors[lane];
      for (const ep of endpoints) if (matchesSelector(ep.labels, sel)) add(lane, ep);
    }
  }
  const out = new Map<string, Subset>();
  for (const lane of [...members.keys()].sort()) out.set(lane, makeSubset(service, lane, members.get(lane)!));
  return out;
}
