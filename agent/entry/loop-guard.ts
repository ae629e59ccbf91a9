/**
 * The loop guard (docs/reference.md#agent, `--max-hops`): every agent hop counts itself in
 * `x-dyeline-hops`; a request that already made `max` hops is in a routing loop and answered 508.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { DyelineError, ErrorCode } from '../../shared/errors.ts';

/** The loop-guard header: how many agent hops the request has made. */
export const HOPS_HEADER = 'x-dyeline-hops';

/** The hop count of an incoming request (0 when absent or malformed). */
export function hopCount(src: IncomingHttpHeaders): number {
  const v = src[HOPS_HEADER];
  if (typeof v !== 'string') return 0;
  const n = Number.parseInt(v, 10);
  return n >= 0 && n < 1_000_000 ? n : 0;
}

/** The 508 for a request that made `hops` hops when at most `max` are allowed, else undefined. */
export function loopError(hops: number, max: number): DyelineError | undefined {
  return hops < max ? undefined : new DyelineError(ErrorCode.Loop, `request went through ${hops} agent hops (limit ${max}): routing loop`);
}
