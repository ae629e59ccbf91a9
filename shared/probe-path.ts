/**
 * The path of a probe (docs/reference.md#progressive-delivery): a request sent with
 * `x-dyeline-probe: 1` comes back with `x-dyeline-path`, one entry per outbound hop it (and every
 * call made while handling it) took through an agent, in the order the hops were answered,
 * nested by depth:
 *
 *   x-dyeline-path: 0:gw>frontend:canary:stable:no-instance:0:200, 1:frontend>orders:canary:canary:-:1:200
 *
 * Each entry is `depth:caller>service:requested:served:fallback:laneInstances:status`, `-` for
 * an empty field; `laneInstances` counts the instances of the requested lane the caller's agent
 * knew for that service (so a fallback to stable can be told from a lane that is absent there).
 * The agents build it for calls to services of the snapshot (not for hosts passed through);
 * `dyeline check` reads it. Service names and colours never hold `:` or `,`.
 */

/** The request header that asks for a path. */
export const PROBE_HEADER = 'x-dyeline-probe';
/** The response header that carries it. */
export const PATH_HEADER = 'x-dyeline-path';
/** Entries kept at most; more are dropped and the path ends with a `+N` entry. */
export const MAX_PATH_ENTRIES = 64;

/** One outbound hop. */
export interface PathEntry {
  /** 0 for the hop the probe itself took, 1 for calls made while serving it, ... */
  readonly depth: number;
  /** The calling service (the agent's own `--service`). */
  readonly caller: string;
  readonly service: string;
  /** The colour the request had ('' uncoloured). */
  readonly requested: string;
  /** The lane that answered ('' when nothing did). */
  readonly served: string;
  /** Why it was served outside its lane ('' when it was not). */
  readonly fallback: string;
  /** Instances of the requested lane the caller's agent knew for the service. */
  readonly laneInstances: number;
  /** Status the caller got (0: none). */
  readonly status: number;
}

const dash = (s: string) => (s === '' ? '-' : s);
const undash = (s: string) => (s === '-' ? '' : s);

/** One entry as text. */
export function formatEntry(e: PathEntry): string {
  return `${e.depth}:${e.caller}>${e.service}:${dash(e.requested)}:${dash(e.served)}:${dash(e.fallback)}:${e.laneInstances}:${e.status}`;
}

/** Entries of `parts` (texts and `+N` markers) bounded to `max`, the dropped ones counted in a trailing `+N`. */
function bounded(parts: readonly string[], max: number): string[] {
  const entries: string[] = [];
  let dropped = 0;
  for (const p of parts) {
    if (p.startsWith('+')) dropped += Number(p.slice(1)) || 0;
    else if (entries.length < max - 1) entries.push(p);
    else dropped++;
  }
  return dropped > 0 ? [...entries, `+${dropped}`] : entries;
}

/** One level deeper: `3:a>b:…` → `4:a>b:…`. */
function deeper(entry: string): string {
  const colon = entry.indexOf(':');
  const d = Number(entry.slice(0, colon));
  return colon < 0 || !Number.isInteger(d) ? entry : `${d + 1}${entry.slice(colon)}`;
}

/**
 * `own` followed by `nested` (a downstream `x-dyeline-path`, its depths one deeper), bounded to
 * MAX_PATH_ENTRIES.
 */
export function joinPath(own: string, nested: string | undefined): string {
  if (nested === undefined || nested === '') return own;
  return bounded([own, ...nested.split(', ').map((p) => (p.startsWith('+') ? p : deeper(p)))], MAX_PATH_ENTRIES).join(', ');
}

/** Entries of a set of paths (the values an agent collected), bounded to MAX_PATH_ENTRIES. */
export function concatPaths(paths: readonly string[]): string {
  return bounded(paths.flatMap((p) => (p === '' ? [] : p.split(', '))), MAX_PATH_ENTRIES).join(', ');
}

/** The result of reading a path header. */
export interface ParsedPath {
  readonly entries: PathEntry[];
  /** Entries dropped by an agent to keep the header bounded. */
  readonly dropped: number;
  /** Entries that could not be read (shown, never trusted). */
  readonly unreadable: string[];
}

const ENTRY = /^(\d{1,3}):([a-z0-9_-]{1,63})>([a-z0-9_-]{1,63}):([a-z0-9-]{1,32}):([a-z0-9-]{1,32}):([a-z-]{1,32}):(\d{1,6}):(\d{1,3})$/;

/** Reads an `x-dyeline-path` value. */
export function parsePath(value: string | undefined): ParsedPath {
  const entries: PathEntry[] = [];
  const unreadable: string[] = [];
  let dropped = 0;
  if (value === undefined || value.trim() === '') return { entries, dropped, unreadable };
  for (const raw of value.split(',')) {
    const p = raw.trim();
    if (/^\+\d{1,6}$/.test(p)) {
      dropped += Number(p.slice(1));
      continue;
    }
    const m = ENTRY.exec(p);
    if (m === null) {
      unreadable.push(p);
      continue;
    }
    entries.push({
      depth: Number(m[1]),
      caller: m[2]!,
      service: m[3]!,
      requested: undash(m[4]!),
      served: undash(m[5]!),
      fallback: undash(m[6]!),
      laneInstances: Number(m[7]),
      status: Number(m[8]),
    });
  }
  return { entries, dropped, unreadable };
}
