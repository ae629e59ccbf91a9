/**
 * Header hygiene of one hop (RFC 9110 §7.6.1): hop-by-hop headers (Connection and the headers
 * it names, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade, Proxy-Authorization,
 * Proxy-Authenticate) never cross the agent; colour, baggage, trace and hop count are
 * rewritten; everything else is copied as is.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeader } from 'node:http';
import { HOPS_HEADER } from '../entry/loop-guard.ts';
import { CARRIER_HEADERS, withoutColorCookie } from '../propagation/carriers.ts';
import { writeColor } from '../propagation/color.ts';
import { TRACE_HEADERS, type TraceContext, writeTrace } from '../propagation/trace.ts';

/** Hop-by-hop headers of RFC 9110 §7.6.1 (and the de-facto Proxy-Connection). */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'proxy-authenticate', 'trailer'];

/** Request headers the agent drops or writes itself. `expect` is answered by the listener (100-continue). */
const REQUEST_SKIP: Record<string, true> = Object.create(null) as Record<string, true>;
for (const h of [...HOP_BY_HOP, ...TRACE_HEADERS, ...CARRIER_HEADERS, 'host', 'expect', HOPS_HEADER]) REQUEST_SKIP[h] = true;

/** Response headers the agent drops (besides those named by Connection and its own `x-dyeline-*`). */
const RESPONSE_SKIP: Record<string, true> = Object.create(null) as Record<string, true>;
for (const h of HOP_BY_HOP) RESPONSE_SKIP[h] = true;

/**
 * A response's header list as `res.writeHead` takes it: flat [name, value, ...], a value a string
 * or the list of a repeated header's values. Sinks append to it (ExchangeSink.responseHeaders).
 */
export type ResponseHeaderList = (string | OutgoingHttpHeader)[];

/** Names listed in a Connection header other than keep-alive/close, lower-case; empty for the common case. */
function connectionNamed(connection: string | undefined): string[] | undefined {
  if (connection === undefined) return undefined;
  const c = connection.toLowerCase();
  if (c === 'keep-alive' || c === 'close' || c === 'upgrade') return undefined;
  const names: string[] = [];
  for (const t of c.split(',')) {
    const n = t.trim();
    if (n.length > 0 && n !== 'keep-alive' && n !== 'close') names.push(n);
  }
  return names.length === 0 ? undefined : names;
}

/**
 * The header list (flat [name, value, ...]) to send upstream: `host` first, every end-to-end
 * header of `src`, then colour (x-traffic-color + baggage), trace context, and the hop count.
 * `scrub`: the colour the request carried was removed (invalid or untrusted), so the
 * `traffic_color` cookie goes too (x-traffic-color and baggage are always rewritten).
 */
export function forwardedHeaders(src: IncomingHttpHeaders, host: string, color: string | undefined, trace: TraceContext, hops: number, scrub = false): string[] {
  // Pushed onto an empty array: its first growth makes room for 16 entries (a two-entry literal would grow at once).
  const out: string[] = [];
  out.push('host', host);
  const named = connectionNamed(src.connection);
  for (const name in src) {
    if (REQUEST_SKIP[name] === true) continue;
    if (named !== undefined && named.includes(name)) continue;
    const v = src[name];
    if (v === undefined) continue;
    if (scrub && name === 'cookie') {
      const kept = withoutColorCookie(v as string);
      if (kept !== undefined) out.push(name, kept);
      continue;
    }
    if (typeof v === 'string') out.push(name, v);
    else for (const one of v) out.push(name, one);
  }
  writeColor(out, src, color);
  writeTrace(out, trace);
  out.push(HOPS_HEADER, String(hops));
  return out;
}

/**
 * The headers of an upstream response to relay (`headers`: as undici parsed them, names
 * lower-case): all but the hop-by-hop headers and every `x-dyeline-*` header (those are the
 * agents' own: an upstream cannot make an answer claim a fallback or an error). A new flat
 * list: deleting from undici's object would turn it into a slow dictionary on every response.
 */
export function relayedHeaders(headers: Readonly<Record<string, OutgoingHttpHeader | undefined>>): ResponseHeaderList {
  const connection = headers.connection;
  const named = connection === undefined ? undefined : connectionNamed(Array.isArray(connection) ? connection.join(',') : String(connection));
  const out: ResponseHeaderList = [];
  for (const name in headers) {
    if (RESPONSE_SKIP[name] === true) continue;
    if (name.charCodeAt(0) === 120 && name.startsWith(AGENT_HEADER_PREFIX)) continue;
    if (named !== undefined && named.includes(name)) continue;
    const v = headers[name];
    if (v !== undefined) out.push(name, v);
  }
  return out;
}

/** Prefix of the response headers only agents write. */
const AGENT_HEADER_PREFIX = 'x-dyeline-';
