// Blame for CPython: the cause of every changed word of a copied page, from what lies at its address in
// the fork-time image (an object of the heap map and the offset in it, a pymalloc pool header, a block
// that was free at the fork, a glibc chunk, a mapping), and the cause of a copied page whose bytes did
// not change (a store of the same value: a reference count raised and dropped again, a collection's
// links stored back). Both are ordered rule tables: the first rule that matches names the cause.

import type { Capture, PageDiffs } from '../../native/capture';
import type { PageBlamer, StepCost, StepEffect, WordOwner } from '../adapter';
import { RangeCursor, SortedCursor, Word, WordValues, findRange, indexOf, isZero, lastAtOrBelow, num, wordAddresses } from '../../blame/words';
import type { Remedy } from '../../blame/catalog';
import { CW, ChunkWords, GlibcView, MALLOC_WRITERS, binSorted, chunkWords, classifyChunkWords, glibcView, onlyFreeAtFork, someFreeAtFork, trimReleases, unsampledSortOf } from '../../allocators/glibc/rules';
import { mainHeap } from '../../allocators/glibc/chunks';
import { regionsOf } from '../../analyzers/regions';
import { MappedFiles, isLazyBinding, mappedFiles } from '../../blame/lazy-binding';
import { forkPathCopied, forkPathKeptBytes, forkWroteWord } from '../../analyzers/fork-path';
import { FirstFault, childTrace, exactFirstWriterOf, firstFaultOf, inCollection, sourceName } from '../../blame/first-writer';
import { nativeWriterOf } from '../../blame/native-writer';
import type { FreeSpace, GarbageSpace, NewBlocks, Pools, PythonStructures } from './discover';
import { BUFFER_KINDS, PythonHeapMap, RANGE_KINDS, STATE, TYPE_BASES } from './heap-map';
import { CONTEXTVAR_CACHE, DICT_KEYS_VERSION_WORD, GC_HEAD_BYTES, POOL, POOL_HEADER, PYTHON_STRATEGY_STEPS, PythonLayout, pythonLayoutFor } from './layouts';

interface Context {
  L: PythonLayout | undefined;
  map: PythonHeapMap;
  codeEnds: Float64Array;
  bufferEnds: Float64Array;
  rangeEnds: Float64Array;
  pools: Pools;
  childPools: Pools;
  glibc: GlibcView;
  /** what each changed word is to glibc (computed once, for all words: glibcCause asks of most) */
  cw: ChunkWords;
  vmaStarts: Float64Array;
  vmaEnds: Float64Array;
  vmaRegion: string[];
  /** the same mappings' files, for the dynamic linker's lazy bindings */
  files: MappedFiles;
  gcRuns: number;
  /** collections of the oldest generation among them (the agent reports it; where not known, e.g. in
   *  live mode, every run counts as full) */
  gcFullRuns: number;
  /** the agent counted the child's collections (run); false against a live map, where gcRuns is a guess */
  collectionsKnown: boolean;
  forkPathCopied: (page: number) => boolean;
  /** of those, the pages whose bytes the fork path left as the parent's (forkPathKeptBytes) */
  forkPathKept: (page: number) => boolean;
  /** did the fork path write the word at this address (the twin's value is not the parent's)? */
  forkWrote: (addr: number) => boolean;
  /** the first write of a copied page (fault tracing), undefined where not seen */
  firstFault: (page: number) => FirstFault | undefined;
  /** a page with no fault sampled in a child whose trace lost samples and shows a sort (unsampledSortOf) */
  unsampledSort: (g: GlibcView, page: number) => boolean;
  /** could the collector have written at this time (ns from the continue, fault tracing's clock)? */
  inCollection: (ns: number) => boolean;
  /** the pools' free blocks at the fork, ascending (undefined: not recorded) */
  freeBlocks: Float64Array | undefined;
  /** blocks in use at the fork that held a dead object (PythonStructures.deadBlocks) */
  deadBlocks: Float64Array | undefined;
  /** the native library of the program that first wrote a copied page (its file), if one did */
  nativeWriter: (page: number) => string | undefined;
  /** map objects whose type word changed in the child: freed, and their block holds another object */
  replaced: Set<number>;
  /** map objects the child freed (their reference count, live at the fork, dropped to 0, or pymalloc's
   *  link written over it) and whose block holds no other object yet */
  freed: Set<number>;
  /** the fork-time pools where garbage of the fork (STATE.garbage) changed: the child freed it there */
  garbagePools: Set<number>;
  /** fork-time pools the child emptied and carved again for blocks of another size (their header's size
   *  class changed): every block in them is the child's allocation */
  recarvedPools: Set<number>;
  /** buffers (index in map.buffers) whose owner, alive, let go of them in the child: a word of the owner
   *  that held the buffer's address holds another now (a list's items or a dict's keys moved as it grew):
   *  the resize freed the old buffer */
  releasedBuffers: Set<number>;
  pageSize: number;
}

/** Index of the map object whose extent [addr - pre, addr + size) holds a, or -1; i: the last object at
 *  or below a (a cursor's answer). */
function objectAt(m: PythonHeapMap['objects'], a: number, i: number): number {
  if (i >= 0 && a < m.addr[i] + m.size[i]) return i;
  const j = i + 1;
  return j < m.addr.length && a >= m.addr[j] - m.pre[j] ? j : -1;
}

const poolAt = (p: Pools, a: number): number => findRange(p.start, (i) => p.start[i] + POOL.size, a);

/** One changed word and what lies at its address. */
interface At {
  ctx: Context;
  /** the word's index in the diffs */
  k: number;
  addr: number;
  O: Word;
  N: Word;
  /** map object holding the word (-1: none), its type name, the word's offset from id(o) */
  obj: number;
  type: string;
  /** str, bytes, dict or list where the object is one, or of a subclass of one (the words CPython caches
   *  in a str or bytes lie where they do in the base: its hash, a str's UTF-8 form); '' otherwise */
  base: string;
  off: number;
  /** pool of the fork-time image (-1: none) and the word's offset in it; the child's pool */
  pool: number;
  poolOff: number;
  childPool: number;
  buffer: number;
  region: string;
  /** outside every map object, in a block of a fork-time pool: the block's start (-1: none), the map
   *  object whose extent begins in the same block (-1: none), and the block's first word, fork-time and
   *  now, where the child changed it (null: unchanged) */
  block: number;
  blockObj: number;
  blockFirst: { O: Word; N: Word } | null;
}

/** str, bytes, dict or list for an object of type index t that is one or whose type subclasses one, else
 *  ''. Where the map names no base, the type's own name: in a capture made before the map named bases,
 *  any of them; in one made before it named dict's and list's, those two (a class of the program's named
 *  str that subclasses no str is told since bases were named). */
function baseOf(map: PythonHeapMap, t: number): string {
  const name = map.types[t];
  if (!map.typeBases) return (TYPE_BASES as readonly string[]).includes(name) ? name : '';
  return TYPE_BASES[map.typeBases[t]] || (name === 'dict' || name === 'list' ? name : '');
}

/** The bytes of a dict's and a list's own struct (PyDictObject, PyListObject: 3.8-3.13, 64-bit), from the
 *  object's start: a subclass's fields follow them. */
const BASE_BYTES: Record<string, number> = { dict: 48, list: 40 };

/** Is the word one of its base's fields: any word of a dict or list itself, a subclass instance's below the
 *  base's size? */
function inBaseFields(w: At): boolean {
  return w.type === w.base || (w.off >= 0 && w.off < (BASE_BYTES[w.base] ?? 0));
}

/** A reference count's change: a small step of a mortal object's count (3.12+: its low 32 bits; an
 *  immortal object keeps 0xffffffff there and is never written). */
function refcountStep(L: PythonLayout | undefined, O: Word, N: Word): boolean {
  if (L?.refcount === 'u32') return O.hi === N.hi && O.lo !== 0xffffffff && Math.abs(N.lo - O.lo) < 1 << 24;
  return O.hi === 0 && N.hi === 0 && Math.abs(N.lo - O.lo) < 1 << 24;
}

/** A str's state word: only its interned bits (the low two) changed, from not interned. */
const internedNow = (O: Word, N: Word): boolean => O.hi === N.hi && (O.lo & 3) === 0 && (N.lo & 3) !== 0 && (O.lo & ~3) === (N.lo & ~3);

/** A 3.12+ count made immortal: its low 32 bits to 0xffffffff from a mortal count. */
const madeImmortal = (O: Word, N: Word): boolean => O.hi === N.hi && O.lo !== 0xffffffff && N.lo === 0xffffffff;

const inAdaptive = (w: At): boolean => {
  const c = findRange(w.ctx.map.code.start, w.ctx.codeEnds, w.addr);
  return c >= 0 || (w.ctx.L?.codeWarmupWord !== null && w.off === w.ctx.L?.codeWarmupWord);
};
/** Is the word a function's __dict__ made from nothing, or its __annotations__ made from nothing or from
 *  the compiler's tuple (the map's object at the old value a tuple)? */
