/**
 * The request colour (contract §4): read from header `x-traffic-color`, then the W3C `baggage`
 * entry `traffic_color`, then cookie `traffic_color`, then query parameter `traffic_color`.
 * The first source that carries a non-empty value decides; a value that is not a valid colour
 * (shared/color.ts) makes the request uncoloured, is counted by the caller, and is never
 * forwarded (writeBaggage drops it, the header is rewritten).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { COLOR_HEADER, COLOR_KEY, isValidColor } from '../../shared/color.ts';

/** What readColor returns for a present but invalid colour (distinct from undefined: none). */
export const INVALID_COLOR = null;

/** `traffic_color=` as written in baggage. */
const BAGGAGE_ENTRY = `${COLOR_KEY}=`;

/** Validates a raw value, percent-decoding it only when it holds a `%`. */
function checked(raw: string, decodePlus: boolean): string | null {
  let v = raw;
  if (decodePlus && v.includes('+')) v = v.replaceAll('+', ' ');
  if (v.includes('%')) {
    try {
      v = decodeURIComponent(v);
    } catch {
      return INVALID_COLOR;
    }
  }
  return isValidColor(v) ? v : INVALID_COLOR;
}

/**
 * Value of the `traffic_color` entry of a W3C baggage header (`k=v;prop,k2=v2`), or undefined.
 * Only the first entry with that key counts.
 */
export function baggageColor(baggage: string): string | undefined {
  let at = baggage.indexOf(COLOR_KEY);
  while (at >= 0) {
    // The key must start an entry: preceded by start, ',' or whitespace after ','.
    let b = at - 1;
    while (b >= 0 && (baggage.charCodeAt(b) === 32 || baggage.charCodeAt(b) === 9)) b--;
    let e = at + COLOR_KEY.length;
    while (e < baggage.length && (baggage.charCodeAt(e) === 32 || baggage.charCodeAt(e) === 9)) e++;
    if ((b < 0 || baggage.charCodeAt(b) === 44) && baggage.charCodeAt(e) === 61) {
      let end = e + 1;
      while (end < baggage.length) {
        const c = baggage.charCodeAt(end);
        if (c === 44 || c === 59) break; // ',' next entry, ';' properties
        end++;
      }
      return baggage.slice(e + 1, end).trim();
    }
    at = baggage.indexOf(COLOR_KEY, at + 1);
  }
  return undefined;
}

/** Value of cookie `name` in a `cookie` header (`a=1; b=2`), unquoted, or undefined. */
export function cookieValue(cookie: string, name: string): string | undefined {
  let at = cookie.indexOf(name);
  while (at >= 0) {
    let b = at - 1;
    while (b >= 0 && cookie.charCodeAt(b) === 32) b--;
    const eq = at + name.length;
    if ((b < 0 || cookie.charCodeAt(b) === 59) && cookie.charCodeAt(eq) === 61) {
      let end = cookie.indexOf(';', eq + 1);
      if (end < 0) end = cookie.length;
      let v = cookie.slice(eq + 1, end).trim();
      if (v.length >= 2 && v.charCodeAt(0) === 34 && v.charCodeAt(v.length - 1) === 34) v = v.slice(1, -1);
      return v;
    }
    at = cookie.indexOf(name, at + 1);
  }
  return undefined;
}

/** Raw (still encoded) value of query parameter `name` in a request target (`/p?a=1&b=2`), or undefined. */
export function queryValue(target: string, name: string): string | undefined {
  const q = target.indexOf('?');
  if (q < 0) return undefined;
  let at = target.indexOf(name, q + 1);
  while (at >= 0) {
    const before = target.charCodeAt(at - 1);
    const eq = at + name.length;
    const after = target.charCodeAt(eq);
    if ((before === 63 || before === 38) && (after === 61 || after === 38 || Number.isNaN(after) || after === 35)) {
      if (after !== 61) return '';
      let end = eq + 1;
      while (end < target.length) {
        const c = target.charCodeAt(end);
        if (c === 38 || c === 35) break; // '&' or '#'
        end++;
      }
      return target.slice(eq + 1, end);
    }
    at = target.indexOf(name, at + 1);
  }
  return undefined;
}

function joined(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/**
 * Reads the request colour from `headers` and the request target `url` (origin- or
 * absolute-form). Returns the colour, undefined when none is carried, or INVALID_COLOR (null)
 * when the deciding source holds an invalid value.
 */
export function readColor(headers: IncomingHttpHeaders, url: string): string | undefined | null {
  const h = joined(headers[COLOR_HEADER]);
  if (h !== undefined) {
    const v = h.trim();
    if (v.length > 0) return isValidColor(v) ? v : INVALID_COLOR;
  }
  const baggage = joined(headers.baggage);
  if (baggage !== undefined && baggage.includes(COLOR_KEY)) {
    const v = baggageColor(baggage);
    if (v !== undefined && v.length > 0) return checked(v, false);
  }
  const cookie = headers.cookie;
  if (cookie !== undefined && cookie.includes(COLOR_KEY)) {
    const v = cookieValue(cookie, COLOR_KEY);
    if (v !== undefined && v.length > 0) return checked(v, false);
  }
  if (url.includes(COLOR_KEY)) {
    const v = queryValue(url, COLOR_KEY);
    if (v !== undefined && v.length > 0) return checked(v, true);
  }
  return undefined;
}

/** True when a baggage list entry (`k=v;props`) has key traffic_color. */
function isColorEntry(entry: string): boolean {
  const eq = entry.indexOf('=');
  return eq >= 0 && entry.slice(0, eq).trim() === COLOR_KEY;
}

/**
 * The baggage header to forward: every entry of `existing` except `traffic_color`, then
 * `traffic_color=<color>` when the request has a colour. Undefined when nothing is left.
 */
export function writeBaggage(existing: string | string[] | undefined, color: string | undefined): string | undefined {
  const b = joined(existing);
  if (b === undefined || b.length === 0) return color === undefined ? undefined : BAGGAGE_ENTRY + color;
  let kept = b;
  if (b.includes(COLOR_KEY)) {
    const entries = b.split(',');
    let out = '';
    for (const e of entries) {
      if (e.trim().length === 0 || isColorEntry(e)) continue;
      out = out.length === 0 ? e.trim() : `${out},${e.trim()}`;
    }
    kept = out;
  }
  if (color === undefined) return kept.length === 0 ? undefined : kept;
  return kept.length === 0 ? BAGGAGE_ENTRY + color : `${kept},${BAGGAGE_ENTRY}${color}`;
}

/** Appends `x-traffic-color` and `baggage` for `color` to a flat header list (colour header only when coloured). */
export function writeColor(out: string[], headers: IncomingHttpHeaders, color: string | undefined): void {
  if (color !== undefined) out.push(COLOR_HEADER, color);
  const baggage = writeBaggage(headers.baggage, color);
  if (baggage !== undefined) out.push('baggage', baggage);
}
