// CoW blame for CRuby: why each copied page was copied (shared/reference/cruby-internals.md §7).
//
// Input: one child's word diffs against the fork-time image (capture.diffs), the heap map objects on
// those pages and the structures discovered in the fork-time image (capture.ruby), the version table.
// Every changed 8-byte word gets a cause; every copied page gets exactly one primary cause (the cause
// with most changed words on it, ties broken by CAUSE_ORDER; identical pages by context), so the causes
// add up to the copied total exactly. Pure: `cowscope report` runs it again from a saved capture.

import type { Capture, PageDiffs } from '../../native/capture';
import type { Vma } from '../../native/procfs-parse';
import { regionsOf } from '../regions';
import { FL, IMEMO, RubyLayout, T, TYPE_NAMES, imemoTypeOf, layoutFor } from './versions';

/** Stable cause ids, most specific first: the order breaks ties between causes with equal word counts. */
export const CAUSE_ORDER = [
  'string.coderange',
  'icache.call',
  'icache.const',
  'icache.ivar',
  'icache.cvar',
  'method.cached',
  'object.id',
  'object.freeze',
  'object.ivar',
  'object.singleton',
  'hash.iteration',
  'gc.promote',
  'gc.age',
  'gc.compact',
  'gc.sweep',
  'alloc.free-slot',
  'gc.remember',
  'gc.bitmap',
  'gc.mark-stack',
  'malloc.meta',
  'alloc.malloc',
  'alloc.transient',
  'vm.globals',
  'exec.stack',
  'mutation', // mutation.<type>
  'same-value.unknown',
  'unknown',
] as const;

export const CAUSE_MEANING: Record<string, string> = {
  'string.coderange': 'a string\'s coderange computed lazily (String#hash, Hash keys, =~, length …)',
  'icache.call': 'a call site\'s method cache filled on its first call (iseq call_data)',
  'icache.const': 'a constant cache refilled (on 3.1 any constant definition invalidates all)',
  'icache.ivar': 'an instance-variable cache filled on first read (iseq is_entries)',
  'icache.cvar': 'a class-variable cache filled',
  'method.cached': 'a method entry marked cached by its first call cache',
  'object.id': 'object_id / Object#hash assigned an id (FL_SEEN_OBJ_ID)',
  'object.freeze': 'an object frozen',
  'object.ivar': 'an instance variable added to an existing object',
  'object.singleton': 'a singleton class created for an object',
  'hash.iteration': 'a Hash\'s iteration level stored (same value after the loop)',
  'gc.promote': 'a GC promoted a young object to old',
  'gc.age': 'a GC aged a young object (age bits in the flags)',
  'gc.compact': 'compaction moved objects or rewrote references',
  'gc.sweep': 'a sweep freed a slot or relinked the free list',
  'alloc.free-slot': 'an object allocated into a slot that was free at the fork',
  'gc.bitmap': 'GC mark bitmaps in struct heap_page',
  'gc.remember': 'the write barrier remembered an old object that now references a young one',
  'gc.mark-stack': 'the GC mark stack',
  'malloc.meta': 'glibc malloc metadata (chunk headers, tcache, free-list links, arena)',
  'alloc.malloc': 'memory the child malloc\'d in a chunk that was free at the fork',
  'mutation.container': 'object references in a malloc\'d buffer rewritten (Array/Hash/ivar contents)',
  'vm.globals': 'VM globals: libruby .data/.bss, thread-local storage, VM counters',
  'alloc.transient': 'Ruby 3.1 transient heap: young Array/Hash/Object buffers allocated or evacuated',
  'exec.stack': 'the machine or VM stack',
  'same-value.unknown': 'copied, yet no byte changed: a store of the same value',
  unknown: 'no rule matched',
};

export interface CauseCount {
  cause: string;
  pages: number;
  words: number;
}

export interface ChildBlame {
  pid: number;
  /** copied pages blamed: always the child's copied page count */
  pages: number;
  blame: CauseCount[];
  byType: { type: string; pages: number; words: number }[];
  byClass: { class: string; pages: number; words: number }[];
  bySite: { site: string; pages: number; words: number }[];
  /** the same blame per region (ruby-heap, malloc-heap, …): where each copied page lives */
  byRegion: { region: string; pages: number; blame: CauseCount[] }[];
  /** every copied page and its primary cause (for page maps) */
  perPage: { addr: Float64Array; cause: string[] };
  /** set when the Ruby version is not in the table: only version-independent rules ran */
  unknownVersion?: string;
}

