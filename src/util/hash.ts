// A stable 32-bit hash of a string (FNV-1a over UTF-16 code units, finished with the murmur3
// mixer so that similar strings spread over the whole range). Stable across runs and machines:
// train/holdout splits and per-item seeds depend on it.
export function hashString(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
