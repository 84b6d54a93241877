// glibc malloc's arenas as chunks: the main arena ([heap]) and the arenas of other threads (heaps glibc
// mmapped, see ARENA_HEAP): where each chunk starts, how big it is, whether it was in use. Walked in the
// fork-time image (what the parent had) and in every child (what the child made of it: a chunk it freed
// and carved anew is the child's, not the fork-time owner's). Only chunks that touch a copied page are
// kept, so captures stay small. Knows glibc, not any runtime.

import { MallocLimits, MallocSegment, MallocWalk, mallocChunks, mallocChunksAsync, readWords } from '../../native/probe';
import type { Vma } from '../../native/procfs-parse';

export interface MallocChunks {
  start: Float64Array;
  size: Float64Array;
  /** 0 for chunks free at that moment (in a bin, or cached in tcache: glibc marks those in use, but they
   *  carry the tcache key at +24) */
  inUse: Uint8Array;
}

export interface GlibcHeap {
  /** chunks of [heap] and of the thread arenas' heaps that touch a copied page, sorted; a thread arena
   *  heap's own header (heap_info, and the arena's malloc_state in its first heap) is listed as one chunk
   *  that starts at the heap's aligned base (see isArenaHeader) */
  chunks: MallocChunks;
  /** start of the main arena's first chunk (tcache_perthread_struct), 0 when [heap] is absent */
  heapStart: number;
  /** glibc's per-process tcache key (hex; '0' when not found): +24 of every chunk cached in tcache */
  tcacheKey: string;
  /** the chunks in use of the sizes asked for (keepSizes) on no copied page, sorted */
  sized?: { start: Float64Array; size: Float64Array };
}

const EMPTY: MallocChunks = { start: new Float64Array(), size: new Float64Array(), inUse: new Uint8Array() };

/** Does [start, end) touch any of the sorted pages? */
export function touchesPages(pages: Float64Array, pageSize: number, start: number, end: number): boolean {
  let lo = 0;
  let hi = pages.length;
  const first = start - (start % pageSize);
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pages[mid] < first) lo = mid + 1;
    else hi = mid;
  }
  return lo < pages.length && pages[lo] < end;
}

/** The largest chunk a fastbin holds (64-bit default max_fast 128 + header). */
const FASTBIN_MAX = 160;
/** The largest chunk tcache holds (64 bins of 16 bytes from 32). */
const TCACHE_MAX = 1040;
/** The smallest chunk a large bin holds (MIN_LARGE_SIZE: 64 small bins of 16 bytes on 64-bit). A small
 *  bin hands out its oldest chunk first; a request no chunk fits exactly splits the smallest that fits. */
export const MIN_LARGE_SIZE = 1024;

/** glibc's heaps of the arenas other than the main one (malloc/arena.c: threads get their own arena, and
 *  a forked child's new threads reuse the arenas its parent's threads left): each heap is HEAP_MAX_SIZE
 *  bytes (64 MiB on 64-bit: 2 * DEFAULT_MMAP_THRESHOLD_MAX) reserved at an address aligned to that size and
 *  made read-write as it grows. It starts with a heap_info {ar_ptr, prev, size, mprotect_size, pagesize
 *  (2.35+), pad}; an arena's first heap (prev 0) holds the arena's malloc_state right after it, ar_ptr
 *  pointing there, and its chunks start after that. */
export const ARENA_HEAP = {
  maxSize: 64 * 1024 * 1024,
  /** sizeof(struct malloc_state), glibc 2.27+ (mutex, flags, have_fastchunks, fastbinsY[10], top,
   *  last_remainder, bins[254], binmap[4], next, next_free, attached_threads, system_mem, max_system_mem) */
  mallocStateBytes: 2200,
  /** heap_info's size when no first heap tells it (2.35+: 48; before, 32) */
  defaultHeaderBytes: 48,
} as const;

/** Does a chunk of the list start at a thread arena heap's base: that "chunk" is the heap's header
 *  (heap_info, and malloc_state in an arena's first heap), glibc's own bookkeeping. */
export const isArenaHeader = (start: number): boolean => start > 0 && start % ARENA_HEAP.maxSize === 0;

/** A thread arena heap: [base, end) read-write, its first chunk at first. */
export interface ArenaHeap {
  base: number;
  end: number;
  first: number;
}

/** A chunk's start such that its user pointer (start + 16) is 16-byte aligned, at or after p. */
const alignChunk = (p: number) => Math.ceil(p / 16) * 16;

