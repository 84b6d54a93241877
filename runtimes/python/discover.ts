// CPython structures found in memory, without a heap dump: pymalloc pools (their headers validate
// themselves, so a 16 KiB-aligned address either is a pool or is not) and glibc's [heap] chunks
// (allocators/glibc). Read from the fork-time image (the stopped twin) and from each child; only what
// touches a copied page is kept.

import { MallocChunks, childChunks, discoverGlibcHeap } from '../../allocators/glibc/chunks';
import { readWords } from '../../native/probe';
import type { Vma } from '../../native/procfs-parse';
import type { PythonHeapMap } from './heap-map';
import { POOL, POOL_HEADER } from './layouts';

/** Valid pymalloc pools, sorted by start. */
export interface Pools {
  start: Float64Array;
  /** block size in bytes */
  blockSize: Uint16Array;
  /** first never-used block's offset (blocks at or beyond it are virgin) */
  nextOffset: Uint16Array;
}

export interface PythonStructures {
  map: PythonHeapMap;
  /** pools of the fork-time image on copied pages */
  pools: Pools;
  /** each child's own pools on its copied pages (a pool can be carved in the child from a free one) */
  childPools: { pid: number; pools: Pools }[];
  mallocChunks: MallocChunks;
  heapStart: number;
  tcacheKey: string;
  childChunks: { pid: number; chunks: MallocChunks }[];
}

const EMPTY_POOLS: Pools = { start: new Float64Array(), blockSize: new Uint16Array(), nextOffset: new Uint16Array() };

/** The header's size class and offsets make sense only for a real pool: blocks of (szidx+1)*16 bytes,
 *  maxnextoffset = POOL_SIZE - block size, nextoffset a block boundary past the header. */
export function validPool(arenaAndSize: bigint, offsets: bigint): { blockSize: number; nextOffset: number } | undefined {
  const szidx = Number(arenaAndSize >> 32n);
  const next = Number(offsets & 0xffffffffn);
  const maxNext = Number(offsets >> 32n);
  if (szidx >= POOL.classes) return undefined;
  const blockSize = (szidx + 1) * POOL.alignment;
  if (maxNext !== POOL.size - blockSize) return undefined;
  if (next < POOL.header || next > POOL.size || (next - POOL.header) % blockSize !== 0) return undefined;
  return { blockSize, nextOffset: next };
}

/** Pools holding the pages, read from pid. Only anonymous rw-p memory outside [heap] can hold arenas. */
export function discoverPools(pid: number, vmas: Vma[], pages: Float64Array): Pools {
  const anon = vmas.filter((v) => v.inode === 0 && v.perms === 'rw-p' && !v.path.startsWith('['));
  const inAnon = (a: number) => anon.some((v) => a >= v.start && a + POOL.size <= v.end);
  const bases = [...new Set(Array.from(pages, (p) => p - (p % POOL.size)))].filter(inAnon).sort((a, b) => a - b);
  const addrs = new Float64Array(bases.length * 2);
  bases.forEach((b, i) => {
    addrs[2 * i] = b + POOL_HEADER.arenaIndexAndSize;
    addrs[2 * i + 1] = b + POOL_HEADER.nextAndMaxOffset;
  });
  const words = readWords(pid, addrs);
  const keep: { start: number; blockSize: number; nextOffset: number }[] = [];
  bases.forEach((b, i) => {
    if (!words.ok[2 * i] || !words.ok[2 * i + 1]) return;
    const v = validPool(words.words[2 * i], words.words[2 * i + 1]);
    if (v) keep.push({ start: b, ...v });
  });
  return keep.length
    ? { start: Float64Array.from(keep, (k) => k.start), blockSize: Uint16Array.from(keep, (k) => k.blockSize), nextOffset: Uint16Array.from(keep, (k) => k.nextOffset) }
    : EMPTY_POOLS;
}

export function discoverPythonStructures(
  map: PythonHeapMap,
  reference: { pid: number; vmas: Vma[] },
  children: { pid: number; vmas: Vma[]; pages: Float64Array }[],
  copiedPages: Float64Array,
  pageSize: number,
): PythonStructures {
  const heap = discoverGlibcHeap(reference.pid, reference.vmas, copiedPages, pageSize);
  // The chunk that ends [heap] is malloc's top chunk: free memory a later malloc carves (the walk marks
  // it in use, having no next chunk to read its in-use bit from).
  const heapVma = reference.vmas.find((v) => v.path === '[heap]');
  const last = heap.chunks.start.length - 1;
  if (heapVma && last >= 0 && heap.chunks.start[last] + heap.chunks.size[last] === heapVma.end) heap.chunks.inUse[last] = 0;
  return {
    map,
    pools: discoverPools(reference.pid, reference.vmas, copiedPages),
    childPools: children.map((c) => ({ pid: c.pid, pools: discoverPools(c.pid, c.vmas, c.pages) })),
    mallocChunks: heap.chunks,
    heapStart: heap.heapStart,
    tcacheKey: heap.tcacheKey,
    childChunks: children.map((c) => ({ pid: c.pid, chunks: childChunks(c.pid, c.vmas, c.pages, pageSize, heap.tcacheKey) })),
  };
}
