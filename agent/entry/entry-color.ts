/**
 * The colour a request has once it entered an agent (docs/reference.md#routing): the valid colour
 * its carriers hold, else — on the inbound listener of an entry service — the colour the lanes'
 * dye rules give it. The entry step and `dyeline explain` both ask this.
 */
import type { ColorReading } from '../propagation/color.ts';
import type { DyeMatch, RequestView, RoutingTable } from '../routing/types.ts';

/**
 * The request's colour, or undefined when it stays uncoloured. `dyeAt` is the service whose dye
 * rules apply (the inbound listener's own service; undefined: no dyeing, as on the outbound
 * side); `random` draws the rules' random percentages; `onMatch` hears of every rule whose
 * conditions held.
 */
export function entryColor(
  reading: ColorReading,
  table: RoutingTable | undefined,
  dyeAt: string | undefined,
  req: RequestView,
  random: () => number,
  onMatch?: (match: DyeMatch) => void,
): string | undefined {
  if (reading.kind === 'valid') return reading.color;
  if (dyeAt === undefined || table === undefined) return undefined;
  return table.dye(dyeAt, req, random, onMatch)?.color;
}
