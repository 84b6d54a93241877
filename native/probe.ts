// Typed wrapper over the C++ addon (native/probe.cc). Every per-page result is a typed array.
// Errors from the addon are rethrown as ProbeError, which adds a hint that names the fix.

import path from 'node:path';

import { KpageFlag, PageFlag } from './page-flags';

export { KpageFlag, PageFlag };

export interface PagemapColumns {
  /** one entry per page, PageFlag bits */
  flags: Uint16Array;
  /** PFN when present and visible (0 without CAP_SYS_ADMIN); swap entry when swapped */
  pfn: Float64Array;
  /** true when PAGEMAP_SCAN ran, so PageFlag.zero and PageFlag.huge are meaningful */
  zeroScan: boolean;
  /** true when the kernel stopped early: the process exited or exec'd during the read */
  short: boolean;
}

export interface KpageColumns {
  count: Float64Array;
  /** low 53 bits of kpageflags; test bits below 32 with `&` */
  flags: Float64Array;
}

/** Per-page outcome of a memory read or comparison. */
export const PageStatus = { ok: 0, differs: 1, notPresentA: 2, notPresentB: 3, unreadable: 4 } as const;

export interface PageComparison {
  /** PageStatus per address */
  status: Uint8Array;
  /** for every changed 8-byte word: index into the address list */
  wordPage: Uint32Array;
  /** byte offset of the word within its page */
  wordOffset: Uint16Array;
  /** the word in process A (the reference) */
  oldWord: BigUint64Array;
  /** the word in process B (the child) */
  newWord: BigUint64Array;
}

export interface PageReads {
  /** the pages, one page size each, zero where not read */
  data: Buffer;
  /** PageStatus.ok, notPresentA or unreadable per address */
  status: Uint8Array;
}

export interface ProbeFeatures {
  pageSize: number;
  /** the shared zero page's frame; 0 when PFNs are hidden, or when read faults map no zero page */
  zeroPfn: number;
  /** read faults map the shared zero page (a kernel may map a zeroed page of the process's own instead:
   *  then a page only read is the process's like any other, and there are no zero pages to count) */
  zeroPage: boolean;
  pagemapReadable: boolean;
  pfnVisible: boolean;
  softDirty: boolean;
  pagemapScan: boolean;
  kpagecount: boolean;
  kpageflags: boolean;
}

