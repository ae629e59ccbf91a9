/**
 * Trace and span ids: the one place they are generated, so OpenTelemetry (issue 5) can take
 * over here. Ids are lowercase hex cut from a pool of random bytes refilled in blocks, which
 * keeps the per-hop cost to one `toString('hex')`.
 */
import { randomFillSync } from 'node:crypto';

/** Random bytes handed out before the pool is refilled (512 span ids). */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

function take(bytes: number): string {
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const start = offset;
  offset += bytes;
  // An all-zero id is invalid in W3C trace context; flip a bit rather than draw again.
  let zero = true;
  for (let i = start; i < offset; i++) {
    if (pool[i] !== 0) {
      zero = false;
      break;
    }
  }
  if (zero) pool[offset - 1] = 1;
  return pool.toString('hex', start, offset);
}

/** A new 8-byte span id: 16 lowercase hex digits, never all zero. */
export function newSpanId(): string {
  return take(8);
}

/** A new 16-byte trace id: 32 lowercase hex digits, never all zero. */
export function newTraceId(): string {
  return take(16);
}