function lazyFunctionAttr(w: At, L: PythonLayout): boolean {
  if (w.off === L.funcDict) return isZero(w.O);
  if (w.off !== L.funcAnnotations) return false;
  if (isZero(w.O)) return true;
  const m = w.ctx.map.objects;
  const i = indexOf(m.addr, num(w.O));
  return i >= 0 && w.ctx.map.types[m.type[i]] === 'tuple';
}

const isType = (w: At): boolean => !!(w.ctx.map.objects.state[w.obj] & STATE.type);
/** Py_TPFLAGS_VALID_VERSION_TAG (3.8-3.13), in tp_flags' low half */
const VALID_VERSION_TAG = 1 << 19;
/** A type's word where a version tag assigned before the fork was cleared: tp_version_tag (an unsigned
 *  int, the word's low half) nonzero at the fork and changed, or tp_flags' valid-tag bit cleared. */
function versionInvalidated(w: At): boolean {
  const L = w.ctx.L;
  if (!L) return false;
  if (w.off === L.typeVersionTag) return w.O.lo !== 0 && w.O.lo !== w.N.lo;
  return w.off === L.typeFlags && (w.O.lo & VALID_VERSION_TAG) !== 0 && (w.N.lo & VALID_VERSION_TAG) === 0;
}
const hasGcHead = (w: At): boolean => w.ctx.map.objects.pre[w.obj] >= GC_HEAD_BYTES;
/** The types a collection untracks when they hold nothing it follows, exactly these (untrack_tuples and,
 *  3.11-3.12, untrack_dicts: not a subclass, a namedtuple). */
const UNTRACKED_BY_COLLECTIONS = new Set(['tuple', 'dict']);

/** A GC head word of a tracked, unfrozen tuple or dict at the fork, now 0, after a collection in the child
 *  (untracking clears both words; a freed object's are the free's, told before). */
function untrackedByCollection(w: At): boolean {
  const s = w.ctx.map.objects.state[w.obj];
  return (w.ctx.gcRuns > 0 || w.ctx.gcFullRuns > 0) && isZero(w.N) && UNTRACKED_BY_COLLECTIONS.has(w.type) && (s & (STATE.tracked | STATE.frozen)) === STATE.tracked;
}

/** Did a collection in the child visit map object i? Only tracked, unfrozen objects are visited; a
 *  young collection (generations 0 and 1) visits only those still young at the fork, a full one all. */
function collected(ctx: Context, i: number): boolean {
  const s = ctx.map.objects.state[i];
  if ((s & (STATE.tracked | STATE.frozen)) !== STATE.tracked) return false;
  return ctx.gcFullRuns > 0 || (ctx.gcRuns > 0 && (s & STATE.young) !== 0);
}
/** A GC head link (_gc_next, or _gc_prev, whose low three bits are the collector's flags) of a live object
 *  that held the head of a map object the child freed (its count to 0: ctx.freed): the free unlinked that
 *  neighbour from the collector's list, and rewrote this link to the one past it. QA: 30,000 lists made
 *  alternately with 30,000 instances, the lists dropped in the child (no collection): 589-591 pages a
 *  child py.gc.link on the instances, which freeze was predicted to save, where it saved 2 and -1 (3.11,
 *  3.12). */
function neighbourFreed(w: At): boolean {
  const was = w.O.hi * 4294967296 + ((w.O.lo & ~7) >>> 0);
  if (!was || w.ctx.freed.has(w.obj)) return false;
  const i = indexOf(w.ctx.map.objects.addr, was + GC_HEAD_BYTES);
  return i >= 0 && i !== w.obj && w.ctx.freed.has(i);
}
/** A tracked object left out of a freeze: the heap was frozen at the fork, this object was not. */
const unfrozenInFrozenHeap = (w: At): boolean => programFroze(w.ctx) && collected(w.ctx, w.obj);
/** The program or the strategy called gc.freeze() (beyond what the interpreter froze at its start). */
const programFroze = (ctx: Context): boolean => ctx.map.frozen > ctx.map.frozenAtStart;

/** Is the value a pymalloc free-list link of the word's pool: NULL, or a block boundary in that pool? */
function isPoolLink(w: At, v: number): boolean {
  return isLinkIn(w.ctx.pools, w.pool, v);
}

/** Is v pymalloc's free-list link in fork-time pool p: 0, or the start of a block of the pool? */
function isLinkIn(pools: Pools, p: number, v: number): boolean {
  const base = pools.start[p];
  return v === 0 || (v >= base + POOL.header && v < base + POOL.size && (v - base - POOL.header) % pools.blockSize[p] === 0);
}

/** A block that held a dead object on a type's free list at the fork (deadBlocks), freed in the child
 *  after a full collection there: the collection emptied the free list. */
function freedDeadBlock(w: At): boolean {
  return w.ctx.gcFullRuns > 0 && !!w.ctx.deadBlocks && heldAtFork(w) && indexOf(w.ctx.deadBlocks, w.block) >= 0 && w.blockFirst !== null && isPoolLink(w, num(w.blockFirst.N));
}

/** Was the word's block in use at the fork: carved (below the pool's nextoffset) and not on the pool's
 *  free list then (the list as the probe walked it in the fork-time image). A capture made before the
 *  lists were recorded has only the block's first word to go by: not a free-list link at the fork, or
 *  unchanged (which a block the child allocated and freed again leaves too: pymalloc's lists are LIFO). */
function heldAtFork(w: At): boolean {
  if (w.block < 0 || w.block - w.ctx.pools.start[w.pool] >= w.ctx.pools.nextOffset[w.pool]) return false;
  const free = w.ctx.freeBlocks;
  if (free) return indexOf(free, w.block) < 0;
  return w.blockFirst === null || !isPoolLink(w, num(w.blockFirst.O));
}

/** Is the new value of an object's first word (its count, where it has no GC head) pymalloc's free-list
 *  link, not a step of the count? pymalloc_free points a freed block's first word to the pool's previous
 *  free block: an address in the word's pool (or NULL, which the caller takes as a count dropped to 0). */
function freedByLink(ctx: Context, addr: number, O: Word, N: Word): boolean {
  if (refcountStep(ctx.L, O, N)) return false;
  const pool = poolAt(ctx.pools, addr);
  if (pool < 0) return false;
  const v = num(N);
  return v >= ctx.pools.start[pool] && v < ctx.pools.start[pool] + POOL.size;
}

/** Did the child free the object owning the word's buffer (its block may hold another object by now)? */
function ownerGone(w: At): boolean {
  const o = indexOf(w.ctx.map.objects.addr, w.ctx.map.buffers.owner[w.buffer]);
  return o >= 0 && (w.ctx.freed.has(o) || w.ctx.replaced.has(o));
}

/** Was the word's buffer freed in the child: its owner freed, or, alive, pointing elsewhere now
 *  (releasedBuffers)? */
const bufferFreed = (w: At): boolean => w.ctx.releasedBuffers.has(w.buffer) || ownerGone(w);

/** Per type whose value is fixed at creation, the words of an instance that only a new object in its
 *  block changes: all past the header (ints, floats, complex numbers), or all but those the object
 *  computes and keeps later (a str's or bytes' hash, a str's interned state and UTF-8 form; 3.14 caches
 *  a tuple's hash, a version this table has no row for). A changed word there is a new object in the
 *  freed block. Found on a child replacing 50,000 preloaded ints in a list (their blocks reused by the
 *  loop's new ints): 198 pages of py.mutation.object, "the program changed a field of another preloaded
 *  Python object"; QA, the same with 30,000 strs of 46 characters: 707 of 874 pages (3.11). */
const VALUE_FIXED = new Map<string, (off: number, L: PythonLayout | undefined) => boolean>([
  ['int', (off) => off > 8],
  ['float', (off) => off > 8],
  ['complex', (off) => off > 8],
  ['bytes', (off, L) => !!L && off > 8 && off !== L.bytesHash],
  ['tuple', (off, L) => !!L && off > 8],
  // its length, and its characters past the compact header (an ASCII str's first ones share the words of
  // utf8_length and utf8, which are a non-ASCII str's cache)
  ['str', (off, L) => !!L && (off === 16 || off >= L.strCharsFrom)],
]);

/** Is addr in the bytes object a BytesIO writes in place (3.12+ names it to the GC: an object of the map)? */
function isBytesIoBuffer(ctx: Context, addr: number): boolean {
  const b = findRange(ctx.map.buffers.start, ctx.bufferEnds, addr);
  return b >= 0 && BUFFER_KINDS[ctx.map.buffers.kind[b]] === 'bytesio';
}