interface Addon {
  pageSize: number;
  readPagemap(pid: number, starts: Float64Array, ends: Float64Array, scanZero: boolean, zeroPfn: number): PagemapColumns;
  readPagemapAsync(pid: number, starts: Float64Array, ends: Float64Array, scanZero: boolean, zeroPfn: number): Promise<PagemapColumns>;
  readFamilyPagemapsAsync(
    pids: number[],
    starts: Float64Array[],
    ends: Float64Array[],
    scanZero: boolean,
    zeroPfn: number,
    pairs?: FamilyPair[],
  ): Promise<(FamilyColumns | { error: unknown })[]>;
  readTextAsync(path: string): Promise<string>;
  readKpage(pfns: Float64Array): KpageColumns;
  readPages(pid: number, addrs: Float64Array): PageReads;
  comparePages(pidA: number, pidB: number, addrs: Float64Array): PageComparison;
  features(): ProbeFeatures;
  setChildSubreaper(on?: boolean): void;
  setAddressRandomization(on: boolean): boolean;
  scanPointers(pid: number, starts: Float64Array, ends: Float64Array, targets: Float64Array): PointerHits;
  reap(pid: number): boolean;
  watchExit(pid: number, callback: () => void): number;
  unwatchExit(id: number): void;
  ingestHeapDump(
    path: string,
    heapPageSize: number,
    keepPages: Float64Array,
    slotSize: number,
    types: Record<string, number>,
    imemo: Record<string, number>,
    maxBytes?: number,
    keepAll?: boolean,
    contents?: readonly string[],
  ): HeapDumpIngest;
  followHeapDump(
    path: string,
    heapPageSize: number,
    slotSize: number,
    types: Record<string, number>,
    imemo: Record<string, number>,
    maxBytes: number,
    contents?: readonly string[],
  ): HeapDumpFollower;
  readWords(pid: number, addrs: Float64Array): { words: BigUint64Array; ok: Uint8Array };
  mallocChunks(pid: number, segments: Float64Array, keepPages: Float64Array, key: bigint | null, limits: MallocLimits): MallocWalk;
  mallocChunksAsync(pid: number, segments: Float64Array, keepPages: Float64Array, key: bigint | null, limits: MallocLimits): Promise<MallocWalk>;
  pointedPages(words: BigUint64Array[], starts: Float64Array, ends: Float64Array, pageSize: number, pages: Float64Array, max: number): Float64Array;
  bornTargets(newWord: BigUint64Array, wordPage: Uint32Array, addrs: Float64Array, bodies: Float64Array, bodySize: number, starts: Float64Array, ends: Float64Array, max: number): Float64Array;
  classifyChunkWords(view: ChunkView, addrs: Float64Array | null, oldWord: BigUint64Array, newWord: BigUint64Array, skip: Uint8Array | null, out: ChunkWordRows): void;
  classifyExactRuns(classes: Uint8Array, childFlags: Uint16Array, childPfn: Float64Array, refFlags: Uint16Array, refPfn: Float64Array, runs: Float64Array, zeroMask: number): void;
  markSharedFrames(classes: Uint8Array, childFlags: Uint16Array, childPfn: Float64Array, siblingFlags: Uint16Array, siblingPfn: Float64Array, runs: Float64Array): number;
  pageClassCodes: Record<string, number>;
  countClassRanges(classes: Uint8Array, ranges: Float64Array): Float64Array;
  sharedNewPages(classes: Uint8Array, flags: Uint16Array): Uint32Array;
  startReadTap(): void;
  stopReadTap(): ReadTap;
  processReadsUnchangedAsync(pid: number, addr: Float64Array, len: Float64Array, kind: Uint8Array, hash: BigUint64Array): Promise<boolean>;
  comparePagesAsync(pidA: number, pidB: number, addrs: Float64Array): Promise<PageComparison>;
  hashViews(views: ArrayBufferView[]): bigint;
}

/** Objects of a heap dump as columns (one entry per kept object, sorted by address). */
export interface HeapObjects {
  address: Float64Array;
  /** Ruby T_* code (0x1a IMEMO …); 0xff unknown */
  type: Uint8Array;
  /** imemo type (6 ment, 7 iseq, 12 callcache, 13 constcache …); 0xff for non-imemo */
  imemo: Uint8Array;
  /** dump "flags": 1 wb_protected, 2 old, 4 uncollectible, 8 marking, 16 marked, 32 pinned */
  gcFlags: Uint8Array;
  /** 0 when the dump has no slot_size (3.1) */
  slotSize: Uint16Array;
  /** -1 when absent */
  bytesize: Float64Array;
  embedded: Uint8Array;
  classAddr: Float64Array;
  /** index into sites (allocation file:line), -1 when allocation tracing was off */
  site: Int32Array;
}

export interface HeapDumpIngest {
  /** sorted start addresses of the GC heap pages (bodies) that hold at least one dumped slot */
  bodies: Float64Array;
  lines: number;
  /** slot records (lines with an address), free slots (type NONE) among them */
  objects: number;
  free: number;
  /** lines that are not a JSON object or whose address cannot be read */
  malformed: number;
  /** the objects on the kept pages, every class and module, every iseq */
  table: HeapObjects;
  classNames: { address: Float64Array; name: string[] };
  sites: string[];
  /** what the T_DATA objects of HeapDumpCodes.contents types reference, whatever the pages: (address,
   *  owner) rows sorted by address (an object two of them hold is listed with each) */
  contents: { address: Float64Array; owner: Float64Array };
}

export interface MallocChunks {
  start: Float64Array;
  size: Float64Array;
  inUse: Uint8Array;
}

// dist/native/probe.js -> build/Release/cowscope_probe.node at the package root.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const addon: Addon = require(path.join(__dirname, '..', '..', 'build', 'Release', 'cowscope_probe.node'));

