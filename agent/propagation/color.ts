/**
 * The request colour (docs/reference.md#colour-and-trace-propagation): the carriers
 * (carriers.ts) are read in order and the first with a value decides. A value that is not a
 * valid colour (shared/color.ts) makes the request uncoloured, is counted by the caller, and is
 * never forwarded (every carrier that rewrites a header writes the request's colour, or none).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isValidColor } from '../../shared/color.ts';
import { type Carrier, COLOR_CARRIERS } from './carriers.ts';

/** What the carriers of a request say about its colour. */
export type ColorReading =
  /** No carrier holds a value: the request is uncoloured. */
  | { readonly kind: 'none' }
  /** `carrier` holds the valid colour `color`. */
  | { readonly kind: 'valid'; readonly color: string; readonly carrier: Carrier }
  /** `carrier`, the first with a value, holds something that is not a colour: uncoloured, counted. */
  | { readonly kind: 'invalid'; readonly carrier: Carrier };

/** The reading of a request that carries no colour. */
export const NO_COLOR: ColorReading = Object.freeze({ kind: 'none' });

/** The invalid reading of each carrier, by position in COLOR_CARRIERS (no allocation per request). */
const INVALID: readonly ColorReading[] = COLOR_CARRIERS.map((carrier) => Object.freeze({ kind: 'invalid' as const, carrier }));

/** Reads the request colour from `headers` and the request target `url` (origin- or absolute-form). */
export function readColor(headers: IncomingHttpHeaders, url: string): ColorReading {
  for (let i = 0; i < COLOR_CARRIERS.length; i++) {
    const carrier = COLOR_CARRIERS[i];
    const v = carrier.read(headers, url);
    if (v === undefined) continue;
    return isValidColor(v) ? { kind: 'valid', color: v, carrier } : INVALID[i];
  }
  return NO_COLOR;
}

/** The carriers that rewrite a header on forwarded requests (the others are forwarded as they came). */
const WRITERS: readonly Carrier[] = COLOR_CARRIERS.filter((c) => c.header !== undefined);

/** Appends what the carriers write for `color` (undefined: uncoloured) to a forwarded request's flat header list. */
export function writeColor(out: string[], headers: IncomingHttpHeaders, color: string | undefined): void {
  for (let i = 0; i < WRITERS.length; i++) WRITERS[i].write(out, headers, color);
}
