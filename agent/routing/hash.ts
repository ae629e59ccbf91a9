/**
 * The one hash behind every sticky decision (dye `hashPercent`, split `splitKey`): 32-bit
 * FNV-1a over the UTF-8 bytes of the value, reduced to a bucket 0..99. It is stable across
 * processes, nodes and versions, so the same user id gets the same answer everywhere, and the
 * same bucket in both places: `hashPercent: 10` and a 10% split of the same key pick the same
 * users.
 */

const OFFSET_BASIS = 0x811c9dc5;
const PRIME = 0x01000193;

/** 32-bit FNV-1a of the UTF-8 encoding of `value` (unsigned). Allocation-free. */
export function fnv1a32(value: string): number {
  let h = OFFSET_BASIS;
  const n = value.length;
  for (let i = 0; i < n; i++) {
    let c = value.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, PRIME);
      continue;
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), PRIME);
    } else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const lo = value.charCodeAt(i + 1);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          i++;
          c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
          h = Math.imul(h ^ (0xf0 | (c >> 18)), PRIME);
          h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), PRIME);
          h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), PRIME);
          h = Math.imul(h ^ (0x80 | (c & 0x3f)), PRIME);
          continue;
        }
      }
      // Lone surrogates encode as U+FFFD, as TextEncoder does.
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      h = Math.imul(h ^ (0xe0 | (c >> 12)), PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), PRIME);
    }
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), PRIME);
  }
  return h >>> 0;
}

/** The sticky bucket of a value: `fnv1a32(value) % 100`, in 0..99. */
export function hashBucket(value: string): number {
  return fnv1a32(value) % 100;
}