/** A failed system call in the probe, with the fix spelled out. */
export class ProbeError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly errno: number,
    readonly syscall: string,
    readonly path: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'ProbeError';
  }
}

interface SystemErrorLike {
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

function hintFor(code: string, file: string): string {
  const pid = /^\/proc\/(\d+)\//.exec(file)?.[1];
  const who = pid ? `process ${pid}` : 'the target';
  switch (code) {
    case 'ENOENT':
    case 'ESRCH':
      return `${who} is gone (it exited or is a zombie); check the pid with \`ps\` and run again`;
    case 'EACCES':
    case 'EPERM':
      if (file.startsWith('/proc/kpage')) return 'kpagecount/kpageflags need root: run as root for the exact tier';
      return `run as the same user as ${who} (it must be dumpable), or as root for the exact tier`;
    case 'EIO':
    case 'EFAULT':
      return `${who} changed its mappings during the read; run again`;
    default:
      return 'run `cowscope doctor` to see what this machine allows';
  }
}

function toProbeError(e: unknown): unknown {
  const err = e as SystemErrorLike;
  if (err && typeof err.code === 'string' && typeof err.errno === 'number') {
    const file = err.path ?? '';
    return new ProbeError(err.message, err.code, err.errno, err.syscall ?? '', file, hintFor(err.code, file));
  }
  return e;
}

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw toProbeError(e);
  }
}

export const pageSize: number = addon.pageSize;

/** How zero pages get flagged: by a PAGEMAP_SCAN pass (any user, kernel 6.7+), or by the zero page's
 *  frame (exact tier: free). */
export interface ZeroDetection {
  scan: boolean;
  zeroPfn: number;
}

const ZERO_BY_SCAN: ZeroDetection = { scan: true, zeroPfn: 0 };

/** Pagemap columns for the page-aligned ranges [starts[i], ends[i]), concatenated in order. */
export function readPagemap(pid: number, starts: Float64Array, ends: Float64Array, zero: ZeroDetection = ZERO_BY_SCAN): PagemapColumns {
  return wrap(() => addon.readPagemap(pid, starts, ends, zero.scan, zero.zeroPfn));
}

/** readPagemap on the thread pool: several processes are read at once. */
export async function readPagemapAsync(pid: number, starts: Float64Array, ends: Float64Array, zero: ZeroDetection = ZERO_BY_SCAN): Promise<PagemapColumns> {
  try {
    return await addon.readPagemapAsync(pid, starts, ends, zero.scan, zero.zeroPfn);
  } catch (e) {
    throw toProbeError(e);
  }
}

/** One process of a family pagemap read: its page-aligned ranges, sorted and apart. */
export interface PagemapRanges {
  pid: number;
  starts: Float64Array;
  ends: Float64Array;
}

/** A child of a family read whose pages are classified as they are read (exact tier: frames visible):
 *  indexes into the family list, and runsOf (analyzers/classify.ts) of the child against its reference
 *  and against each sibling. */
export interface FamilyPair {
  child: number;
  reference: number;
  runs: Float64Array;
  siblings: { member: number; runs: Float64Array }[];
  /** PageFlag.zero when zero pages are known, else 0 (classifyExactRuns' zeroMask) */
  zeroMask: number;
  /** no PFN column for the child: only its PFNs that differ from the reference's at the paired page
   *  (pfnChanged). The reference must have its column: it is no compact pair's child. */
  compact?: boolean;
}

/** One process of a family read: readPagemap's result; with pairs, a pair's child has its classes, and
 *  a compact child no pfn but pfnChanged: its PFNs (in page index order) that differ from the
 *  reference's at the paired page, or that are not 0 where no page is paired. */
export type FamilyColumns = Omit<PagemapColumns, 'pfn'> & {
  pfn?: Float64Array;
  classes?: Uint8Array;
  pfnChanged?: { index: Uint32Array; pfn: Float64Array };
};

