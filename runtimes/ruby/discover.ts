// Structure discovery in the fork-time image (the stopped twin) of a Ruby process: where the GC heap's
// slots start, where the malloc'd `struct heap_page` records, iseq call_data and is_entries arrays and
// glibc chunks are. It reads words with the probe and keeps only what touches a copied page, so the
// saved capture stays small. Offsets come from the caller (the version row in layouts.ts): this module
// knows the shapes of CRuby's structures, not what their changes mean.

import type { HeapDumpIngest, HeapObjects } from '../../native/probe';
import { readWords, scanPointers } from '../../native/probe';
import { GlibcHeap, MallocChunks, MmappedChunks, arenaHeaps, mainHeap, discoverMmappedChunks, touchesPages } from '../../allocators/glibc/chunks';
import { CHUNK_HEADER } from '../../allocators/glibc/rules';
import type { Vma } from '../../native/procfs-parse';
import { indexOf, lastAtOrBelow } from '../../blame/words';
import { CLASS_TYPES, FL, GENERIC_IVAR_TYPES, ID_TABLE_ITEMS, RubyLayout, T, chunkHoldsOnlyData } from './layouts';

/** The offsets discovery needs (a subset of a RubyLayout). */
export interface StructLayout {
  heapPageSize: number;
  slotSize: number;
  heapPage: { size: number; slotSizeOffset: number | null; startOffset: number; bitmapsOffset: number };
  iseqBody: { pointerOffset: number; isEntries: number; callData: number; isSizes: number[]; ciSize: number; callDataEntry: number; isEntry: number };
  /** imemo env: where its ep pointer is (null: unknown version) */
  env: { epOffset: number } | null;
  /** an object that keeps its contents in its slot, by its flags word (layouts.ts ownsNoChunk): no owner
   *  of a chunk its slot's words seem to point to (absent: any object may own one) */
  ownsNoChunk?: (flagsLo: number) => boolean;
  /** does the chunk an object points to from this field hold values only, by its flags word (low half,
   *  shape id) and the field's offset (layouts.ts chunkHoldsOnlyData): not scanned for pointers to further
   *  chunks (absent: any chunk may hold them) */
  chunkHoldsOnlyData?: (flagsLo: number, shape: number, slotOffset: number) => boolean;
  /** layouts.ts classExt (absent: none) */
  classExt?: RubyLayout['classExt'];
  /** ELTS_SHARED: the flags bit of an Array sharing its root's buffer (layouts.ts strShared; absent or
   *  null: not known) */
  eltsShared?: number | null;
}

export interface Ranges {
  start: Float64Array;
  end: Float64Array;
  /** what each range belongs to: the GC heap page body of a struct heap_page, the iseq of an array */
  owner: Float64Array;
}

export interface RubyStructures {
  /** every GC heap page body: those of the heap map plus those found in memory (born after the map), sorted */
  bodies: Float64Array;
  /** objects of the heap map on the kept pages, plus every class, module and iseq: the parent's part of
   *  attach finds the structures from those on the copied pages, and the rest replaces the table with
   *  those on the copied pages and the pages the children's new words point to */
  objects: HeapObjects;
  classNames: { address: Float64Array; name: string[] };
  sites: string[];
  /** per GC heap body (same order as heapMap.bodies): first slot address and slot size (0: unknown) */
  slotStart: Float64Array;
  slotSize: Uint16Array;
  /** malloc'd struct heap_page records, sorted */
  heapPageStructs: Ranges;
  /** iseq call_data arrays (16 B per call site: ci, cc) that touch a copied page, sorted */
  callData: Ranges;
  /** escaped block environments whose flags word (at ep) lies on a copied page: ep addresses, sorted,
   *  and the flags word's low half at the fork */
  envFlags?: { ep: Float64Array; flags: Uint32Array };
  /** every iseq's is_entries array (16 B per inline cache), sorted: constant-cache sets in malloc'd
   *  tables point into them even when the array itself was not copied */
  isEntries: Ranges;
  /** &vm_empty_cc: the value of every call site's cc before its first call (0: unknown) */
  vmEmptyCc: number;
  /** objects of the table that a T_DATA of a DATA_CONTENTS_STRUCTS type holds as its contents (a Queue's
   *  items: a hidden Array), with that owner, sorted by address (absent: none, or an older capture) */
  dataContents?: { address: Float64Array; owner: Float64Array };
  /** the call-cache probe's finding (a run on a Ruby whose marking GC empties every call cache): the pages
   *  of the call sites its workload filled after its full GC (sites that held a call cache on the GC
   *  heap, or none, at the fork), sorted; sites: how many; emptied: the sites the GC emptied that the
   *  workload left empty */
  cacheRefill?: { probe: number; pages: Float64Array; sites: number; emptied: number };
  /** glibc chunks of the fork-time [heap] that touch a copied page (allocators/glibc) */
  mallocChunks: MallocChunks;
  /** start of the main arena's first chunk (tcache_perthread_struct), 0 when [heap] is absent */
  heapStart: number;
  /** glibc's per-process tcache key (hex; '0' when not found) */
  tcacheKey: string;
  /** flags words (low 32 bits) of objects each child allocated on GC heap pages it mapped itself, that
   *  its changed words point to */
  childObjects?: { pid: number; address: Float64Array; flags: Uint32Array }[];
  /** blocks glibc mmapped (large mallocs: a thread's VM stack among them) in mappings touching a copied page */
  mmappedChunks?: { start: Float64Array; size: Float64Array };
  /** each child's own chunks on its copied pages (what it freed and carved anew) */
  childChunks?: { pid: number; chunks: MallocChunks }[];
  /** the object that owns each in-use chunk of mallocChunks, where one does (see discoverChunkOwners) */
  chunkOwners?: ChunkOwners;
}