/** Changed words, first match wins. */
const WORD_RULES: { cause: string | ((w: At) => string); when: (w: At) => boolean }[] = [
  { cause: 'exec.stack', when: (w) => w.region === 'stack' },
  // 3.11+: the frames' own stack (the chunks the map's R lines give), where a worker's calls put their
  // frames above the fork-time ones. Found on the Django app of the tests: 2 pages, 936 words a child,
  // unknown before.
  { cause: 'exec.stack', when: (w) => inRange(w.ctx, w.addr, 'datastack') },
  // A pool's header where the pool held garbage and a full collection freed it: the frees' counts and
  // free-list head (the same program: 170 pages a child were only these and the garbage's own words).
  { cause: 'py.gc.garbage', when: (w) => w.pool >= 0 && w.poolOff < POOL.header && w.ctx.garbagePools.has(w.pool) },
  { cause: 'py.obmalloc.pool', when: (w) => (w.pool >= 0 || w.childPool >= 0) && w.poolOff < POOL.header },
  // A preloaded object freed in the child whose block now holds a new one: all of it is the allocation.
  { cause: 'py.obmalloc.alloc', when: (w) => w.obj >= 0 && w.ctx.replaced.has(w.obj) },
  // A pool the child emptied (its preloaded objects and buffers freed) and carved again for blocks of
  // another size: whatever lies there now is the child's. Found on workers growing 30,000 preloaded dicts
  // (QA): the old keys tables freed, their pools taken by the new, larger tables, 947 pages a child
  // py.mutation.buffer ("the program changed" the old tables), first written by _PyObject_Free.
  { cause: 'py.obmalloc.alloc', when: (w) => w.pool >= 0 && w.poolOff >= POOL.header && w.ctx.recarvedPools.has(w.pool) },
  // Garbage at the fork (a reference cycle the program dropped, and what only such cycles held), which a
  // full collection in the child unlinked, cleared and freed: its header, fields and free-list link, and
  // its buffers. Before the collector's and the allocator's rules: a collection before the fork would
  // have freed it in the parent. Found on a program dropping 40,000 list-dict cycles, collecting in the
  // child: 1,004K a child was py.mutation.buffer ("the program changed") and py.obmalloc.free, and gc was
  // predicted to save nothing where it saved 3.0M (3.11).
  { cause: 'py.gc.garbage', when: (w) => w.obj >= 0 && (w.ctx.map.objects.state[w.obj] & STATE.garbage) !== 0 },
  { cause: 'py.gc.garbage', when: (w) => w.obj < 0 && w.buffer >= 0 && w.ctx.map.garbageBuffers?.[w.buffer] === 1 },
  // A preloaded object the child freed (no collection: its last reference dropped): its count to 0 or
  // pymalloc's link over it, the words before it, where that link goes in a GC object (the block's first
  // word: the GC head's _gc_next, or a managed dict pointer) and which untracking it cleared, and what its
  // deallocation wrote in it (a type's free list: a float's link in its type word, a tuple's in its first
  // item). Before the collector's rules: a GC head's words are no collection's, and freezing would not
  // keep them. Found on workers evicting every other entry of a 40,000-row cache of small dicts (QA,
  // 3.11-3.13): ~940 pages a child py.gc.link.
  { cause: 'py.obmalloc.free', when: (w) => w.obj >= 0 && w.ctx.freed.has(w.obj) },
  // A tuple or dict a collection in the child stopped tracking (it holds nothing the collector follows):
  // both words of its GC head cleared. A collection before the fork untracks it in the parent. QA: 80,000
  // preloaded 2-tuples of ints, gc.collect() in the child: 1,395-1,552 pages a child py.gc.link, which
  // only freeze removes, and gc predicted to save 8-33 pages where it saved 1,318-1,372 (3.11-3.13).
  { cause: 'py.gc.untrack', when: (w) => w.obj >= 0 && w.off < 0 && w.off >= -GC_HEAD_BYTES && hasGcHead(w) && untrackedByCollection(w) },
  { cause: 'py.gc.freeze-missing', when: (w) => w.obj >= 0 && w.off < 0 && w.off >= -GC_HEAD_BYTES && hasGcHead(w) && unfrozenInFrozenHeap(w) },
  { cause: 'py.gc.unlink', when: (w) => w.obj >= 0 && w.off < 0 && w.off >= -GC_HEAD_BYTES && hasGcHead(w) && neighbourFreed(w) },
  { cause: 'py.gc.link', when: (w) => w.obj >= 0 && w.off < 0 && w.off >= -GC_HEAD_BYTES && hasGcHead(w) },
  // before the GC head: a managed dict or values pointer (attributes of an instance)
  { cause: 'py.mutation.object', when: (w) => w.obj >= 0 && w.off < 0 },
  // A str interned in the child (sys.intern, a name made at run time): the interned bits of its state
  // set, and on 3.12 the string made immortal (its count's low half to 0xffffffff). Found on workers
  // interning 40,000 preloaded strings (QA): 80,000 words py.mutation.object a child, its top cause on 3.12.
  { cause: 'py.str.intern', when: (w) => w.obj >= 0 && w.type === 'str' && w.off === w.ctx.L?.strState && internedNow(w.O, w.N) },
  { cause: 'py.str.intern', when: (w) => w.obj >= 0 && w.type === 'str' && w.off === 0 && w.ctx.L?.refcount === 'u32' && madeImmortal(w.O, w.N) },
  { cause: 'py.refcount', when: (w) => w.obj >= 0 && w.off === 0 && refcountStep(w.ctx.L, w.O, w.N) },
  { cause: 'py.specialize.code', when: (w) => w.obj >= 0 && w.type === 'code' && inAdaptive(w) },
  // 3.12+: the instrumentation sys.monitoring keeps in a code object (its version and the monitoring
  // data's pointer), set on the first call after a profiler or tracer turned events on, as it rewrites
  // the code's instructions. QA: sys.setprofile in the child over 8,000 warmed functions, 16,020 words of
  // py.mutation.object a child (3.12, 3.13).
  { cause: 'py.specialize.code', when: (w) => w.obj >= 0 && w.type === 'code' && !!w.ctx.L?.codeMonitoring && w.off >= w.ctx.L.codeMonitoring.from && w.off < w.ctx.L.codeMonitoring.to },
  // (of a subclass's instance too: QA, 20,000 instances of a str subclass and of a bytes subclass hashed
  // in the child, one word each, were py.mutation.object, "the program changed a field")
  { cause: 'py.str.hash', when: (w) => w.obj >= 0 && ((w.base === 'str' && w.off === w.ctx.L?.strHash) || (w.base === 'bytes' && w.off === w.ctx.L?.bytesHash)) },
  // A non-ASCII str's UTF-8 form, made on first use and kept (its length, and the pointer to a chunk of
  // its own), both 0 at the fork. Found on workers binding 40,000 preloaded non-ASCII strs as sqlite3
  // parameters (QA): 946-1,107 pages a child py.mutation.object, first written by unicode_fill_utf8; the
  // same of a str subclass's instances (their own type's name: Django's SafeString), 472-631 pages.
  { cause: 'py.str.utf8', when: (w) => w.obj >= 0 && w.base === 'str' && !!w.ctx.L && (w.off === w.ctx.L.strUtf8 || w.off === w.ctx.L.strUtf8 + 8) && isZero(w.O) },
  // The hash other types cache (the map names the field per type): found on a program whose workers
  // hashed 50,000 preloaded datetimes, 50,000 Decimals and 20,000 frozensets, one word each: 3,086 pages
  // a child of py.mutation.object on 3.11, "the program changed a field", where it had only read.
  { cause: 'py.hash', when: (w) => w.obj >= 0 && w.off > 0 && w.off === w.ctx.map.typeHashWords?.[w.ctx.map.objects.type[w.obj]] },
  // Caches the interpreter fills in an object on first use: a code object's attributes (read by
  // inspect.signature, dis, a traceback), and a ContextVar's value and context version (rewritten by a
  // get() in each new context). QA: 5,000 code objects' co_code read in the child, 280-296 pages a child
  // py.mutation.object; 20,000 ContextVars read in a copied context, 393-395 pages ("the program changed
  // a field", where it only read).
  { cause: 'py.code.cache', when: (w) => w.obj >= 0 && w.type === 'code' && (w.off === w.ctx.L?.codeCached || w.off === w.ctx.L?.codeLineArray) && isZero(w.O) },
  // A function's __dict__ (an empty dict: functools.wraps and update_wrapper read it) and __annotations__
  // (the compiler's tuple of names and values turned into a dict: inspect.signature, typing.get_type_hints,
  // FastAPI and click introspecting handlers), made on first read and kept in the function. QA: 20,000
  // functions of each read in the child, 1,569-1,570 pages a child py.mutation.object (3.11-3.13).
  { cause: 'py.lazy.attr', when: (w) => w.obj >= 0 && w.type === 'function' && !!w.ctx.L && lazyFunctionAttr(w, w.ctx.L) },
  { cause: 'py.contextvar.cache', when: (w) => w.obj >= 0 && w.type === 'ContextVar' && w.off >= CONTEXTVAR_CACHE.from && w.off < CONTEXTVAR_CACHE.to },
  // A type's version tag invalidated: the program changed the class (set or deleted an attribute: C.a = 1),
  // and PyType_Modified cleared the tag a lookup had assigned before the fork (and the flag saying it is
  // valid, 3.8-3.12), whatever a later lookup assigned again. Found on workers setting an attribute of
  // 3,000 preloaded classes whose methods the parent had called (QA, 3.11-3.13): 1,301-1,313 pages a child
  // py.specialize.version, "assigned lazily for the specializer", whose remedy (call the hot functions
  // in the parent) is what put a tag there to clear.
  { cause: 'py.mutation.object', when: (w) => w.obj >= 0 && isType(w) && versionInvalidated(w) },
  { cause: 'py.specialize.version', when: (w) => w.obj >= 0 && isType(w) && (w.off === w.ctx.L?.typeFlags || w.off === w.ctx.L?.typeVersionTag || w.off === w.ctx.L?.typeVersionsUsedWord) },
  { cause: 'py.specialize.version', when: (w) => w.obj >= 0 && w.type === 'function' && w.off === w.ctx.L?.funcVersion },
  // A word at-fork handlers wrote (the twin holds another value than the parent): the random module's
  // reseed rewrites its Random's whole state in every child, with values of its own. Before the program's
  // mutation rules: the page is copied in every child whatever the program does.
  { cause: 'fork.atfork', when: (w) => w.ctx.forkWrote(w.addr) },
  // A BytesIO's bytes object (3.12+ names it to the GC, so it is an object of the map too), written in
  // place: the contents of the BytesIO's buffer
  { cause: 'py.mutation.buffer', when: (w) => w.obj >= 0 && w.off > 0 && w.buffer >= 0 && BUFFER_KINDS[w.ctx.map.buffers.kind[w.buffer]] === 'bytesio' },
  // (by the base: a Counter, an OrderedDict, a defaultdict, a list subclass; in a subclass's instance,
  // the base's fields only: what the subclass adds after them, its __slots__, a weakref list, its
  // __dict__ pointer, is the object's)
  { cause: 'py.mutation.dict', when: (w) => w.obj >= 0 && w.base === 'dict' && inBaseFields(w) },
  { cause: 'py.mutation.list', when: (w) => w.obj >= 0 && w.base === 'list' && inBaseFields(w) },
  { cause: 'py.mutation.object', when: (w) => w.obj >= 0 },
  // The buffer of an object the child freed, freed with it: pymalloc's free-list link in its block's first
  // word (a keys table's dk_refcnt), glibc's header and links in a larger one's chunk. Found on the same
  // cache's eviction: ~1,540 pages a child py.mutation.buffer, "the program changed", first written by
  // dict_dealloc. So is one a live owner let go of as it grew (bufferFreed): QA, 20,000 preloaded dicts
  // grown from 8 slots to 16 and 20,000 lists appended to past their capacity, 1,256 and 779 pages a child
  // py.mutation.buffer (3.11-3.13), the old arrays' first words.
  { cause: 'py.obmalloc.free', when: (w) => w.buffer >= 0 && w.pool >= 0 && w.addr === w.ctx.map.buffers.start[w.buffer] && isPoolLink(w, num(w.N)) && bufferFreed(w) },
  { cause: 'malloc.meta', when: (w) => w.buffer >= 0 && w.pool < 0 && glibcCause(w) === 'malloc.meta' && bufferFreed(w) },
  {
    cause: 'py.specialize.version',
    when: (w) => w.buffer >= 0 && BUFFER_KINDS[w.ctx.map.buffers.kind[w.buffer]] === 'dictkeys' && w.addr - w.ctx.map.buffers.start[w.buffer] === DICT_KEYS_VERSION_WORD,
  },
  // an instance's attribute values array (3.11, 3.12): its attributes
  { cause: 'py.mutation.object', when: (w) => w.buffer >= 0 && BUFFER_KINDS[w.ctx.map.buffers.kind[w.buffer]] === 'values' },
  { cause: 'py.mutation.buffer', when: (w) => w.buffer >= 0 },
  // The interned strings' dict and its keys table (the interpreter's, not the program's): a string
  // interned in the child (sys.intern, an attribute or keyword name made at run time) is an entry. Before
  // the pool rules: the dict object is a block in a pool that no object of the map covers. Found on a
  // service whose workers imported and formatted: 196 words on 10-14 pages were unknown (3.11-3.13).
  { cause: 'mutation.hash-table', when: (w) => inRange(w.ctx, w.addr, 'interned') },
  // In a pool, outside every object of the map, in the block of one whose extent the map gives short of
  // it (3.13's inline attribute values): that object's cause where it was garbage at the fork or the child
  // freed it (QA: 41,712 words of garbage a gc.collect() in the child freed were py.obmalloc.free on 3.13,
  // py.gc.garbage on 3.11/3.12).
  { cause: 'py.gc.garbage', when: (w) => w.blockObj >= 0 && (w.ctx.map.objects.state[w.blockObj] & STATE.garbage) !== 0 },
  { cause: 'py.obmalloc.free', when: (w) => w.blockObj >= 0 && w.ctx.freed.has(w.blockObj) },
  // In a pool, outside every object of the map, a block that was in use at the fork (its first word no
  // free-list link then): memory an object keeps outside itself, allocated with PyMem_Malloc (3.11 and
  // 3.12: an instance's attribute values array; an OrderedDict's nodes; a bytearray's bytes), or on 3.13
  // an object's inline attribute values, past the size the map gives it but in its block. The child freed
  // it if its first word is a link now. Found on a program updating an attribute of preloaded instances
  // and moving OrderedDict entries (3.11: 1,995 pages were py.obmalloc.alloc, allocation into free blocks,
  // on ~1,900 of which no block had been free).
  // ... unless it held a dead object a type's free list kept (a tuple, list, dict or float waiting for
  // reuse), which a full collection in the child freed: a full collection empties the free lists, as one
  // before the fork does. QA: 38,000 tuples dropped before the fork, gc.collect() in the child: 948-1,116
  // pages a child py.obmalloc.free, which no step removes, where gc saved 937-1,111 (3.11-3.13).
  { cause: 'py.gc.garbage', when: (w) => freedDeadBlock(w) },
  { cause: 'py.obmalloc.free', when: (w) => heldAtFork(w) && w.blockFirst !== null && isPoolLink(w, num(w.blockFirst.N)) },
  { cause: 'py.mutation.object', when: (w) => heldAtFork(w) && w.blockObj >= 0 },
  // A dead object the interpreter kept for reuse: tuples (up to 2,000 of each size below 20), lists and
  // dicts wait on their type's free list in blocks pymalloc counts in use, untracked, their count 0. The
  // child took it (and may have let it go back): an allocation into memory free at the fork, as into a
  // freed block. Found on a program dropping 38,000 tuples before the fork whose workers built as many:
  // 1,156-1,189 pages a child py.mutation.buffer, "the program changed an object's buffer" (3.11-3.13).
  { cause: 'py.obmalloc.alloc', when: (w) => heldAtFork(w) && !!w.ctx.deadBlocks && indexOf(w.ctx.deadBlocks, w.block) >= 0 },
  { cause: 'py.mutation.buffer', when: (w) => heldAtFork(w) },
  // In a pool, outside every object of the map: a block free at the fork (or never used) that the
  // child allocated; or a pool the child carved from a free one.
  { cause: 'py.obmalloc.alloc', when: (w) => w.pool >= 0 || w.childPool >= 0 },
  { cause: (w) => glibcCause(w), when: (w) => glibcCause(w) !== '' },
  { cause: 'py.typecache', when: (w) => inRange(w.ctx, w.addr, 'typecache') },
  { cause: 'exec.lazy-bind', when: (w) => w.region === 'file-data' && isLazyBinding(w.ctx.files, w.addr, num(w.O), num(w.N)) },
  { cause: 'vm.globals', when: (w) => w.region === 'file-data' },
  // a word no rule explains, on a page the fork path itself wrote (the twin copied it too)
  { cause: 'fork.atfork', when: (w) => w.ctx.forkPathCopied(w.addr - (w.addr % w.ctx.pageSize)) },
  // ... or on a page a native library of the program wrote first (blame/native-writer.ts)
  { cause: 'mutation.native', when: (w) => w.ctx.nativeWriter(w.addr - (w.addr % w.ctx.pageSize)) !== undefined },
];

