/**
 * Lanes as routing sees them: each colour with the fallback chain resolved once per snapshot.
 *
 * A lane falls back to its `fallback` lane (default `stable`), which falls back to its own,
 * and so on; `none` ends the chain (a lane whose own fallback is `none` is strict: it never
 * leaves its lane). A colour without a Lane document (including `stable` itself) falls back
 * to `stable`; `stable` without a document falls back nowhere. A cycle (a → b → a) is cut
 * where it closes and the chain ends at `stable`, the default fallback, since no lane on it
 * asked to be strict.
 */
import { NO_FALLBACK, STABLE } from '../../shared/color.ts';
import type { Lane } from '../../shared/schema/documents.ts';
import type { LaneRuntime } from './lane-states.ts';
import type { CompiledLane } from './types.ts';

/** Fallback of `color` when it has no Lane document. */
function implicitFallback(color: string): string {
  return color === STABLE ? NO_FALLBACK : STABLE;
}

/**
 * The chain after `color`: lanes to try, in order, excluding `color` itself.
 * `fallbackOf` gives a documented lane's `fallback`, undefined for undocumented colours.
 */
export function fallbackChain(color: string, fallbackOf: (color: string) => string | undefined): string[] {
  const chain: string[] = [];
  const seen = new Set<string>([color]);
  let cur = color;
  for (;;) {
    const next = fallbackOf(cur) ?? implicitFallback(cur);
    if (next === NO_FALLBACK) return chain;
    if (seen.has(next)) {
      if (!seen.has(STABLE)) chain.push(STABLE);
      return chain;
    }
    chain.push(next);
    seen.add(next);
    cur = next;
  }
}

/**
 * Compiles Lane documents into colour → CompiledLane (degraded when its LaneState says so),
 * plus the implicit `stable` lane when no document names it. Two documents with the same colour (the daemon's cross-check rejects
 * that) resolve to the one whose name sorts first.
 */
export function compileLanes(lanes: readonly Lane[], runtimes: ReadonlyMap<string, LaneRuntime> = new Map()): Map<string, CompiledLane> {
  const byColor = new Map<string, Lane>();
  for (const lane of [...lanes].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0))) {
    if (!byColor.has(lane.spec.color)) byColor.set(lane.spec.color, lane);
  }
  const fallbackOf = (c: string) => byColor.get(c)?.spec.fallback;
  const out = new Map<string, CompiledLane>();
  for (const [color, lane] of byColor) {
    out.set(color, {
      color,
      name: lane.metadata.name,
      priority: lane.spec.priority,
      strict: lane.spec.fallback === NO_FALLBACK,
      fallbackChain: fallbackChain(color, fallbackOf),
      degraded: runtimes.get(color)?.degraded === true && runtimes.get(color)?.lane === lane.metadata.name,
    });
  }
  if (!out.has(STABLE)) out.set(STABLE, { color: STABLE, name: STABLE, priority: 0, strict: false, fallbackChain: [], degraded: false });
  return out;
}
