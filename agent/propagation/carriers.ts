/**
 * The colour carriers (docs/reference.md#colour-and-trace-propagation): where a request's colour
 * travels, in the order they are read — the first that carries a non-empty value decides. Reading
 * (readColor), writing (the forwarded headers) and `dyeline explain` all walk COLOR_CARRIERS, so a
 * new carrier is one entry here.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { COLOR_HEADER, COLOR_KEY } from '../../shared/color.ts';

/** One place a colour can travel. */
export interface ColorCarrier {
  /** Its name in explain's answer (`colour from the <name>`). */
  readonly name: string;
  /** The request header it rewrites on every forwarded request (the plain header copy skips it); undefined: forwarded as it came. */
  readonly header: string | undefined;
  /** The value it carries on a request (percent-decoded where the carrier encodes), or undefined when none or empty. */
  read(headers: IncomingHttpHeaders, url: string): string | undefined;
  /** Appends its `header` for `color` (undefined: uncoloured) to a forwarded request's flat header list; a carrier without `header` writes nothing. */
  write(out: string[], headers: IncomingHttpHeaders, color: string | undefined): void;
}

/** `traffic_color=` as written in baggage. */
const BAGGAGE_ENTRY = `${COLOR_KEY}=`;

function joined(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/** `v` percent-decoded (`+` as a space first when `plus`); as it is when it does not decode (then it is no valid colour). */
function decoded(v: string, plus: boolean): string {
  const s = plus && v.includes('+') ? v.replaceAll('+', ' ') : v;
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.length === 0 ? undefined : v;
}

function writeNothing(): void {}

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

/** Header `x-traffic-color`: read trimmed, written on every coloured request. */
const header = {
  name: 'header',
  header: COLOR_HEADER,
  read(headers: IncomingHttpHeaders): string | undefined {
    return nonEmpty(joined(headers[COLOR_HEADER])?.trim());
  },
  write(out: string[], _headers: IncomingHttpHeaders, color: string | undefined): void {
    if (color !== undefined) out.push(COLOR_HEADER, color);
  },
} as const satisfies ColorCarrier;

/** W3C baggage entry `traffic_color`: rewritten on every request, the other entries kept. */
const baggage = {
  name: 'baggage',
  header: 'baggage',
  read(headers: IncomingHttpHeaders): string | undefined {
    const b = joined(headers.baggage);
    if (b === undefined || !b.includes(COLOR_KEY)) return undefined;
    const v = nonEmpty(baggageColor(b));
    return v === undefined ? undefined : decoded(v, false);
  },
  write(out: string[], headers: IncomingHttpHeaders, color: string | undefined): void {
    const b = writeBaggage(headers.baggage, color);
    if (b !== undefined) out.push('baggage', b);
  },
} as const satisfies ColorCarrier;

/** Cookie `traffic_color`: read only; the cookie header is forwarded as it came. */
const cookie = {
  name: 'cookie',
  header: undefined,
  read(headers: IncomingHttpHeaders): string | undefined {
    const c = headers.cookie;
    if (c === undefined || !c.includes(COLOR_KEY)) return undefined;
    const v = nonEmpty(cookieValue(c, COLOR_KEY));
    return v === undefined ? undefined : decoded(v, false);
  },
  write: writeNothing,
} as const satisfies ColorCarrier;

/** Query parameter `traffic_color`: read only; the request target is forwarded as it came. */
const query = {
  name: 'query',
  header: undefined,
  read(_headers: IncomingHttpHeaders, url: string): string | undefined {
    if (!url.includes(COLOR_KEY)) return undefined;
    const v = nonEmpty(queryValue(url, COLOR_KEY));
    return v === undefined ? undefined : decoded(v, true);
  },
  write: writeNothing,
} as const satisfies ColorCarrier;

/** Every carrier, in the order they are read. */
export const COLOR_CARRIERS = [header, baggage, cookie, query] as const satisfies readonly ColorCarrier[];

/** One of COLOR_CARRIERS. */
export type Carrier = (typeof COLOR_CARRIERS)[number];
/** The name of a carrier: `header`, `baggage`, `cookie`, `query`. */
export type CarrierName = Carrier['name'];

/** Request headers some carrier rewrites (the plain copy of a forwarded request skips them). */
export const CARRIER_HEADERS: readonly string[] = COLOR_CARRIERS.flatMap((c) => (c.header === undefined ? [] : [c.header]));

/**
 * A `cookie` header without its `traffic_color` cookie(s), or undefined when nothing is left
 * (an invalid or untrusted colour is removed from every carrier: docs/reference.md#entry-trust-and-header-hygiene).
 */
export function withoutColorCookie(cookie: string): string | undefined {
  if (!cookie.includes(COLOR_KEY)) return cookie;
  const kept = cookie
    .split(';')
    .map((c) => c.trim())
    .filter((c) => c.length > 0 && c.slice(0, c.indexOf('=') < 0 ? c.length : c.indexOf('=')).trim() !== COLOR_KEY);
  return kept.length === 0 ? undefined : kept.join('; ');
}

/** A request target without its `traffic_color` query parameter(s) (the `?` goes when nothing is left). */
export function withoutColorQuery(target: string): string {
  const q = target.indexOf('?');
  if (q < 0 || !target.includes(COLOR_KEY, q)) return target;
  const h = target.indexOf('#', q);
  const query = target.slice(q + 1, h < 0 ? target.length : h);
  const kept = query.split('&').filter((p) => p.length > 0 && p.slice(0, p.indexOf('=') < 0 ? p.length : p.indexOf('=')) !== COLOR_KEY);
  return `${target.slice(0, q)}${kept.length === 0 ? '' : `?${kept.join('&')}`}${h < 0 ? '' : target.slice(h)}`;
}