/** Owners of malloc chunks, sorted by chunk: the object slot that points to the chunk's user start (a
 *  String's or Array's buffer, a Hash's table), or that points to a chunk which points to it (a Hash's
 *  st_table entries, through the table; on 3.1 a class's call tables, through its classext). */
export interface ChunkOwners {
  chunk: Float64Array;
  slot: Float64Array;
  /** the owner's flags word, low 32 bits (its type, and more) */
  flags: Uint32Array;
  klass: Float64Array;
  /** where the owner points to the chunk: the offset of the pointer in its slot; for a chunk owned through
   *  another chunk (a table's entries), minus that chunk's offset (-1 in older captures) */
  offset: Int32Array;
  /** for a chunk owned through another chunk, the offset of the pointer to it (or to the chunk in between,
   *  a level further) in that chunk's user memory; -1 for one its owner's slot points to (absent in older
   *  captures) */
  inner?: Int32Array;
}

function sortedRanges(triples: [number, number, number][]): Ranges {
  triples.sort((a, b) => a[0] - b[0]);
  return { start: Float64Array.from(triples, (p) => p[0]), end: Float64Array.from(triples, (p) => p[1]), owner: Float64Array.from(triples, (p) => p[2]) };
}

/** GC heap pages allocated after the heap map was taken (a live master's map can be old), or empty when
 *  it was (a page without objects is not in the dump): a copied page in an anonymous mapping whose
 *  heap-page-aligned base starts with a pointer into a malloc arena ([heap], or a thread's arena heap: a
 *  page allocated by another thread, such as a Puma worker thread) that points to a struct heap_page whose
 *  `start` lies inside that base's page. */
function withBodiesBornLater(pid: number, known: Float64Array, layout: StructLayout, vmas: Vma[], copiedPages: Float64Array): Float64Array {
  const heap = mainHeap(vmas);
  const arenas = [...(heap ? [{ start: heap.start, end: heap.end }] : []), ...arenaHeaps(pid, vmas).map((h) => ({ start: h.base, end: h.end }))];
  const inArena = (w: bigint) => arenas.some((a) => w >= BigInt(a.start) && w < BigInt(a.end));
  if (!arenas.length || !layout.heapPage.size) return known;
  const anon = vmas.filter((v) => v.inode === 0 && v.perms === 'rw-p' && !v.path.startsWith('['));
  const candidates = new Set<number>();
  for (const page of copiedPages) {
    const base = page - (page % layout.heapPageSize);
    if (findBody(known, layout.heapPageSize, page) >= 0) continue;
    if (anon.some((v) => base >= v.start && base + layout.heapPageSize <= v.end)) candidates.add(base);
  }
  if (!candidates.size) return known;
  const bases = Float64Array.from(candidates);
  const first = readWords(pid, bases);
  const ptrs = Array.from(bases.keys()).filter((i) => first.ok[i] && inArena(first.words[i]));
  const starts = readWords(pid, Float64Array.from(ptrs, (i) => Number(first.words[i]) + layout.heapPage.startOffset));
  const found = ptrs.filter((i, k) => starts.ok[k] && Number(starts.words[k]) > bases[i] && Number(starts.words[k]) < bases[i] + layout.heapPageSize).map((i) => bases[i]);
  return found.length ? Float64Array.from([...known, ...found]).sort() : known;
}

function findBody(bodies: Float64Array, size: number, addr: number): number {
  let lo = 0;
  let hi = bodies.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (bodies[mid] + size <= addr) lo = mid + 1;
    else if (bodies[mid] > addr) hi = mid - 1;
    else return mid;
  }
  return -1;
}

function u32At(word: bigint, addr: number): number {
  return Number((addr % 8 === 4 ? word >> 32n : word) & 0xffffffffn);
}

/** The flags words of escaped block environments (imemo env objects of the heap map): ep is read from
 *  the object, and kept when ep[1] points back to the object (so a stale or foreign pointer is not taken
 *  for one) and ep lies on a copied page. */
function discoverEnvFlags(pid: number, o: HeapObjects, epOffset: number, copiedPages: Float64Array, pageSize: number): { ep: Float64Array; flags: Uint32Array } {
  const envs: number[] = [];
  for (let i = 0; i < o.address.length; i++) if (o.type[i] === 0x1a && o.imemo[i] === 0) envs.push(o.address[i]);
  const eps = readWords(pid, Float64Array.from(envs, (a) => a + epOffset));
  const cand: number[] = [];
  const owner: number[] = [];
  for (let i = 0; i < envs.length; i++) {
    const ep = Number(eps.words[i]);
    if (!eps.ok[i] || !ep || ep % 8 || !touchesPages(copiedPages, pageSize, ep, ep + 8)) continue;
    cand.push(ep);
    owner.push(envs[i]);
  }
  const words = readWords(pid, Float64Array.from(cand.flatMap((ep) => [ep, ep + 8])));
  const keep: [number, number][] = [];
  for (let i = 0; i < cand.length; i++)
    if (words.ok[2 * i] && words.ok[2 * i + 1] && Number(words.words[2 * i + 1]) === owner[i]) keep.push([cand[i], Number(words.words[2 * i] & 0xffffffffn)]);
  keep.sort((a, b) => a[0] - b[0]);
  return { ep: Float64Array.from(keep, (k) => k[0]), flags: Uint32Array.from(keep, (k) => k[1]) };
}

/** glibcHeap: the process's malloc arenas (allocators/glibc), asked for when needed (the caller walks
 *  them on the thread pool while the rest is found here). mmapped: the blocks glibc mmapped, where the
 *  caller found them already (discoverMmappedChunks needs no heap map: `run` finds them while the map is
 *  written). */