/** An 8-byte word as its two 32-bit halves: bit tests and pointer values without boxing BigInts. */
interface Word {
  lo: number;
  hi: number;
}

/** The value as a number: exact below 2^53, which holds for every user-space address. */
const num = (w: Word): number => w.hi * 4294967296 + w.lo;
const isZero = (w: Word): boolean => w.lo === 0 && w.hi === 0;
const same = (a: Word, b: Word): boolean => a.lo === b.lo && a.hi === b.hi;

function causeRank(cause: string): number {
  const base = cause.startsWith('mutation.') ? 'mutation' : cause;
  const i = (CAUSE_ORDER as readonly string[]).indexOf(base);
  return i < 0 ? CAUSE_ORDER.length : i;
}

/** Index of the range containing addr in sorted, non-overlapping [start, end) ranges, or -1. */
function findRange(start: Float64Array, end: Float64Array | ((i: number) => number), addr: number): number {
  let lo = 0;
  let hi = start.length - 1;
  let at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (start[mid] <= addr) {
      at = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (at < 0) return -1;
  const e = typeof end === 'function' ? end(at) : end[at];
  return addr < e ? at : -1;
}

/** What the fork-time image knows about an address outside the GC heap. */
interface Context {
  layout: RubyLayout | undefined;
  /** glibc's tcache key, undefined when unknown */
  tcacheKey: Word | undefined;
  heapLo: number;
  heapHi: number;
  /** the child's new flags word of every slot whose flags changed (all copied GC heap pages) */
  newSlotFlags: Map<number, Word>;
  /** iseqs whose inline caches this child refilled, with the cache's cause */
  iseqCacheCause: Map<number, string>;
  vmaRegion: string[];
  capture: Capture;
  vmas: Vma[];
  vmaStarts: Float64Array;
  vmaEnds: Float64Array;
  vmaKind: string[];
  /** index of the heap map object at exactly this address, or undefined */
  objIndex: { get(addr: number): number | undefined };
  bodyIndex: (addr: number) => number;
  chunkEnds: Float64Array;
  classNames: Map<number, string>;
}

/** Per-mapping kinds for words outside the GC heap and malloc's structures. */
function mappingKinds(vmas: Vma[]): string[] {
  const regions = regionsOf(vmas);
  return vmas.map((v, i) => {
    if (v.path === '[stack]') return 'exec.stack';
    if (regions[i] === 'file-data') {
      // .data/.bss of the ruby binary or libruby: VM globals; of libc: malloc's main_arena and friends.
      const owner = v.inode ? v.path : (vmas[i - 1]?.path ?? '');
      return /libc[.-]/.test(owner) ? 'malloc.meta' : 'vm.globals';
    }
    if (regions[i] !== 'anon') return '';
    const size = v.end - v.start;
    // A thread's VM stack: a 1 MiB malloc'd block, so an mmapped chunk of 1 MiB + one page.
    if (size === 0x101000) return 'exec.stack';
    // Ruby 3.1's transient heap: one 32 MiB arena (rb_aligned_malloc, so mmapped; 32 KiB more before trimming).
    if (size === 0x2000000 || size === 0x2008000) return 'alloc.transient';
    // Small anonymous mappings near the libraries: thread-local storage and the thread control block
    // (3.1 keeps ruby_current_ec there).
    if (size <= 0x10000) return 'vm.globals';
    return '';
  });
}

function contextFor(capture: Capture, reference: number): Context {
  const layout = layoutFor(capture.runtime?.version ?? '');
  const ref = capture.processes.find((p) => p.pid === reference)!;
  const vmas = ref.vmas;
  const ruby = capture.ruby!;
  // The ingest sorts objects by address; search them directly (a Map of every object costs more).
  const addrs = ruby.objects.address;
  let sorted = true;
  for (let i = 1; i < addrs.length && sorted; i++) sorted = addrs[i - 1] <= addrs[i];
  const order = sorted ? undefined : Uint32Array.from(addrs.keys()).sort((a, b) => addrs[a] - addrs[b]);
  const objIndex = {
    get(addr: number): number | undefined {
      let lo = 0;
      let hi = addrs.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const i = order ? order[mid] : mid;
        const v = addrs[i];
        if (v === addr) return i;
        if (v < addr) lo = mid + 1;
        else hi = mid - 1;
      }
      return undefined;
    },
  };
  const bodies = capture.heapMap!.bodies;
  const hps = capture.heapMap!.heapPageSize;
  const bodyEnds = Float64Array.from(bodies, (b) => b + hps);
  const chunks = ruby.mallocChunks;
  const chunkEnds = new Float64Array(chunks.start.length);
  for (let i = 0; i < chunkEnds.length; i++) chunkEnds[i] = chunks.start[i] + chunks.size[i];
  const classNames = new Map<number, string>();
  for (let i = 0; i < ruby.classNames.address.length; i++) classNames.set(ruby.classNames.address[i], ruby.classNames.name[i]);
  const heapVma = vmas.find((v) => v.path === '[heap]');
  return {
    layout,
    tcacheKey: ruby.tcacheKey && ruby.tcacheKey !== '0' ? { lo: Number(BigInt(`0x${ruby.tcacheKey}`) & 0xffffffffn), hi: Number(BigInt(`0x${ruby.tcacheKey}`) >> 32n) } : undefined,
    heapLo: heapVma?.start ?? 0,
    heapHi: heapVma?.end ?? 0,
    newSlotFlags: new Map(),
    iseqCacheCause: new Map(),
    vmaRegion: regionsOf(vmas),
    capture,
    vmas,
    vmaStarts: Float64Array.from(vmas, (v) => v.start),
    vmaEnds: Float64Array.from(vmas, (v) => v.end),
    vmaKind: mappingKinds(vmas),
    objIndex,
    bodyIndex: (addr) => findRange(bodies, bodyEnds, addr),
    chunkEnds,
    classNames,
  };
}