/** The thread arenas' heaps of a process: anonymous read-write mappings at a HEAP_MAX_SIZE-aligned address
 *  whose heap_info holds up: size within the mapping, and either ar_ptr just past heap_info with prev 0 (an
 *  arena's first heap) or prev the base of another such heap. */
export function arenaHeaps(pid: number, vmas: Vma[]): ArenaHeap[] {
  const cands = vmas.filter((v) => v.inode === 0 && v.perms === 'rw-p' && !v.path.startsWith('[') && v.start % ARENA_HEAP.maxSize === 0);
  if (!cands.length) return [];
  const w = readWords(pid, Float64Array.from(cands.flatMap((v) => [v.start, v.start + 8, v.start + 16])));
  const info = cands.map((v, i) => {
    const ok = w.ok[3 * i] && w.ok[3 * i + 1] && w.ok[3 * i + 2];
    return { v, ok, arPtr: Number(w.words[3 * i]), prev: Number(w.words[3 * i + 1]), size: Number(w.words[3 * i + 2]) };
  });
  const bases = new Set(cands.map((v) => v.start));
  // heap_info's size, from the arenas' first heaps (ar_ptr - base)
  let header: number = ARENA_HEAP.defaultHeaderBytes;
  for (const h of info) if (h.ok && !h.prev && h.arPtr > h.v.start && h.arPtr - h.v.start <= 64) header = h.arPtr - h.v.start;
  // A heap grown after a fork lists as two mappings (the part inherited and the part grown have their own
  // anon_vma): its read-write extent runs over adjacent rw-p mappings.
  const sorted = [...vmas].sort((a, b) => a.start - b.start);
  const rwEnd = (v: Vma): number => {
    let end = v.end;
    for (let i = sorted.indexOf(v) + 1; i < sorted.length && sorted[i].start === end && sorted[i].perms === 'rw-p' && sorted[i].inode === 0 && end % ARENA_HEAP.maxSize; i++) end = sorted[i].end;
    return end;
  };
  const out: ArenaHeap[] = [];
  for (const h of info) {
    if (!h.ok || h.size < 4096 || h.size % 4096 || h.size > rwEnd(h.v) - h.v.start) continue;
    const firstHeap = !h.prev && h.arPtr - h.v.start === header;
    const later = h.prev !== 0 && bases.has(h.prev) && h.arPtr % 8 === 0 && bases.has(h.arPtr - (h.arPtr % ARENA_HEAP.maxSize));
    if (!firstHeap && !later) continue;
    out.push({ base: h.v.start, end: h.v.start + h.size, first: firstHeap ? alignChunk(h.arPtr + ARENA_HEAP.mallocStateBytes) : alignChunk(h.v.start + header) });
  }
  return out;
}

/** The main arena's heap: [heap] from its first mapping to the end of the adjacent ones (brk memory grown
 *  after a fork lists as a mapping of its own, also named [heap]). */
export function mainHeap(vmas: Vma[]): { start: number; end: number } | undefined {
  const parts = vmas.filter((v) => v.path === '[heap]').sort((a, b) => a.start - b.start);
  if (!parts.length) return undefined;
  let end = parts[0].end;
  for (const v of parts.slice(1)) if (v.start === end) end = v.end;
  return { start: parts[0].start, end };
}

/** The heaps to walk: [heap] (the main arena, its first chunk at its start), then every thread arena
 *  heap (its header listed as one chunk). */
function segments(pid: number, vmas: Vma[], heap: { start: number; end: number } | undefined): MallocSegment[] {
  return [...(heap ? [{ start: heap.start, first: heap.start, end: heap.end }] : []), ...arenaHeaps(pid, vmas).map((h) => ({ start: h.base, first: h.first, end: h.end }))];
}

/** What the native walk (native/malloc.cc) tests chunks against. It follows each heap's chain (the size
 *  word at +8; a chunk is in use when the next one's PREV_INUSE bit is set) and keeps the chunks touching
 *  the given pages, plus every thread arena header (the rules tell a word in such a heap by its header).
 *  glibc marks tcache and fastbin chunks in use; they are free all the same: a tcache chunk carries the
 *  key at +24, and both carry at +16 a safe-linked next pointer ((address of the word >> 12) XOR next) to
 *  a chunk of the same size, or to 0. The key itself (per process, inherited by children) is the most
 *  frequent +24 word above 2^32 among chunks up to TCACHE_MAX whose +16 word decodes as such a link to 0
 *  or to a walked chunk. */