/** readPagemap of every listed process, read in step by address in one thread-pool job (forked processes
 *  map mostly the same frames at the same addresses: the kernel then finds each frame's struct page in
 *  the cache). One entry per process, in order: its columns, or the ProbeError it failed with. With
 *  pairs, a pair's child entry has `classes`: what classifyExactRuns and then markSharedFrames against
 *  each sibling give, computed window by window as the family is read (native/probe.cc FamilyPair). */
export async function readFamilyPagemapsAsync(family: PagemapRanges[], zero?: ZeroDetection): Promise<(PagemapColumns | ProbeError)[]>;
export async function readFamilyPagemapsAsync(family: PagemapRanges[], zero: ZeroDetection, pairs: FamilyPair[]): Promise<(FamilyColumns | ProbeError)[]>;
export async function readFamilyPagemapsAsync(
  family: PagemapRanges[],
  zero: ZeroDetection = ZERO_BY_SCAN,
  pairs: FamilyPair[] = [],
): Promise<(FamilyColumns | ProbeError)[]> {
  const out = await addon.readFamilyPagemapsAsync(
    family.map((m) => m.pid),
    family.map((m) => m.starts),
    family.map((m) => m.ends),
    zero.scan,
    zero.zeroPfn,
    pairs,
  );
  return out.map((r) => ('error' in r ? (toProbeError(r.error) as ProbeError) : r));
}

/** A whole file (a /proc text file) read in one thread-pool job. Errors keep Node's shape (code, errno,
 *  syscall, path); proc.ts turns them into ProbeErrors with its own hints. */
export function readTextAsync(file: string): Promise<string> {
  return addon.readTextAsync(file);
}

/** kpagecount and kpageflags for each PFN (root only). */
export function readKpage(pfns: Float64Array): KpageColumns {
  return wrap(() => addon.readKpage(pfns));
}

/** Contents of the listed pages; pages that are not present are never read (reading would fault them in). */
export function readPages(pid: number, addrs: Float64Array): PageReads {
  return wrap(() => addon.readPages(pid, addrs));
}

/** Compares the listed pages of A (the reference) and B (the child) word by word. */
export function comparePages(pidA: number, pidB: number, addrs: Float64Array): PageComparison {
  return wrap(() => addon.comparePages(pidA, pidB, addrs));
}

export function features(): ProbeFeatures {
  return addon.features();
}

/** Makes orphaned descendants our children, so that reap() can collect them (on = false: no more). */
export function setChildSubreaper(on = true): void {
  wrap(() => addon.setChildSubreaper(on));
}

/** Turns address-space randomisation on or off for the programs this thread starts from now on;
 *  returns the previous setting (so the caller can restore it right after its spawn). */
export function setAddressRandomization(on: boolean): boolean {
  return wrap(() => addon.setAddressRandomization(on));
}

/** Every aligned word of pid's memory in [starts[i], ends[i]) that equals one of targets (sorted). */
export interface PointerHits {
  /** index into targets, per hit */
  target: Uint32Array;
  /** address of the word, per hit */
  at: Float64Array;
  /** more words matched than a scan returns (4M): the rest were dropped */
  truncated: boolean;
}

export function scanPointers(pid: number, starts: Float64Array, ends: Float64Array, targets: Float64Array): PointerHits {
  return wrap(() => addon.scanPointers(pid, starts, ends, targets));
}

/** Reaps pid if it is our child and has exited; true when it is gone (or not ours). */
export function reap(pid: number): boolean {
  return addon.reap(pid);
}

/** Calls onExit once, from the event loop, as soon as pid exits (any process: a pidfd watched with
 *  poll). Returns a stop function, which must be called (it closes the pidfd). Throws a ProbeError
 *  (ESRCH) when pid does not exist. The watch does not keep Node running. */
export function watchExit(pid: number, onExit: () => void): () => void {
  const id = wrap(() => addon.watchExit(pid, onExit));
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    addon.unwatchExit(id);
  };
}

/** The flags column's bits as the addon defines them (native/page-flags.ts must say the same). */
export function pageFlagBits(): Record<string, number> {
  return { ...(addon as unknown as { pageFlagBits: Record<string, number> }).pageFlagBits };
}

/** The runtime's tables of type names and imemo type names (as the dump spells them) to codes, and the
 *  data types whose references are their objects' own contents (HeapDumpIngest.contents). */
