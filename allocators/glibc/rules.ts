// glibc malloc's words: which changed words are the allocator's own (chunk headers, tcache and
// free-list links), which lie in chunks the child allocated itself, and which are the contents of a
// chunk that was in use at the fork (for the runtime to decode). Knows no runtime.

import { Word, findRange, lastAtOrBelow, same, wordOf } from '../../blame/words';
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

/** findRange over sorted chunks, remembering the last hit: changed words come in address order, so
 *  most lookups land in the chunk of the word before or the next one (no binary search). */
function cursorOver(start: Float64Array, end: Float64Array): (addr: number) => number {
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

export function glibcView(heap: GlibcHeap, child: MallocChunks | undefined, heapVma: { start: number; end: number } | undefined): GlibcView {
  const forkEnds = ends(heap.chunks);
  const childEnds = child ? ends(child) : undefined;
  return {
    fork: heap.chunks,
    forkEnds,
    child,
    childEnds,
    forkAt: cursorOver(heap.chunks.start, forkEnds),
    childAt: child && childEnds ? cursorOver(child.start, childEnds) : () => -1,
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
  const [c, e, i] = k >= 0 ? [g.child!, g.childEnds!, k] : [g.fork, g.forkEnds, g.forkAt(addr)];
  return i > 0 && addr - c.start[i] < 8 && e[i - 1] === c.start[i] && !!c.inUse[i - 1];
}

/** The chunk word at addr (O: fork-time value, N: the child's), or undefined outside every chunk. */
export function chunkWord(g: GlibcView, addr: number, O: Word, N: Word): ChunkWord | undefined {
  // A chunk's first word (prev_size) is user data of the chunk before it while that one is in use.
  const lookup = inPrevSize(g, addr) ? addr - 8 : addr;
  const c = g.forkAt(lookup);
  const k = g.childAt(lookup);
  if (c < 0 && k < 0) return undefined;
  const start = c >= 0 ? g.fork.start[c] : g.child!.start[k];
  // The main arena's first chunk is tcache_perthread_struct: counts and list heads. A thread arena heap
  // starts with its heap_info and (the arena's first heap) its malloc_state: bins, top, next_free,
  // attached_threads (a forked child's new threads take over its parent's arenas and rewrite them).
  if (start === g.heapStart || isArenaHeader(start)) return { kind: 'meta' };
  // The child carved this memory differently (it freed the fork-time chunk, or allocated from a free
  // one): its own chunk says what the word is now.
  const recarved = k >= 0 && (c < 0 || g.child!.start[k] !== start || g.child!.size[k] !== g.fork.size[c]);
  if (recarved || (c >= 0 && !g.fork.inUse[c])) {
    const s = k >= 0 ? g.child!.start[k] : start;
    const off = addr - s;
    if (off < 16) return { kind: 'meta' };
    if (k >= 0 && !g.child!.inUse[k] && isFreeLink(off, g.child!.size[k])) return { kind: 'meta' };
    if (g.tcacheKey && (same(O, g.tcacheKey) || same(N, g.tcacheKey))) return { kind: 'meta' };
    // Anything else the child wrote there: it allocated the memory (and may have freed it since).
    return { kind: 'fresh', start: s, off };
  }
  const off = addr - start;
  // A chunk in use at the fork that the child freed: its bin links are glibc's.
  if (k >= 0 && !g.child!.inUse[k] && isFreeLink(off, g.fork.size[c])) return { kind: 'meta' };
  if (off === 8 && O.hi === N.hi && (O.lo ^ N.lo) === 1 && c > 0 && g.forkEnds[c - 1] === start) return { kind: 'prev-in-use', prevStart: g.fork.start[c - 1] };
  if (off < 16) return { kind: 'meta' };
  // glibc's own words in a chunk freed into tcache: the key at +24, the safe-linked next pointer at +16.
  if (g.tcacheKey && (same(O, g.tcacheKey) || same(N, g.tcacheKey))) return { kind: 'meta' };
  if (off === 16 && (isSafeLink(g, addr, N) || isSafeLink(g, addr, O))) return { kind: 'meta' };
  return { kind: 'content', start, size: g.fork.size[c], off };
}

/** The chunk (fork-time, else the child's) holding addr: its start and size, for owner lookups. */
export function chunkAt(g: GlibcView, addr: number): { start: number; size: number } | undefined {
  const c = g.forkAt(addr);
  if (c >= 0) return { start: g.fork.start[c], size: g.fork.size[c] };
  const k = g.childAt(addr);
  return k >= 0 ? { start: g.child!.start[k], size: g.child!.size[k] } : undefined;
}