export async function discoverRubyStructures(
  pid: number,
  dump: HeapDumpIngest,
  layout: StructLayout,
  vmas: Vma[],
  copiedPages: Float64Array,
  pageSize: number,
  glibcHeap: () => Promise<GlibcHeap>,
  cacheProbe = 0,
  mmapped?: MmappedChunks,
): Promise<RubyStructures> {
  const bodies = withBodiesBornLater(pid, dump.bodies, layout, vmas, copiedPages);
  // Each body's first word points to its struct heap_page.
  const headers = readWords(pid, bodies);
  const slotStart = new Float64Array(bodies.length);
  const slotSize = new Uint16Array(bodies.length);
  const structs: [number, number, number][] = [];
  const structAddrs: number[] = [];
  for (let i = 0; i < bodies.length && layout.heapPage.size; i++) {
    const p = Number(headers.words[i]);
    if (!headers.ok[i] || !p || p % 8) continue;
    structs.push([p, p + layout.heapPage.size, bodies[i]]);
    structAddrs.push(p);
  }
  const fields = readWords(
    pid,
    Float64Array.from(structAddrs.flatMap((p) => [p + layout.heapPage.startOffset, p + (layout.heapPage.slotSizeOffset ?? 0)])),
  );
  let k = 0;
  for (let i = 0; i < bodies.length && layout.heapPage.size; i++) {
    const p = Number(headers.words[i]);
    if (!headers.ok[i] || !p || p % 8) continue;
    const start = Number(fields.words[2 * k]);
    const size = layout.heapPage.slotSizeOffset === null ? layout.slotSize : Number(fields.words[2 * k + 1] & 0xffffn);
    if (fields.ok[2 * k] && start > bodies[i] && start < bodies[i] + layout.heapPageSize) {
      slotStart[i] = start;
      slotSize[i] = size;
    }
    k++;
  }

  // Without the struct offsets (a Ruby version cowscope does not know), the slot grid of a body comes
  // from the dump itself: every slot of a full dump is listed, so any listed slot fixes the grid.
  const o = dump.table;
  if (!layout.heapPage.size) {
    for (let j = 0; j < o.address.length; j++) {
      const a = o.address[j];
      const i = findBody(bodies, layout.heapPageSize, a);
      if (i >= 0 && !slotStart[i]) {
        slotStart[i] = a;
        slotSize[i] = o.slotSize[j] || layout.slotSize;
      }
    }
  }

  // iseq bodies: call_data and is_entries arrays and their lengths (only with known offsets).
  const iseqs: number[] = [];
  if (layout.iseqBody.callData)
    for (let i = 0; i < o.address.length; i++) if (o.type[i] === 0x1a && o.imemo[i] === 7) iseqs.push(o.address[i] + layout.iseqBody.pointerOffset);
  const bodyPtrs = readWords(pid, Float64Array.from(iseqs));
  const b = layout.iseqBody;
  const perBody = [b.isEntries, b.callData, ...b.isSizes.map((x) => x & ~7), b.ciSize & ~7];
  const liveBodies: number[] = [];
  const liveIseqs: number[] = [];
  for (let i = 0; i < iseqs.length; i++)
    if (bodyPtrs.ok[i] && bodyPtrs.words[i]) {
      liveBodies.push(Number(bodyPtrs.words[i]));
      liveIseqs.push(iseqs[i] - layout.iseqBody.pointerOffset);
    }
  const bodyWords = new Float64Array(liveBodies.length * perBody.length);
  for (let i = 0; i < liveBodies.length; i++) for (let j = 0; j < perBody.length; j++) bodyWords[i * perBody.length + j] = liveBodies[i] + perBody[j];
  const bw = readWords(pid, bodyWords);
  const callData: [number, number, number][] = [];
  const isEntries: [number, number, number][] = [];
  const allCallData: [number, number][] = [];
  for (let i = 0; i < liveBodies.length; i++) {
    const w = (j: number) => bw.words[i * perBody.length + j];
    const body = liveBodies[i];
    const ie = Number(w(0));
    const cd = Number(w(1));
    const isSize = b.isSizes.reduce((n, off, j) => n + u32At(w(2 + j), body + off), 0);
    const ciSize = u32At(w(2 + b.isSizes.length), body + b.ciSize);
    if (cd && ciSize && ciSize < 1 << 24) {
      allCallData.push([cd, cd + b.callDataEntry * ciSize]);
      if (touchesPages(copiedPages, pageSize, cd, cd + b.callDataEntry * ciSize)) callData.push([cd, cd + b.callDataEntry * ciSize, liveIseqs[i]]);
    }
    if (ie && isSize && isSize < 1 << 24) isEntries.push([ie, ie + b.isEntry * isSize, liveIseqs[i]]);
  }

  // &vm_empty_cc is the most frequent cc among call sites (most are never called before a fork) that is
  // no call cache on the GC heap (it is static, in libruby): a program's 40,000 sites calling one method
  // all hold that method's cache.
  const sample: number[] = [];
  for (const [s, e] of allCallData) for (let a = s + 8; a < e && sample.length < 100_000; a += layout.iseqBody.callDataEntry) sample.push(a);
  const ccs = readWords(pid, Float64Array.from(sample));
  const freq = new Map<bigint, number>();
  for (let i = 0; i < sample.length; i++) if (ccs.ok[i]) freq.set(ccs.words[i], (freq.get(ccs.words[i]) ?? 0) + 1);
  let vmEmptyCc = 0n;
  let best = 0;
  for (const [v, n] of freq) if (n > best && v !== 0n && findBody(bodies, layout.heapPageSize, Number(v)) < 0) [vmEmptyCc, best] = [v, n];

  const cacheRefill = cacheProbe && vmEmptyCc ? refilledCallSites(pid, cacheProbe, allCallData, layout.iseqBody.callDataEntry, bodies, layout.heapPageSize, vmEmptyCc, pageSize) : undefined;

  const envFlags = layout.env ? discoverEnvFlags(pid, o, layout.env.epOffset, copiedPages, pageSize) : undefined;
  const mmappedChunks = mmapped ?? discoverMmappedChunks(pid, vmas, copiedPages, pageSize);
  const glibc = await glibcHeap();
  const classTables = layout.classExt ? classTableChunks(pid, classSlotsOf(o), layout.classExt, glibc.chunks) : undefined;
  // Owners of the blocks glibc mmapped for large mallocs too (a 50,000-element Array's buffer): their
  // words are decoded as a chunk's, and without an owner a buffer of small numbers passes for VM counters.
  const chunkOwners = discoverChunkOwners(pid, bodies, layout.heapPageSize, slotStart, slotSize, withMmappedChunks(glibc.chunks, mmappedChunks, bodies, layout.heapPageSize), layout.ownsNoChunk, layout.chunkHoldsOnlyData, glibc.sized, classTables);

  return {
    bodies,
    objects: o,
    classNames: dump.classNames,
    ...contentsOn(pid, dump, o, layout.eltsShared ?? 0),
    sites: dump.sites,
    slotStart,
    slotSize,
    heapPageStructs: sortedRanges(structs),
    callData: sortedRanges(callData),
    isEntries: sortedRanges(isEntries),
    vmEmptyCc: Number(vmEmptyCc),
    ...(cacheRefill ? { cacheRefill } : {}),
    ...(envFlags ? { envFlags } : {}),
    mmappedChunks,
    mallocChunks: glibc.chunks,
    ...(chunkOwners.chunk.length ? { chunkOwners } : {}),
    heapStart: glibc.heapStart,
    tcacheKey: glibc.tcacheKey,
  };
}

