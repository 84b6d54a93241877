// glibc malloc's words: which changed words are the allocator's own (chunk headers, tcache and
// free-list links), which lie in chunks the child allocated itself, and which are the contents of a
// chunk that was in use at the fork (for the runtime to decode). Knows no runtime.

import { RangeCursor, Word, indexOf, lastAtOrBelow } from '../../blame/words';
import type { ChildWriters } from '../../native/capture';
import { ChunkView, classifyChunkWords as nativeClassify } from '../../native/probe';
import { ARENA_HEAP, GlibcHeap, MallocChunks } from './chunks';

export interface GlibcView {
  fork: MallocChunks;
  forkEnds: Float64Array;
  /** the child's own chunks (undefined in captures made before child walks existed) */
  child?: MallocChunks;
  childEnds?: Float64Array;
  /** the chunk holding an address, fork-time and the child's: -1 outside every chunk */
  forkAt: RangeCursor;
  childAt: RangeCursor;
  /** the chunks, [heap]'s bounds and glibc's tcache key, as classifyChunkWords hands them to C++ */
  native: ChunkView;
  /** the end of the child's [heap] where it grew past the fork-time end (native.heapHi), else 0: the
   *  memory above heapHi is the child's allocations, on pages new to it (neither walk lists a chunk there:
   *  the child's lists only those on copied pages) */
  grownHeapEnd: number;
}

export type ChunkWord =
  /** glibc's own bookkeeping */
  | { kind: 'meta' }
  /** only PREV_INUSE of this chunk's size word flipped: the chunk before it was allocated or freed */
  | { kind: 'prev-in-use'; prevStart: number }
  /** a chunk the child allocated itself (free at the fork, or carved anew from freed memory) */
  | { kind: 'fresh'; start: number; off: number }
  /** the contents of a chunk in use at the fork and still the same chunk in the child */
  | { kind: 'content'; start: number; size: number; off: number };

const ends = (c: MallocChunks) => {
  const e = new Float64Array(c.start.length);
  for (let i = 0; i < e.length; i++) e[i] = c.start[i] + c.size[i];
  return e;
};

/** Was every chunk of the fork-time walk that overlaps the page free then (and is there one)? The main
 *  heap's top chunk counts as free: the walk calls the last chunk in use (no chunk after it holds its
 *  bit), but it is the room glibc carves new chunks from, up to the end of the heap. */
export function onlyFreeAtFork(g: GlibcView, page: number, pageSize: number): boolean {
  const f = g.fork;
  const top = g.native.heapHi > 0 ? g.native.heapHi - pageSize : Infinity;
  let any = false;
  for (let i = Math.max(0, lastAtOrBelow(f.start, page)); i < f.start.length && f.start[i] < page + pageSize; i++) {
    if (f.start[i] + f.size[i] <= page) continue;
    if (f.inUse[i] && f.start[i] + f.size[i] <= top) return false;
    any = true;
  }
  return any;
}

/** Does a chunk of the fork-time walk that was free then overlap the page (the main heap's top chunk
 *  counting as free, as in onlyFreeAtFork)? */
export function someFreeAtFork(g: GlibcView, page: number, pageSize: number): boolean {
  const f = g.fork;
  const top = g.native.heapHi > 0 ? g.native.heapHi - pageSize : Infinity;
  for (let i = Math.max(0, lastAtOrBelow(f.start, page)); i < f.start.length && f.start[i] < page + pageSize; i++) {
    if (f.start[i] + f.size[i] <= page) continue;
    if (!f.inUse[i] || f.start[i] + f.size[i] > top) return true;
  }
  return false;
}

/** Does the page hold the bin links (+16 and +24) of a chunk of the fork-time walk that was free then? What
 *  glibc rewrites when it sorts a chunk out of its unsorted bin into its size's bin. (The main heap's top
 *  chunk, which the walk calls in use, has no links.) */
export function freeLinksOn(g: GlibcView, page: number, pageSize: number): boolean {
  const f = g.fork;
  for (let i = Math.max(0, lastAtOrBelow(f.start, page - 32)); i < f.start.length && f.start[i] < page + pageSize; i++) {
    const links = f.start[i] + 16;
    if (!f.inUse[i] && links + 16 > page && links < page + pageSize) return true;
  }
  return false;
}