export interface HeapDumpCodes {
  types: Record<string, number>;
  imemo: Record<string, number>;
  contents?: readonly string[];
}

/** Streams an ObjectSpace.dump_all file: the GC heap pages it covers, and the objects that lie in
 *  keepPages (sorted 4 KiB page addresses; a slot of slotSize bytes counts for both pages it may
 *  straddle), plus every class, module and iseq, and what the T_DATA objects of codes.contents types
 *  reference. SHAPE records (3.2+) are skipped.
 *  codes: the runtime's tables (HeapDumpCodes); opts.maxBytes: reading stops with EFBIG past this many
 *  bytes; opts.keepAll: every object is kept (keepPages ignored), for a map parsed once and filtered per
 *  use. */
export function ingestHeapDump(
  path: string,
  heapPageSize: number,
  keepPages: Float64Array,
  slotSize: number,
  codes: HeapDumpCodes,
  opts: { maxBytes?: number; keepAll?: boolean } = {},
): HeapDumpIngest {
  return wrap(() => addon.ingestHeapDump(path, heapPageSize, keepPages, slotSize, codes.types, codes.imemo, opts.maxBytes, opts.keepAll ?? false, codes.contents ?? []));
}

/** A heap dump read on the thread pool while its writer writes it (a first look at every line; see
 *  native/heapdump.cc). finish() once the writer is done: the reader reads to the end of the file; cancel()
 *  stops it. done resolves with the file's inode and the bytes read (the caller checks they are the
 *  finished file's), or null when it was cancelled or could not follow the file (never appeared, not a
 *  regular file, past maxBytes, a read error). Then, once, pick(keepPages) gives what
 *  ingestHeapDump(path, …, keepPages) would have. */
export interface HeapDumpFollower {
  done: Promise<{ ino: number; bytes: number } | null>;
  finish(): void;
  cancel(): void;
  pick(keepPages: Float64Array): HeapDumpIngest;
  /** once done resolved, instead of pick: the file closed, what was read dropped */
  release(): void;
}

export function followHeapDump(
  path: string,
  heapPageSize: number,
  slotSize: number,
  codes: HeapDumpCodes,
  maxBytes: number,
): HeapDumpFollower {
  const f = wrap(() => addon.followHeapDump(path, heapPageSize, slotSize, codes.types, codes.imemo, maxBytes, codes.contents ?? []));
  // The reader holds a thread of libuv's pool until it is finished or cancelled, and node joins the
  // pool's threads when it exits: whatever way cowscope exits (a signal's handler, an error), it is
  // cancelled first.
  const cancel = () => f.cancel();
  process.on('exit', cancel);
  f.done.finally(() => process.off('exit', cancel)).catch(() => undefined);
  return f;
}

/** 8-byte words of a process at the given addresses; ok[i] = 0 where the page was not present. */
export function readWords(pid: number, addrs: Float64Array): { words: BigUint64Array; ok: Uint8Array } {
  return wrap(() => addon.readWords(pid, addrs));
}

/** glibc chunk headers of [start, end) of a process (the main arena's [heap]). */
/** A heap of glibc's to walk (native/malloc.cc): its pages from start to end, its first chunk at first
 *  (after start: the heap begins with glibc's header, listed as one chunk in use). */
export interface MallocSegment {
  start: number;
  first: number;
  end: number;
}

/** The sizes the walk tests chunks against (allocators/glibc/chunks.ts holds the values). */
export interface MallocLimits {
  /** a chunk that starts at a multiple of this is a thread arena heap's header */
  arenaHeapMax: number;
  /** the largest chunk a fastbin holds */
  fastbinMax: number;
  /** the largest chunk tcache holds */
  tcacheMax: number;
  /** the kept pages' size */
  pageSize: number;
  /** also list the chunks in use on no kept page of a size in [keepSizeMin, keepSizeMax] (MallocWalk.sized) */
  keepSizeMin?: number;
  keepSizeMax?: number;
}