/** The call sites the call-cache probe filled. Every call site's cc at the fork (pid: the twin) and in
 *  the probe (a child that ran a full GC, then the workload, and stopped): a site that holds a call cache
 *  in the probe, where it held a call cache on the GC heap (markable: the GC empties it) or none at the
 *  fork, was run by the workload after the GC, and a child of a strategy whose GC ran before the fork
 *  writes it there; a site the GC emptied and the workload did not run holds &vm_empty_cc. */
function refilledCallSites(
  pid: number,
  probe: number,
  callData: [number, number][],
  entry: number,
  bodies: Float64Array,
  heapPageSize: number,
  vmEmptyCc: bigint,
  pageSize: number,
): RubyStructures['cacheRefill'] {
  let n = 0;
  for (const [s, e] of callData) n += (e - s) / entry;
  const sites = new Float64Array(n);
  let k = 0;
  for (const [s, e] of callData) for (let a = s + 8; a < e; a += entry) sites[k++] = a;
  const atFork = readWords(pid, sites);
  const now = readWords(probe, sites);
  const pages = new Set<number>();
  let refilled = 0;
  let emptied = 0;
  for (let i = 0; i < n; i++) {
    if (!atFork.ok[i] || !now.ok[i]) continue;
    const was = atFork.words[i];
    const unfilled = was === 0n || was === vmEmptyCc;
    // a cc of the VM's own (static, never emptied) says nothing
    if (!unfilled && findBody(bodies, heapPageSize, Number(was)) < 0) continue;
    const is = now.words[i];
    if (is === vmEmptyCc || is === 0n) {
      if (!unfilled) emptied++;
    } else {
      // filled again, or filled for the first time: the workload after a full GC ran it (a GC also
      // runs finalizers and clears weak caches, which the workload then does again: code none's
      // children may never run)
      refilled++;
      pages.add(sites[i] - (sites[i] % pageSize));
    }
  }
  return { probe, pages: Float64Array.from(pages).sort(), sites: refilled, emptied };
}

/** The heap's chunks and the mmapped blocks (in use while mapped) in one list sorted by start. A block
 *  found where a heap chunk or a GC heap body lies is no block (the probe reads a size word with the
 *  IS_MMAPPED bit at page starts: a number in a slot or chunk can look like one): left out. */
function withMmappedChunks(chunks: MallocChunks, found: { start: Float64Array; size: Float64Array }, bodies: Float64Array, heapPageSize: number): MallocChunks {
  const keep: number[] = [];
  for (let i = 0; i < found.start.length; i++) {
    const [s, e] = [found.start[i], found.start[i] + found.size[i]];
    const c = lastAtOrBelow(chunks.start, e - 1);
    const b = lastAtOrBelow(bodies, e - 1);
    const overlapsChunk = c >= 0 && chunks.start[c] + chunks.size[c] > s;
    const overlapsBody = b >= 0 && bodies[b] + heapPageSize > s;
    if (!overlapsChunk && !overlapsBody && (!keep.length || found.start[keep[keep.length - 1]] !== s)) keep.push(i);
  }
  const mmapped = { start: Float64Array.from(keep, (i) => found.start[i]), size: Float64Array.from(keep, (i) => found.size[i]) };
  if (!mmapped.start.length) return chunks;
  const n = chunks.start.length + mmapped.start.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => startOf(a) - startOf(b));
  function startOf(i: number): number {
    return i < chunks.start.length ? chunks.start[i] : mmapped.start[i - chunks.start.length];
  }
  const out: MallocChunks = { start: new Float64Array(n), size: new Float64Array(n), inUse: new Uint8Array(n) };
  order.forEach((i, k) => {
    const heap = i < chunks.start.length;
    out.start[k] = startOf(i);
    out.size[k] = heap ? chunks.size[i] : mmapped.size[i - chunks.start.length];
    out.inUse[k] = heap ? chunks.inUse[i] : 1;
  });
  return out;
}

/** The kept chunks and the chunks to reach others through (in use, of ST_TABLE_CHUNKS' sizes), in one
 *  sorted list, and which of them were kept. */
