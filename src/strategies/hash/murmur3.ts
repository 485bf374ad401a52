/**
 * MurmurHash3 x86 32-bit: the hash of the `hash` strategy's keys and of the routes that place
 * members in its Maglev table. Chosen for being small, fast on short strings and the same in every
 * process and on every platform, so independent balancers agree on where a key goes.
 */

const encoder = new TextEncoder();
/** Scratch space for UTF-8 encoding of short keys; longer ones get their own buffer. */
let scratch = new Uint8Array(1024);
const MAX_SCRATCH_BYTES = 65_536;

/**
 * MurmurHash3 x86 32-bit of the UTF-8 bytes of `text` (lone surrogates as U+FFFD), as an unsigned
 * 32-bit integer. Stable across processes and platforms: the same text and seed give the same hash.
 */
export function murmur3(text: string, seed = 0): number {
  const maxBytes = text.length * 3;
  let bytes: Uint8Array;
  let length: number;
  if (maxBytes <= MAX_SCRATCH_BYTES) {
    if (scratch.length < maxBytes) scratch = new Uint8Array(Math.max(maxBytes, scratch.length * 2));
    length = encoder.encodeInto(text, scratch).written;
    bytes = scratch;
  } else {
    bytes = encoder.encode(text);
    length = bytes.length;
  }
  return murmur3Bytes(bytes, length, seed);
}

function murmur3Bytes(bytes: Uint8Array, length: number, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed | 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = (bytes[i] as number) | ((bytes[i + 1] as number) << 8) | ((bytes[i + 2] as number) << 16) | ((bytes[i + 3] as number) << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = length & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= (bytes[blocks + 2] as number) << 16;
    if (rest >= 2) k ^= (bytes[blocks + 1] as number) << 8;
    k ^= bytes[blocks] as number;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
