/**
 * Inbound dyeing (docs/reference.md#routing): lanes with `dye` rules colour requests that arrive uncoloured
 * at the inbound listener of their `entry` services (every service when `entry` is absent).
 * Lanes are tried by descending `priority`, then by lane name; within a lane the first
 * matching `match` entry wins, then the lane's LaneState share (lane-states.ts: the share as the
 * rules it is equivalent to, numbered SHARE_RULE). The per-service lane list is computed once per
 * snapshot.
 */
import type { Lane } from '../../shared/schema/documents.ts';
import type { MatchRule } from '../../shared/schema/fields.ts';
import type { LaneRuntime } from './lane-states.ts';
import { type CompiledRule, compileRule, matchesDeterministic, passesPercent } from './matcher.ts';
import type { DyeMatch, RequestView } from './types.ts';

/** The `rule` of a dye by a lane's LaneState share rather than by one of its `dye.match` rules. */
export const SHARE_RULE = -1;

/** What dyed a request: the colour, the lane document and the index of the matching rule. */
export interface DyeResult {
  readonly color: string;
  readonly lane: string;
  readonly rule: number;
}

/** A lane's compiled dye rules. */
export interface DyeLane {
  /** Lane document name. */
  readonly name: string;
  readonly color: string;
  readonly priority: number;
  /** Entry services; undefined: every service. */
  readonly entry: ReadonlySet<string> | undefined;
  readonly rules: readonly CompiledRule[];
  /** One frozen result per rule, so a match allocates nothing. */
  readonly results: readonly DyeResult[];
  /** One frozen DyeMatch per rule, for dye's `onMatch`. */
  readonly matches: readonly DyeMatch[];
}

/** Higher priority first, then lane name. */
function byPriority(a: DyeLane, b: DyeLane): number {
  return b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** The dye rules of one snapshot. */
export class DyeTable {
  readonly #byService: Map<string, readonly DyeLane[]>;
  readonly #everyService: readonly DyeLane[];

  /**
   * Compiles the dye rules of `lanes` (lanes without `dye` are skipped) and the shares of their
   * LaneStates (`runtimes`, by colour).
   */
  constructor(lanes: readonly Lane[], runtimes: ReadonlyMap<string, LaneRuntime> = new Map()) {
    const dyeing: DyeLane[] = [];
    const add = (lane: Lane, entry: readonly string[] | undefined, match: readonly MatchRule[], index: (i: number) => number) => {
      const rules = match.map((r, i) => compileRule(r, index(i)));
      dyeing.push({
        name: lane.metadata.name,
        color: lane.spec.color,
        priority: lane.spec.priority,
        entry: entry === undefined ? undefined : new Set(entry),
        rules,
        results: rules.map((r) => Object.freeze({ color: lane.spec.color, lane: lane.metadata.name, rule: r.index })),
        matches: rules.map((r) => Object.freeze({ color: lane.spec.color, lane: lane.metadata.name, rule: r.index, percent: r.percent, match: r.source })),
      });
    };
    for (const lane of lanes) {
      const dye = lane.spec.dye;
      if (dye !== undefined) add(lane, dye.entry, dye.match, (i) => i);
      // The share comes right after the lane's own rules (the sort below is stable).
      const rt = runtimes.get(lane.spec.color);
      if (rt !== undefined && rt.lane === lane.metadata.name && rt.shareRules.length > 0) add(lane, rt.entry, rt.shareRules, () => SHARE_RULE);
    }
    dyeing.sort(byPriority);
    this.#everyService = dyeing.filter((l) => l.entry === undefined);
    this.#byService = new Map();
    for (const l of dyeing) {
      for (const service of l.entry ?? []) {
        if (!this.#byService.has(service)) this.#byService.set(service, dyeing.filter((x) => x.entry === undefined || x.entry.has(service)));
      }
    }
  }

  /** Lanes whose dye rules apply at `service`'s inbound, in the order they are tried. */
  lanesFor(service: string): readonly DyeLane[] {
    return this.#byService.get(service) ?? this.#everyService;
  }

  /**
   * The colour an uncoloured request arriving at `service` gets, or undefined. A rule's random
   * `percent` draws from `random`, last, once its conditions held; `onMatch` (explain) hears of
   * every rule whose conditions held, before its draw.
   */
  dye(service: string, req: RequestView, random: () => number, onMatch?: (match: DyeMatch) => void): DyeResult | undefined {
    const lanes = this.lanesFor(service);
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i];
      const rules = lane.rules;
      for (let j = 0; j < rules.length; j++) {
        const rule = rules[j];
        if (!matchesDeterministic(rule, req)) continue;
        if (onMatch !== undefined) onMatch(lane.matches[j]);
        if (passesPercent(rule, random)) return lane.results[j];
      }
    }
    return undefined;
  }
}
