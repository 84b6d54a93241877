// glibc malloc's arenas as chunks: the main arena ([heap]) and the arenas of other threads (heaps glibc
// mmapped, see ARENA_HEAP): where each chunk starts, how big it is, whether it was in use. Walked in the
// fork-time image (what the parent had) and in every child (what the child made of it: a chunk it freed
// and carved anew is the child's, not the fork-time owner's). Only chunks that touch a copied page are
// kept, so captures stay small. Knows glibc, not any runtime.

import { readPages, readWords, walkMallocChunks } from '../../native/probe';
import type { Vma } from '../../native/procfs-parse';
import { lastAtOrBelow } from '../../blame/words';

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

/** The tcache key: the most frequent +24 word among small chunks whose +16 word decodes as a
 *  safe-linked next pointer ((address of that word) >> 12 XOR next, next 0 or the user pointer of a
 *  walked chunk). */
function findTcacheKey(pid: number, all: MallocChunks): bigint {
  const small: number[] = [];
  for (let i = 0; i < all.start.length; i++) if (all.size[i] <= 1040 && !isArenaHeader(all.start[i])) small.push(all.start[i] + 16, all.start[i] + 24);
  const links = readWords(pid, Float64Array.from(small));
  const users = new Set<bigint>(Array.from(all.start, (s) => BigInt(s + 16)));
  const counts = new Map<bigint, number>();
  for (let i = 0; i < small.length; i += 2) {
    if (!links.ok[i] || !links.ok[i + 1]) continue;
    const next = links.words[i] ^ (BigInt(small[i]) >> 12n);
    if (next !== 0n && !users.has(next)) continue;
    counts.set(links.words[i + 1], (counts.get(links.words[i + 1]) ?? 0) + 1);
  }
  let key = 0n;
  let most = 1;
  for (const [v, n] of counts) if (n > most && v > 1n << 32n) [key, most] = [v, n];
  return key;
}

/** The largest chunk a fastbin holds (64-bit default max_fast 128 + header). */
const FASTBIN_MAX = 160;

/** Chunks of one process's arenas touching the pages. glibc marks tcache and fastbin chunks in use;
 *  they are free all the same: a tcache chunk carries the key at +24, and both carry at +16 a
 *  safe-linked next pointer ((address of the word >> 12) XOR next) to a chunk of the same size, or to 0. */
function keptChunks(pid: number, all: MallocChunks, key: bigint, pages: Float64Array, pageSize: number): MallocChunks {
  // Marked from the pages (a few thousand) rather than tested per chunk (hundreds of thousands): for each
  // page, the chunk holding its first byte and those after it up to the page's end. Thread arena headers
  // always: the rules tell a word in such a heap by its header.
  const marked = new Uint8Array(all.start.length);
  for (let i = 0; i < all.start.length; i++) if (isArenaHeader(all.start[i])) marked[i] = 1;
  for (const page of pages) {
    let i = Math.max(0, lastAtOrBelow(all.start, page));
    for (; i < all.start.length && all.start[i] < page + pageSize; i++) if (all.start[i] + all.size[i] > page) marked[i] = 1;
  }
  const keep: number[] = [];
  for (let i = 0; i < marked.length; i++) if (marked[i]) keep.push(i);
  const addrs = new Float64Array(2 * keep.length);
  keep.forEach((i, k) => {
    addrs[2 * k] = all.start[i] + 16;
    addrs[2 * k + 1] = all.start[i] + 24;
  });
  const words = readWords(pid, addrs);
  // a fastbin link points to the user pointer of a chunk of the same size (chunks are sorted by start)
  const isChunkOfSize = (user: number, size: number): boolean => {
    const j = lastAtOrBelow(all.start, user - 16);
    return j >= 0 && all.start[j] === user - 16 && all.size[j] === size;
  };
  const isFree = (i: number, k: number): boolean => {
    if (!all.inUse[i]) return true;
    if (isArenaHeader(all.start[i])) return false;
    if (!words.ok[2 * k] || !words.ok[2 * k + 1]) return false;
    if (key && words.words[2 * k + 1] === key) return true;
    if (all.size[i] > FASTBIN_MAX) return false;
    const next = Number(words.words[2 * k] ^ (BigInt(all.start[i] + 16) >> 12n));
    return next !== 0 && isChunkOfSize(next, all.size[i]);
  };
  return {
    start: Float64Array.from(keep, (i) => all.start[i]),
    size: Float64Array.from(keep, (i) => all.size[i]),
    inUse: Uint8Array.from(keep, (i, k) => (isFree(i, k) ? 0 : 1)),
  };
}

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