interface SlotInfo {
  slot: number;
  /** T_* at the fork (from the changed flags word, else from the heap map); -1 unknown */
  type: number;
  imemo: number;
  obj: number;
}

/** Slot of a GC heap address, with its type at the fork. */
function slotOf(ctx: Context, body: number, addr: number, oldFlags: Map<number, Word>): SlotInfo | undefined {
  const ruby = ctx.capture.ruby!;
  const start = ruby.slotStart[body];
  const size = ruby.slotSize[body];
  if (!start || !size) return undefined;
  const slot = start + Math.floor((addr - start) / size) * size;
  const bodyStart = ctx.capture.heapMap!.bodies[body];
  if (slot < bodyStart + 8) return undefined; // the page header (the struct heap_page pointer)
  const obj = ctx.objIndex.get(slot) ?? -1;
  const flags = oldFlags.get(slot);
  if (flags !== undefined) {
    const type = flags.lo & FL.typeMask;
    return { slot, type: isZero(flags) ? T.NONE : type, imemo: type === T.IMEMO ? imemoTypeOf(flags.lo) : -1, obj };
  }
  if (obj < 0) return { slot, type: -1, imemo: -1, obj };
  const t = ruby.objects.type[obj];
  return { slot, type: t === 0xff ? -1 : t, imemo: ruby.objects.imemo[obj] === 0xff ? -1 : ruby.objects.imemo[obj], obj };
}

const mutation = (type: number) => `mutation.${type >= 0 ? (TYPE_NAMES[type] ?? `type${type}`) : 'unknown'}`;