/** One process's walk: the chunks that touch the kept pages (and thread arena headers), inUse 0 for
 *  those free (in a bin, or cached in tcache or a fastbin), how many chunks were walked, the tcache key. */
export interface MallocWalk {
  chunks: MallocChunks;
  /** the in-use chunks of limits.keepSizeMin-Max on no kept page (empty without them) */
  sized: { start: Float64Array; size: Float64Array };
  walked: number;
  key: bigint;
}

const segmentArray = (segments: MallocSegment[]) => Float64Array.from(segments.flatMap((s) => [s.start, s.first, s.end]));

/** Walks the chunk chains of a process's malloc heaps; key null: the tcache key is found (as the most
 *  frequent +24 word of small chunks linked like tcache entries). */
export function mallocChunks(pid: number, segments: MallocSegment[], keepPages: Float64Array, key: bigint | null, limits: MallocLimits): MallocWalk {
  return wrap(() => addon.mallocChunks(pid, segmentArray(segments), keepPages, key, limits));
}

/** The same on the thread pool: the processes of a family walked at once. */
export async function mallocChunksAsync(pid: number, segments: MallocSegment[], keepPages: Float64Array, key: bigint | null, limits: MallocLimits): Promise<MallocWalk> {
  try {
    return await addon.mallocChunksAsync(pid, segmentArray(segments), keepPages, key, limits);
  } catch (e) {
    throw toProbeError(e);
  }
}

/** pages plus the pages that the 8-aligned words of the lists point to inside the ranges [starts, ends),
 *  at most max added (the first found), sorted. */
export function pointedPages(words: BigUint64Array[], ranges: { start: number; end: number }[], pageSize: number, pages: Float64Array, max: number): Float64Array {
  return addon.pointedPages(words, Float64Array.from(ranges, (r) => r.start), Float64Array.from(ranges, (r) => r.end), pageSize, pages, max);
}

/** The distinct 8-aligned values (at least 0x10000) of a child's changed words, on pages outside the
 *  sorted bodies (each bodySize long), that point outside them into the ranges: at most max (the first
 *  found), sorted. */
export function bornTargets(diffs: { newWord: BigUint64Array; wordPage: Uint32Array; addrs: Float64Array }, bodies: Float64Array, bodySize: number, ranges: { start: number; end: number }[], max: number): Float64Array {
  return addon.bornTargets(diffs.newWord, diffs.wordPage, diffs.addrs, bodies, bodySize, Float64Array.from(ranges, (r) => r.start), Float64Array.from(ranges, (r) => r.end), max);
}

/** glibc's chunks as classifyChunkWords takes them: the fork-time list and the child's, each sorted. */
export interface ChunkView {
  forkStart: Float64Array;
  forkSize: Float64Array;
  /** start + size of each chunk */
  forkEnd: Float64Array;
  forkInUse: Uint8Array;
  childStart?: Float64Array;
  childSize?: Float64Array;
  childEnd?: Float64Array;
  childInUse?: Uint8Array;
  heapStart: number;
  heapLo: number;
  heapHi: number;
  /** glibc's tcache key, 0n: none known */
  tcacheKey: bigint;
  /** a thread arena heap's size and alignment */
  arenaMax: number;
}

/** Rows written by classifyChunkWords, one per word (allocators/glibc/rules.ts ChunkWords): the kind,
 *  and the chunk the row names (fork-time list index i, or the child's as -2 - i). */
export interface ChunkWordRows {
  kind: Uint8Array;
  chunk: Int32Array;
}

/** Row k of out: what the word at addrs[k] is to glibc (its fork-time value oldWord[k], the child's
 *  newWord[k]); with addrs null, what the address newWord[k] is (a stored pointer's target). Rows whose
 *  skip is set get kind 0 (none). */
export function classifyChunkWords(view: ChunkView, addrs: Float64Array | null, oldWord: BigUint64Array, newWord: BigUint64Array, skip: Uint8Array | null, out: ChunkWordRows): void {
  addon.classifyChunkWords(view, addrs, oldWord, newWord, skip, out);
}

/** Page columns as the classification kernels take them (a ProcessCapture's pages). */
export interface PageArrays {
  flags: Uint16Array;
  pfn: Float64Array;
}