function withChunksThrough(kept: MallocChunks, through: { start: Float64Array; size: Float64Array }): { chunks: MallocChunks; isKept: Uint8Array } {
  const n = kept.start.length + through.start.length;
  const chunks: MallocChunks = { start: new Float64Array(n), size: new Float64Array(n), inUse: new Uint8Array(n) };
  const isKept = new Uint8Array(n);
  for (let i = 0, j = 0, k = 0; k < n; k++) {
    if (j >= through.start.length || (i < kept.start.length && kept.start[i] <= through.start[j])) {
      [chunks.start[k], chunks.size[k], chunks.inUse[k], isKept[k]] = [kept.start[i], kept.size[i], kept.inUse[i], 1];
      i++;
    } else {
      [chunks.start[k], chunks.size[k], chunks.inUse[k]] = [through.start[j], through.size[j], 1];
      j++;
    }
  }
  return { chunks, isKept };
}

/** A block glibc mmapped starts and ends on a page boundary (4 KiB at least). */
const PAGE_ALIGN = 4096;

/** struct RArray (3.1-3.4): a heap Array's shared root (as.heap.aux.shared_root), where its flags have
 *  ELTS_SHARED (StructLayout.eltsShared) and not EMBED. */
const ARRAY_SHARED_ROOT = 24;

/** The heap map's contents rows (HeapDumpIngest.contents), and the shared root of each that is an Array
 *  sharing its buffer (Queue#pop shifts its items Array, which then shares a hidden root holding the
 *  buffer: rb_ary_shift), with the same owner; those in the table (on a kept page), sorted, as
 *  RubyStructures.dataContents. */
function contentsOn(pid: number, dump: HeapDumpIngest, o: HeapObjects, eltsShared: number): Pick<RubyStructures, 'dataContents'> {
  const c = dump.contents;
  if (!c?.address.length) return {};
  const head = readWords(pid, Float64Array.from({ length: 2 * c.address.length }, (_, j) => c.address[j >> 1] + (j & 1 ? ARRAY_SHARED_ROOT : 0)));
  const rows: [number, number][] = [];
  for (let i = 0; i < c.address.length; i++) {
    rows.push([c.address[i], c.owner[i]]);
    const flags = Number(head.words[2 * i] & 0xffffffffn);
    const root = Number(head.words[2 * i + 1]);
    if (head.ok[2 * i] && head.ok[2 * i + 1] && (flags & FL.typeMask) === T.ARRAY && flags & eltsShared && !(flags & FL.user1) && root) rows.push([root, c.owner[i]]);
  }
  const kept = rows.filter(([address]) => indexOf(o.address, address) >= 0).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (!kept.length) return {};
  return { dataContents: { address: Float64Array.from(kept, (r) => r[0]), owner: Float64Array.from(kept, (r) => r[1]) } };
}

/** A slot's flags and klass words come first: a buffer pointer is at +16 or later. */
const FIRST_FIELD = 16;

/** struct st_table (st.h, 3.1-3.4), from its user start: entry_power is its first byte, then the words
 *  num_entries, the bins pointer, entries_start, entries_bound and the entries pointer; an entry is
 *  (hash, key, record). A power past maxPower is no table's. */
const ST_TABLE = { numEntries: 16, bins: 24, entriesStart: 32, entriesBound: 40, entries: 48, entrySize: 24, maxPower: 24 };

/** ChunkOwners.offset of a chunk that holds its owner's generic ivars (no field of the slot points to it:
 *  the VM's generic-ivar table does). */
export const GENERIC_IVARS = 0;

/** The chunks a struct st_table lies in (st.h, 3.1-3.4: 56 bytes, its bins and entries pointers at +24
 *  and +48): 64 bytes, or 80 where malloc handed out a free chunk whose rest (16 bytes) was too small to
 *  split off (a layout of the same program under another environment had its Hash's table so). The
 *  malloc walk lists the chunks of these sizes in use off the copied pages too (GlibcHeap.sized), for
 *  discoverChunkOwners to reach a table's arrays through them. */
export const ST_TABLE_CHUNKS = { min: 64, max: 80 } as const;

/** The owners of generic-ivar buffers among targets (chunks' user starts, sorted): the entries (hash,
 *  key, record) of the st_tables whose headers lie at tables (user starts of chunks no object owns) are
 *  scanned for records equal to a target; where the key before it is a live slot (slotAt gives the slot
 *  an address lies in) whose flags have FL_EXIVAR and a type that keeps generic ivars, that object owns
 *  the buffer. Only the tables' entries are read (a Rails master has ~10,000 such headers and ~60,000
 *  chunks without an owner: scanning those took ~50 ms, and reading them range by range 0.4 s). */