/** The interpreter's own files: its executable and libpython. Writes from other files are a native
 *  library's (an extension module, or the C library it wraps). */
const CORE_FILES = /\/(libpython[^/]*\.so[^/]*|python[\d.]*m?)$/;

/** Is the address in an interpreter-state range of the kind? */
function inRange(ctx: Context, addr: number, kind: (typeof RANGE_KINDS)[number]): boolean {
  const r = findRange(ctx.map.ranges.start, ctx.rangeEnds, addr);
  return r >= 0 && RANGE_KINDS[ctx.map.ranges.kind[r]] === kind;
}

/** glibc's own words and memory the child malloc'd; '' for the contents of a chunk in use at the fork. */
function glibcCause(w: At): string {
  const kind = w.ctx.cw.kind[w.k];
  if (kind === CW.NONE || kind === CW.CONTENT) return '';
  return kind === CW.FRESH ? 'alloc.malloc' : 'malloc.meta';
}

interface IdenticalPage {
  ctx: Context;
  page: number;
  pageSize: number;
  region: string;
}

/** Types whose objects the interpreter relinks without touching their counts: a bounded lru_cache's
 *  links (a hit moves its link to the end of the list, prev and next of three links rewritten). */
const RELINKED_TYPES = new Set(['_lru_list_elem']);