/** Exact tier: classes of the child's pages in each run (child index, paired index or -1, count) against
 *  the reference, by frame (analyzers/classify.ts holds the rule and calls this). */
export function classifyExactRuns(classes: Uint8Array, child: PageArrays, ref: PageArrays, runs: Float64Array, zeroMask: number): void {
  addon.classifyExactRuns(classes, child.flags, child.pfn, ref.flags, ref.pfn, runs, zeroMask);
}

/** Copied child pages of the runs that the sibling maps at the same frame become copiedByParent;
 *  returns how many (analyzers/classify.ts markWrittenByParent). */
export function markSharedFrames(classes: Uint8Array, child: PageArrays, sibling: PageArrays, runs: Float64Array): number {
  return addon.markSharedFrames(classes, child.flags, child.pfn, sibling.flags, sibling.pfn, runs);
}

/** For each [from, to) pair of page indexes in ranges: the pages of each class code (8 counts per range). */
export function countClassRanges(classes: Uint8Array, ranges: Float64Array): Float64Array {
  return addon.countClassRanges(classes, ranges);
}

/** The pages classed new that are present, anonymous and not exclusive (another mapping holds the
 *  frame), in page order (analyzers/classify.ts markMovedShared). */
export function sharedNewPages(classes: Uint8Array, flags: Uint16Array): Uint32Array {
  return addon.sharedNewPages(classes, flags);
}

/** The class codes the kernels write, by name (analyzers/classify.ts PageClass must say the same). */
export function pageClassCodes(): Record<string, number> {
  return { ...addon.pageClassCodes };
}

/** The memory a computation read (native/reuse.cc): each page or pointer-scan block, per process, and
 *  a hash of the bytes as it read them. */
export interface ReadTap {
  pid: Int32Array;
  addr: Float64Array;
  len: Float64Array;
  /** 0 page read, 1 page not present, 2 page unreadable, 3 scan block read, 4 scan block unreadable */
  kind: Uint8Array;
  hash: BigUint64Array;
  /** one page or block was read twice with different bytes: it changed under the computation */
  conflicted: boolean;
}

/** Runs fn with a read tap open: its result, and every page and block of memory it read, on this thread
 *  or the thread pool (the tap stays open until fn's promise settles). Not reentrant (one tap at a time),
 *  and nothing else may read meanwhile: the tap records every read of the addon but comparePages'. */
export async function tapReadsAsync<T>(fn: () => Promise<T>): Promise<{ result: T; reads: ReadTap }> {
  addon.startReadTap();
  let reads: ReadTap | undefined;
  try {
    const result = await fn();
    reads = addon.stopReadTap();
    return { result, reads };
  } finally {
    if (!reads) addon.stopReadTap();
  }
}

/** Does every read of the tap give the same bytes (and verdicts) again? Checked on the thread pool, one
 *  job per process (the family's processes at once). */
export async function readsUnchangedAsync(tap: ReadTap): Promise<boolean> {
  if (tap.conflicted) return false;
  const jobs: Promise<boolean>[] = [];
  for (let i = 0; i < tap.pid.length; ) {
    let j = i;
    while (j < tap.pid.length && tap.pid[j] === tap.pid[i]) j++;
    jobs.push(addon.processReadsUnchangedAsync(tap.pid[i], tap.addr.subarray(i, j), tap.len.subarray(i, j), tap.kind.subarray(i, j), tap.hash.subarray(i, j)));
    i = j;
  }
  return (await Promise.all(jobs)).every(Boolean);
}

/** comparePages on the thread pool (several children compared with their parent at once). */
export async function comparePagesAsync(pidA: number, pidB: number, addrs: Float64Array): Promise<PageComparison> {
  try {
    return await addon.comparePagesAsync(pidA, pidB, addrs);
  } catch (e) {
    throw toProbeError(e);
  }
}

/** One 64-bit hash of the bytes of typed arrays, in order (a key from large inputs such as word diffs). */
export function hashViews(views: ArrayBufferView[]): bigint {
  return addon.hashViews(views);
}