/** The allocating half of MALLOC_WRITERS: a malloc that no tcache or small bin served sorts the unsorted bin
 *  (in _int_malloc, which calloc and realloc call too). A page such a call wrote first and left as it was,
 *  holding a free chunk's links, is that sort's. */
const BIN_SORT_WRITERS = /^(malloc|calloc|realloc|__libc_(malloc|calloc|realloc)|_int_(malloc|realloc))(\.\w+)*$/;

/** Did glibc sort chunks that were free at the fork out of its unsorted bin on this copied page of
 *  unchanged bytes, storing their links back as they were? The page holds such a chunk's links, and
 *  either the fork path copied it keeping the parent's bytes (forkPathKept: a malloc in fork's own path
 *  sorted them) or a malloc that may sort the bin wrote it first in the child (firstWriter: that
 *  function's exact name, undefined where unknown or only approximate). Each runtime's rules for pages
 *  of unchanged bytes ask this first. */
export function binSorted(g: GlibcView, page: number, pageSize: number, forkPathKept: boolean, firstWriter: string | undefined, unsampledSort = false): boolean {
  return (forkPathKept || unsampledSort || (firstWriter !== undefined && BIN_SORT_WRITERS.test(firstWriter))) && freeLinksOn(g, page, pageSize);
}

/** For binSorted's unsampledSort: was the page one with no fault sampled, in a child whose trace lost
 *  samples and shows a sort (a malloc that sorts wrote first some copied page holding a free chunk's
 *  links)? The sort copies a page per chunk in a burst that can fill the rings between two drains: a CI
 *  run of 20,000 chunks sorted (fixtures/python/freed_blocks.py, 3.11.2) had 512 of its 16,888 pages
 *  without a sample, blamed py.refcount (the objects beside the links). A child whose trace lost nothing
 *  or shows no sort: never. Decided on the first call (the glibc view is the blamer's). */
export function unsampledSortOf(trace: ChildWriters | undefined, exactWriter: (page: number) => string | undefined, pageSize: number): (g: GlibcView, page: number) => boolean {
  let sorted: boolean | undefined;
  return (g, page) => {
    if (!trace || !trace.lost) return false;
    sorted ??= Array.from(trace.addrs).some((a) => BIN_SORT_WRITERS.test(exactWriter(a) ?? '') && freeLinksOn(g, a, pageSize));
    return sorted && indexOf(trace.addrs, page) < 0;
  };
}

/** glibc's malloc and free themselves (exact names, clone suffixes allowed): a page they wrote first holds
 *  their chunk headers and bin links, or the chunks they hand out. */
export const MALLOC_WRITERS = /^(malloc|free|cfree|realloc|calloc|__libc_(malloc|free|realloc|calloc)|unlink_chunk|_int_(malloc|free|realloc)\w*|malloc_consolidate|tcache_\w+)(\.\w+)*$/;

/** Is addr in memory the child's [heap] grew into after the fork (its own allocations)? */
export function inHeapGrowth(g: GlibcView, addr: number): boolean {
  return addr >= g.native.heapHi && addr < g.grownHeapEnd;
}

/** heapVma, childHeapVma: the main heap's mapping at the fork (the reference's) and in the child. */
export function glibcView(
  heap: GlibcHeap,
  child: MallocChunks | undefined,
  heapVma: { start: number; end: number } | undefined,
  childHeapVma?: { start: number; end: number },
): GlibcView {
  const forkEnds = ends(heap.chunks);
  const childEnds = child ? ends(child) : undefined;
  // hex, as the walk found it ('0': none); a capture file's own text is checked when loaded, this again
  const tcacheKey = /^[0-9a-f]{1,16}$/i.test(heap.tcacheKey) ? BigInt(`0x${heap.tcacheKey}`) : 0n;
  return {
    fork: heap.chunks,
    forkEnds,
    child,
    childEnds,
    forkAt: new RangeCursor(heap.chunks.start, forkEnds),
    childAt: child && childEnds ? new RangeCursor(child.start, childEnds) : new RangeCursor(new Float64Array(), new Float64Array()),
    native: {
      forkStart: heap.chunks.start,
      forkSize: heap.chunks.size,
      forkEnd: forkEnds,
      forkInUse: heap.chunks.inUse,
      ...(child && childEnds ? { childStart: child.start, childSize: child.size, childEnd: childEnds, childInUse: child.inUse } : {}),
      heapStart: heap.heapStart,
      heapLo: heapVma?.start ?? 0,
      heapHi: heapVma?.end ?? 0,
      tcacheKey,
      arenaMax: ARENA_HEAP.maxSize,
    },
    grownHeapEnd: heapVma && childHeapVma && childHeapVma.start === heapVma.start && childHeapVma.end > heapVma.end ? childHeapVma.end : 0,
  };
}