/** §7.3: a changed word in a GC heap slot. O/N: old and new value; newFlags: the slot's new flags. */
function heapWordCause(ctx: Context, s: SlotInfo, off: number, O: Word, N: Word, newFlags: Word | undefined): string {
  const L = ctx.layout;
  const wasFree = s.type === T.NONE;
  // A live slot the child's sweep freed (flags 0, next pointer) or freed and reused for another type.
  if (!wasFree && s.type >= 0 && newFlags !== undefined && (isZero(newFlags) || (newFlags.lo & FL.typeMask) !== s.type))
    return off === 0 && (N.lo & FL.typeMask) === T.MOVED ? 'gc.compact' : 'gc.sweep';
  if (off === 0) {
    if (isZero(O) && !isZero(N)) return 'alloc.free-slot';
    if (!isZero(O) && isZero(N)) return 'gc.sweep';
    if ((N.lo & FL.typeMask) === T.MOVED) return 'gc.compact';
    if ((O.lo & FL.typeMask) !== (N.lo & FL.typeMask)) return 'gc.sweep';
    const X = (O.lo ^ N.lo) >>> 0;
    const t = O.lo & FL.typeMask;
    if (L?.ageInFlags && X & FL.age) return (N.lo & FL.age) === FL.age ? 'gc.promote' : 'gc.age';
    if (L && !L.ageInFlags && X & FL.promoted) return 'gc.promote';
    if (t === T.STRING && X & FL.coderange) return 'string.coderange';
    if (t === T.IMEMO && imemoTypeOf(O.lo) === IMEMO.ment && X & FL.mentCached) return 'method.cached';
    if (X & FL.seenObjId) return 'object.id';
    if (X & FL.freeze) return 'object.freeze';
    if (X & FL.exivar) return 'object.ivar';
    if (t === T.HASH && X & FL.hashIterLevel) return 'hash.iteration';
    if (L?.shapeInFlags && O.hi !== N.hi) return 'object.ivar';
    return mutation(t);
  }
  // A slot that was free at the fork: filled by an allocation, or its free-list link rewritten.
  if (wasFree) return newFlags !== undefined && !isZero(newFlags) ? 'alloc.free-slot' : 'gc.sweep';
  if (off === 8) return 'object.singleton';
  if (s.type === T.IMEMO && s.imemo === IMEMO.callcache) return 'icache.call';
  if (s.type === T.IMEMO && s.imemo === IMEMO.constcache) return 'icache.const';
  if (s.type === T.OBJECT && L && O.hi === 0 && O.lo === L.qundef) return 'object.ivar';
  return mutation(s.type);
}

/** A VALUE: a GC heap object, or a special constant (fixnum, flonum, symbol, nil, true, false, undef). */
function isValue(ctx: Context, v: Word): boolean {
  if ((v.hi === 0 && v.lo < 0x40) || v.lo & 7) return true;
  return ctx.bodyIndex(num(v)) >= 0;
}

/** A tcache next link as glibc 2.32+ stores it: (address of the word >> 12) XOR next. */
function isSafeLink(ctx: Context, addr: number, v: Word): boolean {
  if (!ctx.heapHi) return false;
  const shifted = Math.floor(addr / 4096);
  const next = ((v.hi ^ Math.floor(shifted / 4294967296)) >>> 0) * 4294967296 + ((v.lo ^ shifted) >>> 0);
  return next === 0 || (next >= ctx.heapLo && next < ctx.heapHi && next % 16 === 0);
}

/** Causes of chunks the child allocated (free at the fork), decided once per child by blameChild. */
let chunkOwner = new Map<number, string>();

/** A chunk that was free at the fork and now holds a pointer to a method entry or call cache/info is a
 *  call-cache table record (class cc_tbl, ccs); a chunk such a record points to (its entries array) is
 *  one too. Other chunks free at the fork hold whatever the child malloc'd. */