/** The map objects on a page: any at all, any a collection in the child visited, and whether every one
 *  is of RELINKED_TYPES. */
function objectsOn(p: IdenticalPage): { any: boolean; visited: boolean; relinkedOnly: boolean } {
  const m = p.ctx.map.objects;
  let i = Math.max(0, lastAtOrBelow(m.addr, p.page) - 1);
  let any = false;
  let visited = false;
  let relinkedOnly = true;
  for (; i < m.addr.length && m.addr[i] - m.pre[i] < p.page + p.pageSize; i++) {
    if (m.addr[i] + m.size[i] <= p.page) continue;
    any = true;
    if (collected(p.ctx, i)) visited = true;
    if (!RELINKED_TYPES.has(p.ctx.map.types[m.type[i]] ?? '')) relinkedOnly = false;
  }
  return { any, visited, relinkedOnly: any && relinkedOnly };
}

/** Does the page hold part of a list's items or a bytearray's bytes (the map's buffers)? */
function onProgramBuffer(p: IdenticalPage): boolean {
  const b = p.ctx.map.buffers;
  const ends = p.ctx.bufferEnds;
  // buffers do not overlap: the last one starting before the page's end, and the one before it
  for (let i = lastAtOrBelow(b.start, p.page + p.pageSize - 1), n = 0; i >= 0 && n < 2; i--, n++)
    if (ends[i] > p.page && PROGRAM_BUFFERS.has(BUFFER_KINDS[b.kind[i]])) return true;
  return false;
}

const PROGRAM_BUFFERS = new Set(['listitems', 'bytearray', 'settable', 'array', 'dequeblock', 'bytesio', 'ctypes', 'mmap', 'stringio', 'lock', 'filebuffer', 'odictnode']);

/** Functions only a collection runs (gcmodule.c 3.8-3.12, gc.c 3.13+): the writers of GC heads and
 *  what a collection calls. visit_decref and visit_reachable run from the objects' tp_traverse. Not the
 *  tracking of new objects (_PyObject_GC_Link, PyObject_GC_Track): that goes on with the collector
 *  frozen or off. */
const COLLECTOR_WRITERS =
  /^(gc_\w+|_?PyGC_\w+|update_refs|subtract_refs|visit_\w+|move_\w+|deduce_unreachable|untrack_\w+|_Py(Tuple|Dict)_MaybeUntrack|collect|collect_\w+|handle_legacy_finalizers|handle_weakrefs|handle_resurrected_objects|finalize_garbage|delete_garbage|check_garbage|clear_unreachable_mask|clear_weakrefs|validate_list|mark_\w+|completed_(cycle|scavenge)|expand_region_transitively_reachable|\w+_traverse)$/;

/** Was the page first written outside the collector: by a function named exactly (.symtab: a name from
 *  .dynsym alone is only the exported symbol before the instruction) that only a collection runs, or,
 *  where the name does not tell, at a time no collection of the child was running (the agent's
 *  gc.callbacks hook records them on the faults' clock)? */
function readFirst(ctx: Context, page: number): boolean {
  const f = ctx.firstFault(page);
  if (!f) return false;
  const w = f.writer;
  if (w && !w.approximate && w.name !== '') return !COLLECTOR_WRITERS.test(sourceName(w.name));
  return !ctx.inCollection(f.ns);
}

/** Was the page first written by a read, as far as can be told: by the first writer, or, where neither a
 *  first writer nor the child's collections are known (a worker blamed against a live map), by default.
 *  A read copies such a page whether or not a collection also ran; taking it for the collector's had a
 *  gunicorn worker that only read its preloaded table 94% py.gc.traverse, and freeze predicted to save
 *  what it then did not. */
function readFirstOrUnknown(ctx: Context, page: number): boolean {
  return readFirst(ctx, page) || (!ctx.collectionsKnown && !ctx.firstFault(page));
}

/** The collection's own cause on a page of tracked objects it visited. */
const visitCause = (ctx: Context): string => (programFroze(ctx) ? 'py.gc.freeze-missing' : 'py.gc.traverse');

/** Functions of CPython that store pointers into the program's objects, and may store them back as
 *  they were: a bounded lru_cache's hit moves its link to the end of the list (three links' prev and
 *  next rewritten), and hits in the order of the links put every one back. */
const OBJECT_STORE_WRITERS = /^(bounded_lru_cache_wrapper|lru_cache_extract_link|lru_cache_append_link|lru_cache_prepend_link)$/;

/** The function that first wrote the page, where its name is known exactly. */
function exactWriter(p: IdenticalPage): string | undefined {
  const w = p.ctx.firstFault(p.page)?.writer;
  return w && !w.approximate ? w.name : undefined;
}

/** Was the page first written by glibc's malloc or free (named exactly)? */
function mallocWroteFirst(p: IdenticalPage): boolean {
  return MALLOC_WRITERS.test(exactWriter(p) ?? '');
}

/** Was the page first written by one of those stores (named exactly)? */
function storedFirst(ctx: Context, page: number): boolean {
  const w = ctx.firstFault(page)?.writer;
  return !!w && !w.approximate && OBJECT_STORE_WRITERS.test(sourceName(w.name));
}

/** Copied pages whose bytes did not change: who stored the same values, first match wins. */
const IDENTICAL_RULES: { cause: string; when: (p: IdenticalPage) => boolean }[] = [
  // glibc's malloc sorting the chunks the parent freed out of its unsorted bin, in the fork path (the twin
  // copied the page too, with the parent's bytes) or in the child (a malloc wrote it first), as in Ruby's
  // table. QA: 40,000 malloc'd blocks of 1,100 bytes freed at the end of the preload, 16,400 pages a child
  // (3.12: fork.atfork; 3.11, whose child's mallocs sorted them: alloc.malloc)
  { cause: 'malloc.bin-sort', when: (p) => binSorted(p.ctx.glibc, p.page, p.pageSize, p.ctx.forkPathKept(p.page), exactWriter(p), p.ctx.unsampledSort(p.ctx.glibc, p.page)) },
  { cause: 'fork.atfork', when: (p) => p.ctx.forkPathCopied(p.page) },
  // Objects whose fields the program stored back as they were, named by the store that wrote first (or,
  // with no name, by objects no count of which a read changes), ahead of the counts raised and dropped
  // again that a same-value page of objects otherwise is. QA: a bounded lru_cache hit in insertion order
  // (60,000 hits, 3.12): 939 pages of its links py.refcount.
  { cause: 'py.mutation.object', when: (p) => objectsOn(p).any && (storedFirst(p.ctx, p.page) || objectsOn(p).relinkedOnly) },
  // A collection visited objects here, but the page was first written outside the collector: by code
  // that read the objects (the eval loop, an iterator: counts raised and dropped again). That read copied
  // the page, and would have with the collection frozen or off; the visit is the page's second cause
  // (silentCauses). A program that walks 60,000 preloaded objects, then collects (3.11, 142 collections
  // in the child): of 3,522 such pages 2,834 were first written by _PyEval_EvalFrameDefault or
  // listiter_next, 684 by gc_collect_main, and gc.freeze() saved 686 pages.
  { cause: 'py.refcount', when: (p) => objectsOn(p).visited && readFirstOrUnknown(p.ctx, p.page) },
  // update_refs and subtract_refs store into the GC head of every object of the collected generations;
  // survivors end with the links they had.
  // The program froze its heap (gc.freeze) and still the collection visited objects here: made after it.
  { cause: 'py.gc.freeze-missing', when: (p) => programFroze(p.ctx) && objectsOn(p).visited },
  { cause: 'py.gc.traverse', when: (p) => objectsOn(p).visited },
  // Py_INCREF then Py_DECREF: the count is back where it was, the page is copied.
  { cause: 'py.refcount', when: (p) => objectsOn(p).any },
  // A list's items or a bytearray's bytes stored again as they were (a list reversed twice, L[i] = L[i],
  // b[:] = bytes(b)): the program's write, as a changed word there is. QA: 391 pages of a list reversed
  // twice were same-value.unknown (3.11-3.13), with list_reverse as their first writer.
  { cause: 'py.mutation.buffer', when: (p) => onProgramBuffer(p) },
  { cause: 'py.obmalloc.alloc', when: (p) => poolAt(p.ctx.pools, p.page) >= 0 || poolAt(p.ctx.childPools, p.page) >= 0 },
  // A page that lay wholly in glibc chunks free at the fork: what wrote the bytes it held is an allocation
  // of the child's. Found on workers growing a list through the sizes the parent's own list had grown
  // through (QA, 3.11-3.13): realloc put each copy of the items where the parent's freed copy lay, the
  // same pointers in the same order: 309-329 pages a child of same-value.unknown.
  { cause: 'alloc.malloc', when: (p) => onlyFreeAtFork(p.ctx.glibc, p.page, p.pageSize) },
  // First written by glibc's malloc or free (a chunk split or unlinked, its links and sizes stored as they
  // were): where a chunk free at the fork lies on the page, the child's allocations there; else glibc's
  // metadata. Found on workers growing a list through the sizes the parent's list had grown through (3.11.2):
  // 4-6 such pages same-value.unknown a child, free chunks beside a small one in use.
  { cause: 'alloc.malloc', when: (p) => mallocWroteFirst(p) && someFreeAtFork(p.ctx.glibc, p.page, p.pageSize) },
  { cause: 'malloc.meta', when: (p) => mallocWroteFirst(p) },
  { cause: 'exec.stack', when: (p) => p.region === 'stack' },
  { cause: 'py.typecache', when: (p) => inRange(p.ctx, p.page, 'typecache') || inRange(p.ctx, p.page + p.pageSize - 1, 'typecache') },
  { cause: 'vm.globals', when: (p) => p.region === 'file-data' },
  // a native library of the program stored its own bytes again (blame/native-writer.ts)
  { cause: 'mutation.native', when: (p) => p.ctx.nativeWriter(p.page) !== undefined },
];