/** ChunkWords.kind values: what a word is to glibc (NONE: in no chunk). */
export const CW = { NONE: 0, META: 1, PREV_IN_USE: 2, FRESH: 3, CONTENT: 4 } as const;

/** What many words are to glibc, one row per word, in typed arrays (the blame's per-word path asks
 *  about every changed word and every pointer it stores: no object per word). A row keeps its kind and
 *  the chunk it names (FRESH, CONTENT, PREV_IN_USE), an index into the fork-time list (>= 0) or the
 *  child's (-2 - i); start, size and offset are read through it. Five bytes a row where three columns of
 *  doubles took 25: a Rails worker's 900K words are asked about twice, and every page of a fresh array
 *  is a page fault (~10 µs in a VM): 43 MiB of them cost ~100 ms of its first blame. */
export class ChunkWords {
  readonly kind: Uint8Array;
  readonly chunk: Int32Array;
  private readonly forkStart: Float64Array;
  private readonly forkSize: Float64Array;
  private readonly childStart: Float64Array;
  private readonly childSize: Float64Array;
  /** the address of row k: a word's (addrs) or a stored value's (values' low and high halves) */
  private readonly addrs: Float64Array | null;
  private readonly values: Uint32Array | null;

  constructor(g: GlibcView | undefined, n: number, addrs: Float64Array | null = null, values: BigUint64Array | null = null) {
    this.kind = new Uint8Array(n);
    this.chunk = new Int32Array(n);
    this.forkStart = g?.fork.start ?? new Float64Array();
    this.forkSize = g?.fork.size ?? new Float64Array();
    this.childStart = g?.child?.start ?? new Float64Array();
    this.childSize = g?.child?.size ?? new Float64Array();
    this.addrs = addrs;
    this.values = values ? new Uint32Array(values.buffer, values.byteOffset, values.length * 2) : null;
  }

  /** FRESH, CONTENT: the chunk's start; PREV_IN_USE: the start of the chunk before; other rows 0 */
  start(k: number): number {
    if (this.kind[k] < CW.PREV_IN_USE) return 0;
    const c = this.chunk[k];
    return c >= 0 ? this.forkStart[c] : this.childStart[-2 - c];
  }

  /** CONTENT: the fork-time chunk's size; other rows 0 */
  size(k: number): number {
    return this.kind[k] === CW.CONTENT ? this.forkSize[this.chunk[k]] : 0;
  }

  /** FRESH: the size of the chunk the child allocated, by its own walk; without one, of the fork-time
   *  free chunk the word lay in (which the child may have carved smaller); other rows 0 */
  freshSize(k: number): number {
    if (this.kind[k] !== CW.FRESH) return 0;
    const c = this.chunk[k];
    return c >= 0 ? this.forkSize[c] : this.childSize[-2 - c];
  }

  /** FRESH, CONTENT: the word's offset in its chunk; other rows 0 */
  off(k: number): number {
    if (this.kind[k] < CW.FRESH) return 0;
    const a = this.addrs ? this.addrs[k] : this.values![2 * k + 1] * 4294967296 + this.values![2 * k];
    return a - this.start(k);
  }
}

/** No rows: a context's before its words are classified. */
export function chunkWords(n: number): ChunkWords {
  return new ChunkWords(undefined, n);
}

/** What each word is to glibc: the word at addrs[k] (fork-time value oldWord[k], the child's newWord[k]),
 *  or with addrs null the address newWord[k] (where a stored pointer leads). Rows with skip set, and
 *  words in no chunk, are NONE. In C++ (native/chunkwords.cc): a Rails worker asks about ~2M words. */