const limits = (pageSize: number): MallocLimits => ({ arenaHeapMax: ARENA_HEAP.maxSize, fastbinMax: FASTBIN_MAX, tcacheMax: TCACHE_MAX, pageSize });

function glibcHeapOf(walk: MallocWalk, heap: { start: number } | undefined): GlibcHeap {
  if (!walk.walked) return { chunks: EMPTY, heapStart: 0, tcacheKey: '0' };
  return { chunks: walk.chunks, heapStart: heap?.start ?? 0, tcacheKey: walk.key.toString(16), ...(walk.sized?.start.length ? { sized: walk.sized } : {}) };
}

/** The fork-time image's arenas (pid: the stopped twin, or a live master): the chunks touching a copied
 *  page, and the tcache key. */
export function discoverGlibcHeap(pid: number, vmas: Vma[], copiedPages: Float64Array, pageSize: number): GlibcHeap {
  const heap = mainHeap(vmas);
  return glibcHeapOf(mallocChunks(pid, segments(pid, vmas, heap), copiedPages, null, limits(pageSize)), heap);
}

/** The same on the thread pool (a live master's walk beside its workers'); with keepSizes, the chunks
 *  of those sizes in use elsewhere too (GlibcHeap.sized). */
export async function discoverGlibcHeapAsync(pid: number, vmas: Vma[], copiedPages: Float64Array, pageSize: number, keepSizes?: { min: number; max: number }): Promise<GlibcHeap> {
  const heap = mainHeap(vmas);
  const keep = keepSizes ? { keepSizeMin: keepSizes.min, keepSizeMax: keepSizes.max } : {};
  return glibcHeapOf(await mallocChunksAsync(pid, segments(pid, vmas, heap), copiedPages, null, { ...limits(pageSize), ...keep }), heap);
}

const keyOf = (tcacheKey: string) => BigInt(`0x${tcacheKey || '0'}`);

/** A child's own chunks on its copied pages (same tcache key: the child inherited it). */
export function childChunks(pid: number, vmas: Vma[], copiedPages: Float64Array, pageSize: number, tcacheKey: string): MallocChunks {
  if (!copiedPages.length) return EMPTY;
  return mallocChunks(pid, segments(pid, vmas, mainHeap(vmas)), copiedPages, keyOf(tcacheKey), limits(pageSize)).chunks;
}

/** The same on the thread pool (the workers of a master walked at once). */
export async function childChunksAsync(pid: number, vmas: Vma[], copiedPages: Float64Array, pageSize: number, tcacheKey: string): Promise<MallocChunks> {
  if (!copiedPages.length) return EMPTY;
  return (await mallocChunksAsync(pid, segments(pid, vmas, mainHeap(vmas)), copiedPages, keyOf(tcacheKey), limits(pageSize))).chunks;
}

/** Blocks glibc mmapped for large allocations, sorted by start. */
export interface MmappedChunks {
  start: Float64Array;
  size: Float64Array;
}

/** Blocks glibc mmapped for large allocations (at or above the mmap threshold): page-aligned chunks whose
 *  size word has IS_MMAPPED (2) set, found by their headers in anonymous mappings that touch a copied page.
 *  Adjacent mappings may merge, so a chunk can start anywhere inside a mapping. */
export function discoverMmappedChunks(pid: number, vmas: Vma[], copiedPages: Float64Array, pageSize: number): MmappedChunks {
  const IS_MMAPPED = 2n;
  const anon = vmas.filter((v) => v.inode === 0 && v.perms === 'rw-p' && !v.path.startsWith('[') && touchesPages(copiedPages, pageSize, v.start, v.end));
  const heads: number[] = [];
  for (const v of anon) for (let a = v.start; a < v.end && heads.length < 1 << 20; a += pageSize) heads.push(a + 8);
  const words = readWords(pid, Float64Array.from(heads));
  const at = new Map<number, bigint>();
  for (let i = 0; i < heads.length; i++) if (words.ok[i]) at.set(heads[i] - 8, words.words[i]);
  const out: [number, number][] = [];
  for (const v of anon) {
    for (let a = v.start; a < v.end; ) {
      const w = at.get(a);
      const size = w === undefined ? 0 : Number(w & ~7n);
      if (w !== undefined && w & IS_MMAPPED && size >= 128 * 1024 && size % pageSize === 0 && a + size <= v.end) {
        out.push([a, size]);
        a += size;
      } else a += pageSize;
    }
  }
  return { start: Float64Array.from(out, (x) => x[0]), size: Float64Array.from(out, (x) => x[1]) };
}