/** What the child's collections write on the fork-time image. */
const COLLECTION_CAUSES = ['py.gc.link', 'py.gc.traverse', 'py.gc.freeze-missing'];

/** What gc.disable() would add to a child: the blocks its automatic collections freed (garbage in
 *  cycles) would stay allocated, so what it allocates after them cannot reuse them and goes to the free
 *  blocks of the fork-time pools instead, copying their pages (pymalloc fills free blocks of used pools
 *  and free pools before it maps a new arena). The cost is the share of the free pages the child did
 *  not copy that the kept garbage would fill (on the pages it copies anyway it costs nothing).
 *  A size class takes only its own pools' free blocks, then an empty pool: with the block size of each
 *  free page (`free.blockSize`) and the blocks the child took where memory was free at the fork, by
 *  class (`taken`, allocatedClasses), the garbage is split over the classes as the child's takings are
 *  (the collections' own mix is not counted: sys.getallocatedblocks() counts every class together), each
 *  class's part fills its free memory, and what overflows fills the empty pools. Found on a child whose
 *  cyclic garbage was 32-128-byte blocks and whose free memory at the fork was 336-byte blocks (QA,
 *  3.11-3.13): 6,721 pages predicted, 25 saved, when all free memory counted alike (as it still does for
 *  a capture without block sizes or free lists: the garbage, at the mean block size, fills a share of it). */
function disableCost(free: FreeSpace | undefined, freedBlocks: number, copied: Float64Array, taken: ReadonlyMap<number, number> | undefined): StepCost[] {
  if (!free) return [];
  // per block size (0: empty pools): free bytes, and free pages the child did not copy
  const bytes = new Map<number, number>();
  const pages = new Map<number, number>();
  const sizes = taken && free.blockSize;
  for (let i = 0; i < free.page.length; i++) {
    const size = sizes ? sizes[i] : 0;
    bytes.set(size, (bytes.get(size) ?? 0) + free.bytes[i]);
    if (findRange(copied, (k) => copied[k] + 1, free.page[i]) < 0) pages.set(size, (pages.get(size) ?? 0) + 1);
  }
  const fill = (size: number, kept: number) => ((bytes.get(size) ?? 0) > 0 ? (pages.get(size) ?? 0) * Math.min(1, kept / bytes.get(size)!) : 0);
  if (!sizes) {
    const cost = Math.round(fill(0, freedBlocks * free.meanBlock));
    return [{ step: 'disable', pages: cost, why: `${freedBlocks} blocks the collections freed would stay allocated: the child's allocations go to free blocks of ${pages.get(0) ?? 0} shared pages` }];
  }
  let total = 0;
  for (const n of taken.values()) total += n;
  let cost = 0;
  let overflow = total ? 0 : freedBlocks * free.meanBlock;
  for (const [size, n] of taken) {
    const kept = (freedBlocks * n * size) / total;
    cost += fill(size, kept);
    overflow += Math.max(0, kept - (bytes.get(size) ?? 0));
  }
  cost += fill(0, overflow);
  const classes = [...taken.keys()].sort((x, y) => x - y).join(', ') || 'none';
  return [{ step: 'disable', pages: Math.round(cost), why: `${freedBlocks} blocks the collections freed would stay allocated: the child's allocations go to the free blocks of its size classes (${classes} bytes) and to empty pools` }];
}

/** What a collection before the fork (the gc and freeze steps: freeze collects first) would add to a
 *  child: the garbage it frees becomes free memory of the parent (garbageSpace: what pymalloc keeps of
 *  it), and the child's allocations fill it (pymalloc serves a size class from its used pools' free
 *  blocks, then from free pools, before it maps a new arena), copying those pages, where without it they
 *  went to pools the child made (new memory, no copy). The blocks in use in the pools the child made
 *  (`made`) fill a share of the garbage's bytes of their class, what overflows a share of the pools the
 *  collection empties (any class); the same share of those pages the child did not copy is the cost.
 *  Found on 40,000 list-dict cycles dropped before the fork and a child keeping 40,000 new ones, no
 *  collection in it (QA, 3.11-3.13): gc and freeze predicted to save nothing, measured 452-731 pages
 *  more a child. */
function collectCost(garbage: GarbageSpace | undefined, made: NewBlocks | undefined, copied: Float64Array): StepCost[] {
  if (!garbage || !made) return [];
  // per block size (0: emptied pools): the garbage's bytes, and its pages the child did not copy
  const bytes = new Map<number, number>();
  const pages = new Map<number, number>();
  for (let i = 0; i < garbage.page.length; i++) {
    const size = garbage.blockSize[i];
    bytes.set(size, (bytes.get(size) ?? 0) + garbage.bytes[i]);
    if (findRange(copied, (k) => copied[k] + 1, garbage.page[i]) < 0) pages.set(size, (pages.get(size) ?? 0) + 1);
  }
  const fill = (size: number, kept: number) => ((bytes.get(size) ?? 0) > 0 ? (pages.get(size) ?? 0) * Math.min(1, kept / bytes.get(size)!) : 0);
  let cost = 0;
  let overflow = 0;
  let blocks = 0;
  for (let i = 0; i < made.blockSize.length; i++) {
    const size = made.blockSize[i];
    const want = made.blocks[i] * size;
    cost += fill(size, want);
    overflow += Math.max(0, want - (bytes.get(size) ?? 0));
    blocks += made.blocks[i];
  }
  cost += fill(0, overflow);
  const pagesCost = Math.round(cost);
  if (!pagesCost) return [];
  const why = `the garbage a collection before the fork frees leaves free memory that the child's allocations fill (${blocks} blocks it put in pools of its own)`;
  return (['gc', 'freeze'] as const).map((step) => ({ step, pages: pagesCost, why, shared: 'collect' }));
}

/** The blocks the child took where memory was free at the fork, by size class: the blocks of the
 *  fork-time pools, on the pool's free list or never carved at the fork, holding a changed word.
 *  pymalloc serves a class from its used pools' free blocks first, so these are the classes the child
 *  allocates that had free memory at the fork. Undefined without the free lists. */
function allocatedClasses(ctx: Context, wordAddr: Float64Array): Map<number, number> | undefined {
  const free = ctx.freeBlocks;
  if (!free) return undefined;
  const { pools } = ctx;
  const out = new Map<number, number>();
  let last = -1;
  for (let k = 0; k < wordAddr.length; k++) {
    const a = wordAddr[k];
    const pool = poolAt(pools, a);
    if (pool < 0) continue;
    const start = pools.start[pool];
    const size = pools.blockSize[pool];
    if (a - start < POOL.header) continue;
    const block = start + POOL.header + Math.floor((a - start - POOL.header) / size) * size;
    // a block's words come one after another
    if (block === last) continue;
    last = block;
    if (block - start >= pools.nextOffset[pool] || indexOf(free, block) >= 0) out.set(size, (out.get(size) ?? 0) + 1);
  }
  return out;
}

const EMPTY_POOLS: Pools = { start: new Float64Array(), blockSize: new Uint16Array(), nextOffset: new Uint16Array() };

/** A child's collections: counted by the agent in a controlled run; read from a live worker's memory
 *  (liveCollections); else not known (gcRuns is the caller's guess, every one taken as full). */