function allocatedChunkCauses(ctx: Context, diffs: PageDiffs, pageBody: Int32Array): Map<number, string> {
  const ruby = ctx.capture.ruby!;
  const chunks = ruby.mallocChunks;
  const o = ruby.objects;
  const out = new Map<number, string>();
  const pointsTo = new Map<number, number[]>(); // chunk -> chunks its new words point into
  const chunkAt = (addr: number) => findRange(chunks.start, ctx.chunkEnds, addr);
  const newU = new Uint32Array(diffs.newWord.buffer, diffs.newWord.byteOffset, diffs.newWord.length * 2);
  for (let k = 0; k < diffs.wordPage.length; k++) {
    if (pageBody[diffs.wordPage[k]] >= 0) continue; // GC heap pages hold no malloc chunks
    const addr = diffs.addrs[diffs.wordPage[k]] + diffs.wordOffset[k];
    const c = chunkAt(addr);
    if (c < 0 || chunks.inUse[c]) continue;
    const start = chunks.start[c];
    const target = newU[2 * k + 1] * 4294967296 + newU[2 * k];
    const i = ctx.objIndex.get(target);
    const fresh = ctx.newSlotFlags.get(target);
    const imemo =
      fresh !== undefined && (fresh.lo & FL.typeMask) === T.IMEMO
        ? imemoTypeOf(fresh.lo)
        : i !== undefined && o.type[i] === T.IMEMO
          ? o.imemo[i]
          : -1;
    if (imemo === IMEMO.ment || imemo === IMEMO.callcache || imemo === IMEMO.callinfo) out.set(start, 'icache.call');
    else if (!out.has(start)) out.set(start, 'alloc.malloc');
    const t = chunkAt(target - 16);
    if (t >= 0 && chunks.start[t] + 16 === target) {
      const list = pointsTo.get(start); // appended in place: copying it per word is quadratic in a chunk's words
      if (list) list.push(chunks.start[t]);
      else pointsTo.set(start, [chunks.start[t]]);
    }
  }
  for (const [from, targets] of pointsTo)
    if (out.get(from) === 'icache.call') for (const t of targets) if (out.has(t)) out.set(t, 'icache.call');
  return out;
}

/** §7.4: a changed word outside the GC heap. */
function otherWordCause(ctx: Context, addr: number, O: Word, N: Word, gcRuns: number): string {
  const ruby = ctx.capture.ruby!;
  const hp = findRange(ruby.heapPageStructs.start, ruby.heapPageStructs.end, addr);
  if (hp >= 0) {
    const off = addr - ruby.heapPageStructs.start[hp];
    const L = ctx.layout;
    // Remembered-set bits (set by the write barrier): blame the store that made an old object point to
    // a young one. Bit n of the set stands for the slot at body + n * 40.
    if (L && L.rememberBits.bytes && off >= L.rememberBits.offset && off < L.rememberBits.offset + L.rememberBits.bytes) {
      // Slots sit at start + 40k, so bit n stands for body + 40n + (start - body) mod 40.
      const set = [(N.lo & ~O.lo) >>> 0, (N.hi & ~O.hi) >>> 0];
      const body = ruby.heapPageStructs.owner[hp];
      const b = ctx.bodyIndex(body);
      const shift = b >= 0 && ruby.slotStart[b] ? (ruby.slotStart[b] - body) % 40 : 0;
      const base = body + (off - L.rememberBits.offset) * 8 * 40 + shift;
      for (let bit = 0; bit < 64; bit++)
        if ((set[bit >> 5] >>> (bit & 31)) & 1) {
          const cause = ctx.iseqCacheCause.get(base + bit * 40);
          if (cause) return cause;
        }
      return gcRuns ? 'gc.bitmap' : 'gc.remember';
    }
    // struct heap_page: counts and the free-list head change when the child allocates (or a GC sweeps);
    // has_remembered_objects (a flag in the header) with the remembered set; the bitmaps when a GC marks.
    if (L && off < L.heapPage.bitmapsOffset) return gcRuns ? 'gc.sweep' : off === 8 ? 'gc.remember' : 'alloc.free-slot';
    return 'gc.bitmap';
  }
  if (findRange(ruby.callData.start, ruby.callData.end, addr) >= 0) return 'icache.call';
  if (findRange(ruby.isEntries.start, ruby.isEntries.end, addr) >= 0) {
    // 3.1 mixes the kinds in one array: a constant cache points into the GC heap (an imemo_constcache),
    // an ivar cache to a malloc'd table entry.
    const inHeap = (v: Word) => !isZero(v) && ctx.bodyIndex(num(v)) >= 0;
    return inHeap(N) || inHeap(O) ? 'icache.const' : 'icache.ivar';
  }
  const chunks = ruby.mallocChunks;
  const c = findRange(chunks.start, ctx.chunkEnds, addr);
  if (c >= 0) {
    const off = addr - chunks.start[c];
    // Only PREV_INUSE flipped: the chunk before this one was allocated or freed; blame that.
    if (off === 8 && O.hi === N.hi && (O.lo ^ N.lo) === 1 && c > 0 && chunks.start[c - 1] + chunks.size[c - 1] === chunks.start[c]) {
      const prev = chunkOwner.get(chunks.start[c - 1]);
      if (prev) return prev;
    }
    // Chunk headers, and the main arena's first chunk (tcache_perthread_struct: counts and list heads).
    if (off < 16 || chunks.start[c] === ruby.heapStart) return 'malloc.meta';
    // A chunk free at the fork that the child allocated: its new content says what for.
    if (!chunks.inUse[c]) return chunkOwner.get(chunks.start[c]) ?? 'alloc.malloc';
    // glibc's own words in a chunk: the tcache key at +24, the safe-linked next pointer at +16.
    if (ctx.tcacheKey && (same(O, ctx.tcacheKey) || same(N, ctx.tcacheKey))) return 'malloc.meta';
    if (off === 16 && (isSafeLink(ctx, addr, N) || isSafeLink(ctx, addr, O))) return 'malloc.meta';
    // A mark-stack chunk (stack_chunk_t: 500 VALUEs and a link, ~4 KiB): object pointers pushed and popped.
    const isObj = (v: Word) => isZero(v) || ctx.bodyIndex(num(v)) >= 0;
    if (chunks.size[c] >= 4000 && chunks.size[c] <= 4096 && isObj(O) && isObj(N)) return 'gc.mark-stack';
    // Small numbers on both sides: a counter of a malloc'd VM structure (rb_objspace, table sizes).
    if (N.hi < 256 && O.hi < 256) return 'vm.globals';
    // Object references on both sides: the contents of an Array/Hash/ivar buffer changed.
    if (isValue(ctx, O) && isValue(ctx, N) && (ctx.bodyIndex(num(O)) >= 0 || ctx.bodyIndex(num(N)) >= 0)) return 'mutation.container';
    return 'unknown';
  }
  const v = findRange(ctx.vmaStarts, ctx.vmaEnds, addr);
  if (v >= 0 && ctx.vmaKind[v]) return ctx.vmaKind[v];
  return 'unknown';
}

