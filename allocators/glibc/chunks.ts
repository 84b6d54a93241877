// glibc malloc's main arena ([heap]) as chunks: where each chunk starts, how big it is, whether it was
// in use. Walked in the fork-time image (what the parent had) and in every child (what the child made
// of it: a chunk it freed and carved anew is the child's, not the fork-time owner's). Only chunks that
// touch a copied page are kept, so captures stay small. Knows glibc, not any runtime.

import { readWords, walkMallocChunks } from '../../native/probe';
import type { Vma } from '../../native/procfs-parse';

export interface MallocChunks {
  start: Float64Array;
  size: Float64Array;
  /** 0 for chunks free at that moment (in a bin, or cached in tcache: glibc marks those in use, but they
   *  carry the tcache key at +24) */
  inUse: Uint8Array;
}

export interface GlibcHeap {
  /** chunks of [heap] that touch a copied page, sorted */
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
 *  safe-linked next pointer ((address of that word) >> 12 XOR next, next 0 or a chunk of [heap]). */
function findTcacheKey(pid: number, all: MallocChunks, heap: Vma): bigint {
  const small: number[] = [];
  for (let i = 0; i < all.start.length; i++) if (all.size[i] <= 1040) small.push(all.start[i] + 16, all.start[i] + 24);
  const links = readWords(pid, Float64Array.from(small));
  const heapLo = BigInt(heap.start);
  const heapHi = BigInt(heap.end);
  const counts = new Map<bigint, number>();
  for (let i = 0; i < small.length; i += 2) {
    if (!links.ok[i] || !links.ok[i + 1]) continue;
    const next = links.words[i] ^ (BigInt(small[i]) >> 12n);
    if (next !== 0n && (next < heapLo || next >= heapHi || next % 16n)) continue;
    counts.set(links.words[i + 1], (counts.get(links.words[i + 1]) ?? 0) + 1);
  }
  let key = 0n;
  let most = 1;
  for (const [v, n] of counts) if (n > most && v > 1n << 32n) [key, most] = [v, n];
  return key;
}

/** Chunks of one process's [heap] touching the pages. glibc marks tcache and fastbin chunks in use;
 *  they are free all the same: a tcache chunk carries the key at +24, and both carry at +16 a
 *  safe-linked next pointer ((address of the word >> 12) XOR next) to a chunk of the same size, or to 0. */
function keptChunks(pid: number, all: MallocChunks, key: bigint, pages: Float64Array, pageSize: number): MallocChunks {
  const keep: number[] = [];
  for (let i = 0; i < all.start.length; i++) if (touchesPages(pages, pageSize, all.start[i], all.start[i] + all.size[i])) keep.push(i);
  const words = readWords(pid, Float64Array.from(keep.flatMap((i) => [all.start[i] + 16, all.start[i] + 24])));
  const userBySize = new Map<number, Set<number>>();
  for (let i = 0; i < all.start.length; i++) {
    let set = userBySize.get(all.size[i]);
    if (!set) userBySize.set(all.size[i], (set = new Set()));
    set.add(all.start[i] + 16);
  }
  const isFree = (i: number, k: number): boolean => {
    if (!all.inUse[i]) return true;
    if (!words.ok[2 * k] || !words.ok[2 * k + 1]) return false;
    if (key && words.words[2 * k + 1] === key) return true;
    // fastbins hold chunks up to 160 bytes (64-bit default max_fast 128 + header)
    if (all.size[i] > 160) return false;
    const next = Number(words.words[2 * k] ^ (BigInt(all.start[i] + 16) >> 12n));
    return next !== 0 && !!userBySize.get(all.size[i])?.has(next);
  };
  return {
    start: Float64Array.from(keep, (i) => all.start[i]),
    size: Float64Array.from(keep, (i) => all.size[i]),
    inUse: Uint8Array.from(keep, (i, k) => (isFree(i, k) ? 0 : 1)),
  };
}

/** The fork-time image's [heap] (pid: the stopped twin, or a live master). */
export function discoverGlibcHeap(pid: number, vmas: Vma[], copiedPages: Float64Array, pageSize: number): GlibcHeap {
  const heap = vmas.find((v) => v.path === '[heap]');
  if (!heap) return { chunks: EMPTY, heapStart: 0, tcacheKey: '0' };
  const all = walkMallocChunks(pid, heap.start, heap.end);
  const key = findTcacheKey(pid, all, heap);
  return { chunks: keptChunks(pid, all, key, copiedPages, pageSize), heapStart: heap.start, tcacheKey: key.toString(16) };
}

/** A child's own chunks on its copied pages (same tcache key: the child inherited it). */
export function childChunks(pid: number, vmas: Vma[], copiedPages: Float64Array, pageSize: number, tcacheKey: string): MallocChunks {
  const heap = vmas.find((v) => v.path === '[heap]');
  if (!heap || !copiedPages.length) return EMPTY;
  return keptChunks(pid, walkMallocChunks(pid, heap.start, heap.end), BigInt(`0x${tcacheKey || '0'}`), copiedPages, pageSize);
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