function collectionsOf(capture: Capture, pid: number, gcRuns: number): Pick<Context, 'gcRuns' | 'gcFullRuns' | 'collectionsKnown'> {
  const run = capture.run;
  if (run?.gcFullRuns !== undefined) return { gcRuns, gcFullRuns: run.gcFullRuns[run.children.indexOf(pid)] ?? gcRuns, collectionsKnown: true };
  const live = capture.python?.liveCollections?.find((c) => c.pid === pid);
  if (live) return { gcRuns: live.runs, gcFullRuns: live.full, collectionsKnown: true };
  return { gcRuns, gcFullRuns: gcRuns, collectionsKnown: false };
}

function contextFor(capture: Capture, diffs: PageDiffs, gcRuns: number): Context {
  const py: PythonStructures = capture.python!;
  const ref = capture.processes.find((p) => p.pid === capture.run?.reference) ?? capture.processes.find((p) => p.pid === diffs.reference)!;
  const child = py.childChunks.find((c) => c.pid === diffs.pid)?.chunks;
  return {
    L: pythonLayoutFor(capture.runtime?.version ?? ''),
    map: py.map,
    codeEnds: Float64Array.from(py.map.code.start, (s, i) => s + py.map.code.bytes[i]),
    bufferEnds: Float64Array.from(py.map.buffers.start, (s, i) => s + py.map.buffers.bytes[i]),
    rangeEnds: Float64Array.from(py.map.ranges.start, (s, i) => s + py.map.ranges.bytes[i]),
    pools: py.pools,
    childPools: py.childPools.find((c) => c.pid === diffs.pid)?.pools ?? EMPTY_POOLS,
    glibc: glibcView({ chunks: py.mallocChunks, heapStart: py.heapStart, tcacheKey: py.tcacheKey }, child, mainHeap(ref.vmas)),
    cw: chunkWords(0),
    vmaStarts: Float64Array.from(ref.vmas, (v) => v.start),
    vmaEnds: Float64Array.from(ref.vmas, (v) => v.end),
    vmaRegion: regionsOf(ref.vmas),
    files: mappedFiles(ref.vmas),
    ...collectionsOf(capture, diffs.pid, gcRuns),
    forkPathCopied: forkPathCopied(capture, ref),
    forkPathKept: forkPathKeptBytes(capture, ref),
    forkWrote: forkWroteWord(capture),
    firstFault: firstFaultOf(capture, diffs.pid),
    unsampledSort: unsampledSortOf(childTrace(capture, diffs.pid), exactFirstWriterOf(capture, diffs.pid), capture.meta.pageSize),
    inCollection: (ns) => inCollection(childTrace(capture, diffs.pid), ns),
    nativeWriter: nativeWriterOf(capture, diffs.pid, CORE_FILES),
    freeBlocks: py.freeBlocks,
    deadBlocks: py.deadBlocks,
    replaced: new Set(),
    freed: new Set(),
    garbagePools: new Set(),
    recarvedPools: new Set(),
    releasedBuffers: new Set(),
    pageSize: capture.meta.pageSize,
  };
}

/** The CPython blamer of one child. A class, and cursors over the address-ordered lookups of every
 *  changed word (the map's objects, the pools, the buffers, the mappings): the words come in address
 *  order, so most lookups land where the one before did. */
/** The steps whose malloc_trim before the fork releases a page (releasedBy). */
const TRIM_STEPS: readonly Remedy[] = ['trim'];

/** Did changed word k, the type word (+8) of tracked object o, change with no change in the 16 bytes of
 *  its GC head (a block given to another object has them rewritten: a free-list link, untracked, tracked
 *  again)? Its count may have moved (the program took or dropped a reference). The words come in address
 *  order. */
function classAssigned(objects: PythonHeapMap['objects'], o: number, wordAddr: Float64Array, k: number): boolean {
  if (!(objects.state[o] & STATE.tracked)) return false;
  let j = k - 1;
  if (j >= 0 && wordAddr[j] === objects.addr[o]) j--;
  return j < 0 || wordAddr[j] < objects.addr[o] - GC_HEAD_BYTES;
}

class PythonPageBlamer implements PageBlamer {
  readonly unknownVersion: string | undefined;
  readonly strategySteps = PYTHON_STRATEGY_STEPS;
  private readonly ctx: Context;
  private readonly objects: PythonHeapMap['objects'];
  private readonly values: WordValues;
  private readonly wordAddr: Float64Array;
  private readonly objectCursor: SortedCursor;
  private readonly poolCursor: RangeCursor;
  private readonly childPoolCursor: RangeCursor;
  private readonly bufferCursor: RangeCursor;
  private readonly regionCursor: RangeCursor;

  constructor(
    private readonly capture: Capture,
    private readonly diffs: PageDiffs,
    gcRuns: number,
  ) {
    const ctx = (this.ctx = contextFor(capture, diffs, gcRuns));
    this.unknownVersion = ctx.L ? undefined : capture.runtime?.version;
    const objects = (this.objects = ctx.map.objects);
    this.values = new WordValues(diffs);
    const wordAddr = (this.wordAddr = wordAddresses(diffs));
    this.objectCursor = new SortedCursor(objects.addr);
    const poolEnds = (p: Pools) => Float64Array.from(p.start, (s) => s + POOL.size);
    this.poolCursor = new RangeCursor(ctx.pools.start, poolEnds(ctx.pools));
    this.childPoolCursor = new RangeCursor(ctx.childPools.start, poolEnds(ctx.childPools));
    this.bufferCursor = new RangeCursor(ctx.map.buffers.start, ctx.bufferEnds);
    this.regionCursor = new RangeCursor(ctx.vmaStarts, ctx.vmaEnds);
    ctx.cw = classifyChunkWords(ctx.glibc, wordAddr, diffs.oldWord, diffs.newWord);
    // Objects whose type pointer (at id+8) changed: the block was freed and holds another object now. So
    // does an object of a type whose value never changes (an int's digits) with a word past its header
    // changed: freed, and its block given to a new object of the same type.
    // (by name, but a program's class named str or bytes is neither: its map type has no such base)
    const fixed = ctx.map.types.map((t, i) => ((t === 'str' || t === 'bytes') && baseOf(ctx.map, i) !== t ? undefined : VALUE_FIXED.get(t)));
    for (let k = 0; k < wordAddr.length; k++) {
      const a = wordAddr[k];
      // a pool header's size class (the high half of the word at +32), changed: the pool was emptied and
      // carved again for another size
      if (a % POOL.size === POOL_HEADER.arenaIndexAndSize && this.values.oldAt(k).hi !== this.values.newAt(k).hi) {
        const pool = poolAt(ctx.pools, a);
        if (pool >= 0) ctx.recarvedPools.add(pool);
      }
      const o = this.objectAt(a);
      if (o < 0) {
        // the first word of a dead block a full collection freed (freedDeadBlock): its pool's header too
        if (ctx.gcFullRuns > 0 && ctx.deadBlocks && indexOf(ctx.deadBlocks, a) >= 0) {
          const pool = poolAt(ctx.pools, a);
          if (pool >= 0 && isLinkIn(ctx.pools, pool, num(this.values.newIn(k)))) ctx.garbagePools.add(pool);
        }
        continue;
      }
      const off = a - objects.addr[o];
      // a field that held the address of a buffer the object owns, changed to an address outside it (not a
      // bytearray's start moved within its buffer by a deletion at its front): the object let go of it
      if (off > 0) {
        const b = indexOf(ctx.map.buffers.start, num(this.values.oldIn(k)));
        const now = num(this.values.newIn(k));
        if (b >= 0 && ctx.map.buffers.owner[b] === objects.addr[o] && (now < ctx.map.buffers.start[b] || now >= ctx.bufferEnds[b])) ctx.releasedBuffers.add(b);
      }
      // Freed: a reference count dropped to 0 (the whole word: a mortal count's high half is 0 on 3.12+
      // too), or, where the count is the block's first word (no GC head), overwritten by pymalloc's
      // free-list link. (The words come in address order: the count before the fields.)
      const freed = ctx.freed.has(o);
      // a word of a value fixed at creation (VALUE_FIXED): written only by a new object in the block
      const valueWord = off > 8 && !!fixed[objects.type[o]]?.(off, ctx.L) && !isBytesIoBuffer(ctx, a);
      if (off === 0 && !isZero(this.values.oldIn(k)) && (isZero(this.values.newIn(k)) || freedByLink(ctx, a, this.values.oldAt(k), this.values.newAt(k)))) {
        ctx.freed.add(o);
        // (an object with a GC head whose block a new object without one took: its type word lies over
        // the head's second word, which comes before the count. QA: 20,000 preloaded slotted instances
        // replaced by strs, 3.12/3.13)
        if (objects.pre[o] >= GC_HEAD_BYTES && k > 0 && wordAddr[k - 1] === a - 8 && this.newTypeWord(k - 1)) ctx.replaced.add(o);
      }
      // Replaced: a freed object's block holds another object (a type's free list keeps the dead one's
      // block as it is, but for a link: a float's in its type word, a tuple's in its first item)
      // Not a tracked object whose type word changed, its GC head as it was: a
      // `__class__` assignment (a block given to a new object has its GC links rewritten as the collector
      // tracks it, or a free-list link in its first word). QA: obj.__class__ = B on 40,000 preloaded
      // instances (3.11-3.13), 478-481 pages py.obmalloc.alloc a child.
      else if (!freed && ((off === 8 && !classAssigned(objects, o, wordAddr, k)) || valueWord)) ctx.replaced.add(o);
      // A freed object given to a new object since: one of another type (a type's address where its type
      // word lies: +8, or +24 past a GC head), or of its own (a value word rewritten; it may have been
      // freed again, its first word a link once more; not a tuple's first item, where its type's free list
      // keeps the link). QA: 20,000 preloaded strs replaced by dicts, each in the block a str left, and
      // the instances' ints' blocks taken by new ints (3.12, 3.13): 218,000 words py.obmalloc.free.
      else if (freed && (((off === 8 || off === GC_HEAD_BYTES + 8) && this.newTypeWord(k)) || (valueWord && !(off === 24 && ctx.map.types[objects.type[o]] === 'tuple')))) ctx.replaced.add(o);
      if (objects.state[o] & STATE.garbage) {
        const pool = poolAt(ctx.pools, a);
        if (pool >= 0) ctx.garbagePools.add(pool);
      }
    }
  }