/** §7.5: a copied page whose bytes did not change. */
function identicalPageCause(ctx: Context, page: number, pageSize: number, gcRuns: number): string {
  const ruby = ctx.capture.ruby!;
  const b = ctx.bodyIndex(page);
  if (b >= 0) {
    // Which objects live on the page at the fork?
    let hashes = 0;
    let young = 0;
    let live = 0;
    const o = ruby.objects;
    const start = ruby.slotStart[b];
    const size = ruby.slotSize[b];
    if (start && size) {
      for (let a = Math.max(start, page - ((page - start) % size)); a < page + pageSize; a += size) {
        const i = ctx.objIndex.get(a);
        if (i === undefined || o.type[i] === T.NONE) continue;
        live++;
        if (o.type[i] === T.HASH) hashes++;
        if (!(o.gcFlags[i] & 2)) young++;
      }
    }
    if (hashes && (!gcRuns || hashes * 2 >= live)) return 'hash.iteration';
    if (gcRuns && young) return 'gc.age'; // 3.3+: RVALUE_AGE_SET stores FL_PROMOTED unchanged
    return 'same-value.unknown';
  }
  if (gcRuns) {
    // the last struct heap_page starting before the page's end: does it reach into the page?
    const s = ruby.heapPageStructs;
    let lo = 0;
    let hi = s.start.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (s.start[mid] < page + pageSize) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (at >= 0 && s.end[at] > page) return 'gc.bitmap';
  }
  return 'same-value.unknown';
}

function regionOfPage(ctx: Context, page: number): string {
  if (ctx.bodyIndex(page) >= 0) return 'ruby-heap';
  const v = findRange(ctx.vmaStarts, ctx.vmaEnds, page);
  return v >= 0 ? ctx.vmaRegion[v] : 'unmapped';
}

function sortCauses(m: Map<string, { pages: number; words: number }>): CauseCount[] {
  return [...m.entries()]
    .map(([cause, v]) => ({ cause, pages: v.pages, words: v.words }))
    .sort((a, b) => b.pages - a.pages || b.words - a.words || causeRank(a.cause) - causeRank(b.cause));
}

function top<T extends { pages: number; words: number }>(m: Map<string, { pages: number; words: number }>, key: string, n: number): T[] {
  return [...m.entries()]
    .map(([k, v]) => ({ [key]: k, pages: v.pages, words: v.words }) as unknown as T)
    .sort((a, b) => b.pages - a.pages || b.words - a.words)
    .slice(0, n);
}