function genericIvarOwners(
  pid: number,
  tables: Float64Array,
  targets: Float64Array,
  slotAt: (addr: number) => number,
): { target: number; key: number; flags: number; klass: number }[] {
  if (!tables.length || !targets.length) return [];
  // the header's words: entry_power (its first byte), num_entries, entries_start, entries_bound, entries
  const fields = [0, ST_TABLE.numEntries, ST_TABLE.entriesStart, ST_TABLE.entriesBound, ST_TABLE.entries];
  const at = new Float64Array(tables.length * fields.length);
  for (let i = 0; i < tables.length; i++) for (let f = 0; f < fields.length; f++) at[i * fields.length + f] = tables[i] + fields[f];
  const header = readWords(pid, at);
  const ranges: [number, number][] = [];
  for (let i = 0; i < tables.length; i++) {
    const h = i * fields.length;
    if (!header.ok[h] || !header.ok[h + 1] || !header.ok[h + 2] || !header.ok[h + 3] || !header.ok[h + 4]) continue;
    const power = Number(header.words[h] & 0xffn);
    const [count, first, bound, entries] = [1, 2, 3, 4].map((f) => Number(header.words[h + f]));
    // a table's: the entries within its capacity (2^entry_power), the live ones among them
    if (power > ST_TABLE.maxPower || bound > 2 ** power || first > bound || count > bound - first || !entries || entries % 8) continue;
    ranges.push([entries + first * ST_TABLE.entrySize, entries + bound * ST_TABLE.entrySize]);
  }
  // in address order, overlaps merged: the scan reads ranges a few bytes apart with one read only then
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push(r);
  }
  const hits = scanPointers(pid, Float64Array.from(merged, (r) => r[0]), Float64Array.from(merged, (r) => r[1]), targets);
  // the key before each record, then the flags and class of those that are slots
  const keys = readWords(pid, Float64Array.from(hits.at, (a) => a - 8));
  const found: number[] = [];
  for (let h = 0; h < hits.at.length; h++) if (keys.ok[h] && Number(keys.words[h]) === slotAt(Number(keys.words[h]))) found.push(h);
  const heads = new Float64Array(2 * found.length);
  found.forEach((h, i) => ((heads[2 * i] = Number(keys.words[h])), (heads[2 * i + 1] = Number(keys.words[h]) + 8)));
  const head = readWords(pid, heads);
  const out: { target: number; key: number; flags: number; klass: number }[] = [];
  found.forEach((h, i) => {
    const f = Number(head.words[2 * i] & 0xffffffffn);
    if (!head.ok[2 * i] || !head.ok[2 * i + 1] || !(f & FL.exivar) || !GENERIC_IVAR_TYPES.has(f & FL.typeMask)) return;
    out.push({ target: hits.target[h], key: heads[2 * i], flags: f, klass: Number(head.words[2 * i + 1]) });
  });
  return out;
}

/** The chunks of classes' tables where the classext is a chunk of its own (layouts.ts classExt, 3.1):
 *  each table (the call path's and the constants' rb_id_tables, the ivars' st_table) and the arrays it
 *  points to (an rb_id_table's items; an st_table's bins and entries) that the malloc walk kept, as user
 *  starts, with the class (its slot, flags and klass words) and the classext offset of the table. Read
 *  down from each class's slot (slot -> classext -> table -> arrays, then the classes' own two words),
 *  since the arrays lie a level deeper than discoverChunkOwners' scans go, and a classext or a table may
 *  lie on a page no scan reads (a class variable set again changes only its entry's record). */
export interface ClassTableChunks {
  ext: number;
  at: Float64Array;
  slot: Float64Array;
  inner: Int32Array;
  flags: Uint32Array;
  klass: Float64Array;
}

/** The slots of the classes, modules and include classes among the heap map's objects, and which are
 *  include classes: the receivers' classes whose call-path tables calls fill (a module's methods are
 *  called through its include classes, its own functions through its singleton class), and the classes
 *  and modules whose variables and constants are in theirs (an include class shares its module's,
 *  rb_include_class_new). */
function classSlotsOf(o: HeapObjects): { slots: Float64Array; iclass: Uint8Array } {
  const slots: number[] = [];
  const iclass: number[] = [];
  for (let i = 0; i < o.address.length; i++)
    if (CLASS_TYPES.has(o.type[i])) {
      slots.push(o.address[i]);
      iclass.push(o.type[i] === T.ICLASS ? 1 : 0);
    }
  return { slots: Float64Array.from(slots), iclass: Uint8Array.from(iclass) };
}

export function classTableChunks(pid: number, classes: { slots: Float64Array; iclass: Uint8Array }, layout: NonNullable<RubyLayout['classExt']>, kept: MallocChunks): ClassTableChunks {
  const { ext } = layout;
  const classSlots = classes.slots;
  // each table's offset in the classext, and where in the table the pointers to its arrays are
  const arraysAt = new Map<number, number[]>([...layout.callTables, layout.constants, layout.methods].map((off) => [off, [ID_TABLE_ITEMS]]));
  arraysAt.set(layout.ivars, [ST_TABLE.bins, ST_TABLE.entries]);
  const isKept = (user: number) => {
    const i = lastAtOrBelow(kept.start, user - CHUNK_HEADER);
    return i >= 0 && kept.start[i] === user - CHUNK_HEADER;
  };
  // Each step reads only the words the last one found (readWords groups a page's words into one read):
  // ~80 ms on the Rails app (3.1.2: 6,500 classes and modules) when every class's flags and every table's
  // items were read, one read a word.
  const extWords = readWords(pid, Float64Array.from(classSlots, (s) => s + ext));
  const fields: [number, number][] = []; // class index, table offset
  // (an include class's own tables are its call path's: its variables and constants are its module's)
  for (let c = 0; c < classSlots.length; c++)
    if (extWords.ok[c] && extWords.words[c]) for (const off of arraysAt.keys()) if (!classes.iclass[c] || layout.callTables.includes(off)) fields.push([c, off]);
  const tableWords = readWords(pid, Float64Array.from(fields, ([c, off]) => Number(extWords.words[c]) + off));
  const tables: [number, number, number][] = []; // table's user start, class index, table offset
  for (let i = 0; i < fields.length; i++) if (tableWords.ok[i] && tableWords.words[i]) tables.push([Number(tableWords.words[i]), ...fields[i]]);
  // every table's arrays: one the child only rewrote in place (a variable set again) leaves its table's
  // page unread
  const arrays: [number, number, number][] = []; // where the array's pointer is, class index, table offset
  for (const [table, c, off] of tables) for (const at of arraysAt.get(off)!) arrays.push([table + at, c, off]);
  const arrayWords = readWords(pid, Float64Array.from(arrays, ([at]) => at));
  const found: [number, number, number][] = []; // a kept chunk's user start, class index, table offset
  for (const t of tables) if (isKept(t[0])) found.push(t);
  arrays.forEach(([, c, off], i) => {
    const at = Number(arrayWords.words[i]);
    if (arrayWords.ok[i] && at && isKept(at)) found.push([at, c, off]);
  });
  const owners = [...new Set(found.map(([, c]) => c))];
  const head = readWords(pid, Float64Array.from({ length: 2 * owners.length }, (_, i) => classSlots[owners[i >> 1]] + 8 * (i & 1)));
  const low = new Uint32Array(head.words.buffer, head.words.byteOffset, 2 * head.words.length); // little-endian halves
  // a class still (a live master's map may be older than a slot freed and used again since)
  const headAt = new Map<number, number>();
  owners.forEach((c, k) => {
    if (head.ok[2 * k] && CLASS_TYPES.has(low[4 * k] & FL.typeMask)) headAt.set(c, k);
  });
  const rows = found.filter(([, c]) => headAt.has(c));
  return {
    ext,
    at: Float64Array.from(rows, (r) => r[0]),
    slot: Float64Array.from(rows, (r) => classSlots[r[1]]),
    inner: Int32Array.from(rows, (r) => r[2]),
    flags: Uint32Array.from(rows, (r) => low[4 * headAt.get(r[1])!]),
    klass: Float64Array.from(rows, (r) => Number(head.words[2 * headAt.get(r[1])! + 1])),
  };
}