  private objectAt(a: number): number {
    return objectAt(this.objects, a, this.objectCursor.at(a));
  }

  /** Does changed word k now hold what a new object's type word would: the address of a class of the map,
   *  or one in a file's data (where the interpreter's static types lie, with its other static objects:
   *  None, True, small ints, which no field of a freed object gains at these offsets either)? */
  private newTypeWord(k: number): boolean {
    const a = num(this.values.newIn(k));
    if (a === num(this.values.oldIn(k))) return false;
    const i = indexOf(this.objects.addr, a);
    if (i >= 0) return (this.objects.state[i] & STATE.type) !== 0;
    const v = findRange(this.ctx.vmaStarts, this.ctx.vmaEnds, a);
    return v >= 0 && this.ctx.vmaRegion[v] === 'file-data';
  }

  private regionAt(a: number): string {
    const v = this.regionCursor.at(a);
    return v >= 0 ? this.ctx.vmaRegion[v] : 'unmapped';
  }

  /** Changed word k and what lies at its address. */
  private at(k: number): At {
    const { ctx, objects } = this;
    const addr = this.wordAddr[k];
    const obj = this.objectAt(addr);
    const pool = this.poolCursor.at(addr);
    const childPool = this.childPoolCursor.at(addr);
    const poolStart = pool >= 0 ? ctx.pools.start[pool] : childPool >= 0 ? ctx.childPools.start[childPool] : -1;
    let block = -1;
    let blockObj = -1;
    let blockFirst: At['blockFirst'] = null;
    if (obj < 0 && pool >= 0 && addr - poolStart >= POOL.header) {
      const size = ctx.pools.blockSize[pool];
      block = poolStart + POOL.header + Math.floor((addr - poolStart - POOL.header) / size) * size;
      const before = this.objectCursor.at(addr);
      if (before >= 0 && objects.addr[before] - objects.pre[before] >= block) blockObj = before;
      const first = block === addr ? k : indexOf(this.wordAddr, block);
      if (first >= 0) blockFirst = { O: this.values.oldAt(first), N: this.values.newAt(first) };
    }
    return {
      ctx,
      k,
      addr,
      O: this.values.oldAt(k),
      N: this.values.newAt(k),
      obj,
      type: obj >= 0 ? (ctx.map.types[objects.type[obj]] ?? 'unknown') : '',
      base: obj >= 0 ? baseOf(ctx.map, objects.type[obj]) : '',
      off: obj >= 0 ? addr - objects.addr[obj] : 0,
      pool,
      poolOff: poolStart >= 0 ? addr - poolStart : -1,
      childPool,
      buffer: this.bufferCursor.at(addr),
      region: this.regionAt(addr),
      block,
      blockObj,
      blockFirst,
    };
  }

  regionOf(page: number): string {
    if (this.poolCursor.at(page) >= 0 || this.childPoolCursor.at(page) >= 0) return 'python-heap';
    return this.regionAt(page);
  }

  releasedBy(p: number): readonly Remedy[] {
    // a page a malloc_trim before the fork returns to the kernel (the trim step)
    return trimReleases(this.ctx.glibc, this.diffs.addrs[p], this.ctx.pageSize) ? TRIM_STEPS : [];
  }

  silentCauses(p: number, causes: readonly string[]): string[] {
    // A page of tracked objects a collection visited, first written outside the collector: the reads
    // that copied it and the visit both wrote it, whichever left words changed (none; 3.13.0's collections
    // leave links changed). Both causes, whatever the rules made primary, so that freeze or disable is
    // not credited with a page the reads copy all the same.
    const page = this.diffs.addrs[p];
    const ip: IdenticalPage = { ctx: this.ctx, page, pageSize: this.ctx.pageSize, region: '' };
    const bothOnly = causes.every((c) => c === 'py.refcount' || /^py\.gc\./.test(c));
    return bothOnly && readFirstOrUnknown(this.ctx, page) && objectsOn(ip).visited ? ['py.refcount', visitCause(this.ctx)] : [];
  }

  effects(): StepEffect[] {
    return [...this.disableEffect(), ...this.collectEffect()];
  }

  /** gc.disable() keeps the collector from starting collections in the children: when the collector
   *  started every collection of this child itself (none was a gc.collect() of the program), none runs,
   *  and nothing the collections wrote is left. (A program collecting explicitly: no saving said.) */
  private disableEffect(): StepEffect[] {
    const run = this.capture.run;
    const auto = run?.gcAutoRuns?.[run.children.indexOf(this.diffs.pid)];
    const runs = this.ctx.gcRuns;
    if (auto === undefined || runs === 0 || auto < runs) return [];
    return [{ step: 'disable', removes: COLLECTION_CAUSES, why: `the collector started all ${runs} collections of this child itself: gc.disable() keeps them from running` }];
  }

  /** A collection before the fork (the gc step) leaves every preloaded object in the oldest generation,
   *  which a young collection never visits: when all of this child's collections were young, what they
   *  wrote on the fork-time image (objects young at the fork, the links of the generations' lists) is
   *  left unwritten. A full collection visits the oldest generation too: then no saving is said. Found on
   *  a WSGI app of 80,000 preloaded instances (3.11): 704K of py.gc.traverse a child, gc predicted to save
   *  nothing and measured to save 704K. */
  private collectEffect(): StepEffect[] {
    const { gcRuns, gcFullRuns, collectionsKnown } = this.ctx;
    if (!collectionsKnown || gcRuns === 0 || gcFullRuns > 0) return [];
    return [{ step: 'gc', removes: COLLECTION_CAUSES, why: `all ${gcRuns} collections of this child were young: a collection before the fork leaves the preloaded objects where they never look` }];
  }

  costs(): StepCost[] {
    const run = this.capture.run;
    const py = this.capture.python;
    const freed = run?.gcFreedBlocks?.[run.children.indexOf(this.diffs.pid)];
    const made = py?.childNewBlocks?.find((c) => c.pid === this.diffs.pid)?.blocks;
    return [
      ...(freed ? disableCost(py?.freeSpace, freed, this.diffs.addrs, allocatedClasses(this.ctx, this.wordAddr)) : []),
      ...collectCost(py?.garbageSpace, made, this.diffs.addrs),
    ];
  }

  identicalPage(p: number): string {
    const page = this.diffs.addrs[p];
    const ip: IdenticalPage = { ctx: this.ctx, page, pageSize: this.ctx.pageSize, region: this.regionAt(page) };
    return IDENTICAL_RULES.find((r) => r.when(ip))?.cause ?? 'same-value.unknown';
  }

  changedWords(_p: number, first: number, end: number, causes: string[], ownerKeys: number[] | null): void {
    for (let k = first; k < end; k++) {
      const w = this.at(k);
      const rule = WORD_RULES.find((r) => r.when(w));
      causes[k - first] = rule ? (typeof rule.cause === 'string' ? rule.cause : rule.cause(w)) : 'unknown';
      if (ownerKeys) ownerKeys[k - first] = w.obj >= 0 ? this.objects.addr[w.obj] : 0;
    }
  }

  ownerOf(k: number): WordOwner | undefined {
    const w = this.at(k);
    return w.obj >= 0 ? { key: this.objects.addr[w.obj], type: w.type, class: w.type } : undefined;
  }
}

export function pythonBlamer(capture: Capture, diffs: PageDiffs, gcRuns: number): PageBlamer {
  return new PythonPageBlamer(capture, diffs, gcRuns);
}
