// CPython structures found in memory, without a heap dump: pymalloc pools (their headers validate
// themselves, so a 16 KiB-aligned address either is a pool or is not) and glibc's [heap] chunks
// (allocators/glibc). Read from the fork-time image (the stopped twin) and from each child; only what
// touches a copied page is kept.

import { MallocChunks, childChunks, discoverGlibcHeap } from '../../allocators/glibc/chunks';
import { type PageDiffs, copiedPagesOf } from '../../native/capture';
import { PageFlag, readPagemap, readWords } from '../../native/probe';
import type { Vma } from '../../native/procfs-parse';
import { indexOf, lastAtOrBelow, wordAddresses } from '../../blame/words';
import type { PythonHeapMap } from './heap-map';
import { GC_HEAD_BYTES, POOL, POOL_HEADER } from './layouts';

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
  /** free pymalloc memory of the fork-time image (absent in captures made before it was recorded) */
  freeSpace?: FreeSpace;
  /** the blocks on the pools' free lists at the fork, of the pools in `pools`, ascending (absent in
   *  captures made before they were recorded) */
  freeBlocks?: Float64Array;
  /** blocks in use at the fork holding a word a child changed, whose first and third words were 0 then:
   *  a dead object a type's free list keeps (deadBlocksOf), ascending (absent in captures made before
   *  they were recorded) */
  deadBlocks?: Float64Array;
  /** live maps: each child's collections since its fork, read from its memory where the map says the
   *  agent counts them (absent: not known, as against a map without counters) */
  liveCollections?: ChildCollections[];
}

/** A live worker's collections since its fork, as the agent counts them: all of them, and those of the
 *  oldest generation (the only ones that visit every tracked object of the fork-time image). */
export interface ChildCollections {
  pid: number;
  runs: number;
  full: number;
}

/** Resident pages of the fork-time image holding free pymalloc blocks (on a pool's free list, or not
 *  yet carved: past its nextoffset), with the free bytes on each; and the mean size of the blocks in
 *  use. What a child allocates lands there first when nothing it allocated is freed again. */
