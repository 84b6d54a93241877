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
/** Is the address (an integer below 2^53) a multiple of 8? Its low 32 bits decide, as a bitwise and takes
 *  them: \`addr % 8\` on an address above 2^31 is a floating-point remainder, a call per word. */
export const aligned8 = (addr: number): boolean => (addr & 7) === 0;
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

/** Index of v in the first n values of a sorted array (the whole array by default), or -1. */
export function indexOf(sorted: Float64Array, v: number, n = sorted.length): number {
  let lo = 0;
  let hi = n - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const x = sorted[mid];
    if (x === v) return mid;
    if (x < v) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Index of the last element <= v in a sorted array, or -1. */
export function lastAtOrBelow(sorted: Float64Array, v: number): number {
  // most values the rules look up lie below every element (small numbers) or above (characters)
  const n = sorted.length;
  if (!n || v < sorted[0]) return -1;
  if (v >= sorted[n - 1]) return n - 1;
  let lo = 0;
  let hi = n - 1;
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

/** lastAtOrBelow over one sorted array, remembering the last answer: lookups that come in address order
 *  (changed words) mostly land on the same index or the next, with no binary search. The same answer as
 *  lastAtOrBelow in any order. A class, not a closure: every blame makes its own cursors, and V8 inlines
 *  a method into the per-word rules once for all of them, where a fresh closure per blame is a new call
 *  target each time (its optimized callers deoptimize). */
export class SortedCursor {
  private last = -1;
  constructor(private readonly sorted: Float64Array) {}

  at(v: number): number {
    const s = this.sorted;
    const n = s.length;
    let i = this.last;
    // i is the answer when s[i] <= v < s[i + 1]; so is i + 1 one place on
    if (i >= 0 && s[i] <= v && (i + 1 === n || s[i + 1] > v)) return i;
    i++;
    if (i < n && s[i] <= v && (i + 1 === n || s[i + 1] > v)) return (this.last = i);
    return (this.last = lastAtOrBelow(s, v));
  }
}

/** findRange over ranges sorted by start, through a SortedCursor: the same answers, in any order. */
export class RangeCursor {
  private readonly starts: SortedCursor;
  constructor(
    private readonly start: Float64Array,
    private readonly end: Float64Array,
  ) {
    this.starts = new SortedCursor(start);
  }

  /** The index of the range holding addr, -1 none. */
  at(addr: number): number {
    const i = this.starts.at(addr);
    return i >= 0 && addr < this.end[i] ? i : -1;
  }

  /** addr when a range holds it; else the start of the next range (Infinity: none), below which no range
   *  holds an address from addr on either. */
  freeUntil(addr: number): number {
    const i = this.starts.at(addr);
    if (i >= 0 && addr < this.end[i]) return addr;
    return i + 1 < this.start.length ? this.start[i + 1] : Infinity;
  }
}

/** Does no range of several sorted range lists hold an address? For addresses that mostly come in order
 *  (changed words): the gap between ranges the last address fell in is remembered, so that a run of
 *  words there costs one comparison, not a lookup per list. */
export class GapCursor {
  private from = 0;
  private until = 0;
  constructor(private readonly lists: readonly RangeCursor[]) {}

  /** true: no range holds addr */
  free(addr: number): boolean {
    if (addr >= this.from && addr < this.until) return true;
    let until = Infinity;
    for (const l of this.lists) until = Math.min(until, l.freeUntil(addr));
    [this.from, this.until] = [addr, until];
    return addr < until;
  }
}

/** A child's changed words, old and new value, by index k in its diffs, as two 32-bit halves (no BigInt
 *  per word). The per-word rules read a word's values and keep none: oldIn/newIn fill one scratch pair
 *  per side, valid until the next call (oldInto/newInto fill a pair of the caller's, so that two values
 *  can be held at once); oldAt/newAt give a word of its own, for values kept. */
export class WordValues {
  private readonly oldU: Uint32Array;
  private readonly newU: Uint32Array;
  private readonly scratchOld: Word = { lo: 0, hi: 0 };
  private readonly scratchNew: Word = { lo: 0, hi: 0 };

  constructor(diffs: { oldWord: BigUint64Array; newWord: BigUint64Array }) {
    this.oldU = new Uint32Array(diffs.oldWord.buffer, diffs.oldWord.byteOffset, diffs.oldWord.length * 2);
    this.newU = new Uint32Array(diffs.newWord.buffer, diffs.newWord.byteOffset, diffs.newWord.length * 2);
  }

  oldAt(k: number): Word {
    return { lo: this.oldU[2 * k], hi: this.oldU[2 * k + 1] };
  }
  newAt(k: number): Word {
    return { lo: this.newU[2 * k], hi: this.newU[2 * k + 1] };
  }
  oldIn(k: number): Word {
    return this.oldInto(k, this.scratchOld);
  }
  newIn(k: number): Word {
    return this.newInto(k, this.scratchNew);
  }
  /** word k's old (new) value, into w */
  oldInto(k: number, w: Word): Word {
    w.lo = this.oldU[2 * k];
    w.hi = this.oldU[2 * k + 1];
    return w;
  }
  newInto(k: number, w: Word): Word {
    w.lo = this.newU[2 * k];
    w.hi = this.newU[2 * k + 1];
    return w;
  }
  /** the low halves, for flag bits */
  oldLo(k: number): number {
    return this.oldU[2 * k];
  }
  newLo(k: number): number {
    return this.newU[2 * k];
  }
}

/** The address of every changed word of a child's diffs (every pass of a blamer asks). */
export function wordAddresses(diffs: { addrs: Float64Array; wordPage: Uint32Array; wordOffset: Uint16Array }): Float64Array {
  const { addrs, wordPage, wordOffset } = diffs;
  const out = new Float64Array(wordPage.length);
  for (let k = 0; k < out.length; k++) out[k] = addrs[wordPage[k]] + wordOffset[k];
  return out;
}

/** A Map from addresses (integers below 2^53) to values, over typed arrays with open addressing. V8's
 *  Map boxes and hashes a heap number per lookup (~75 ns on this machine against ~7 ns for an array
 *  index), and the per-word rules look up chunk and slot addresses for most changed words. Iterates in
 *  insertion order, as Map does. */
export class AddrMap<V> implements Iterable<[number, V]> {
  // keys in a Float64Array (a number[] of addresses holds them as doubles too, but grows through V8's
  // element-kind checks and copies on every push)
  private keys = new Float64Array(8);
  private vals: V[] = [];
  private n = 0;
  private table = new Int32Array(16); // entry index + 1; 0: empty
  private mask = 15;
  private shift = 28; // 32 - log2(table size): the product's top bits index the table

  get size(): number {
    return this.n;
  }

  private slotOf(key: number): number {
    // the low 32 bits mixed with the high ones; Fibonacci hashing: the top bits of the product depend on
    // every bit of the key (aligned addresses end in zeros, block numbers are consecutive)
    let h = Math.imul((key >>> 0) ^ ((key / 4294967296) >>> 0), 0x9e3779b1) >>> this.shift;
    for (;;) {
      const e = this.table[h];
      if (e === 0 || this.keys[e - 1] === key) return h;
      h = (h + 1) & this.mask;
    }
  }

  get(key: number): V | undefined {
    const e = this.table[this.slotOf(key)];
    return e === 0 ? undefined : this.vals[e - 1];
  }

  has(key: number): boolean {
    return this.table[this.slotOf(key)] !== 0;
  }

  set(key: number, value: V): this {
    const h = this.slotOf(key);
    const e = this.table[h];
    if (e !== 0) {
      this.vals[e - 1] = value;
      return this;
    }
    if (this.n === this.keys.length) {
      const keys = new Float64Array(this.n * 2);
      keys.set(this.keys);
      this.keys = keys;
    }
    this.keys[this.n] = key;
    this.vals.push(value);
    this.table[h] = ++this.n;
    if (this.n * 2 > this.mask) this.grow();
    return this;
  }

  private grow(): void {
    this.table = new Int32Array((this.mask + 1) * 2);
    this.mask = this.table.length - 1;
    this.shift--;
    for (let i = 0; i < this.n; i++) this.table[this.slotOf(this.keys[i])] = i + 1;
  }

  clear(): void {
    if (!this.n) return;
    this.n = 0;
    this.vals.length = 0;
    this.table.fill(0);
  }

  *[Symbol.iterator](): IterableIterator<[number, V]> {
    for (let i = 0; i < this.n; i++) yield [this.keys[i], this.vals[i]];
  }
}
