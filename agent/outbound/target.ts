/**
 * Where an outbound request goes (docs/reference.md#agent): absolute-form (`GET http://S[:port]/path`, the
 * HTTP_PROXY way), origin-form with `Host: S[:port]`, or origin-form inside a CONNECT tunnel to
 * `S:port`. The service is the first DNS label when the host ends in `.svc`,
 * `.svc.cluster.local` (which covers `.<ns>.svc.cluster.local`), or the bare host when it has no
 * dot; whether it is a known service is for the routing table to say.
 */
import { DyelineError, ErrorCode } from '../../shared/errors.ts';

/** The parsed destination of one request. */
export interface Target {
  /** Host as given, lower-case, IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
  /** `host[:port]` as the client wrote it: the Host header sent upstream. */
  readonly authority: string;
  /** Origin-form target (`/path?query`) sent upstream. */
  readonly path: string;
  /** The service the host names, when it can name one. */
  readonly service: string | undefined;
  /** `host:port` (IPv6 bracketed): the pass-through pool key. */
  readonly key: string;
}

const HOST_NAME = /^[a-z0-9_]([a-z0-9_.-]{0,252})$/;
const IPV6 = /^[0-9a-f:.]+$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const SUFFIXES = ['.svc.cluster.local', '.svc'];

/** The service a host names: first label before a k8s suffix, the bare name, or undefined (IPs, other FQDNs). */
export function serviceOf(host: string): string | undefined {
  const dot = host.indexOf('.');
  if (dot < 0) return host;
  for (const s of SUFFIXES) if (host.endsWith(s)) return host.slice(0, dot);
  return undefined;
}

/** Authorities (Host headers: a few values, sent again and again) parsed with port 80 by default, by text. */
const PARSED = new Map<string, Target>();
/** Most authorities kept parsed; past it, the map starts over. */
const MAX_PARSED = 256;

function bad(message: string): DyelineError {
  return new DyelineError(ErrorCode.BadRequest, message);
}

/**
 * Parses an authority `host[:port]` (`[v6]:port` too). `defaultPort` applies when none is
 * given. Returns a DyelineError (400) when malformed.
 */
export function parseAuthority(authority: string, defaultPort: number, path: string): Target | DyelineError {
  if (defaultPort !== 80) return parse(authority, defaultPort, path);
  const t = PARSED.get(authority);
  if (t !== undefined) return t.path === path ? t : { host: t.host, port: t.port, authority, path, service: t.service, key: t.key };
  const parsed = parse(authority, defaultPort, path);
  if (!(parsed instanceof DyelineError)) {
    if (PARSED.size >= MAX_PARSED) PARSED.clear();
    PARSED.set(authority, parsed);
  }
  return parsed;
}

function parse(authority: string, defaultPort: number, path: string): Target | DyelineError {
  let host: string;
  let portText = '';
  if (authority.charCodeAt(0) === 91) {
    const close = authority.indexOf(']');
    if (close < 0) return bad(`malformed host "${authority}"`);
    host = authority.slice(1, close).toLowerCase();
    if (!IPV6.test(host)) return bad(`malformed host "${authority}"`);
    if (close + 1 < authority.length) {
      if (authority.charCodeAt(close + 1) !== 58) return bad(`malformed host "${authority}"`);
      portText = authority.slice(close + 2);
    }
  } else {
    const colon = authority.lastIndexOf(':');
    host = (colon < 0 ? authority : authority.slice(0, colon)).toLowerCase();
    if (colon >= 0) portText = authority.slice(colon + 1);
    if (host.endsWith('.')) host = host.slice(0, -1);
    if (!HOST_NAME.test(host)) return bad(`malformed host "${authority}"`);
  }
  let port = defaultPort;
  if (portText.length > 0) {
    port = Number(portText);
    if (!(port >= 1 && port <= 65535 && Number.isInteger(port))) return bad(`malformed port in "${authority}"`);
  }
  const v6 = host.includes(':');
  const service = v6 || IPV4.test(host) ? undefined : serviceOf(host);
  return { host, port, authority, path, service, key: v6 ? `[${host}]:${port}` : `${host}:${port}` };
}

/**
 * The target of an outbound request from its request-target `url` and `Host` header; inside a
 * CONNECT tunnel, `tunnel` (the CONNECT authority) names the destination.
 */
export function parseTarget(url: string, hostHeader: string | undefined, tunnel: string | undefined): Target | DyelineError {
  if (url.charCodeAt(0) === 47) {
    // origin-form: /path
    if (tunnel !== undefined) {
      // Routed by the tunnel's destination; the Host header the client wrote is kept.
      const t = parseAuthority(tunnel, 80, url);
      if (t instanceof DyelineError || hostHeader === undefined || hostHeader.length === 0) return t;
      return { host: t.host, port: t.port, authority: hostHeader, path: t.path, service: t.service, key: t.key };
    }
    if (hostHeader === undefined || hostHeader.length === 0) return bad('origin-form request without a Host header');
    return parseAuthority(hostHeader, 80, url);
  }
  if (url.startsWith('http://') || url.startsWith('HTTP://')) {
    let end = 7;
    while (end < url.length) {
      const c = url.charCodeAt(end);
      if (c === 47 || c === 63 || c === 35) break; // '/', '?', '#'
      end++;
    }
    let authority = url.slice(7, end);
    const at = authority.lastIndexOf('@');
    if (at >= 0) authority = authority.slice(at + 1); // userinfo is not forwarded
    if (authority.length === 0) return bad(`no host in "${url}"`);
    let path = url.slice(end);
    if (path.length === 0 || path.charCodeAt(0) !== 47) path = `/${path}`;
    const hash = path.indexOf('#');
    if (hash >= 0) path = path.slice(0, hash);
    return parseAuthority(authority, 80, path);
  }
  if (url === '*') return bad('asterisk-form is not supported');
  return bad(`unsupported request target "${url.slice(0, 100)}" (only http:// and origin-form; use CONNECT for https)`);
}
