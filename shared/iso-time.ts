/**
 * A time as `Date.prototype.toISOString` writes it (`YYYY-MM-DDTHH:mm:ss.sssZ`), computed from the
 * milliseconds with integer arithmetic. The first `toISOString` of a process sets up V8's date
 * cache, which reads ICU's time-zone data: 0.6–0.9 MiB more of the node binary resident for the
 * rest of the process (docs/footprint.md#what-was-done-idle). Log lines and the agent's tables
 * stamp times through this instead.
 */

/** 0001-01-01 and 10000-01-01 in ms since the epoch: outside, `toISOString` writes six-digit years. */
const MIN_MS = -62135596800000;
const MAX_MS = 253402300800000;
const DAY_MS = 86400000;

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/** `new Date(ms).toISOString()`, for finite integer `ms`. */
export function isoTime(ms: number): string {
  if (!(ms >= MIN_MS && ms < MAX_MS) || !Number.isInteger(ms)) return new Date(ms).toISOString();
  const days = Math.floor(ms / DAY_MS);
  const t = ms - days * DAY_MS;
  // Civil date from days since 1970-01-01 (the proleptic Gregorian calendar, eras of 400 years).
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const msPart = t % 1000;
  const y = year < 1000 ? `${year}`.padStart(4, '0') : `${year}`;
  const frac = msPart < 10 ? `00${msPart}` : msPart < 100 ? `0${msPart}` : `${msPart}`;
  return `${y}-${pad2(month)}-${pad2(day)}T${pad2(Math.floor(t / 3600000))}:${pad2(Math.floor(t / 60000) % 60)}:${pad2(Math.floor(t / 1000) % 60)}.${frac}Z`;
}

/** Now, as {@link isoTime} writes it. */
export function isoNow(): string {
  return isoTime(Date.now());
}
