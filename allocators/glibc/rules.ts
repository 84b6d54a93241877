// glibc malloc's words: which changed words are the allocator's own (chunk headers, tcache and
// free-list links), which lie in chunks the child allocated itself, and which are the contents of a
// chunk that was in use at the fork (for the runtime to decode). Knows no runtime.

import { Word, lastAtOrBelow, rangeCursor, wordOf } from '../../blame/words';
import { ARENA_HEAP, GlibcHeap, MallocChunks, isArenaHeader } from './chunks';

export interface GlibcView {
  fork: MallocChunks;
  forkEnds: Float64Array;
  /** the child's own chunks (undefined in captures made before child walks existed) */
  child?: MallocChunks;
  childEnds?: Float64Array;
  tcacheKey?: Word;
  heapStart: number;
  heapLo: number;
  heapHi: number;
  /** the chunk holding an address, fork-time and the child's: -1 outside every chunk */
  forkAt: (addr: number) => number;
  childAt: (addr: number) => number;
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

export function glibcView(heap: GlibcHeap, child: MallocChunks | undefined, heapVma: { start: number; end: number } | undefined): GlibcView {
  const forkEnds = ends(heap.chunks);
  const childEnds = child ? ends(child) : undefined;
  return {
    fork: heap.chunks,
    forkEnds,
    child,
    childEnds,
    forkAt: rangeCursor(heap.chunks.start, forkEnds),
    childAt: child && childEnds ? rangeCursor(child.start, childEnds) : () => -1,
    tcacheKey: heap.tcacheKey && heap.tcacheKey !== '0' ? wordOf(heap.tcacheKey) : undefined,
    heapStart: heap.heapStart,
    heapLo: heapVma?.start ?? 0,
    heapHi: heapVma?.end ?? 0,
  };
}

/** A tcache next link as glibc 2.32+ stores it: (address of the word >> 12) XOR next; next lies in
 *  [heap], or in the same thread arena heap as the word. */
function isSafeLink(g: GlibcView, addr: number, v: Word): boolean {
  const shifted = Math.floor(addr / 4096);
  const next = ((v.hi ^ Math.floor(shifted / 4294967296)) >>> 0) * 4294967296 + ((v.lo ^ shifted) >>> 0);
  if (next === 0) return !!g.heapHi || inArenaHeap(g, addr);
  if (next % 16) return false;
  if (g.heapHi && next >= g.heapLo && next < g.heapHi) return true;
  const base = addr - (addr % ARENA_HEAP.maxSize);
  return inArenaHeap(g, addr) && next > base && next < base + ARENA_HEAP.maxSize;
}

/** Does addr lie in a thread arena heap whose header chunk was walked (fork-time or the child's)? */
function inArenaHeap(g: GlibcView, addr: number): boolean {
  const base = addr - (addr % ARENA_HEAP.maxSize);
  const listed = (c: MallocChunks | undefined) => {
    if (!c) return false;
    const i = lastAtOrBelow(c.start, base);
    return i >= 0 && c.start[i] === base;
  };
  return listed(g.fork) || listed(g.child);
}

/** Words of a free chunk that glibc writes: fd/bk (tcache next and key) at +16/+24, and fd_nextsize/
 *  bk_nextsize at +32/+40 of large chunks (1024 bytes and more). */
const isFreeLink = (off: number, size: number): boolean => off === 16 || off === 24 || (size >= 1024 && (off === 32 || off === 40));

/** Is addr the prev_size word of a chunk whose predecessor is in use (the child's view where known)? */
function inPrevSize(g: GlibcView, addr: number): boolean {
  const k = g.childAt(addr);
  if (k >= 0) {
    const c = g.child!;
    return k > 0 && addr - c.start[k] < 8 && g.childEnds![k - 1] === c.start[k] && !!c.inUse[k - 1];
  }
  const i = g.forkAt(addr);
  const c = g.fork;
  return i > 0 && addr - c.start[i] < 8 && g.forkEnds[i - 1] === c.start[i] && !!c.inUse[i - 1];
}

/** ChunkWords.kind values: what a word is to glibc (NONE: in no chunk). */
export const CW = { NONE: 0, META: 1, PREV_IN_USE: 2, FRESH: 3, CONTENT: 4 } as const;

/** What many words are to glibc, one row per word, in typed arrays (the blame's per-word path asks
 *  about every changed word and every pointer it stores: no object per word). */
export interface ChunkWords {
  kind: Uint8Array;
  /** FRESH, CONTENT: the chunk's start; PREV_IN_USE: the start of the chunk before */
  start: Float64Array;
  /** CONTENT: the fork-time chunk's size */
  size: Float64Array;
  /** FRESH, CONTENT: the word's offset in its chunk */
  off: Float64Array;
}

export function chunkWords(n: number): ChunkWords {
  return { kind: new Uint8Array(n), start: new Float64Array(n), size: new Float64Array(n), off: new Float64Array(n) };
}

const isKey = (g: GlibcView, lo: number, hi: number) => !!g.tcacheKey && lo === g.tcacheKey.lo && hi === g.tcacheKey.hi;

/** Classify the chunk word at addr (fork-time value oLo/oHi, the child's nLo/nHi) into row k of out:
 *  kind NONE outside every chunk. */
export function classifyChunkWord(g: GlibcView, addr: number, oLo: number, oHi: number, nLo: number, nHi: number, out: ChunkWords, k: number): void {
  out.kind[k] = chunkWordKind(g, addr, oLo, oHi, nLo, nHi, out, k);
}

function chunkWordKind(g: GlibcView, addr: number, oLo: number, oHi: number, nLo: number, nHi: number, out: ChunkWords, k: number): number {
  // A chunk's first word (prev_size) is user data of the chunk before it while that one is in use.
  const lookup = inPrevSize(g, addr) ? addr - 8 : addr;
  const c = g.forkAt(lookup);
  const ck = g.childAt(lookup);
  if (c < 0 && ck < 0) return CW.NONE;
  const start = c >= 0 ? g.fork.start[c] : g.child!.start[ck];
  // The main arena's first chunk is tcache_perthread_struct: counts and list heads. A thread arena heap
  // starts with its heap_info and (the arena's first heap) its malloc_state: bins, top, next_free,
  // attached_threads (a forked child's new threads take over its parent's arenas and rewrite them).
  if (start === g.heapStart || isArenaHeader(start)) return CW.META;
  // The child carved this memory differently (it freed the fork-time chunk, or allocated from a free
  // one): its own chunk says what the word is now.
  const recarved = ck >= 0 && (c < 0 || g.child!.start[ck] !== start || g.child!.size[ck] !== g.fork.size[c]);
  if (recarved || (c >= 0 && !g.fork.inUse[c])) {
    const s = ck >= 0 ? g.child!.start[ck] : start;
    const off = addr - s;
    if (off < 16) return CW.META;
    if (ck >= 0 && !g.child!.inUse[ck] && isFreeLink(off, g.child!.size[ck])) return CW.META;
    if (isKey(g, oLo, oHi) || isKey(g, nLo, nHi)) return CW.META;
    // Anything else the child wrote there: it allocated the memory (and may have freed it since).
    out.start[k] = s;
    out.off[k] = off;
    return CW.FRESH;
  }
  const off = addr - start;
  // A chunk in use at the fork that the child freed: its bin links are glibc's.
  if (ck >= 0 && !g.child!.inUse[ck] && isFreeLink(off, g.fork.size[c])) return CW.META;
  if (off === 8 && oHi === nHi && (oLo ^ nLo) === 1 && c > 0 && g.forkEnds[c - 1] === start) {
    out.start[k] = g.fork.start[c - 1];
    return CW.PREV_IN_USE;
  }
  if (off < 16) return CW.META;
  // glibc's own words in a chunk freed into tcache: the key at +24, the safe-linked next pointer at +16.
  if (isKey(g, oLo, oHi) || isKey(g, nLo, nHi)) return CW.META;
  if (off === 16 && (isSafeLink(g, addr, { lo: nLo, hi: nHi }) || isSafeLink(g, addr, { lo: oLo, hi: oHi }))) return CW.META;
  out.start[k] = start;
  out.size[k] = g.fork.size[c];
  out.off[k] = off;
  return CW.CONTENT;
}

/** The chunk word at addr (O: fork-time value, N: the child's), or undefined outside every chunk: one
 *  word at a time, for callers off the per-word path. */
export function chunkWord(g: GlibcView, addr: number, O: Word, N: Word): ChunkWord | undefined {
  const out = chunkWords(1);
  classifyChunkWord(g, addr, O.lo, O.hi, N.lo, N.hi, out, 0);
  switch (out.kind[0]) {
    case CW.META:
      return { kind: 'meta' };
    case CW.PREV_IN_USE:
      return { kind: 'prev-in-use', prevStart: out.start[0] };
    case CW.FRESH:
      return { kind: 'fresh', start: out.start[0], off: out.off[0] };
    case CW.CONTENT:
      return { kind: 'content', start: out.start[0], size: out.size[0], off: out.off[0] };
  }
  return undefined;
}

/** The chunk (fork-time, else the child's) holding addr: its start and size, for owner lookups. */
export function chunkAt(g: GlibcView, addr: number): { start: number; size: number } | undefined {
  const c = g.forkAt(addr);
  if (c >= 0) return { start: g.fork.start[c], size: g.fork.size[c] };
  const k = g.childAt(addr);
  return k >= 0 ? { start: g.child!.start[k], size: g.child!.size[k] } : undefined;
}