export function classifyChunkWords(g: GlibcView, addrs: Float64Array | null, oldWord: BigUint64Array, newWord: BigUint64Array, skip: Uint8Array | null = null): ChunkWords {
  const out = new ChunkWords(g, newWord.length, addrs, addrs ? null : newWord);
  nativeClassify(g.native, addrs, oldWord, newWord, skip, out);
  return out;
}

/** The chunk word at addr (O: fork-time value, N: the child's), or undefined outside every chunk: one
 *  word at a time, for tests and one-off questions (each call hands the chunk lists to C++ again: a
 *  blamer classifies its words in one classifyChunkWords). */
export function chunkWord(g: GlibcView, addr: number, O: Word, N: Word): ChunkWord | undefined {
  const big = (w: Word) => BigUint64Array.of((BigInt(w.hi >>> 0) << 32n) | BigInt(w.lo >>> 0));
  const out = classifyChunkWords(g, Float64Array.of(addr), big(O), big(N));
  switch (out.kind[0]) {
    case CW.META:
      return { kind: 'meta' };
    case CW.PREV_IN_USE:
      return { kind: 'prev-in-use', prevStart: out.start(0) };
    case CW.FRESH:
      return { kind: 'fresh', start: out.start(0), off: out.off(0) };
    case CW.CONTENT:
      return { kind: 'content', start: out.start(0), size: out.size(0), off: out.off(0) };
  }
  return undefined;
}

/** The chunk (fork-time, else the child's) holding addr: its start and size, for owner lookups. */
export function chunkAt(g: GlibcView, addr: number): { start: number; size: number } | undefined {
  const c = g.forkAt.at(addr);
  if (c >= 0) return { start: g.fork.start[c], size: g.fork.size[c] };
  const k = g.childAt.at(addr);
  return k >= 0 ? { start: g.child!.start[k], size: g.child!.size[k] } : undefined;
}


/** A chunk's header before the memory malloc returns (prev_size and size, 64-bit): a user pointer is the
 *  chunk's start plus this. */
export const CHUNK_HEADER = 16;

/** Does the word at addr, user +0 or +8 (userOff) of a chunk, hold what glibc's free stores there: a
 *  safe-linked next pointer ((the word's address >> 12) XOR next) to 0 or to a 16-byte aligned address of
 *  the main heap at +0 (tcache, a fastbin), the tcache key at +8? A malloc that took the chunk again
 *  stores its own data there. */
export function isFreeLink(view: GlibcView, addr: number, userOff: number, N: Word): boolean {
  const g = view.native;
  if (userOff === 8) return g.tcacheKey !== 0n && ((BigInt(N.hi) << 32n) | BigInt(N.lo)) === g.tcacheKey;
  if (userOff !== 0) return false;
  const shifted = Math.floor(addr / 4096);
  const lo = (N.lo ^ shifted) >>> 0;
  const hi = (N.hi ^ Math.floor(shifted / 4294967296)) >>> 0;
  const next = hi * 4294967296 + lo;
  return next === 0 || ((lo & 15) === 0 && next >= g.heapLo && next < g.heapHi);
}

/** Is addr where malloc's pointers lead: the user start of a chunk, fork-time or the child's? */
export function isUserStart(view: GlibcView, addr: number): boolean {
  const c = chunkAt(view, addr - CHUNK_HEADER);
  return !!c && c.start === addr - CHUNK_HEADER;
}

/** sizeof(struct malloc_chunk) on 64-bit: prev_size, size, fd, bk, fd_nextsize, bk_nextsize. */
const MALLOC_CHUNK_STRUCT = 48;

/** Would malloc_trim have released the page at the fork: does it lie wholly inside a chunk free then,
 *  past the chunk's own struct malloc_chunk? glibc's mtrim madvises (MADV_DONTNEED) the whole pages from
 *  chunk + sizeof(struct malloc_chunk), rounded up, to the chunk's end, in every bin (the top chunk goes
 *  back to the kernel too). A child that writes such a page then faults in a new zero page, not a copy. A
 *  free chunk too small to hold a page (tcache, fastbins) holds none. */
export function trimReleases(view: GlibcView, page: number, pageSize: number): boolean {
  const { start, size, inUse } = view.fork;
  const i = lastAtOrBelow(start, page);
  return i >= 0 && !inUse[i] && page >= start[i] + MALLOC_CHUNK_STRUCT && page + pageSize <= start[i] + size[i];
}
