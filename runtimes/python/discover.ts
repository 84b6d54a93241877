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
  /** controlled runs: the pages of garbage at the fork that a collection before it would leave as free
   *  blocks (garbageLeftIn; absent in captures made before it was recorded) */
  garbageSpace?: GarbageSpace;
  /** controlled runs: each child's blocks in use in pools it made (discoverNewBlocks; absent in captures
   *  made before they were counted) */
  childNewBlocks?: { pid: number; blocks: NewBlocks }[];
  /** live maps: each child's collections since its fork, read from its memory where the map says the
   *  agent counts them (absent: not known, as against a map without counters) */
  liveCollections?: ChildCollections[];
}

/** Pages of garbage at the fork, ascending: its bytes on each and their block size (0: a pool the
 *  collection empties, which then serves any size class). */
export interface GarbageSpace {
  page: Float64Array;
  bytes: Float64Array;
  blockSize: Uint16Array;
}

/** Blocks in use by size class, ascending. */
export interface NewBlocks {
  blockSize: Uint16Array;
  blocks: Float64Array;
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

/** The valid pool headers of a process, ascending: each pool's base, blocks in use (count), arena index
 *  (pools of one arena share it) and block size, and its never-carved offset. */
interface PoolHeads {
  base: number[];
  count: number[];
  arena: number[];
  blockSize: number[];
  nextOffset: number[];
}

/** Every pool of the process: every 16 KiB-aligned address of its anonymous memory that holds a valid
 *  pool header. */
function readPoolHeads(pid: number, vmas: Vma[]): PoolHeads {
  const { bases, head } = poolHeaders(vmas);
  const h = readWords(pid, head);
  const out: PoolHeads = { base: [], count: [], arena: [], blockSize: [], nextOffset: [] };
  bases.forEach((b, i) => {
    if (!h.ok[3 * i] || !h.ok[3 * i + 1] || !h.ok[3 * i + 2]) return;
    const v = validPool(h.words[3 * i + 1], h.words[3 * i + 2]);
    if (!v) return;
    out.base.push(b);
    out.count.push(Number(h.words[3 * i] & 0xffffffffn));
    out.arena.push(Number(h.words[3 * i + 1] & 0xffffffffn));
    out.blockSize.push(v.blockSize);
    out.nextOffset.push(v.nextOffset);
  });
  return out;
}

/** The pages of the process's pools with free blocks (on a pool's free list, or not yet carved: past its
 *  nextoffset), resident ones only. A pool's free blocks are a list through their first words, walked
 *  for all pools at once, one read per step. */
function freeSpaceOf(pid: number, pools: PoolHeads, pageSize: number): FreeSpace {
  const free = new Map<number, number>();
  // a page lies in one pool: its block size, or 0 for an empty pool (a free pool of its arena)
  const sizeOf = new Map<number, number>();
  let usedBytes = 0;
  let usedBlocks = 0;
  const walk: { base: number; blockSize: number; steps: number }[] = [];
  pools.base.forEach((b, i) => {
    const blockSize = pools.blockSize[i];
    const count = pools.count[i];
    usedBytes += count * blockSize;
    usedBlocks += count;
    const add = (a: number) => {
      const page = a - (a % pageSize);
      free.set(page, (free.get(page) ?? 0) + blockSize);
      sizeOf.set(page, count ? blockSize : 0);
    };
    // never carved: from nextoffset to the last whole block
    for (let a = b + pools.nextOffset[i]; a + blockSize <= b + POOL.size; a += blockSize) add(a);
    walk.push({ base: b, blockSize, steps: Math.floor((POOL.size - POOL.header) / blockSize) });
  });
  const emptyPools = new Set(pools.base.filter((_, i) => !pools.count[i]));
  walkFreeLists(pid, walk, (a, blockSize) => {
    const page = a - (a % pageSize);
    free.set(page, (free.get(page) ?? 0) + blockSize);
    sizeOf.set(page, emptyPools.has(a - (a % POOL.size)) ? 0 : blockSize);
  });
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

/** The garbage's pages (the map's garbageSpace) that a collection before the fork would leave as free
 *  memory of the parent. A pool whose blocks in use are all garbage empties (its pages then serve any
 *  size class: block size 0 here), and pymalloc gives an arena back to the system (munmap) once every
 *  pool of it is empty, keeping one such arena at most (the last of its usable arenas); garbage made in
 *  one go fills whole arenas. So: the pages of arenas that keep a block in use, and those of one arena
 *  emptied whole (the one with the most garbage pages). Found on 40,000 list-dict cycles dropped before
 *  the fork (3.11.2): 3,468 pages of garbage, 449 more copied by a child that allocated 200,000 blocks
 *  after a collection before the fork; 192 pages in arenas that keep a block in use, 256 in one emptied. */
function garbageLeftIn(pools: PoolHeads, garbage: NonNullable<PythonHeapMap['garbageSpace']>): GarbageSpace {
  // the garbage's blocks in each pool (the map's bytes by page, in blocks of the pool's size)
  const blocks = new Float64Array(pools.base.length);
  const poolOf = new Int32Array(garbage.page.length).fill(-1);
  let j = 0;
  for (let i = 0; i < garbage.page.length; i++) {
    const page = garbage.page[i];
    while (j < pools.base.length && pools.base[j] + POOL.size <= page) j++;
    if (j < pools.base.length && pools.base[j] <= page) {
      poolOf[i] = j;
      blocks[j] += garbage.bytes[i] / pools.blockSize[j];
    }
  }
  const emptied = (k: number) => pools.count[k] - blocks[k] < 0.5;
  // arenas with a pool that keeps a block in use after the collection, and the garbage pages of the others
  const live = new Set<number>();
  pools.base.forEach((_, k) => {
    if (!emptied(k)) live.add(pools.arena[k]);
  });
  const emptiedPages = new Map<number, number>();
  for (let i = 0; i < garbage.page.length; i++) {
    const arena = poolOf[i] >= 0 ? pools.arena[poolOf[i]] : -1;
    if (arena >= 0 && !live.has(arena)) emptiedPages.set(arena, (emptiedPages.get(arena) ?? 0) + 1);
  }
  let kept = -1;
  for (const [arena, n] of emptiedPages) if (kept < 0 || n > emptiedPages.get(kept)!) kept = arena;
  const keep: number[] = [];
  for (let i = 0; i < garbage.page.length; i++) {
    const arena = poolOf[i] >= 0 ? pools.arena[poolOf[i]] : -1;
    if (arena >= 0 && (live.has(arena) || arena === kept)) keep.push(i);
  }
  return {
    page: Float64Array.from(keep, (i) => garbage.page[i]),
    bytes: Float64Array.from(keep, (i) => garbage.bytes[i]),
    blockSize: Uint16Array.from(keep, (i) => (emptied(poolOf[i]) ? 0 : garbage.blockSize[i])),
  };
}

/** Every 16 KiB-aligned address of a process's anonymous memory where a pool may start, and the
 *  addresses of the three header words to read at each (count, arena index and size class, offsets). */
function poolHeaders(vmas: Vma[]): { bases: number[]; head: Float64Array } {
  const anon = vmas.filter((v) => v.inode === 0 && v.perms === 'rw-p' && !v.path.startsWith('['));
  const bases: number[] = [];
  for (const v of anon) for (let b = Math.ceil(v.start / POOL.size) * POOL.size; b + POOL.size <= v.end; b += POOL.size) bases.push(b);
  const head = new Float64Array(bases.length * 3);
  bases.forEach((b, i) => {
    head[3 * i] = b + POOL_HEADER.count;
    head[3 * i + 1] = b + POOL_HEADER.arenaIndexAndSize;
    head[3 * i + 2] = b + POOL_HEADER.nextAndMaxOffset;
  });
  return { bases, head };
}

/** A child's blocks in use in pools it made, by size class: pools of its memory where the fork-time
 *  image (the reference) has no pool (arenas the child mapped, pools carved from memory free at the
 *  fork). What it allocated there found no free block of its class in the fork-time pools; with
 *  garbage freed before the fork (the gc and freeze steps) it would have filled those (collectCost). */
export function discoverNewBlocks(pid: number, vmas: Vma[], reference: number): NewBlocks {
  const { bases, head } = poolHeaders(vmas);
  const h = readWords(pid, head);
  const r = readWords(reference, head);
  const blocks = new Map<number, number>();
  bases.forEach((_, i) => {
    if (!h.ok[3 * i] || !h.ok[3 * i + 1] || !h.ok[3 * i + 2]) return;
    const v = validPool(h.words[3 * i + 1], h.words[3 * i + 2]);
    if (!v) return;
    if (r.ok[3 * i + 1] && r.ok[3 * i + 2] && validPool(r.words[3 * i + 1], r.words[3 * i + 2])) return;
    blocks.set(v.blockSize, (blocks.get(v.blockSize) ?? 0) + Number(h.words[3 * i] & 0xffffffffn));
  });
  const sizes = [...blocks.keys()].sort((a, b) => a - b);
  return { blockSize: Uint16Array.from(sizes), blocks: Float64Array.from(sizes, (k) => blocks.get(k)!) };
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
  // the map's garbage by page serves garbageSpace below, not the capture
  const { garbageSpace: _garbage, ...kept } = map;
  return {
    map: kept,
    pools,
    freeBlocks,
    deadBlocks: deadBlocksOf(reference.pid, pools, freeBlocks, diffs),
    childPools: [],
    mallocChunks: heap.chunks,
    heapStart: heap.heapStart,
    tcacheKey: heap.tcacheKey,
    childChunks: [],
    ...(withFreeSpace ? freeAndGarbage(reference, map, pageSize) : {}),
  };
}

/** What compare's strategies would cost (controlled runs): the fork-time image's free pymalloc memory
 *  (disable), and the garbage a collection before the fork would turn into free memory (gc, freeze). */
function freeAndGarbage(reference: { pid: number; vmas: Vma[] }, map: PythonHeapMap, pageSize: number): Pick<PythonStructures, 'freeSpace' | 'garbageSpace'> {
  const pools = readPoolHeads(reference.pid, reference.vmas);
  return { freeSpace: freeSpaceOf(reference.pid, pools, pageSize), ...(map.garbageSpace ? { garbageSpace: garbageLeftIn(pools, map.garbageSpace) } : {}) };
}

/** Each child's part: its own pools and malloc chunks on its copied pages (the chunks walked with the
 *  fork-time tcache key, which it inherited). */
export function discoverPythonChildren(
  py: PythonStructures,
  children: { pid: number; vmas: Vma[]; pages: Float64Array }[],
  pageSize: number,
  reference?: number,
): Pick<PythonStructures, 'childPools' | 'childChunks' | 'childNewBlocks'> {
  return {
    childPools: children.map((c) => ({ pid: c.pid, pools: discoverPools(c.pid, c.vmas, c.pages) })),
    childChunks: children.map((c) => ({ pid: c.pid, chunks: childChunks(c.pid, c.vmas, c.pages, pageSize, py.tcacheKey) })),
    ...(reference !== undefined ? { childNewBlocks: children.map((c) => ({ pid: c.pid, blocks: discoverNewBlocks(c.pid, c.vmas, reference) })) } : {}),
  };
}