/** Pages read at a time by walkArenaHeap: a heap may be 64 MiB. */
const WALK_WINDOW_PAGES = 256;

/** Chunks of one thread arena heap, its header first as one chunk (in use): the walk reads the heap's
 *  pages a window at a time (absent ones read as zeros and end it) and follows the size words, like
 *  walkMallocChunks. */
function walkArenaHeap(pid: number, heap: ArenaHeap, pageSize: number): { start: number[]; size: number[]; inUse: number[] } {
  let lo = 0;
  let hi = 0;
  let data: Buffer = Buffer.alloc(0);
  const word = (addr: number): number => {
    if (addr < lo || addr + 8 > hi) {
      lo = addr - (addr % pageSize);
      const pages: number[] = [];
      for (let a = lo; a < heap.end && pages.length < WALK_WINDOW_PAGES; a += pageSize) pages.push(a);
      hi = lo + pages.length * pageSize;
      data = readPages(pid, Float64Array.from(pages)).data;
    }
    return Number(data.readBigUInt64LE(addr - lo));
  };
  const out = { start: [heap.base], size: [heap.first - heap.base], inUse: [1] };
  for (let p = heap.first; p + 16 <= heap.end; ) {
    const size = word(p + 8) - (word(p + 8) % 8);
    if (size < 32 || size % 16 || p + size > heap.end) break;
    const next = p + size;
    out.start.push(p);
    out.size.push(size);
    out.inUse.push(next + 16 <= heap.end ? word(next + 8) % 2 : 1);
    p = next;
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

/** Every chunk of a process's malloc arenas: [heap] (the main arena), then every thread arena heap. */
function allChunks(pid: number, vmas: Vma[], heap: { start: number; end: number } | undefined, pageSize: number): MallocChunks {
  const main = heap ? walkMallocChunks(pid, heap.start, heap.end) : EMPTY;
  const heaps = arenaHeaps(pid, vmas);
  if (!heaps.length) return main;
  // Each walk is sorted and covers its own address range: concatenated in the order of their first
  // chunks, the whole list is sorted (no per-chunk objects, no sort of hundreds of thousands of rows).
  const parts = [main, ...heaps.map((h) => walkArenaHeap(pid, h, pageSize))].filter((c) => c.start.length).sort((a, b) => a.start[0] - b.start[0]);
  const n = parts.reduce((t, c) => t + c.start.length, 0);
  const out: MallocChunks = { start: new Float64Array(n), size: new Float64Array(n), inUse: new Uint8Array(n) };
  let at = 0;
  for (const c of parts) {
    out.start.set(c.start, at);
    out.size.set(c.size, at);
    out.inUse.set(c.inUse, at);
    at += c.start.length;
  }
  return out;
}

/** The fork-time image's arenas (pid: the stopped twin, or a live master). */
export function discoverGlibcHeap(pid: number, vmas: Vma[], copiedPages: Float64Array, pageSize: number): GlibcHeap {
  const heap = mainHeap(vmas);
  const all = allChunks(pid, vmas, heap, pageSize);
  if (!all.start.length) return { chunks: EMPTY, heapStart: 0, tcacheKey: '0' };
  const key = findTcacheKey(pid, all);
  return { chunks: keptChunks(pid, all, key, copiedPages, pageSize), heapStart: heap?.start ?? 0, tcacheKey: key.toString(16) };
}

/** A child's own chunks on its copied pages (same tcache key: the child inherited it). */
export function childChunks(pid: number, vmas: Vma[], copiedPages: Float64Array, pageSize: number, tcacheKey: string): MallocChunks {
  const heap = mainHeap(vmas);
  if (!copiedPages.length) return EMPTY;
  return keptChunks(pid, allChunks(pid, vmas, heap, pageSize), BigInt(`0x${tcacheKey || '0'}`), copiedPages, pageSize);
}

/** Blocks glibc mmapped for large allocations (at or above the mmap threshold): page-aligned chunks whose
 *  size word has IS_MMAPPED (2) set, found by their headers in anonymous mappings that touch a copied page.
 *  Adjacent mappings may merge, so a chunk can start anywhere inside a mapping. */
export function discoverMmappedChunks(pid: number, vmas: Vma[], copiedPages: Float64Array, pageSize: number): { start: Float64Array; size: Float64Array } {
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