function bump(m: Map<string, { pages: number; words: number }>, key: string, pages: number, words: number): void {
  const e = m.get(key) ?? { pages: 0, words: 0 };
  e.pages += pages;
  e.words += words;
  m.set(key, e);
}

function classNameOf(ctx: Context, obj: number): string {
  const o = ctx.capture.ruby!.objects;
  if (obj < 0) return '(unknown)';
  const t = o.type[obj];
  if (t === T.IMEMO) return `imemo:${Object.entries(IMEMO).find(([, v]) => v === o.imemo[obj])?.[0] ?? o.imemo[obj]}`;
  if (t === T.NONE) return '(free slot)';
  return ctx.classNames.get(o.classAddr[obj]) ?? `${TYPE_NAMES[t] ?? 'object'} of anonymous class`;
}

/** Blame for one child against the reference its diffs were taken from (the twin, or a live master).
 *  gcRuns: GC runs of the child during the measured interval (live mode passes 1: unknown, likely). */
export function blameChild(capture: Capture, diffs: PageDiffs, gcRuns: number): ChildBlame {
  const ctx = contextFor(capture, diffs.reference);
  const ruby = capture.ruby!;
  const ps = capture.meta.pageSize;
  const causes = new Map<string, { pages: number; words: number }>();
  const byType = new Map<string, { pages: number; words: number }>();
  const byClass = new Map<string, { pages: number; words: number }>();
  const bySite = new Map<string, { pages: number; words: number }>();
  // The GC heap body of every copied page (-1 outside the GC heap), looked up once.
  const pageBody = Int32Array.from(diffs.addrs, (a) => ctx.bodyIndex(a));
  const oldU = new Uint32Array(diffs.oldWord.buffer, diffs.oldWord.byteOffset, diffs.oldWord.length * 2);
  const newU = new Uint32Array(diffs.newWord.buffer, diffs.newWord.byteOffset, diffs.newWord.length * 2);
  const oldAt = (k: number): Word => ({ lo: oldU[2 * k], hi: oldU[2 * k + 1] });
  const newAt = (k: number): Word => ({ lo: newU[2 * k], hi: newU[2 * k + 1] });
  // New flags of every slot whose flags word the child changed, over all its copied GC heap pages.
  for (let k = 0; k < diffs.wordPage.length; k++) {
    const b = pageBody[diffs.wordPage[k]];
    if (b < 0) continue;
    const addr = diffs.addrs[diffs.wordPage[k]] + diffs.wordOffset[k];
    const start = ruby.slotStart[b];
    const size = ruby.slotSize[b];
    if (start && size && addr >= start && (addr - start) % size === 0) ctx.newSlotFlags.set(addr, newAt(k));
  }
  // Iseqs whose call_data or is_entries this child changed: the write barrier remembers them.
  for (let k = 0; k < diffs.wordPage.length; k++) {
    if (pageBody[diffs.wordPage[k]] >= 0) continue;
    const addr = diffs.addrs[diffs.wordPage[k]] + diffs.wordOffset[k];
    const cd = findRange(ruby.callData.start, ruby.callData.end, addr);
    if (cd >= 0) {
      ctx.iseqCacheCause.set(ruby.callData.owner[cd], 'icache.call');
      continue;
    }
    const ie = findRange(ruby.isEntries.start, ruby.isEntries.end, addr);
    if (ie >= 0 && !ctx.iseqCacheCause.has(ruby.isEntries.owner[ie]))
      ctx.iseqCacheCause.set(ruby.isEntries.owner[ie], otherWordCause(ctx, addr, oldAt(k), newAt(k), gcRuns));
  }
  chunkOwner = allocatedChunkCauses(ctx, diffs, pageBody);
  const regions = new Map<string, Map<string, { pages: number; words: number }>>();
  const pageCause: string[] = [];
  const blamePage = (page: number, cause: string) => {
    pageCause.push(cause);
    bump(causes, cause, 1, 0);
    const region = regionOfPage(ctx, page);
    if (!regions.has(region)) regions.set(region, new Map());
    bump(regions.get(region)!, cause, 1, 0);
  };
  let w = 0;
  for (let p = 0; p < diffs.addrs.length; p++) {
    const page = diffs.addrs[p];
    const first = w;
    while (w < diffs.wordPage.length && diffs.wordPage[w] === p) w++;
    const status = diffs.status[p];
    if (status === 0) {
      blamePage(page, identicalPageCause(ctx, page, ps, gcRuns));
      continue;
    }
    if (status !== 1) {
      blamePage(page, 'unknown');
      continue;
    }
    const body = pageBody[p];
    // Old and new flags of the slots whose flags word changed on this page.
    const oldFlags = new Map<number, Word>();
    const newFlags = new Map<number, Word>();
    if (body >= 0) {
      const start = ruby.slotStart[body];
      const size = ruby.slotSize[body];
      for (let k = first; k < w && start && size; k++) {
        const addr = page + diffs.wordOffset[k];
        if (addr >= start && (addr - start) % size === 0) {
          oldFlags.set(addr, oldAt(k));
          newFlags.set(addr, newAt(k));
        }
      }
    }
    const wordsHere = new Map<string, number>();
    const perSlot = new Map<number, { obj: number; type: number; words: number }>();
    for (let k = first; k < w; k++) {
      const addr = page + diffs.wordOffset[k];
      const O = oldAt(k);
      const N = newAt(k);
      let cause: string;
      const s = body >= 0 ? slotOf(ctx, body, addr, oldFlags) : undefined;
      if (s) {
        cause = heapWordCause(ctx, s, addr - s.slot, O, N, newFlags.get(s.slot));
        const e = perSlot.get(s.slot) ?? { obj: s.obj, type: s.type, words: 0 };
        e.words++;
        perSlot.set(s.slot, e);
      } else {
        cause = otherWordCause(ctx, addr, O, N, gcRuns);
      }
      wordsHere.set(cause, (wordsHere.get(cause) ?? 0) + 1);
    }
    let primary = 'unknown';
    let most = -1;
    for (const [c, n] of wordsHere) {
      if (n > most || (n === most && causeRank(c) < causeRank(primary))) [primary, most] = [c, n];
    }
    blamePage(page, primary);
    for (const [c, n] of wordsHere) bump(causes, c, 0, n);
    if (perSlot.size) {
      let owner = { obj: -1, type: -1, words: -1 };
      for (const e of perSlot.values()) {
        if (e.words > owner.words) owner = e;
        bump(byType, TYPE_NAMES[e.type] ?? 'unknown', 0, e.words);
        bump(byClass, classNameOf(ctx, e.obj), 0, e.words);
        const site = e.obj >= 0 ? ruby.objects.site[e.obj] : -1;
        if (site >= 0) bump(bySite, ruby.sites[site], 0, e.words);
      }
      bump(byType, TYPE_NAMES[owner.type] ?? 'unknown', 1, 0);
      bump(byClass, classNameOf(ctx, owner.obj), 1, 0);
      const site = owner.obj >= 0 ? ruby.objects.site[owner.obj] : -1;
      if (site >= 0) bump(bySite, ruby.sites[site], 1, 0);
    }
  }
  const blame = sortCauses(causes);
  const byRegion = [...regions.entries()]
    .map(([region, m]) => ({ region, pages: [...m.values()].reduce((n, v) => n + v.pages, 0), blame: sortCauses(m) }))
    .sort((a, b) => b.pages - a.pages);
  return {
    pid: diffs.pid,
    pages: diffs.addrs.length,
    blame,
    byType: top(byType, 'type', 10),
    byClass: top(byClass, 'class', 10),
    bySite: top(bySite, 'site', 10),
    byRegion,
    perPage: { addr: diffs.addrs, cause: pageCause },
    unknownVersion: ctx.layout ? undefined : capture.runtime?.version,
  };
}

/** Blame for every child of a run capture (empty when the capture has no Ruby structures). */
export function blameRun(capture: Capture): ChildBlame[] {
  if (!capture.ruby || !capture.diffs || !capture.run) return [];
  return capture.run.children.map((pid, i) => blameChild(capture, capture.diffs!.find((d) => d.pid === pid)!, capture.run!.gcRuns[i] ?? 0));
}
