// 8-byte words as two 32-bit halves, and sorted-range lookups: the small vocabulary every rule table
// uses. Halves keep bit tests and pointer values free of BigInt boxing on the per-word path.

export interface Word {
  lo: number;
  hi: number;
}

/** The value as a number: exact below 2^53, which holds for every user-space address. */
export const num = (w: Word): number => w.hi * 4294967296 + w.lo;
export const isZero = (w: Word): boolean => w.lo === 0 && w.hi === 0;
export const same = (a: Word, b: Word): boolean => a.lo === b.lo && a.hi === b.hi;
export const wordOf = (hex: string): Word => {
  const v = BigInt(`0x${hex}`);
  return { lo: Number(v & 0xffffffffn), hi: Number(v >> 32n) };
};

/** Index of the range containing addr in sorted, non-overlapping [start, end) ranges, or -1. */
export function findRange(start: Float64Array, end: Float64Array | ((i: number) => number), addr: number): number {
  const at = lastAtOrBelow(start, addr);
  if (at < 0) return -1;
  const e = typeof end === 'function' ? end(at) : end[at];
  return addr < e ? at : -1;
}

/** Index of the last element <= v in a sorted array, or -1. */
export function lastAtOrBelow(sorted: Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  let at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= v) {
      at = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return at;
}

/** Does any range of sorted, non-overlapping [start, end) overlap [lo, hi)? */
export function overlapsAny(start: Float64Array, end: Float64Array, lo: number, hi: number): boolean {
  const at = lastAtOrBelow(start, hi - 1);
  return at >= 0 && end[at] > lo;
}

/** findRange over sorted, non-overlapping [start, end) ranges, remembering the last hit: for lookups
 *  that come in address order (changed words), most land in the range of the one before or the next
 *  one, with no binary search. Any order gives the same answers. */
export function rangeCursor(start: Float64Array, end: Float64Array): (addr: number) => number {
  let last = -1;
  return (addr) => {
    if (last >= 0 && start[last] <= addr) {
      if (addr < end[last]) return last;
      const next = last + 1;
      if (next < start.length && start[next] <= addr && (next + 1 === start.length || start[next + 1] > addr)) return addr < end[next] ? (last = next) : -1;
    }
    const i = findRange(start, end, addr);
    if (i >= 0) last = i;
    return i;
  };
}
