/**
 * Colour (lane) values and where they travel (docs/reference.md#colour-and-trace-propagation).
 */

/** The header that carries the colour hop after hop. */
export const COLOR_HEADER = 'x-traffic-color';
/** The W3C baggage entry, cookie and query parameter that may carry it too. */
export const COLOR_KEY = 'traffic_color';
/** The lane of instances without a colour label, and the default fallback. */
export const STABLE = 'stable';
/** `fallback: none` makes a lane strict. */
export const NO_FALLBACK = 'none';

/** A valid colour: lowercase DNS-label-like, 1–32 characters. */
export const COLOR_PATTERN = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

/** True when `value` is a valid colour. */
export function isValidColor(value: string): boolean {
  return value.length <= 32 && COLOR_PATTERN.test(value);
}