/** Owners of the in-use chunks that touch copied pages, from a conservative scan: every GC heap slot
 *  word equal to a chunk's user pointer names the slot (its first live owner wins), then every word of
 *  the owned chunks (but those holding values only: a String's, an Array's or a Bignum's data, an ivar
 *  buffer; holdsOnlyData) names owners one level further (a
 *  table's entries). Words that merely look like the pointer (a number of the same value) are possible
 *  but rare: the owner's type must also hold data. classTables: chunks read down from classes' slots
 *  (classTableChunks), owned by their class after the first level, and not scanned.
 *  through: more chunks in use (sorted) that the first level may own and the second scans, with
 *  no row of their own: the st_tables on no copied page (3.1's Hash keeps its st_table in a chunk of its
 *  own; a child that updates entries in place does not write the table's header, so its chunk was not
 *  among the chunks: QA, a 200,000-entry Hash's updated values had no owner, 1,182 pages vm.globals). */
export function discoverChunkOwners(
  pid: number,
  bodies: Float64Array,
  heapPageSize: number,
  slotStart: Float64Array,
  slotSize: Uint16Array,
  kept: MallocChunks,
  ownsNoChunk: (flagsLo: number) => boolean = () => false,
  holdsOnlyData: (flagsLo: number, shape: number, slotOffset: number) => boolean = (f) => chunkHoldsOnlyData(undefined, f, 0, 0),
  through: { start: Float64Array; size: Float64Array } = { start: new Float64Array(), size: new Float64Array() },
  classTables?: ClassTableChunks,
): ChunkOwners {
  const { chunks, isKept } = withChunksThrough(kept, through);
  // The in-use chunks' user pointers are the targets (plain loops over typed arrays: a Rails master has
  // ~150,000 such chunks and ~100,000 owners).
  let n = 0;
  for (let i = 0; i < chunks.start.length; i++) if (chunks.inUse[i]) n++;
  const targets = new Float64Array(n);
  const chunkOf = new Int32Array(n);
  for (let i = 0, k = 0; i < chunks.start.length; i++)
    if (chunks.inUse[i]) {
      targets[k] = chunks.start[i] + CHUNK_HEADER;
      chunkOf[k++] = i;
    }
  const owner = new Int32Array(n).fill(-1); // index into the owners' columns below
  const slots: number[] = [];
  const slotOffset: number[] = [];
  const inner: number[] = [];
  const flags: number[] = [];
  const shapes: number[] = []; // the flags word's high half (3.3+: the shape id)
  const klass: number[] = [];
  const direct = scanPointers(pid, bodies, Float64Array.from(bodies, (b) => b + heapPageSize), targets);
  const hitSlot = (at: number): number => {
    const b = findBody(bodies, heapPageSize, at);
    const start = b >= 0 ? slotStart[b] : 0;
    const size = b >= 0 ? slotSize[b] : 0;
    if (!start || !size || at < start) return -1;
    return start + Math.floor((at - start) / size) * size;
  };
  // the hits inside a slot's fields: which target, which slot, at what offset
  const pendingTarget: number[] = [];
  const pendingSlot: number[] = [];
  const pendingOffset: number[] = [];
  for (let h = 0; h < direct.at.length; h++) {
    const slot = hitSlot(direct.at[h]);
    if (slot >= 0 && direct.at[h] - slot >= FIRST_FIELD) {
      pendingTarget.push(direct.target[h]);
      pendingSlot.push(slot);
      pendingOffset.push(direct.at[h] - slot);
    }
  }
  const heads = new Float64Array(2 * pendingSlot.length);
  for (let i = 0; i < pendingSlot.length; i++) {
    heads[2 * i] = pendingSlot[i];
    heads[2 * i + 1] = pendingSlot[i] + 8;
  }
  const head = readWords(pid, heads);
  const low = new Uint32Array(head.words.buffer, head.words.byteOffset, 2 * head.words.length); // little-endian halves
  for (let i = 0; i < pendingSlot.length; i++) {
    const t = pendingTarget[i];
    const f = low[4 * i];
    // a free slot's stale pointer; an object whose contents are in its slot (an embedded String's bytes
    // that spell an address, an AR table's leftovers: QA, a Hash and a String taken for the owners of an
    // Array's buffer and of a call-cache record the child made in a chunk it had freed)
    if (!head.ok[2 * i] || (f & 0x1f) === 0 || owner[t] >= 0 || ownsNoChunk(f)) continue;
    owner[t] = slots.length;
    slots.push(pendingSlot[i]);
    slotOffset.push(pendingOffset[i]);
    inner.push(-1);
    flags.push(f);
    shapes.push(low[4 * i + 1]);
    klass.push(Number(head.words[2 * i + 1]));
  }
  // The chunks owned so far are scanned one level further (below): not those that hold values only (a
  // String's, an Array's or a Bignum's; an ivar buffer), whose words that spell a chunk's address lead
  // nowhere (QA: a 48-byte chunk the child wrote made a String's, whose buffer's unused tail held its
  // address, 3 runs in 51; CI: a class's ivar buffer's spare capacity, class_values.rb 1 run in 40).
  const owned: number[] = [];
  for (let t = 0; t < n; t++) if (owner[t] >= 0 && !holdsOnlyData(flags[owner[t]], shapes[owner[t]], slotOffset[owner[t]])) owned.push(t);
  // A class's tables (call path, variables, constants) and their arrays, read down from its slot
  // (classTableChunks): too deep for the scans, and their classext may lie on a page none reads. Not
  // scanned further: their items' records are a level deeper than 3.3+'s, whose items the scan below
  // reaches last.
  if (classTables)
    for (let r = 0; r < classTables.at.length; r++) {
      const t = lastAtOrBelow(targets, classTables.at[r]);
      if (t < 0 || targets[t] !== classTables.at[r] || owner[t] >= 0) continue;
      owner[t] = slots.length;
      slots.push(classTables.slot[r]);
      slotOffset.push(-classTables.ext);
      inner.push(classTables.inner[r]);
      flags.push(classTables.flags[r]);
      shapes.push(0);
      klass.push(classTables.klass[r]);
    }
  // One level further: the chunks owned above scanned for pointers to chunks still without an owner.
  const orphans: number[] = [];
  for (let t = 0; t < n; t++) if (owner[t] < 0) orphans.push(t);
  if (owned.length && orphans.length) {
    const ownedStarts = new Float64Array(owned.length);
    const ownedEnds = new Float64Array(owned.length);
    owned.forEach((t, k) => {
      ownedStarts[k] = targets[t];
      // An in-use chunk's data runs 8 bytes into the chunk after it (that one's prev_size field, unused
      // while this one is in use: malloc_usable_size is the size less 8), where one follows it. Without
      // them, 3.1's st_table (56 bytes: a 64-byte chunk) had its entries pointer, at +48, unread: a
      // 300,000-entry Hash's entries array had no owner, and the deletes in it were unknown (1,758 pages).
      // An in-use chunk of a heap always has one after it (the top chunk at least), listed or not: the 8
      // bytes are read whether or not the walk kept that one (before, only where the next listed chunk
      // began at this one's end, which the chunks of `through` seldom have). Not past a block glibc
      // mmapped (page-aligned at both ends: nothing follows it).
      const c = chunkOf[t];
      const end = chunks.start[c] + chunks.size[c];
      ownedEnds[k] = end + (chunks.start[c] % PAGE_ALIGN || end % PAGE_ALIGN ? 8 : 0);
    });
    const orphanTargets = Float64Array.from(orphans, (t) => targets[t]);
    const nested = scanPointers(pid, ownedStarts, ownedEnds, orphanTargets);
    for (let h = 0; h < nested.at.length; h++) {
      const t = orphans[nested.target[h]];
      if (owner[t] >= 0) continue;
      const k = lastAtOrBelow(ownedStarts, nested.at[h]);
      const o = owner[owned[k]];
      owner[t] = slots.length;
      slots.push(slots[o]);
      // minus the field of the slot the way leads through (-56: the items of a class's cc_tbl on 3.4, say).
      // A third level everywhere would reach a cc_tbl's rb_class_cc_entries: tried, it named 16 more pages
      // per Rails child (3.4.5) and cost 50 ms of attach (structures 340 -> 390 ms).
      slotOffset.push(-slotOffset[o]);
      // and where in the chunk in between (an offset past Int32's range, in a block of 2 GiB or more: unknown)
      const at = nested.at[h] - ownedStarts[k];
      inner.push(at <= 0x7fffffff ? at : -1);
      flags.push(flags[o]);
      shapes.push(shapes[o]);
      klass.push(klass[o]);
    }
  }
  // Generic ivars: an object that keeps its ivars outside its slot (a String, an Array, a Hash, a T_DATA;
  // FL_EXIVAR set) has them in a buffer (struct gen_ivtbl, 3.1-3.4) that no slot points to, only the
  // VM's generic-ivar st_table. QA: 20,000 preloaded Strings whose @tag the workers set, 372-539 pages a
  // child unknown (3.1-3.4).
  const left = orphans.filter((t) => owner[t] < 0);
  const leftStarts = Float64Array.from(left, (t) => targets[t]);
  const tables = left.filter((t) => chunks.size[chunkOf[t]] >= ST_TABLE_CHUNKS.min && chunks.size[chunkOf[t]] <= ST_TABLE_CHUNKS.max);
  for (const { target, key, flags: f, klass: k } of genericIvarOwners(pid, Float64Array.from(tables, (t) => targets[t]), leftStarts, hitSlot)) {
    const t = left[target];
    if (owner[t] >= 0) continue;
    owner[t] = slots.length;
    slots.push(key);
    slotOffset.push(GENERIC_IVARS);
    inner.push(-1);
    flags.push(f);
    shapes.push(0);
    klass.push(k);
  }
  let rows = 0;
  for (let t = 0; t < n; t++) if (owner[t] >= 0 && isKept[chunkOf[t]]) rows++;
  const out: ChunkOwners = { chunk: new Float64Array(rows), slot: new Float64Array(rows), flags: new Uint32Array(rows), klass: new Float64Array(rows), offset: new Int32Array(rows), inner: new Int32Array(rows) };
  for (let t = 0, r = 0; t < n; t++) {
    const o = owner[t];
    if (o < 0 || !isKept[chunkOf[t]]) continue;
    out.chunk[r] = chunks.start[chunkOf[t]];
    out.slot[r] = slots[o];
    out.flags[r] = flags[o];
    out.klass[r] = klass[o];
    out.inner![r] = inner[o];
    out.offset[r++] = slotOffset[o];
  }
  return out;
}