export interface FreeSpace {
  page: Float64Array;
  bytes: Float64Array;
  /** the block size of the pool a page lies in, 0 for a pool with no block in use (pymalloc carves an
   *  empty pool again for whichever size class needs one); absent in captures made before it was kept */
  blockSize?: Uint16Array;
  /** bytes in use / blocks in use, over every pool */
  meanBlock: number;
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

/** Walks the free lists of the pools, all at once, one read per step: freeblock in the header, then each
 *  free block's first word, until NULL; visit(block, blockSize) for each free block. A link out of its
 *  pool, or off a block boundary, ends that pool's walk (a corrupt or changing list). */
function walkFreeLists(pid: number, walk: { base: number; blockSize: number; steps: number }[], visit: (block: number, blockSize: number) => void): void {
  const cur = walk.map((w) => w.base + POOL_HEADER.freeblock);
  let live = walk.map((_, i) => i);
  while (live.length) {
    const r = readWords(pid, Float64Array.from(live, (i) => cur[i]));
    const next: number[] = [];
    live.forEach((i, k) => {
      const w = walk[i];
      const a = r.ok[k] ? Number(r.words[k]) : 0;
      if (!a || a < w.base + POOL.header || a + w.blockSize > w.base + POOL.size || (a - w.base - POOL.header) % w.blockSize !== 0) return;
      if (w.steps-- <= 0) return;
      visit(a, w.blockSize);
      cur[i] = a;
      next.push(i);
    });
    live = next;
  }
}

/** The blocks on the free lists of these pools, ascending. */
function freeBlocksOf(pid: number, pools: Pools): Float64Array {
  const out: number[] = [];
  const walk = Array.from(pools.start, (base, i) => ({ base, blockSize: pools.blockSize[i], steps: Math.floor((POOL.size - POOL.header) / pools.blockSize[i]) }));
  walkFreeLists(pid, walk, (a) => out.push(a));
  return Float64Array.from(out).sort();
}

/** The blocks of these pools holding a changed word of the diffs that were in use at the fork (below the
 *  pool's nextoffset, on no free list) and held a dead object: its first word (a tracked object's GC
 *  link) and third (its count, past the 16-byte GC head) 0, read from the fork-time image. Tuples (up to
 *  2,000 a size), lists and dicts wait on their type's free list that way, untracked, for reuse: a block
 *  pymalloc counts in use, free to the interpreter. A live object has a count; what else a block holds
 *  (an object's buffer: a list's items, a dict's keys table) is no dead object, and is looked at only
 *  where it also starts with two zero words. Blocks of 16 bytes hold no GC head and are left out. */
function deadBlocksOf(pid: number, pools: Pools, free: Float64Array, diffs: readonly PageDiffs[]): Float64Array {
  const blocks = new Set<number>();
  for (const d of diffs) {
    const addrs = wordAddresses(d);
    let i = -1;
    for (let k = 0; k < addrs.length; k++) {
      const a = addrs[k];
      if (i < 0 || a < pools.start[i] || a >= pools.start[i] + POOL.size) i = lastAtOrBelow(pools.start, a);
      if (i < 0 || a >= pools.start[i] + POOL.size) continue;
      const off = a - pools.start[i] - POOL.header;
      const size = pools.blockSize[i];
      if (off < 0 || size < 2 * GC_HEAD_BYTES) continue;
      const block = a - (off % size);
      if (block + size - pools.start[i] <= pools.nextOffset[i] && indexOf(free, block) < 0) blocks.add(block);
    }
  }
  const sorted = Float64Array.from(blocks).sort();
  const at = new Float64Array(sorted.length * 2);
  sorted.forEach((b, j) => {
    at[2 * j] = b;
    at[2 * j + 1] = b + GC_HEAD_BYTES;
  });
  const r = readWords(pid, at);
  return sorted.filter((_, j) => r.ok[2 * j] && r.ok[2 * j + 1] && r.words[2 * j] === 0n && r.words[2 * j + 1] === 0n);
}

/** Every pool of the process (every 16 KiB-aligned address of its anonymous memory that holds a valid
 *  pool header), its blocks in use, and the pages with free blocks. A pool's free blocks are a list
 *  through their first words, walked for all pools at once, one read per step. */
export function discoverFreeSpace(pid: number, vmas: Vma[], pageSize: number): FreeSpace {
  const anon = vmas.filter((v) => v.inode === 0 && v.perms === 'rw-p' && !v.path.startsWith('['));
  const bases: number[] = [];
  for (const v of anon) for (let b = Math.ceil(v.start / POOL.size) * POOL.size; b + POOL.size <= v.end; b += POOL.size) bases.push(b);
  const head = new Float64Array(bases.length * 3);
  bases.forEach((b, i) => {
    head[3 * i] = b + POOL_HEADER.count;
    head[3 * i + 1] = b + POOL_HEADER.arenaIndexAndSize;
    head[3 * i + 2] = b + POOL_HEADER.nextAndMaxOffset;
  });
  const h = readWords(pid, head);
  const free = new Map<number, number>();
  // a page lies in one pool: its block size, or 0 for an empty pool (a free pool of its arena)
  const sizeOf = new Map<number, number>();
  const emptyPools = new Set<number>();
  const add = (page: number, bytes: number, blockSize: number) => {
    free.set(page, (free.get(page) ?? 0) + bytes);
    sizeOf.set(page, emptyPools.has(page - (page % POOL.size)) ? 0 : blockSize);
  };
  let usedBytes = 0;
  let usedBlocks = 0;
  const walk: { base: number; blockSize: number; steps: number }[] = [];
  bases.forEach((b, i) => {
    if (!h.ok[3 * i] || !h.ok[3 * i + 1] || !h.ok[3 * i + 2]) return;
    const v = validPool(h.words[3 * i + 1], h.words[3 * i + 2]);
    if (!v) return;
    const count = Number(h.words[3 * i] & 0xffffffffn);
    usedBytes += count * v.blockSize;
    usedBlocks += count;
    if (!count) emptyPools.add(b);
    // never carved: from nextoffset to the last whole block
    for (let a = b + v.nextOffset; a + v.blockSize <= b + POOL.size; a += v.blockSize) add(a - (a % pageSize), v.blockSize, v.blockSize);
    walk.push({ base: b, blockSize: v.blockSize, steps: Math.floor((POOL.size - POOL.header) / v.blockSize) });
  });
  walkFreeLists(pid, walk, (a, blockSize) => add(a - (a % pageSize), blockSize, blockSize));
  const pages = [...free.keys()].sort((a, b) => a - b);
  // only resident pages: a page the process never touched is new memory in a child, not a copy
  const starts: number[] = [];
  const ends: number[] = [];
  for (const p of pages) {
    if (ends.length && ends[ends.length - 1] === p) ends[ends.length - 1] = p + pageSize;
    else starts.push(p), ends.push(p + pageSize);
  }
  // the runs' pages in order are the sorted pages, one pagemap entry each
  const flags = pages.length ? readPagemap(pid, Float64Array.from(starts), Float64Array.from(ends)).flags : new Uint16Array();
  const keep = pages.filter((_, i) => flags[i] & PageFlag.present);
  return {
    page: Float64Array.from(keep),
    bytes: Float64Array.from(keep, (p) => free.get(p)!),
    blockSize: Uint16Array.from(keep, (p) => sizeOf.get(p)!),
    meanBlock: usedBlocks ? usedBytes / usedBlocks : 0,
  };
}

/** The fork-time image's part: its pools and malloc chunks on the copied pages (the children's lists
 *  empty, for discoverPythonChildren). */
export function discoverPythonParent(map: PythonHeapMap, reference: { pid: number; vmas: Vma[] }, diffs: readonly PageDiffs[], pageSize: number, withFreeSpace: boolean): PythonStructures {
  const copiedPages = copiedPagesOf(diffs);
  const heap = discoverGlibcHeap(reference.pid, reference.vmas, copiedPages, pageSize);
  // The chunk that ends [heap] is malloc's top chunk: free memory a later malloc carves (the walk marks
  // it in use, having no next chunk to read its in-use bit from).
  const heapVma = reference.vmas.find((v) => v.path === '[heap]');
  const last = heap.chunks.start.length - 1;
  if (heapVma && last >= 0 && heap.chunks.start[last] + heap.chunks.size[last] === heapVma.end) heap.chunks.inUse[last] = 0;
  const pools = discoverPools(reference.pid, reference.vmas, copiedPages);
  const freeBlocks = freeBlocksOf(reference.pid, pools);
  return {
    map,
    pools,
    freeBlocks,
    deadBlocks: deadBlocksOf(reference.pid, pools, freeBlocks, diffs),
    childPools: [],
    mallocChunks: heap.chunks,
    heapStart: heap.heapStart,
    tcacheKey: heap.tcacheKey,
    childChunks: [],
    ...(withFreeSpace ? { freeSpace: discoverFreeSpace(reference.pid, reference.vmas, pageSize) } : {}),
  };
}

/** Each child's part: its own pools and malloc chunks on its copied pages (the chunks walked with the
 *  fork-time tcache key, which it inherited). */
export function discoverPythonChildren(py: PythonStructures, children: { pid: number; vmas: Vma[]; pages: Float64Array }[], pageSize: number): Pick<PythonStructures, 'childPools' | 'childChunks'> {
  return {
    childPools: children.map((c) => ({ pid: c.pid, pools: discoverPools(c.pid, c.vmas, c.pages) })),
    childChunks: children.map((c) => ({ pid: c.pid, chunks: childChunks(c.pid, c.vmas, c.pages, pageSize, py.tcacheKey) })),
  };
}
