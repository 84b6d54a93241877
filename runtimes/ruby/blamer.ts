// Why a Ruby child copied each page: CRuby's word rules, as ordered tables per owner kind.
//
// A changed word is judged by its owner, first match wins:
//   1. a GC heap slot: the flags word (FLAGS_RULES) or another word of the slot (SLOT_RULES);
//   2. a struct heap_page record (HEAP_PAGE_FIELDS: age bits, remembered set, header, bitmaps);
//   3. an iseq's call_data or is_entries array (inline caches);
//   4. a glibc chunk (allocators/glibc: headers and links, chunks the child allocated itself, and
//      contents of chunks in use at the fork, decoded by CHUNK_CONTENT_RULES);
//   5. the mapping it lies in (MAPPING_KINDS: stacks, the transient heap, VM globals).
// A copied page whose bytes did not change is judged by what lies on it (IDENTICAL_RULES).
// Every fact that varies by version comes from the layout row (layouts.ts).

import type { Capture, PageDiffs } from '../../native/capture';
import { PageFlag } from '../../native/page-flags';
import { pageIndexer } from '../../analyzers/classify';
import { forkPathCopied, forkPathKeptBytes } from '../../analyzers/fork-path';
import type { Vma } from '../../native/procfs-parse';
import type { PageBlamer, StepCost, StepEffect, WordOwner } from '../adapter';
import { regionsOf } from '../../analyzers/regions';
import { MappedFiles, isLazyBinding, mappedFiles } from '../../blame/lazy-binding';
import { childTrace, exactFirstWriterOf, firstWriterOf } from '../../blame/first-writer';
import { nativeStoreOf, nativeWriterOf } from '../../blame/native-writer';
import { Remedy, causeRow, mutationCause } from '../../blame/catalog';
import { type CauseSet, groupCauseSets, savedPages } from '../../blame/remedies';
import { AddrMap, Word, aligned8, findRange, indexOf, isZero, lastAtOrBelow, num, overlapsAny, GapCursor, RangeCursor, WordValues, same, wordAddresses } from '../../blame/words';
import { CHUNK_HEADER, CW, ChunkWords, GlibcView, binSorted, chunkAt, chunkWords, classifyChunkWords, glibcView, inHeapGrowth, isFreeLink, isUserStart, onlyFreeAtFork, trimReleases, unsampledSortOf } from '../../allocators/glibc/rules';
import { MIN_LARGE_SIZE, mainHeap } from '../../allocators/glibc/chunks';
import { CLASS_TYPES, FL, GENERIC_IVAR_TYPES, ID_TABLE_ITEMS, IMEMO, MARKING_GC_STEPS, RubyLayout, T, TYPE_NAMES, imemoTypeOf, layoutFor, ownsNoChunk } from './layouts';
import type { ChunkOwners, RubyStructures } from './discover';
import { GENERIC_IVARS } from './discover';
/** What the fork-time image and the child's other words tell about this child. */
export interface Context {
  L: RubyLayout | undefined;
  ruby: RubyStructures;
  gcRuns: number;
  /** the major GCs among gcRuns; undefined when the capture does not say (live mode, older captures) */
  gcFullRuns: number | undefined;
  /** the GCs whose marking ran whole in the child (undefined: an older capture) */
  gcMarks: number | undefined;
  glibc: GlibcView;
  hps: number;
  bodies: Float64Array;
  bodyEnds: Float64Array;
  vmaStarts: Float64Array;
  vmaEnds: Float64Array;
  vmaRegion: string[];
  vmaKind: string[];
  /** the mapping (index in vmaStarts) holding an address, -1 none: a cursor, for words in address order */
  vmaAt: RangeCursor;
  /** the block glibc mmapped for a large malloc (index in ruby.mmappedChunks) holding an address, -1 none */
  mmappedAt: RangeCursor;
  /** 3.1: the transient-heap block transientFill judged last, and its header word's index in wordAddr
   *  (-1: unchanged), looked up once a block (its words come one after another) */
  transientHeader: { block: number; index: number };
  /** the same mappings' files, for the dynamic linker's lazy bindings */
  files: MappedFiles;
  objIndex: ObjectIndex;
  classNames: AddrMap<string>;
  vmEmptyCc: Word | undefined;
  /** the low word of the new flags of every slot whose flags word the child changed, by slot address */
  newSlotFlags: SlotFlags;
  /** the changed words' addresses, ascending (set by the blamer) */
  wordAddr: Float64Array;
  /** the changed words' values, by their index in wordAddr */
  values: WordValues;
  /** iseqs whose inline caches this child refilled, with the cache's cause */
  iseqCacheCause: AddrMap<string>;
  /** the last chunkOwnerIndex answer */
  ownerMemo: { start: number; index: number };
  /** the last cause wordCause gave a chunk the child allocated (freshChunkCause is final by then) */
  freshMemo: { start: number; cause: string };
  /** inSweptChunk's last fork-time chunk, and whether its owner died */
  sweptMemo: { start: number; died: boolean };
  /** causes of chunks the child allocated itself, by chunk start */
  freshChunkCause: AddrMap<string>;
  /** fork-time call-cache records (rb_class_cc_entries, no owner) whose entries array the child moved to a
   *  chunk it allocated (freshChunkCauses): their counters are the call's too */
  grownCallCacheRecords: AddrMap<true>;
  /** fork-time call-cache chunks no object owns that the child freed (freedCacheChunks), with the cause of
   *  what it wrote there */
  freedCacheChunks: AddrMap<string>;
  /** slots the child gave an object id (FL_SEEN_OBJ_ID set after the fork) */
  idSeenSlots: AddrMap<true>;
  /** slots free at the fork whose flags the child set: objects it made on fork-time heap pages */
  filledSlots: AddrMap<true>;
  /** how many of those hold a call or constant cache (freshSlotCause) */
  cacheSlotsFilled: number;
  /** slots whose fork-time object is gone (a type in the flags at the fork; zero now, or another type):
   *  what the child's GC freed of the fork's objects, garbage at the fork mostly (forkGarbageAbsorbs) */
  forkObjectsGone: number;
  /** those slots, by address */
  goneSlots: AddrMap<true>;
  /** the compactions among gcRuns (GC.compact, GC.auto_compact); undefined in older captures */
  gcCompactions: number | undefined;
  /** objects the child's compaction moved: fork-time address -> address now, where a changed reference
   *  says so (compactionMoves); and the addresses now, for the slots they were moved into */
  moves: AddrMap<number>;
  movedTo: AddrMap<true>;
  /** rb_id_tables (chunk start) the child inserted into, with the cause of the insert */
  idTableCause: AddrMap<string>;
  /** the items chunk (chunk start) of each rb_id_table a class's slot points to, by idTableKey(class's
   *  slot, the field's offset): ruby.chunkOwners' rows of a class reached through a table's items pointer */
  idTableItems: AddrMap<number>;
  /** chunks in use at the fork (off the GC heap) with a changed word that did more than set bits: the
   *  object's data was rewritten, not a field filled on first use (rewrittenChunks) */
  rewrittenChunks: AddrMap<true>;
  /** what the child made for an ivar it added to a fork-time T_OBJECT (ivarGrowth): the chunks that are
   *  its new ivar buffers, and the slots free at the fork now holding a value such an ivar took */
  ivarBuffers: AddrMap<true>;
  ivarValues: AddrMap<true>;
  /** the fork-time objects those ivars were added to (their slots): an old one's remembered-set bit is
   *  the ivar's store too */
  ivarOwners: AddrMap<true>;
  /** the fork-time Strings the child made shared (madeShared), by slot: an old one's remembered-set bit is
   *  the store of its frozen copy */
  sharedStrings: AddrMap<true>;
  /** 3.1: transient-heap blocks the child's GC moved fork-time buffers into (transientEscapes), by block */
  transientEscapes: AddrMap<boolean>;
  /** 3.1: chunks the child's GC malloc'd for buffers it moved out of the transient heap (transientMoves) */
  transientMoved: AddrMap<true>;
  /** the slots owning generic ivars, by the chunk owners (genericIvarSlots: made on first use) */
  genericIvarSlots?: AddrMap<true>;
  /** objects keeping their ivars in an st_table of their own (3.3+ "too complex" shapes) that the child
   *  inserted into (stTableHeaders): their slots */
  ivarTableInserts: Set<number>;
  /** malloc'd st_table headers (chunk start) whose entry counts the child changed, with the table's cause */
  stTableHeaders: AddrMap<string>;
  /** the entry indexes those inserts stored in the tables' bins, one row a header (stBinsCause) */
  stTableIndexes: StTableIndexes;
  /** the fork-time bins and entries (chunk start) of those tables that the child rebuilt elsewhere: freed
   *  by the rebuild, with the table's cause */
  stTableReleased: AddrMap<string>;
  /** chunks in use at the fork whose new pointers say what they belong to */
  contentChunkCause: AddrMap<string>;
  /** what changed word k is to glibc (its address, old and new value), computed once: every pass asks */
  cw: ChunkWords;
  /** what word k's new value points into, to glibc (words of GC heap pages: NONE, not asked) */
  tw: ChunkWords;
  /** the changed words by where they lie (wordListsOf), for the passes that look at one kind only */
  lists: WordLists;
  /** the struct heap_page record, call_data array and is_entries array holding a changed word's address
   *  (-1: none); cursors, for lookups in address order */
  heapPageStructAt: RangeCursor;
  callDataAt: RangeCursor;
  isEntriesAt: RangeCursor;
  /** the anonymous mappings the child made after the fork (not in the fork-time image): at(addr) >= 0 for
   *  an address in one. A class, not a closure, as every per-blame lookup the per-word rules call: a
   *  closure per blame, inlined there, deoptimized them as it died with its blame (V8: weak objects) */
  childMapped: RangeCursor;
  /** flags (low half) of objects the child allocated on GC heap pages it mapped itself */
  bornFlags: AddrMap<number>;
  /** the addresses bornFlags spans (lo inclusive, hi exclusive; empty: Infinity, -Infinity) */
  bornSpan: { lo: number; hi: number };
  /** the span of the addresses FRESH_CHUNK_POINTERS asks about (the GC heap, the objects the child
   *  allocated, the iseqs' inline storage) */
  pointerSpan: { lo: number; hi: number };
  /** stack mappings of the fork-time image (the main stack, thread stacks), sorted */
  stacks: { start: Float64Array; end: Float64Array };
  /** did the fork path itself copy this page: the fork-time twin's frame differs from the parent's */
  forkPathCopied: (page: number) => boolean;
  /** of those, the pages whose bytes the fork path left as the parent's (forkPathKeptBytes) */
  forkPathKept: (page: number) => boolean;
  /** the remembered set's bits of struct heap_page, at the fork and now (wasRemembered) */
  rememberBits: HeapPageBits;
  /** the function whose write fault first unshared a copied page (fault tracing), undefined when not
   *  traced or no fault was seen there */
  firstWriter: (page: number) => string | undefined;
  /** the same where named exactly (.symtab), clone suffixes stripped: rules that tell one runtime function
   *  from another (an exported symbol before the instruction says nothing of which static one ran) */
  exactWriter: (page: number) => string | undefined;
  /** a page with no fault sampled in a child whose trace lost samples and shows a sort (unsampledSortOf) */
  unsampledSort: (g: GlibcView, page: number) => boolean;
  /** the native library of the program (a C extension, a library it wraps) that first wrote a copied
   *  page: its file, if one did (blame/native-writer.ts) */
  nativeWriter: (page: number) => string | undefined;
  /** did that library write the page by a store of its own, not a malloc it called (nativeStoreOf)? */
  nativeStore: (page: number) => boolean;
  /** 3.3+: the age bits of struct heap_page, at the fork and now, in the words the child changed (no
   *  words: the age lives in the flags word) */
  ageBits: HeapPageBits;
}

/** The GC heap body holding addr, -1 none (an address below the first body or past the last is no
 *  body's at once: most values a rule asks about are small numbers or malloc pointers). */
const bodyOf = (ctx: Context, addr: number): number =>
  !ctx.bodies.length || addr < ctx.bodies[0] || addr >= ctx.bodyEnds[ctx.bodyEnds.length - 1] ? -1 : findRange(ctx.bodies, ctx.bodyEnds, addr);
/** Does the word hold an address in a GC heap body of the fork? */
const inForkHeap = (ctx: Context, v: Word): boolean => !isZero(v) && bodyOf(ctx, num(v)) >= 0;

/** Does the word hold the address of a slot the heap map lists free: an object made after the map was
 *  written (the parent's fork path, or a process since the fork)? */
function madeAfterMap(ctx: Context, v: Word): boolean {
  if (!inForkHeap(ctx, v)) return false;
  const i = ctx.objIndex.at(num(v));
  return i >= 0 && ctx.ruby.objects.type[i] === T.NONE;
}

/** Does the word hold an object's address: in a fork-time GC heap body, or an object the child allocated
 *  on a GC heap page it mapped itself (a child whose heap grew: GC.disable in the workload, or a heap
 *  that was full)? QA: 5,000 preloaded classes given a method each by define_method in the child (3.3.8,
 *  3.4.5): the method entries on the child's new heap pages were no objects, so no insert into their
 *  method tables was a definition: 821-881 pages a child vm.globals. */
function inGcHeap(ctx: Context, v: Word): boolean {
  if (isZero(v)) return false;
  const a = num(v);
  if (bodyOf(ctx, a) >= 0) return true;
  return a >= ctx.bornSpan.lo && a < ctx.bornSpan.hi && ctx.bornFlags.get(a) !== undefined;
}

// ---- 1. GC heap slots ----

interface FlagsChange {
  O: Word;
  N: Word;
  /** changed bits of the low 32 bits */
  X: number;
  /** T_* at the fork */
  t: number;
  L: RubyLayout | undefined;
  /** 3.3+: the object's age at the fork (struct heap_page's age bits), asked only of a promotion */
  ageAtFork?: () => number | undefined;
  /** the GCs whose marking ran whole in the child, where the run says (a live child's are not known) */
  marks?: number;
  /** a String whose length or bytes also changed (its slot's word at +16 or +24: the length and pointer,
   *  or 3.1's embedded bytes) */
  rewritten?: boolean;
}

const typeOf = (w: Word) => w.lo & FL.typeMask;

/** A call or constant cache (3.1-3.4 make each an imemo of its own on the GC heap)? */
function isCacheImemo(flagsLo: number): boolean {
  if ((flagsLo & FL.typeMask) !== T.IMEMO) return false;
  const imemo = imemoTypeOf(flagsLo);
  return imemo === IMEMO.callcache || imemo === IMEMO.constcache;
}

/** The cause of an object the child made in a slot free at the fork (its flags; fills: of all the slots
 *  free at the fork the child filled, how many with a call or constant cache). A cache is the call
 *  site's fill, which a prewarm makes in the parent, and the allocation's, which compaction sends
 *  elsewhere: icache.new-slot, where the caches are most of what the child put in free slots. Where they
 *  are not, the child's other objects fill the same slots without them (it takes free slots in order):
 *  the allocation's alone. Found on workers calling 4,000 methods of preloaded classes for the first time
 *  (QA, 3.1.2): 252 pages a child of alloc.free-slot beside method.cached were the new call caches, and
 *  prewarm was predicted to save 2.4M where it saved 5.3M. (The Rails app's requests allocate far more
 *  than their caches.) */
export function freshSlotCause(fills: { caches: number; slots: number }, flags: Word): string {
  return isCacheImemo(flags.lo) && fills.caches * 2 >= fills.slots ? 'icache.new-slot' : 'alloc.free-slot';
}

/** The flags word (offset 0) of a live slot, first match wins. */
type FlagsRule = { cause: string | ((f: FlagsChange) => string); when: (f: FlagsChange) => boolean };

/** The GC's writes of a flags word: the slot freed, filled, moved, or its object aged or promoted. */
const GC_FLAGS_RULES: FlagsRule[] = [
  { cause: 'alloc.free-slot', when: (f) => isZero(f.O) && !isZero(f.N) },
  { cause: 'gc.sweep', when: (f) => !isZero(f.O) && isZero(f.N) },
  { cause: 'gc.compact', when: (f) => typeOf(f.N) === T.MOVED },
  { cause: 'gc.sweep', when: (f) => typeOf(f.O) !== typeOf(f.N) },
  { cause: (f) => ((f.N.lo & FL.age) === FL.age ? promoteCause(f.L!, (f.O.lo & FL.age) >>> 5, f.marks) : 'gc.age'), when: (f) => !!f.L?.ageInFlags && !!(f.X & FL.age) },
  { cause: (f) => promoteCause(f.L!, f.ageAtFork?.(), f.marks), when: (f) => !!f.L && !f.L.ageInFlags && !!(f.X & FL.promoted) },
];

/** The program's writes of a live object's flags word (a bit of its own: coderange, freeze, shape). */
const PROGRAM_FLAGS_RULES: FlagsRule[] = [
  // A freeze of a String that also resized it (3.1's rb_str_freeze shrinks it to its length, clearing
  // the coderange): the freeze wrote the word. Found on a program freezing 100,000 preloaded Strings in
  // its workload (3.1.2): 4.6M of string.coderange-cleared a child, and prewarm predicted to save 96K of
  // the 4.7M it saved.
  { cause: 'object.freeze', when: (f) => f.t === T.STRING && !!(f.X & FL.freeze) && !!(f.N.lo & FL.freeze) },
  // A new encoding (String#force_encoding, #encode!): the program changed the String, whose coderange
  // 3.1 clears with it. QA (force_encoding('UTF-8') on 20,000 preloaded binary Strings, 3.1.2): 577 pages
  // a child string.coderange-cleared, "a resize or modification in place".
  { cause: 'mutation.string', when: (f) => f.t === T.STRING && !!(f.X & FL.encoding) },
  // set at the fork and clear now: not computed but cleared, by a resize or modification in place
  { cause: 'string.coderange-cleared', when: (f) => f.t === T.STRING && !!(f.X & FL.coderange) && !!(f.O.lo & FL.coderange) && !(f.N.lo & FL.coderange) },
  // A String made shared with a frozen copy of itself an operation took (a substring to its end, a
  // Regexp match): the copy took its buffer. Before its coderange, which the same operation may compute
  // in the same word: the coderange step alone would not keep the word. QA: 30,000 preloaded Strings
  // matched in the child (3.1.2), 15,000 words string.coderange-cleared.
  { cause: 'string.shared', when: (f) => f.t === T.STRING && madeShared(f.L, f.O, f.N) },
  // Its length, bytes or where they are kept changed with the coderange: the program rewrote the String
  // (scrub! of invalid bytes: longer, out of the slot; the coderange computed by the same call). QA
  // (20,000 preloaded Strings scrub!bed, half of them invalid, 3.1-3.4): all 20,000 flags words
  // string.coderange, whose prewarm was predicted to save 392K where it saved 1.8M (3.1.2).
  { cause: 'mutation.string', when: (f) => f.t === T.STRING && (!!(f.X & FL.strRepr) || (!!f.rewritten && !!(f.X & FL.coderange))) },
  { cause: 'string.coderange', when: (f) => f.t === T.STRING && !!(f.X & FL.coderange) },
  { cause: 'method.cached', when: (f) => f.t === T.IMEMO && imemoTypeOf(f.O.lo) === IMEMO.ment && !!(f.X & FL.mentCached) },
  { cause: 'object.id', when: (f) => !!(f.X & FL.seenObjId) },
  // A finalizer defined on the object (ObjectSpace.define_finalizer; on 3.1 ObjectSpace::WeakMap#[]= defines
  // one on its key and value). Found on workers putting 20,000 preloaded Objects in a WeakMap (QA, 3.1.2):
  // 315 pages of mutation.object a child, one flags word an object, FL_FINALIZE its only change.
  { cause: 'object.finalizer', when: (f) => !!(f.X & FL.finalize) && !!(f.N.lo & FL.finalize) },
  { cause: 'object.freeze', when: (f) => !!(f.X & FL.freeze) },
  // A constant's inline cache filled in the child: vm_ic_update asks rb_ractor_shareable_p of its value,
  // which walks a deeply frozen structure and sets FL_SHAREABLE in every object's flags. Found on a
  // program whose workers read a frozen Array of 50,000 frozen Strings (3.1-3.4): 716-747 pages a child
  // were mutation.string (one word an object), and prewarm saved them while predicted to save 64K.
  { cause: 'object.shareable', when: (f) => !!(f.X & FL.shareable) && !!(f.N.lo & FL.shareable) },
  { cause: 'object.ivar', when: (f) => !!(f.X & FL.exivar) },
  // the object's ivars outgrew its slot and moved to a malloc'd buffer (an ivar added: 3.1's fourth of an
  // object of three; QA: 20,000 such objects, 323 pages of mutation.object a child)
  { cause: 'object.ivar', when: (f) => f.t === T.OBJECT && !!(f.X & FL.objectEmbed) && !!(f.O.lo & FL.objectEmbed) },
  { cause: 'hash.iteration', when: (f) => f.t === T.HASH && !!(f.X & FL.hashIterLevel) },
  { cause: 'object.ivar', when: (f) => !!f.L?.shapeInFlags && f.O.hi !== f.N.hi },
];

/** First match wins: a word the GC wrote is the GC's. */
const FLAGS_RULES: FlagsRule[] = [...GC_FLAGS_RULES, ...PROGRAM_FLAGS_RULES];

const ruleCause = (r: FlagsRule, f: FlagsChange): string => (typeof r.cause === 'string' ? r.cause : r.cause(f));

/** A promotion by the child's GC: of an object one GC short of old at the fork, which any GC before the
 *  fork would have promoted there (each GC ages every young object it marks), or of a younger one. On
 *  3.1 (oneGcPromotes) a younger one too where the child's marking GCs (marks) were too few to age it
 *  old: one of them made it old at once, as an object an old one references, and a GC before the fork
 *  would have done so there. Found on a program whose workers ran one minor GC over 50,000 young Objects
 *  held by a constant (QA, 3.1.2): gc.promote, and gc predicted to save nothing of what it saved. With as
 *  many marks as aging needs, which way the object went is not told: gc.promote. */
const promoteCause = (L: RubyLayout, ageAtFork: number | undefined, marks: number | undefined): string =>
  ageAtFork === L.oldAge - 1 || (L.oneGcPromotes && ageAtFork !== undefined && marks !== undefined && marks < L.oldAge - ageAtFork) ? 'gc.promote-next' : 'gc.promote';

/** Does a flags word say old (3.1/3.2: the age bits at the old age; 3.3+: FL_PROMOTED)? */
const oldFlagsWord = (L: RubyLayout, w: Word): boolean => (L.ageInFlags ? (w.lo & FL.age) === FL.age : !!(w.lo & FL.promoted));

/** Did the flags word go from young to old (3.1/3.2: the age bits; 3.3+: FL_PROMOTED)? */
const promotedNow = (L: RubyLayout, O: Word, N: Word): boolean =>
  L.ageInFlags ? (N.lo & FL.age) === FL.age && (O.lo & FL.age) !== FL.age : !!(N.lo & FL.promoted) && !(O.lo & FL.promoted);

interface SlotWord {
  off: number;
  O: Word;
  N: Word;
  /** T_* at the fork, -1 unknown */
  type: number;
  imemo: number;
  L: RubyLayout | undefined;
  /** 3.2+: the shape id in the slot's flags word changed in the child (an ivar added or removed, a freeze) */
  shapeChanged: boolean;
  /** a T_OBJECT whose ivars moved out of its slot in the child (ROBJECT_EMBED cleared) */
  ivarsMoved: boolean;
  /** an object the child froze (FL_FREEZE set in its flags word) */
  froze: boolean;
  /** a String made shared in the child (ctx.sharedStrings) */
  shared: boolean;
  /** a String whose bytes, an Array whose elements lay in its slot at the fork (by its fork-time flags,
   *  where they changed here) */
  embedded: boolean;
  /** the slot's object in the heap map (-1: none) */
  obj: number;
  ctx: Context;
}

/** Does a word point into 3.1's transient heap (the mapping MAPPING_KINDS names so)? */
function inTransientHeap(ctx: Context, w: Word): boolean {
  const i = findRange(ctx.vmaStarts, ctx.vmaEnds, num(w));
  return i >= 0 && ctx.vmaKind[i] === 'alloc.transient';
}

/** A user-space address of 8-byte alignment above 4 GiB (x86-64's 47 bits): where 64-bit Linux maps the
 *  heap, the GC heap and mmapped buffers. */
const isPointerShaped = (w: Word): boolean => w.hi > 0 && w.hi < 0x8000 && (w.lo & 7) === 0;

/** Does a word point into a mapping of the reference process? */
const isMapped = (ctx: Context, w: Word): boolean => findRange(ctx.vmaStarts, ctx.vmaEnds, num(w)) >= 0;

/** Objects whose buffers 3.1 keeps in the transient heap while they are young */
const TRANSIENT_TYPES = new Set<number>([T.ARRAY, T.HASH, T.OBJECT, T.STRUCT]);

/** The types of the VM's own tables when no class owns them (hidden from the program): an insert into
 *  one is the VM filling a table on first use, not the program changing its data. */
const VM_TABLE_TYPES = new Set<number>([T.HASH, T.ARRAY]);

/** Other words of a live slot, first match wins. */
const SLOT_RULES: { cause: string; when: (s: SlotWord) => boolean }[] = [
  // a call cache's second word is the class it was made for (an imemo has no class there), which a
  // method defined or a module prepended in the child zeroes to invalidate it (vm_cc_invalidate). QA:
  // 2,000 methods defined in the child were object.singleton, one word each (3.1, 3.3).
  { cause: 'icache.call', when: (s) => s.type === T.IMEMO && s.imemo === IMEMO.callcache },
  // A class's call-path tables (callable_m_tbl, cc_tbl; 3.3+ keep their pointers in the classext embedded
  // in the slot), NULL until the first call through the class makes them. Found on workers asking 20,000
  // preloaded objects for the singleton classes a prewarm had made for them (QA, 3.3.8): 812 pages of
  // mutation.class, "the program changed a Class", one word a class, first written by
  // callable_method_entry_or_negative.
  { cause: 'icache.call', when: (s) => CLASS_TYPES.has(s.type) && !!s.L?.classCallTables.includes(s.off) && isZero(s.O) && !isZero(s.N) },
  { cause: 'object.singleton', when: (s) => s.off === 8 && s.type !== T.IMEMO }, // klass
  // where the embedded ivars were: the buffer's pointer (and on 3.1 its length and the class's ivar
  // index table) now that they live in a malloc'd buffer
  { cause: 'object.ivar', when: (s) => s.ivarsMoved && s.off >= 16 },
  // ID_SCOPE_MASK (the low 4 bits) alone at the fork: the Symbol had no ID yet
  { cause: 'symbol.id', when: (s) => s.type === T.SYMBOL && !!s.L && s.off === s.L.symbolIdOffset && s.O.hi === 0 && s.O.lo < 16 },
  { cause: 'icache.const', when: (s) => s.type === T.IMEMO && s.imemo === IMEMO.constcache },
  { cause: 'object.ivar', when: (s) => s.type === T.OBJECT && !!s.L && s.O.hi === 0 && s.O.lo === s.L.qundef },
  // An ivar nil at the fork set in the child: the first value of one the program declared (`@label = nil`
  // in initialize, then `@label ||= ...`), which a run of the workload before the fork sets there. QA: a
  // worker memoizing a label in 20,000 preloaded objects, 458-465 pages of mutation.object, and prewarm
  // predicted to save 136K where it saved 3.7M.
  { cause: 'object.ivar', when: (s) => s.type === T.OBJECT && !!s.L && s.off >= 16 && isNil(s.L, s.O) && !isNil(s.L, s.N) },
  // 3.3+: a typed data object may keep its data in its own slot (embedded, from +32): a field filled in
  // from zero there is the value it computes once, as in a malloc'd one (CHUNK_RULES' object.data-cache).
  // Found on 20,000 preloaded Times asked for their year in the child (3.3.8, 3.4.5): 442-447 pages of
  // mutation.data, which 3.1 (its data malloc'd) blamed on object.data-cache.
  // (not an iteration's state: ITERATION_DATA_CLASSES)
  { cause: 'object.data-cache', when: (s) => s.type === T.DATA && s.off >= 32 && filledOnce(s.L, s.O, s.N) && isProgramSlot(s) && !ITERATION_DATA_CLASSES.has(slotClassName(s)) },
  // A String the child froze: String#freeze resizes its buffer to its length first (rb_str_resize: the
  // capacity, and the pointer where realloc moved it). QA: 30,000 preloaded Strings of 100 bytes made
  // with capacity 400, frozen in the child (3.1.2): 409 pages string.coderange-cleared (the capacity
  // word, as many words as the flags' object.freeze, and first in the catalog), prewarm predicted to
  // save 27 pages where it saved 3,748; 3.3.8 with capacity 2000, ~90 pages mutation.string.
  { cause: 'object.freeze', when: (s) => s.type === T.STRING && s.froze && (s.off === 24 || s.off === 32) },
  // ... and one made shared (madeShared): aux at +32, its capacity until now, the frozen copy that holds
  // its buffer. (The copy may lie on a GC heap page the child mapped: told by its shape.)
  { cause: 'string.shared', when: (s) => s.type === T.STRING && s.shared && s.off === 32 && isPointerShaped(s.N) },
  // An Array's, where Array#freeze shrinks a heap buffer with room to spare to its length (freezeShrinksArrays,
  // 3.4): its capacity at +24, the pointer at +32 where realloc moved it (an embedded Array's elements lie
  // there). QA: 20,000 preloaded Arrays of 30 elements built by push, frozen in the child (3.4.5), 79
  // pages mutation.array (the capacity).
  { cause: 'object.freeze', when: (s) => s.type === T.ARRAY && !!s.L?.freezeShrinksArrays && s.froze && !s.embedded && (s.off === 24 || s.off === 32) },
  // 3.1: rb_fstring makes an unfrozen String that becomes a new Hash key give its buffer to the key's
  // frozen copy (aux.capa at +32 becomes aux.shared, that copy), or resizes it to its own length first
  // (the capacity shrinks, the buffer may move: ptr at +24), its coderange cleared in the flags word
  // (FLAGS_RULES). Found on 30,000 preloaded names used as keys in the child: 45-50 pages of
  // mutation.string (one word each), 414 under warmup (two).
  // (The frozen copy may lie on a GC heap page the child mapped itself, the moved buffer in memory it
  // mapped: neither is in the fork-time mappings, so a pointer is told by its shape.)
  { cause: 'string.coderange-cleared', when: (s) => s.type === T.STRING && !!s.L?.resizeClearsCoderange && s.off === 32 && s.O.hi === 0 && (isPointerShaped(s.N) || (s.N.hi === 0 && s.N.lo < s.O.lo)) },
  // (not an embedded String's bytes that look like a pointer: String#<< writing its terminator over them;
  // QA, 30,000 appends in the child, 3.1.2: 30,000 words string.coderange-cleared)
  { cause: 'string.coderange-cleared', when: (s) => s.type === T.STRING && !!s.L?.resizeClearsCoderange && s.off === 24 && !s.embedded && isMapped(s.ctx, s.O) && isPointerShaped(s.N) },
  // a Hash or Array no class owns (hidden from the program) whose table or elements live in its slot
  // (3.3+'s larger slots, an embedded Array): a VM table, as CHUNK_CONTENT_RULES says of one in a chunk
  { cause: 'mutation.hash-table', when: (s) => VM_TABLE_TYPES.has(s.type) && s.obj >= 0 && isVmTable(s.ctx, s.ctx.ruby.objects.address[s.obj], s.ctx.ruby.objects.classAddr[s.obj]) },
  // 3.1: a GC moved the object's buffer out of the transient heap (its pointer now leads to malloc'd
  // memory): the collector's evacuation, not the program (found with 30,000 young one-entry Hashes no
  // workload touched: 53 pages taken for mutation.hash, which no strategy removes)
  { cause: 'alloc.transient', when: (s) => !!s.L?.transientHeapSizes.length && TRANSIENT_TYPES.has(s.type) && inTransientHeap(s.ctx, s.O) && !inTransientHeap(s.ctx, s.N) },
  // 3.2+: an embedded ivar slot is left as allocation zeroed it until an ivar is set there (no Qundef
  // fill), and setting a new ivar moves the object to a child shape: a word that was 0, in an object
  // whose shape changed with it, is the added ivar. Found on a program memoizing `@total ||=` in 20,000
  // preloaded objects (3.3.8): 289 of 1,255 copied pages blamed mutation.object.
  // (Not seen: a word whose old content was left by the slot's previous object, past the three that
  // allocation zeroes in a larger slot; and an ivar of false (0) changed in an object whose shape changed
  // too, taken for an added one.)
  { cause: 'object.ivar', when: (s) => s.type === T.OBJECT && s.shapeChanged && s.off >= 16 && s.O.hi === 0 && s.O.lo === 0 },
];

interface Slot {
  slot: number;
  type: number;
  imemo: number;
  obj: number;
}

/** The slot holding addr on GC heap body `body`; flags.old gives the fork-time flags of slots whose flags
 *  word changed on the page being judged, or on the page before for the slot that straddles into it
 *  (undefined: unchanged, the heap map says what the slot holds). */
function slotAt(ctx: Context, body: number, addr: number, flags: PageFlags): Slot | undefined {
  const start = ctx.ruby.slotStart[body];
  const size = ctx.ruby.slotSize[body];
  if (!start || !size || addr < start) return undefined;
  const slot = start + Math.floor((addr - start) / size) * size;
  if (slot < ctx.bodies[body] + 8) return undefined; // the page header (the struct heap_page pointer)
  const obj = ctx.objIndex.at(slot);
  const old = flags.old(slot);
  if (old !== undefined) {
    const type = typeOf(old);
    return { slot, type: isZero(old) ? T.NONE : type, imemo: type === T.IMEMO ? imemoTypeOf(old.lo) : -1, obj };
  }
  if (obj < 0) return { slot, type: -1, imemo: -1, obj };
  const o = ctx.ruby.objects;
  return { slot, type: o.type[obj] === 0xff ? -1 : o.type[obj], imemo: o.imemo[obj] === 0xff ? -1 : o.imemo[obj], obj };
}

const mutation = (type: number) => mutationCause(type >= 0 ? TYPE_NAMES[type] : undefined);

/** Did the upper half of a slot's flags word (3.2+: the shape id) change (both known)? */
const shapeMoved = (O: Word | undefined, N: Word | undefined): boolean => !!O && !!N && O.hi !== N.hi;

const isNil = (L: RubyLayout, w: Word): boolean => w.hi === 0 && w.lo === L.qnil;
/** An ivar's word before any value was set there: nil, Qundef, or 0 (spare capacity of a buffer). */
const unsetIvar = (L: RubyLayout, w: Word): boolean => (w.hi === 0 && (w.lo === L.qnil || w.lo === L.qundef)) || isZero(w);
/** Qtrue, the same on 3.1-3.4 (Qnil and Qundef moved in 3.2; true did not) */
const QTRUE = 0x14;
/** A value a variable holds, not nil, Qundef, false or bytes that are no value: a Fixnum, a flonum, true,
 *  a static Symbol, or a reference to the GC heap. */
const heldValue = (ctx: Context, w: Word): boolean =>
  (w.lo & 1) === 1 || (w.lo & 3) === 2 || (w.hi === 0 && w.lo === QTRUE) || (w.lo & 0xff) === 0x0c || inGcHeap(ctx, w);

/** Is the slot's object of a class of the program's (not VM_DATA_CLASSES: threads, mutexes, the VM)? */
function isProgramSlot(s: SlotWord): boolean {
  if (s.obj < 0) return false;
  return !VM_DATA_CLASSES.has(slotClassName(s));
}

/** The name of the slot's object's class ('' when hidden, unnamed or not in the heap map). */
function slotClassName(s: SlotWord): string {
  return s.obj < 0 ? '' : (s.ctx.classNames.get(s.ctx.ruby.objects.classAddr[s.obj]) ?? '');
}

/** Did a String's flags (old O, new N) gain STR_SHARED, its coderange kept (3.1's rb_fstring clears it as
 *  it hands the buffer of a new Hash key to the key's copy: string.coderange-cleared)? Only a String whose
 *  bytes are in a buffer of their own (NOEMBED, FL_USER1) at the fork and now: in an embedded one, 3.1
 *  keeps the length in the bits from FL_USER2 up, STR_SHARED's bit among them (a String of 20 bytes
 *  given a 21st sets it). */
function madeShared(L: RubyLayout | undefined, O: Word | undefined, N: Word | undefined): boolean {
  if (!L?.strShared || !O || !N || (O.lo & L.strShared) || !(N.lo & L.strShared) || !(O.lo & N.lo & FL.user1)) return false;
  return !(O.lo & FL.coderange) || !!(N.lo & FL.coderange);
}

/** Did the child freeze the object (FL_FREEZE clear at the fork, set now)? */
const frozeNow = (O: Word | undefined, N: Word | undefined): boolean => !!O && !!N && !(O.lo & FL.freeze) && !!(N.lo & FL.freeze);
/** Did the flags word lose ROBJECT_EMBED in the child (a T_OBJECT's ivars moved out of its slot)? */
const unembedded = (O: Word | undefined, N: Word | undefined): boolean => !!O && !!N && !!(O.lo & FL.objectEmbed) && !(N.lo & FL.objectEmbed);

/** The cause of a change of a live slot's flags word (exported for the rule-table tests). */
export function flagsWordCause(L: RubyLayout | undefined, O: Word, N: Word, ageAtFork?: () => number | undefined, marks?: number, rewritten = false): string {
  const f: FlagsChange = { O, N, X: (O.lo ^ N.lo) >>> 0, t: typeOf(O), L, ageAtFork, marks, rewritten };
  for (const r of FLAGS_RULES) if (r.when(f)) return ruleCause(r, f);
  return mutation(f.t);
}

/** Causes of a flags word the GC aged or promoted (gc.age, gc.promote, gc.promote-next). */
const AGING_CAUSES = new Set(['gc.age', 'gc.promote', 'gc.promote-next']);

/** What the program wrote in a flags word the child's GC also aged or promoted, told by the bits beside
 *  the GC's (a String's coderange computed, a freeze, a shape): a page that holds it stays copied when a
 *  step before the fork does the aging, so the page is saved only by a strategy that removes both. Found
 *  on a Rack app whose workers computed the coderange of preloaded Strings (3.3.8, 3.4.5): gc and
 *  promote predicted 13-23% more than they saved. Undefined where the GC's bits are the only change, or
 *  no rule names the rest (exported for the rule-table tests). */
export function programFlagsCause(L: RubyLayout | undefined, O: Word, N: Word): string | undefined {
  const X = ((O.lo ^ N.lo) & ~FL.age) >>> 0;
  if (!X && O.hi === N.hi) return undefined;
  const f: FlagsChange = { O, N, X, t: typeOf(O), L };
  for (const r of PROGRAM_FLAGS_RULES) if (r.when(f)) return ruleCause(r, f);
  return undefined;
}

/** Causes a String's own bits in its flags word give (its coderange, STR_SHARED). */
const STRING_FLAG_CAUSES = new Set(['string.coderange', 'string.coderange-cleared', 'string.shared']);

/** What else the program wrote in a String's flags word beside its coderange and STR_SHARED (an ivar:
 *  FL_EXIVAR, 3.3+ the shape; a freeze), a cause of the page too: a step that computes coderanges leaves
 *  that write, and the page copied. QA: 20,000 preloaded Strings whose coderange the workers computed and
 *  which they tagged with an ivar (3.1.2, 3.4.5): string.coderange alone named, coderange predicted to
 *  save 377-812 pages where it saved none. */
export function otherStringFlagsCause(L: RubyLayout | undefined, O: Word, N: Word): string | undefined {
  const mask = FL.coderange | (L?.strShared ?? 0);
  return programFlagsCause(L, O, { lo: ((N.lo & ~mask) | (O.lo & mask)) >>> 0, hi: N.hi });
}

/** A word of a slot live at the fork (type: its T_*) whose flags now say the child's GC freed that
 *  object: freed (flags 0, a free-list link), moved by compaction, or freed and given to a new object of
 *  another type. Undefined while the slot holds its fork-time object (exported for the rule-table tests). */
export function sweptSlotCause(type: number, off: number, N: Word, newFlags: Word | undefined): string | undefined {
  const freed = freedSlotCause(type, newFlags);
  return freed && off === 0 && typeOf(N) === T.MOVED ? 'gc.compact' : freed;
}

/** Did the child's compaction move the slot's object elsewhere (its new flags: T_MOVED)? */
const movedAway = (newFlags: Word | undefined): boolean => newFlags !== undefined && typeOf(newFlags) === T.MOVED;

/** The cause of a slot whose fork-time object the child's GC freed and whose slot it filled again (with an
 *  object of the same type: every word of it, the flags word too). */
const REBORN = 'alloc.swept-slot';

/** sweptSlotCause of every word of the slot but its flags word: the slot's new flags alone decide it. */
function freedSlotCause(type: number, newFlags: Word | undefined): string | undefined {
  if (type <= 0 || newFlags === undefined || (!isZero(newFlags) && typeOf(newFlags) === type)) return undefined;
  // A new object in the slot: had a GC before the fork freed the garbage, the child's allocation would
  // have filled the slot all the same (it allocates into free slots before it grows the heap).
  return isZero(newFlags) || movedAway(newFlags) ? 'gc.sweep' : REBORN;
}

/** Did the child's compaction rewrite this reference: from a moved object's fork-time address to where it
 *  lies now (compactionMoves)? */
function isMove(ctx: Context, O: Word, N: Word): boolean {
  return ctx.moves.size > 0 && ctx.moves.get(num(O)) === num(N);
}

/** The objects the child's compaction moved, from the references it rewrote: a changed word that held the
 *  address of a fork-time object gone from its slot (or from a page the child released) and now holds
 *  another address in a GC heap page (a
 *  slot free at the fork, or one whose object was garbage: the newcomer's flags word may equal the dead
 *  one's, and the slot leaves no other trace; or an object on a heap page the child added, 3.3+).
 *  Compaction copies an object into a free slot and then
 *  rewrites every reference to it; the old slot is freed (its flags 0, as a sweep leaves it). Only where
 *  the child compacted (gcCompactions: a program that drops an object and stores a new one where it was
 *  leaves such a word too). QA: 30,000 Objects GC.compact moved in the child (every other one of 60,000
 *  dropped before the fork): no page gc.compact on 3.1-3.4; the old slots gc.sweep, the new ones
 *  object.ivar, the references mutation.array and mutation.container, and gc predicted to save 307-664
 *  pages where it saved 17-34. */
function compactionMoves(ctx: Context, diffs: PageDiffs, pageBody: Int32Array, v: WordValues, released: (page: number) => boolean, ps: number): void {
  if (!ctx.gcCompactions) return;
  const n = diffs.wordPage.length;
  const o: Word = { lo: 0, hi: 0 };
  // each fork-time address's destinations, by the words naming them. A word can name another: a stale
  // reference in memory the child reused (the same chunk in use again), whose new value is any object's.
  // A slot that visibly took an object (its flags set: free at the fork, or its object gone) wins, of the
  // object's type before another, then the one most words name.
  const votes = new AddrMap<Map<number, number>>();
  for (let k = 0; k < n; k++) {
    const from = num(v.oldInto(k, o));
    // a fork-time object gone from its slot, or on a GC heap page the child released (3.3+ returns the
    // pages compaction emptied: their words are no diff's)
    if (!aligned8(from) || !(ctx.goneSlots.has(from) || (bodyOf(ctx, from) >= 0 && released(from - (from % ps))))) continue;
    // a reference the update rewrote lies in a slot, a chunk in use at the fork and still the same chunk,
    // or memory no chunk of glibc's heap holds (an mmapped block): not in memory the child allocated (a
    // dead Array's old buffer reused) nor in glibc's words
    if (pageBody[diffs.wordPage[k]] < 0 && ctx.cw.kind[k] !== CW.CONTENT && ctx.cw.kind[k] !== CW.NONE) continue;
    const to = num(v.newIn(k));
    if (to === from || !aligned8(to) || (bodyOf(ctx, to) < 0 && !(ctx.bornFlags.size > 0 && ctx.bornFlags.get(to) !== undefined))) continue;
    let m = votes.get(from);
    if (!m) votes.set(from, (m = new Map()));
    m.set(to, (m.get(to) ?? 0) + 1);
  }
  const [VISIBLE, SAME_TYPE] = [1 << 30, 1 << 29];
  const flagsNow = (to: number) => ctx.newSlotFlags.get(to) || (ctx.bornFlags.size > 0 ? ctx.bornFlags.get(to) : 0) || 0;
  for (const [from, m] of votes) {
    const i = ctx.objIndex.at(from);
    const type = i >= 0 ? ctx.ruby.objects.type[i] : -1;
    let best = -1;
    let most = 0;
    for (const [to, count] of m) {
      const now = flagsNow(to);
      const score = count + (now ? VISIBLE : 0) + (now && (now & FL.typeMask) === type ? SAME_TYPE : 0);
      if (score > most) [best, most] = [to, score];
    }
    ctx.moves.set(from, best);
    ctx.movedTo.set(best, true);
  }
}

/** The cause of every word of slot s but its flags word, when the slot's flags alone decide it: the child
 *  freed or refilled it, or it was free at the fork (a third of a Rails worker's changed words); undefined
 *  when each word is judged on its own. oldFlags, newFlags: the slot's flags at the fork and now, when
 *  they changed on this page. */
function slotLevelCause(ctx: Context, s: Slot, oldFlags: Word | undefined, newFlags: Word | undefined): string | undefined {
  // an object the child's compaction moved out of the slot, or into it: every word of both is the move's
  if (ctx.moves.size && (ctx.moves.has(s.slot) || ctx.movedTo.has(s.slot))) return 'gc.compact';
  const freed = freedSlotCause(s.type, newFlags);
  if (freed) return freed;
  // the same type again, or flags unchanged: garbage at the fork, or an object younger than the one it replaced
  if (s.type > 0 && (newFlags === undefined || !isZero(newFlags)) && (garbageAtFork(ctx, s, newFlags) || youngerThanItsMarks(ctx, s, oldFlags, newFlags))) return REBORN;
  // A slot that was free at the fork: filled by an allocation, or filled and freed again by the child's
  // own GC (its flags 0 again, its free-list link new). The second is gc.sweep where that GC freed garbage
  // of the fork's too: a GC before the fork changes which free slots the child fills. Tried as
  // alloc.free-slot (removed by compaction only), the Rails app on 3.3.8 had promote save 1,073 pages
  // against 402 predicted in a boot whose parent forked with few free slots (docs/ruby.md). Where the
  // fork held too little garbage for that (forkGarbageAbsorbs), the child's own allocation.
  if (s.type === T.NONE && newFlags !== undefined && !isZero(newFlags) && ctx.ivarValues.has(s.slot)) return 'object.ivar';
  if (s.type === T.NONE) return newFlags !== undefined && !isZero(newFlags) ? freshSlotCause({ caches: ctx.cacheSlotsFilled, slots: ctx.filledSlots.size }, newFlags) : forkGarbageAbsorbs(ctx) ? 'gc.sweep' : 'alloc.free-slot';
  return undefined;
}

/** Would a GC before the fork have freed garbage enough to take most of what the child allocated on
 *  fork-time heap pages (its allocations go to free slots first)? Then the slots free at the fork that the
 *  child filled and freed again were the sweep's (gc.sweep, which gc removes): garbage at the fork, at
 *  least half as many slots as the child filled there and kept, against those. A parent that collected
 *  before forking leaves none to find, and they are the child's own allocation. Found on a program that
 *  formatted JSON in a child of a parent collected three times (3.4.5): 30 fork-time objects gone against
 *  3,616 slots filled, 235 pages gc.sweep, and compare predicted gc to save 676 KiB a child where it saved
 *  52 KiB. The Rails app's children: 57,056 against 6,423 (3.4.5), 27,668 against 1,096 (3.1.2). */
function forkGarbageAbsorbs(ctx: Context): boolean {
  return ctx.forkObjectsGone * 2 >= ctx.filledSlots.size;
}

/** Was the slot's object garbage at the fork, and is its slot filled now? The heap map lists the slot as
 *  free while the fork-time flags name an object: a lazy sweep was under way at the fork, and the map's
 *  writer (dump_all, in a sibling fork) finished it first, freeing garbage the twin and the children still
 *  hold. Nothing references garbage: the child's sweep freed it, and an allocation filled the slot. */
function garbageAtFork(ctx: Context, s: Slot, newFlags: Word | undefined): boolean {
  return s.obj >= 0 && ctx.ruby.objects.type[s.obj] === T.NONE && newFlags !== undefined && !isZero(newFlags);
}

/** The heap map's flags of an object (native/probe.ts HeapObjects.gcFlags): write-barrier protected, old. */
const GC_FLAG_WB_PROTECTED = 1;

/** The GCs whose marking ran whole in the child; a capture that does not say (older ones) counts one less
 *  where a major GC may have been part-way through its incremental marking as the child stopped. */
function markingGcs(ctx: Context): number {
  return ctx.gcMarks ?? (onlyMinorGcs(ctx) ? ctx.gcRuns : ctx.gcRuns - 1);
}

/** Is the object in slot s younger than every object the child's GCs kept there could be: so the child's GC
 *  freed the fork-time object, and the slot holds a new one? Each GC, minor or major, marks every young
 *  object it keeps and ages it (if write-barrier protected), and a new object starts at age 0 (CRuby's
 *  RVALUE_AGE_INC, and newobj). A fork-time object young and protected that lived through the child's k
 *  marking GCs is therefore of age min(age at fork + k, old age) at least; a younger one, or one whose age
 *  did not change at all, is a new object. Without this, a slot refilled with an object of the same type
 *  (an Array for an Array) counted its new contents as mutations of the old object (mutation.array,
 *  string.coderange, object.freeze …), which no fork-time step removes. oldFlags/newFlags: the flags
 *  word at the fork and now when it changed on this page (3.1/3.2 keep the age there). */
function youngerThanItsMarks(ctx: Context, s: Slot, oldFlags: Word | undefined, newFlags: Word | undefined): boolean {
  const L = ctx.L;
  if (!L || s.obj < 0) return false;
  const g = ctx.ruby.objects.gcFlags[s.obj];
  // an old object is freed by a major GC only, and a new one in its slot is young (or was promoted: not told)
  if (g & GC_FLAG_OLD) return ctx.gcFullRuns !== 0 && ctx.gcRuns > 0 && newFlags !== undefined && !oldFlagsWord(L, newFlags);
  if (!(g & GC_FLAG_WB_PROTECTED)) return false;
  const marks = markingGcs(ctx);
  if (marks < 1) return false;
  let atFork: number | undefined;
  let now: number | undefined;
  if (L.ageInFlags) {
    if (oldFlags === undefined || newFlags === undefined) return true; // the flags word, and with it the age, did not change
    atFork = (oldFlags.lo & FL.age) >>> 5;
    now = (newFlags.lo & FL.age) >>> 5;
  } else {
    const k = ctx.ageBits.wordOf(s.slot);
    if (k === HeapPageBits.UNKNOWN) return false;
    if (k === HeapPageBits.UNCHANGED) return true;
    atFork = ctx.ageBits.oldBits(k);
    now = ctx.ageBits.newBits(k);
  }
  return now < Math.min(L.oldAge, atFork + marks);
}

/** The cause of the word at offset off of slot s (0: its flags word); level: slotLevelCause(s, newFlags),
 *  looked up once per slot, which decides every other word where it is defined. */
function slotWordCause(
  ctx: Context,
  s: Slot,
  off: number,
  O: Word,
  N: Word,
  newFlags: Word | undefined,
  level: string | undefined,
  shapeChanged = false,
  ivarsMoved = false,
  froze = false,
  embedded = false,
  shared = false,
  rewritten = false,
): string {
  // (a slot free at the fork: its level says whose object the child made there, its flags word too)
  if (off === 0 && level !== 'gc.compact') return sweptSlotCause(s.type, 0, N, newFlags) ?? (level === REBORN || (s.type === T.NONE && level) ? level! : flagsWordCause(ctx.L, O, N, () => ctx.ageBits.atFork(s.slot), ctx.gcMarks, rewritten));
  if (level) return level;
  if (isMove(ctx, O, N)) return 'gc.compact';
  const w: SlotWord = { off, O, N, type: s.type, imemo: s.imemo, L: ctx.L, shapeChanged, ivarsMoved, froze, shared, embedded, obj: s.obj, ctx };
  for (const r of SLOT_RULES) if (r.when(w)) return r.cause;
  return mutation(s.type);
}

// ---- 2. struct heap_page ----

interface HeapPageWord {
  ctx: Context;
  hp: number;
  off: number;
  O: Word;
  N: Word;
}

/** struct heap_page's bitmaps: bit n stands for the slot at body + BITMAP_UNIT * n + bitmapShift. */
const BITMAP_UNIT = 40;
/** Where the slots of GC heap body b start, modulo BITMAP_UNIT (0 when unknown). */
const bitmapShift = (ruby: RubyStructures, b: number, body: number): number => (b >= 0 && ruby.slotStart[b] ? (ruby.slotStart[b] - body) % BITMAP_UNIT : 0);

/** The remembered set: bit n stands for the slot at body + 40n + (start - body) mod 40. Blame the store
 *  that made an old object point to a young one: an iseq whose cache the child refilled, an object given
 *  an ivar (memoized in the worker: a prewarm stores it in the parent, and no barrier runs in the child),
 *  else the GC. QA: 30,000 objects memoizing a fourth ivar, ~40 pages gc.remember a child, which prewarm
 *  saved and was not predicted to. */
function rememberedCause(w: HeapPageWord): string {
  const { ctx, hp, off, O, N } = w;
  const L = ctx.L!;
  const set = [(N.lo & ~O.lo) >>> 0, (N.hi & ~O.hi) >>> 0];
  const body = ctx.ruby.heapPageStructs.owner[hp];
  const base = body + (off - L.rememberBits.offset) * 8 * BITMAP_UNIT + bitmapShift(ctx.ruby, bodyOf(ctx, body), body);
  for (let bit = 0; bit < 64; bit++)
    if ((set[bit >> 5] >>> (bit & 31)) & 1) {
      const slot = base + bit * BITMAP_UNIT;
      const cause = ctx.iseqCacheCause.get(slot) ?? (ctx.ivarOwners.has(slot) ? 'object.ivar' : ctx.sharedStrings.has(slot) ? 'string.shared' : undefined);
      if (cause) return cause;
    }
  return ctx.gcRuns ? 'gc.bitmap' : 'gc.remember';
}

/** The header word holding has_remembered_objects, set with the first bit of the page's remembered set:
 *  the cause of the first of those bits the child set that names one (rememberedCause), else the GC's. */
function rememberFlagCause(w: HeapPageWord): string {
  const { ctx, hp } = w;
  const bits = ctx.L?.rememberBits;
  if (!bits?.bytes) return 'gc.remember';
  const from = ctx.ruby.heapPageStructs.start[hp] + bits.offset;
  // the changed words of the remembered set come after this one (the words are in address order)
  for (let k = lastAtOrBelow(ctx.wordAddr, from - 1) + 1; k < ctx.wordAddr.length && ctx.wordAddr[k] < from + bits.bytes; k++) {
    const cause = rememberedCause({ ctx, hp, off: ctx.wordAddr[k] - from + bits.offset, O: ctx.values.oldAt(k), N: ctx.values.newAt(k) });
    if (cause !== 'gc.remember' && cause !== 'gc.bitmap') return cause;
  }
  return 'gc.remember';
}

/** A word of the age bits (2 a slot, 32 slots a word). A GC that marks a young object raises its age
 *  (gc.age); a sweep that frees an object sets its age back to 0 (CRuby resets it as the slot joins the
 *  free list): a word whose ages only fell, each on a slot whose flags word the child changed (freed, or
 *  filled again), in a child whose GC ran, is the sweep's. Not an age that fell on a slot whose object is
 *  still there: a write barrier unprotecting a live object (a C extension taking RARRAY_PTR) resets its
 *  age too. 3.4.5's gc_lone_garbage had 6 of its 432 swept pages blamed gc.age for ages of freed slots
 *  gone from 1 to 0. */
function ageWordCause(w: HeapPageWord): string {
  const { ctx, O, N } = w;
  const L = ctx.L;
  if (!L?.ageBits) return 'gc.age';
  const body = ctx.ruby.heapPageStructs.owner[w.hp];
  // the slot of the word's first age (CRuby's NUM_IN_PAGE: one age per BITMAP_UNIT of the body)
  const first = body + bitmapShift(ctx.ruby, bodyOf(ctx, body), body) + ((w.off - L.ageBits.offset) / 8) * 32 * BITMAP_UNIT;
  for (let slot = 0; slot < 32; slot++) {
    const shift = (slot % 16) * 2;
    const atFork = ((slot < 16 ? O.lo : O.hi) >>> shift) & 3;
    const now = ((slot < 16 ? N.lo : N.hi) >>> shift) & 3;
    const made = ctx.newSlotFlags.get(first + slot * BITMAP_UNIT) !== undefined;
    // With no GC in the child, only its allocations set the ages of slots it filled (newobj): theirs.
    // QA (an autoload run in the child, GC off, 3.3.8/3.4.5): 3 pages of gc.age, first written by
    // newobj_alloc, where no GC ran.
    if (!ctx.gcRuns && made) continue;
    if (now > atFork || (now < atFork && !made)) return 'gc.age';
  }
  return ctx.gcRuns ? 'gc.sweep' : 'alloc.free-slot';
}

const within = (off: number, f: { offset: number; bytes: number } | null | undefined) => !!f && f.bytes > 0 && off >= f.offset && off < f.offset + f.bytes;

/** Fields of struct heap_page, first match wins. */
const HEAP_PAGE_FIELDS: { when: (w: HeapPageWord) => boolean; cause: string | ((w: HeapPageWord) => string) }[] = [
  { when: (w) => within(w.off, w.ctx.L?.ageBits), cause: ageWordCause },
  { when: (w) => within(w.off, w.ctx.L?.rememberBits), cause: rememberedCause },
  // counts and the free-list head change when the child allocates (or a GC sweeps);
  // has_remembered_objects (a flag in the header) with the remembered set
  // (a sweep without garbage of the fork's enough to matter: the child's own allocations, as above)
  { when: (w) => !!w.ctx.L && w.off < w.ctx.L.heapPage.bitmapsOffset, cause: (w) => (w.ctx.gcRuns ? (forkGarbageAbsorbs(w.ctx) ? 'gc.sweep' : 'alloc.free-slot') : w.off === 8 ? rememberFlagCause(w) : 'alloc.free-slot') },
  { when: () => true, cause: 'gc.bitmap' },
];

/** The cause of a changed struct heap_page word at offset off (exported for the rule-table tests; no
 *  iseq refilled its caches in this context, so remembered-set bits fall back to the GC's causes).
 *  changedSlots: offsets from the body's start of the slots whose flags word the child changed;
 *  fork: fork-time objects gone and free slots the child filled (forkGarbageAbsorbs; by default garbage
 *  enough). */
export function heapPageWordCause(L: RubyLayout | undefined, off: number, O: Word, N: Word, gcRuns: number, changedSlots: number[] = [], fork = { objectsGone: 1, slotsFilled: 0 }): string {
  const newSlotFlags = new SlotFlags(changedSlots.length);
  for (const slot of [...changedSlots].sort((a, b) => a - b)) newSlotFlags.push(slot, 0);
  const filledSlots = new AddrMap<true>();
  for (let i = 0; i < fork.slotsFilled; i++) filledSlots.set(40 * (i + 1), true);
  const ctx = { L, gcRuns, forkObjectsGone: fork.objectsGone, filledSlots, iseqCacheCause: new AddrMap(), ivarOwners: new AddrMap(), sharedStrings: new AddrMap(), newSlotFlags, wordAddr: new Float64Array(), ruby: { heapPageStructs: { owner: new Float64Array(1), start: new Float64Array(1) }, slotStart: new Float64Array() }, bodies: new Float64Array(), bodyEnds: new Float64Array() } as unknown as Context;
  const w: HeapPageWord = { ctx, hp: 0, off, O, N };
  const f = HEAP_PAGE_FIELDS.find((x) => x.when(w))!;
  return typeof f.cause === 'string' ? f.cause : f.cause(w);
}

// ---- 3. iseq inline caches ----

/** A call site's word (exported for the rule-table tests); iseqOld: the iseq owning the call site was old
 *  at the fork. */
export function callDataCause(ctx: { gcRuns: number; gcFullRuns: number | undefined; vmEmptyCc: Word | undefined }, O: Word, N: Word, iseqOld: boolean, rememberedAtFork = false): string {
  // A marking GC stores &vm_empty_cc into call sites (3.4.5 even into live ones). A child whose GCs were
  // all minor marked an old iseq only because a write barrier remembered it: the parent's before the
  // fork (its bit set at the fork), else the child's own cache fills.
  if (ctx.gcRuns && ctx.vmEmptyCc && same(N, ctx.vmEmptyCc) && !same(O, ctx.vmEmptyCc))
    return onlyMinorGcs(ctx) && iseqOld ? (rememberedAtFork ? 'gc.remembered-at-fork' : 'gc.iseq-remembered') : 'gc.iseq-mark';
  return 'icache.call';
}

/** Did the child run GCs, all of them minor (known from the capture)? */
const onlyMinorGcs = (ctx: { gcRuns: number; gcFullRuns: number | undefined }): boolean => ctx.gcRuns > 0 && ctx.gcFullRuns === 0;

/** Was the object at addr old at the fork (the heap map's old bit)? */
function oldAtFork(ctx: Context, addr: number): boolean {
  const i = ctx.objIndex.at(addr);
  return i >= 0 && !!(ctx.ruby.objects.gcFlags[i] & GC_FLAG_OLD);
}

/** Was the object at this slot in the remembered set at the fork (its bit set in the fork-time words of
 *  struct heap_page the child changed; unknown, an unchanged word, counts as no)? */
const wasRemembered = (ctx: Context, slot: number): boolean => ctx.rememberBits.atFork(slot) === 1;

/** The heap map's "old" flag (native/probe.ts HeapObjects.gcFlags). */
const GC_FLAG_OLD = 2;

/** Does the page hold inline caches a marking GC stores into (the version's: call_data on 3.3 and 3.4,
 *  is_entries too on 3.3) of an iseq that was old at the fork? */
function oldIseqCachesOn(ctx: Context, page: number, pageSize: number, rememberedAtFork?: boolean): boolean {
  const marked = ctx.L?.iseqMarkRestoresEmptyCc ? [ctx.ruby.callData, ctx.ruby.isEntries] : ctx.L?.markEmptiesCallCaches ? [ctx.ruby.callData] : [];
  for (const r of marked)
    for (let i = Math.max(0, lastAtOrBelow(r.start, page - 1)); i < r.start.length && r.start[i] < page + pageSize; i++)
      if (r.end[i] > page && oldAtFork(ctx, r.owner[i]) && (rememberedAtFork === undefined || wasRemembered(ctx, r.owner[i]) === rememberedAtFork)) return true;
  return false;
}

/** The kinds of inline cache share one array (is_entries): a constant cache points into the GC heap (an
 *  imemo_constcache); on 3.2+ (ivcPacked) an ivar cache packs its shape and index, so a pointer to the
 *  user start of a malloc'd chunk is a class-variable cache's (its rb_cvar_class_tbl_entry); 3.1's ivar
 *  cache points to a malloc'd table entry too. QA (3.3.8/3.4.5): 400 methods each reading 50 class
 *  variables, first run in the child: 20,000 cvar caches filled, all icache.ivar before. */
const isEntryCause = (ctx: Context, O: Word, N: Word): string =>
  inGcHeap(ctx, N) || inGcHeap(ctx, O) ? 'icache.const' : ctx.L?.ivcPacked && (mallocPointer(ctx, N) || mallocPointer(ctx, O)) ? 'icache.cvar' : 'icache.ivar';

const mallocPointer = (ctx: Context, v: Word): boolean => !isZero(v) && isUserStart(ctx.glibc, num(v));

/** VM_ENV_FLAG_WB_REQUIRED in an env's flags word (vm_core.h, the same in 3.1-3.4). */
const ENV_FLAG_WB_REQUIRED = 0x8;

function isEnvFlags(ctx: Context, addr: number): boolean {
  const e = ctx.ruby.envFlags;
  if (!e) return false;
  const i = lastAtOrBelow(e.ep, addr);
  return i >= 0 && e.ep[i] === addr;
}

/** Does the page hold the flags word of an env whose write-barrier flag was set at the fork? */
function envFlagsOn(ctx: Context, page: number, pageSize: number): boolean {
  const e = ctx.ruby.envFlags;
  if (!e) return false;
  for (let i = Math.max(0, lastAtOrBelow(e.ep, page - 1) + 1); i < e.ep.length && e.ep[i] < page + pageSize; i++) if (e.flags[i] & ENV_FLAG_WB_REQUIRED) return true;
  return false;
}

// ---- 4. malloc chunks ----

interface ChunkContent {
  ctx: Context;
  /** the changed word (its index in the diffs) */
  k: number;
  start: number;
  size: number;
  O: Word;
  N: Word;
}

const isObjOrZero = (ctx: Context, v: Word) => isZero(v) || inGcHeap(ctx, v);
/** A VALUE: a GC heap object, or a special constant (fixnum, flonum, symbol, nil, true, false, undef). */
const isValue = (ctx: Context, v: Word) => (v.hi === 0 && v.lo < 0x40) || !!(v.lo & 7) || inForkHeap(ctx, v);

/** st_table bins: an array of 8-, 16- or 32-bit entry indexes (a 32-bit index is two lanes, its high
 *  lane may stay 0). Every 16-bit lane that changed was empty (0) and now holds an index (an insert), or
 *  held one and is empty now (a delete or a rebuild; and in live mode, where the old word is the live
 *  parent's current value, a lane the parent filled after the fork). Words of pointers or counters change
 *  their low lanes between nonzero values, so they do not match. */
export function isBinsChange(O: Word, N: Word): boolean {
  let changed = 0;
  for (const [o, n] of [
    [O.lo & 0xffff, N.lo & 0xffff],
    [O.lo >>> 16, N.lo >>> 16],
    [O.hi & 0xffff, N.hi & 0xffff],
    [O.hi >>> 16, N.hi >>> 16],
  ]) {
    if (o === n) continue;
    if (o !== 0 && n !== 0) return false;
    changed++;
  }
  // a single small count or flag (0 <-> small) is a counter's job, not an index
  const small = (w: Word) => w.hi === 0 && w.lo < 0x10000;
  return changed > 0 && !small(isZero(O) ? N : O) && !(small(O) && small(N));
}

/** Only one 32-bit half changed, by less than 4096, and neither value points into a mapping. */
function isPackedCounter(ctx: Context, O: Word, N: Word): boolean {
  const step = O.lo === N.lo ? Math.abs(O.hi - N.hi) : O.hi === N.hi ? Math.abs(O.lo - N.lo) : Infinity;
  return step < 4096 && findRange(ctx.vmaStarts, ctx.vmaEnds, num(O)) < 0 && findRange(ctx.vmaStarts, ctx.vmaEnds, num(N)) < 0;
}

/** A machine-stack address on one side and, on the other, one too, 0 (the stack bounds of a thread that
 *  did not survive the fork, cleared in the child; in live mode the parent's thread still runs), or an
 *  address inside the same chunk (an empty list head points to itself; a queued waiter's node is on the
 *  waiting thread's stack). */
export function isThreadStateWord(stacks: { start: Float64Array; end: Float64Array }, start: number, size: number, O: Word, N: Word): boolean {
  const stack = (v: Word) => findRange(stacks.start, stacks.end, num(v)) >= 0;
  const other = (v: Word) => stack(v) || isZero(v) || (num(v) >= start && num(v) < start + size);
  return (stack(O) && other(N)) || (stack(N) && other(O));
}

const inIsEntries = (ctx: Context, v: Word) => !isZero(v) && findRange(ctx.ruby.isEntries.start, ctx.ruby.isEntries.end, num(v)) >= 0;

/** Contents of a chunk in use at the fork, first match wins. */
const CHUNK_CONTENT_RULES: { cause: string | ((c: ChunkContent) => string); when: (c: ChunkContent) => boolean }[] = [
  // an rb_id_table the child inserted into: its new items and the collided bits of the probe path
  { cause: (c) => c.ctx.idTableCause.get(c.start)!, when: (c) => c.ctx.idTableCause.has(c.start) && (isZero(c.O) || (c.O.hi === 0 && c.N.hi === 1 && c.O.lo === c.N.lo)) },
  // a method defined again: the method entry of its item replaced (idTableCauses)
  { cause: 'mutation.definition', when: (c) => c.ctx.idTableCause.get(c.start) === 'mutation.definition' && (c.ctx.cw.off(c.k) & 15) === 8 && imemoAt(c.ctx, num(c.O)) === IMEMO.ment && inGcHeap(c.ctx, c.N) },
  // A mark-stack chunk (stack_chunk_t: 500 VALUEs and a link, ~4 KiB): object pointers pushed and popped.
  // (a GC in the child marked; no object owns the chunk: a program's Array of ~500 elements is one's size)
  { cause: (c) => markStackCause(c.ctx, c.N), when: (c) => c.ctx.gcRuns > 0 && isMarkStackSize(c.size) && chunkOwnerIndex(c.ctx, c.start) < 0 && isObjOrZero(c.ctx, c.O) && isObjOrZero(c.ctx, c.N) },
  // A chunk whose owning object the child's GC freed (its slot now free or holding another type): the
  // owner's free function released the chunk (glibc's links written into it). In use again in the
  // child: its mallocs reused it at the same size, as they would had a GC before the fork freed it.
  // the fork-time bins or entries of a VM table the child rebuilt elsewhere (stTableHeaders): written by
  // the inserts before the rebuild, by glibc's free, or by what the child put in the memory after
  { cause: (c) => c.ctx.stTableReleased.get(c.start)!, when: (c) => c.ctx.stTableReleased.has(c.start) },
  { cause: 'alloc.swept-chunk', when: (c) => ownerDied(c.ctx, c.start) && childInUse(c.ctx, c.start) },
  // Free in the child, or the child's heap unknown: the sweep of the owner wrote the page.
  { cause: 'gc.sweep', when: (c) => ownerDied(c.ctx, c.start) },
  // A call-cache record or entries array the child freed as the program changed the class's methods (the
  // cache went with them) and its mallocs reused: what they wrote there (freedCacheChunks).
  { cause: (c) => c.ctx.freedCacheChunks.get(c.start)!, when: (c) => c.ctx.freedCacheChunks.has(c.start) },
  // 3.2+ constant-cache tracking: st_tables mapping each IC (an is_entries address) to Qtrue.
  { cause: 'icache.const', when: (c) => !c.ctx.L?.globalConstantSerial && (inIsEntries(c.ctx, c.N) || inIsEntries(c.ctx, c.O)) },
  // A Hash or Array no class owns (hidden from the program): a VM table kept as one, such as the dynamic
  // Symbols' fstring table that rb_sym2id deletes from as it makes a Symbol permanent (found with 5,000
  // Symbols' to_proc in the child: 151 pages taken for the program's mutation.hash), or the Arrays of
  // the Symbol ID table it adds the Symbol to (20,000 Symbols: 3-4 pages of mutation.array).
  { cause: 'mutation.hash-table', when: (c) => VM_TABLE_TYPES.has(ownerType(c.ctx, c.start)) && isVmTableChunk(c.ctx, c.start) },
  // The ivar table of an object with a "too complex" shape (3.3+), its entries among its chunks, that the
  // child inserted into: an ivar added (QA: @zz given to 20,000 such objects, 837-942 pages of
  // mutation.object a child on 3.3/3.4, first written by rb_st_insert)
  { cause: 'object.ivar', when: (c) => ownerType(c.ctx, c.start) === T.OBJECT && c.ctx.ivarTableInserts.has(c.ctx.ruby.chunkOwners!.slot[chunkOwnerIndex(c.ctx, c.start)]) },
  // an ivar nil at the fork set in the child, in an object's ivar buffer (as in its slot, SLOT_RULES)
  { cause: 'object.ivar', when: (c) => ownerType(c.ctx, c.start) === T.OBJECT && !!c.ctx.L && isNil(c.ctx.L, c.O) && !isNil(c.ctx.L, c.N) },
  // The generic ivars of an object that keeps them outside its slot (a String's, an Array's, a T_DATA's:
  // the buffer the VM's generic-ivar table points to): an ivar nil at the fork set, or the program's
  // change of the object. QA: 20,000 preloaded Strings whose @tag the workers set again, 372-539 pages a
  // child unknown (3.1-3.4: the new Integers).
  { cause: (c) => (!!c.ctx.L && isNil(c.ctx.L, c.O) && !isNil(c.ctx.L, c.N) ? 'object.ivar' : mutation(ownerType(c.ctx, c.start))), when: (c) => ownsGenericIvars(c.ctx, c.start) },
  // A class's or module's own data (classData, 3.3+; classExt, 3.1): its instance variables (a class-level @x set in the
  // child: the buffer, or a too-complex class's table and its entries) and its constants (its constant
  // table's items, the rb_const_entry_t they point to: a constant removed or defined again). Small
  // numbers, often, which the counter rules below would take for the VM's. Found by QA: 5,000 preloaded
  // classes given a class-level @hits in the workload (3.4.5): 164 pages a child vm.globals, first
  // written by rb_class_ivar_set.
  // A value the class held at the fork overwritten (a class variable, @@count += 1, lives in the same
  // buffer) is the program's change of its class; an ivar set where none was (nil, Qundef, or the spare
  // capacity of the buffer, whatever bytes it held) is object.ivar, a new one or memoized. QA: @@x set
  // again in 3,000 preloaded classes (3.3.8/3.4.5): 446-501 pages a child object.ivar, which prewarm
  // would not keep the child from setting again.
  // (3.1's st_table of them: an entry's record; the header's counts when an entry was added, stTableHeaders)
  { cause: (c) => c.ctx.stTableHeaders.get(c.start) ?? (heldValue(c.ctx, c.O) ? mutation(ownerType(c.ctx, c.start)) : 'object.ivar'), when: (c) => classDataOf(c.ctx, c.start) === 'ivars' },
  { cause: 'mutation.definition', when: (c) => classDataOf(c.ctx, c.start) === 'constants' },
  // Its method table (classMethodTable, 3.3+; classExt.methods, 3.1: the table and its items), which only definitions change: a
  // method added (its counts, its item and the probe path's collided bits), the items moved to a larger
  // array as it grew (the pointer; the old array freed, glibc's links in it). QA: 5,000 preloaded classes
  // of 3 methods given a fourth by define_method in the child, 390-435 pages a child vm.globals.
  { cause: 'mutation.definition', when: (c) => classDataOf(c.ctx, c.start) === 'methods' },
  // A buffer or table an object owns (its slot points to the chunk, or to a table that does): the program
  // changed that object's data, whatever the bytes look like (a String's characters are small numbers).
  { cause: (c) => mutation(ownerType(c.ctx, c.start)), when: (c) => DATA_OWNER_TYPES.has(ownerType(c.ctx, c.start)) },
  // The locals of an escaped environment (imemo env: a closure's, a Binding's; its body malloc'd): the
  // program's variables, which its blocks and local_variable_set change. QA: 20,000 preloaded lambdas
  // each bumping the local it closes over, 659-730 pages a child vm.globals (small numbers, 3.1-3.4);
  // local_variable_set on 20,000 preloaded Bindings, 696-769 pages unknown.
  { cause: 'mutation.imemo', when: (c) => ownerImemo(c.ctx, c.start) === IMEMO.env },
  // ... and the data of an object a C library implements (T_DATA), but the interpreter's own (a thread's
  // state): a field computed on first use and kept (a Date's civil date, from its day number; a Time's
  // broken-down time) only sets bits, where the program's changes (a Random's state) do not. Found on a
  // program whose workers read the year of 30,000 preloaded Dates (3.1-3.4): 222-582 pages a child were
  // vm.globals (small numbers), and none was copied when the parent had run the workload once. Not in
  // data the child rewrote elsewhere (a word that lost bits): that object's state changed, and its words
  // that only gained bits with it (QA: 10,000 preloaded Digest::SHA256 fed 100 bytes each, the buffer's
  // words filled from zero beside the new hash state, 355-437 pages a child object.data-cache, whose
  // prewarm would not keep the child from feeding them again).
  { cause: 'object.data-cache', when: (c) => isProgramData(c.ctx, c.start) && filledOnce(c.ctx.L, c.O, c.N) && !c.ctx.rewrittenChunks.has(c.start) && !ITERATION_DATA_CLASSES.has(chunkOwnerClassName(c.ctx, c.start)) },
  { cause: 'mutation.data', when: (c) => isProgramData(c.ctx, c.start) },
  // The header of a VM st_table the child inserted into (its entry count, bound, and on a rebuild its
  // bins and entries pointers): the same inserts as the table's bins and entries.
  { cause: (c) => c.ctx.stTableHeaders.get(c.start)!, when: (c) => c.ctx.stTableHeaders.has(c.start) },
  // The counts in the header of a class's ID table (capa and num, used) whose items the child inserted
  // into: the insert's (idTableCauses), for a table no rule above names (a method table where
  // classMethodTable is not known: 3.2). Found with the method tables: 5,000 preloaded classes given a
  // sixth method by define_method in the child (3.4.5), the counts 10,000 words of vm.globals.
  { cause: (c) => idTableHeaderCause(c.ctx, c.start, c.k)!, when: (c) => idTableHeaderCause(c.ctx, c.start, c.k) !== undefined },
  // Counters the call path bumps: the header of a class's callable_m_tbl or cc_tbl (an rb_id_table:
  // capa, num, used) when a call adds a cache, the header of a cc_tbl entry (rb_class_cc_entries: capa,
  // len) when a call adds a cache for that method, and a method definition's reference count (the chunk a
  // method entry points to at +16) when a call makes a method entry for it (a module's method called
  // through a class). Small numbers, which the rule below would take for VM counters.
  // ... but an alias of the method (alias_method, alias): its definition's alias count (3.1) or aliased
  // bit (3.3+) in the first word, beside the reference count a call's complement also bumps. QA: 10,000
  // methods of 2,000 preloaded classes aliased in the child, 10,000 words icache.call on 441-705 pages a
  // child (3.1-3.4), whose remedy (prewarm) does not stop a definition.
  // (a rise only: 3.1's count falls as a copy of the entry is freed. A copy of a method's entry made by
  // module_function, define_method given a Method, or a class's dup counts as an alias there too.)
  { cause: 'mutation.definition', when: (c) => c.ctx.cw.off(c.k) === CHUNK_HEADER && !!c.ctx.L?.methodDefAliased && (c.N.lo & c.ctx.L.methodDefAliased) >>> 0 > (c.O.lo & c.ctx.L.methodDefAliased) >>> 0 && isMethodDefinition(c.ctx, c.start) },
  { cause: 'icache.call', when: (c) => c.N.hi < 256 && c.O.hi < 256 && isCallPathCounter(c.ctx, c.start) },
  // ... and the counters and entries pointer of a call-cache record no object owns whose entries a call
  // outgrew (moved to an array the child allocated: freshChunkCauses), a call from a new call site to a
  // method called at the fork. define_in_child.rb (3.3.8): 4,000 classes' records for define_method grown
  // from 1 entry to 2, their counters 4,000 words of vm.globals and, where the new array lay in memory
  // the heap grew into (no chunk listed there), 1,600 entries pointers alloc.malloc.
  { cause: 'icache.call', when: (c) => c.ctx.grownCallCacheRecords.has(c.start) && (c.ctx.cw.off(c.k) === CHUNK_HEADER || c.ctx.cw.off(c.k) === CHUNK_HEADER + 16) },
  // ... or whose entries array glibc grew in place (the pointer as it was): the counters alone tell, as
  // vm_ccs_push leaves them when the record was full (capa == len) and it doubled capa for one more entry.
  // (define_in_child.rb: 347-700 such records of the 4,000, 3.1.2-3.4.5)
  { cause: 'icache.call', when: (c) => c.ctx.cw.off(c.k) === CHUNK_HEADER && c.size <= 48 && callCacheRecordGrew(c.O, c.N) && chunkOwnerIndex(c.ctx, c.start) < 0 },
  // ... and the items pointer beside a call-path table's counters when the call's insert outgrew its items
  // (id_table.c resizes into a new array): now into another chunk. CI (3.3.8 class_values, 3 runs in 40
  // here): a singleton class's cc_tbl grown from 4 to 8 items, its items pointer a word of mutation.class,
  // where an insert that found room in place changed only the counts.
  { cause: 'icache.call', when: (c) => c.ctx.cw.off(c.k) === CHUNK_HEADER + ID_TABLE_ITEMS && c.ctx.tw.kind[c.k] !== CW.NONE && isCallPathTable(c.ctx, c.start) },
  // The bins of a VM st_table whose header the child changed, where the indexes of the entries it inserted
  // went: small numbers too.
  { cause: (c) => stBinsCause(c.ctx.stTableIndexes, c.size, c.O, c.N)!, when: (c) => stBinsCause(c.ctx.stTableIndexes, c.size, c.O, c.N) !== undefined },
  // No address on either side in a lock's or queue's data (SYNC_DATA_CLASSES): the program's use of it.
  { cause: 'mutation.data', when: (c) => dataOwner(c.ctx, c.start) === 'sync' && !isMapped(c.ctx, c.O) && !isMapped(c.ctx, c.N) },
  // Small numbers on both sides: a counter of a malloc'd VM structure (rb_objspace, table sizes).
  { cause: 'vm.globals', when: (c) => c.N.hi < 256 && c.O.hi < 256 },
  // One 32-bit half stepped by a little, the word no address: counters and flags packed in a VM struct.
  { cause: 'vm.globals', when: (c) => isPackedCounter(c.ctx, c.O, c.N) },
  // st_table bins: an array of 8-, 16- or 32-bit entry indexes; an insert fills an empty lane (0), a
  // delete or rebuild empties one. Neither word an address (a pointer set to or from NULL).
  {
    cause: 'mutation.hash-table',
    when: (c) => isBinsChange(c.O, c.N) && findRange(c.ctx.vmaStarts, c.ctx.vmaEnds, num(c.N)) < 0 && findRange(c.ctx.vmaStarts, c.ctx.vmaEnds, num(c.O)) < 0,
  },
  // A call cache stored (an imemo callcache on either side): the VM's global call-cache table in rb_vm_t,
  // which send, public_send and rb_funcall fill (found on workers calling 2,000 methods by public_send,
  // 3.3/3.4: 4 pages of the RubyVM's chunk were mutation.container, ~1,030 words), or a class's cc table.
  { cause: 'icache.call', when: (c) => imemoAt(c.ctx, num(c.N)) === IMEMO.callcache || imemoAt(c.ctx, num(c.O)) === IMEMO.callcache },
  // Object references on both sides in the data of a T_DATA of the VM's (a Ractor's or a Fiber's
  // execution context: the running frame's self, the error info; the VM itself): the interpreter's state,
  // no container of the program's. Found beside the call caches above: 2-6 words a child on 3.1-3.4.
  { cause: 'vm.globals', when: (c) => isVmData(c.ctx, c.start) },
  // Object references in a chunk that the child's other pointers there tie to a cache table
  // (contentChunkCauses): a call-cache record (rb_class_cc_entries) the child made in memory that held a
  // dead one, whose method entry and entries array it stored, and whose old words still pointed to slots
  // free at the fork; or an entries array whose call cache it replaced. No container of the program's.
  // CI (3.3.8 send_calls, 1 run in 8): 5 such words mutation.container, where a child's call sites make 2.
  { cause: (c) => c.ctx.contentChunkCause.get(c.start)!, when: (c) => isCacheTableCause(c.ctx.contentChunkCause.get(c.start)) },
  // Object references on both sides to objects made after the heap map was written (slots it lists
  // free), on a page the fork path wrote in the twin too: the twin's fork path stored an object it had
  // just made, the child's its own, a slot further on (the parent ran cowscope's fork call between their
  // forks, which moved the child's allocations). No program's: its code saw the map last. Found on
  // send_calls.rb (3.4.5, 3 runs in 30): a 24-byte chunk in use since before the fork, 1 word
  // mutation.container, where the test wants none.
  { cause: 'fork.atfork', when: (c) => madeAfterMap(c.ctx, c.O) && madeAfterMap(c.ctx, c.N) && c.ctx.forkPathCopied(c.ctx.wordAddr[c.k]) },
  // Object references on both sides: the contents of an Array/Hash/ivar buffer changed.
  // (references into the fork-time heap: one to an object the child made on a GC heap page of its own, in
  // a chunk no rule above names (a VM table's new entry), is that allocation's, alloc.malloc below)
  { cause: 'mutation.container', when: (c) => isValue(c.ctx, c.O) && isValue(c.ctx, c.N) && (inForkHeap(c.ctx, c.O) || inForkHeap(c.ctx, c.N)) },
  // A thread's state (rb_thread_t, the execution context, a waiter queued on a lock or a sleep list):
  // saved stack bounds and registers, updated at every GC and context switch, cleared for the threads
  // that did not survive the fork; a wait-queue node lives on its thread's stack.
  { cause: 'vm.globals', when: (c) => isThreadStateWord(c.ctx.stacks, c.start, c.size, c.O, c.N) },
  // Other words of a chunk whose new pointers tie it to a table (object ids, inline caches).
  { cause: (c) => c.ctx.contentChunkCause.get(c.start)!, when: (c) => c.ctx.contentChunkCause.has(c.start) },
  // A pointer now leading to memory the child allocated: the structure grew or was relinked to it, as
  // part of that allocation (a chunk of [heap], or a mapping the child made: glibc mmaps large blocks).
  { cause: (c) => freshTargetCause(c.ctx, c.k)!, when: (c) => freshTargetCause(c.ctx, c.k) !== undefined },
  { cause: 'alloc.malloc', when: (c) => c.ctx.childMapped.at(num(c.N)) >= 0 },
  // Last, a table a class, module or iclass owns (its method, constant or call-cache tables) that no rule
  // above decodes: the program changed the class. Found on workers prepending a module to 1,000 preloaded
  // classes (QA, 3.3.8/3.4.5): the classes' call-cache entries cleared as their method tables moved to the
  // new origins, 72-203 pages a child unknown.
  // (also a cc_tbl item's record replaced by another, its method entry invalidated: tried as icache.call,
  // a call's cache, which a prewarm keeps. The planted native mode (sqlite3, 3.3.8/3.4.5) has 14-16 such
  // words on 7 pages a child, and as many after a prewarm: the workload invalidates them at every run,
  // so prewarm was predicted to save those pages and saved none. Left here.)
  { cause: (c) => mutation(ownerType(c.ctx, c.start)), when: (c) => CLASS_TYPES.has(ownerType(c.ctx, c.start)) },
  // A chunk in use at the fork that the child freed, no owner known: beyond glibc's links, what changed
  // there is what the child's own allocations wrote before it freed the memory again (the chunk
  // reallocated in place, at its size). Seen on shareable.rb (3.3.8, 1 run in 3): 127 words of a 2 KiB
  // chunk unknown. Nor an owner no rule above names, found through another chunk only: a stale pointer
  // the scan followed (CI, freed_in_place.rb on 3.3.8, 1 run in 30 under load: a Regexp's compiled
  // pattern pointed at one of the program's 300 Fiddle chunks, 370 words unknown).
  { cause: 'alloc.malloc', when: (c) => !!c.ctx.glibc.child && !childInUse(c.ctx, c.start) && !ownedDirectly(c.ctx, c.start) },
];

/** Does an object of the heap map point to the chunk at start from its slot (not only through another
 *  chunk it owns, where a stale pointer in that chunk may lead)? */
function ownedDirectly(ctx: Context, start: number): boolean {
  const i = chunkOwnerIndex(ctx, start);
  return i >= 0 && ctx.ruby.chunkOwners!.offset[i] > 0;
}

/** Which of its class's own data the chunk at start is (classData and classMethodTable; classExt's ivars,
 *  constants and methods where the classext is a chunk of its own): undefined for any other chunk. */
function classDataOf(ctx: Context, start: number): 'ivars' | 'constants' | 'methods' | undefined {
  const L = ctx.L;
  const i = L && (L.classData || L.classExt) ? chunkOwnerIndex(ctx, start) : -1;
  if (i < 0) return undefined;
  const o = ctx.ruby.chunkOwners!;
  if (!CLASS_TYPES.has(o.flags[i] & FL.typeMask)) return undefined;
  const ext = L!.classExt;
  // a table the classext points to, or an array that table points to (classTableChunks)
  if (ext) {
    if (o.offset[i] !== -ext.ext) return undefined;
    const inner = o.inner?.[i] ?? -1;
    return inner === ext.ivars ? 'ivars' : inner === ext.constants ? 'constants' : inner === ext.methods ? 'methods' : undefined;
  }
  // the chunk the class points to, or one that chunk points to (offset negated: a table's entries)
  const off = Math.abs(o.offset[i]);
  return off === L!.classData!.ivars ? 'ivars' : off === L!.classData!.constants ? 'constants' : off === L!.classMethodTable ? 'methods' : undefined;
}

/** Is the chunk at start one of its class's call-path tables (callable_m_tbl, cc_tbl), or the items of
 *  one? What a call puts there is a cache, whatever the record it points to looks like. */
function isCallPathTable(ctx: Context, start: number): boolean {
  const i = ctx.L && (ctx.L.classCallTables.length || ctx.L.classExt) ? chunkOwnerIndex(ctx, start) : -1;
  return i >= 0 && ownedAsCallPathTable(ctx, i);
}

/** Is row i of ruby.chunkOwners a class's call-path table or the items of one: owned through one of the
 *  slot's classCallTables, or (classExt) through the classext chunk's? */
function ownedAsCallPathTable(ctx: Context, i: number): boolean {
  const o = ctx.ruby.chunkOwners!;
  const L = ctx.L;
  if (!L || !CLASS_TYPES.has(o.flags[i] & FL.typeMask)) return false;
  const ext = L.classExt;
  if (ext) return o.offset[i] === -ext.ext && ext.callTables.includes(o.inner?.[i] ?? -1);
  return L.classCallTables.includes(Math.abs(o.offset[i]));
}

/** Object types whose malloc'd chunks hold the program's own data (buffers, tables, ivars). Classes,
 *  modules, iseqs and other imemos own VM structures that the rules above and below decode instead. */
const DATA_OWNER_TYPES = new Set<number>([T.OBJECT, T.STRING, T.ARRAY, T.HASH, T.STRUCT, T.BIGNUM, T.MATCH]);

/** Locks and queues (by class name; a Queue or SizedQueue of a subclass by its data type, holdsDataContents):
 *  the program's objects, whose data the interpreter also links its waiting threads'
 *  nodes and fibers into (their wait queues: the thread-state rules' pointers). Their other words are the
 *  program's use of them: a count, a limit, and a Queue's fork generation, which the first use after a
 *  fork stores (queue_fork_check: every Queue a child uses, prewarmed or not). QA: 20,000 preloaded
 *  Queues pushed to once in the child (3.1-3.4), that word 320-459 pages a child of vm.globals. */
const SYNC_DATA_CLASSES_LIST = ['Thread::Mutex', 'Thread::Queue', 'Thread::SizedQueue', 'Thread::ConditionVariable', 'Monitor'];
const SYNC_DATA_CLASSES = new Set(SYNC_DATA_CLASSES_LIST);

/** Classes of T_DATA objects whose data is the interpreter's state, not the program's: threads and fibers
 *  (stacks, registers, the execution context), the VM itself, backtraces, locks and queues. Objects of no
 *  named class (hidden ones) count as the interpreter's too. (By name: a subclass of Thread is not told.) */
const VM_DATA_CLASSES = new Set([
  '',
  'Thread',
  'Fiber',
  'Ractor',
  'RubyVM',
  'Thread::Backtrace',
  'Thread::Backtrace::Location',
  ...SYNC_DATA_CLASSES_LIST,
]);

/** Classes of T_DATA objects whose fields, filled from nothing, start an iteration rather than keep a value
 *  computed once: Enumerator#next makes the Fiber the enumerator runs in (its fib, and dst, the fiber it
 *  returns to), which every later next resumes. The program's use of the object (mutation.data), not
 *  object.data-cache: a prewarm would start the iterations in the parent, and every child would resume
 *  their Fibers there, copying their stacks. QA: 3,000 preloaded Enumerators given one next in the child
 *  (3.1-3.4.5), 103-143 pages a child object.data-cache, and prewarm predicted to save 1.0M where the
 *  children copied 35.7M more (exec.stack). (By name, as VM_DATA_CLASSES.) */
const ITERATION_DATA_CLASSES = new Set(['Enumerator', 'Enumerator::Lazy', 'Enumerator::Chain', 'Enumerator::Product', 'Enumerator::ArithmeticSequence']);

/** The name of the class of the object owning the chunk at start ('' when none is known, or unnamed). */
function chunkOwnerClassName(ctx: Context, start: number): string {
  const i = chunkOwnerIndex(ctx, start);
  return i < 0 ? '' : (ctx.classNames.get(ctx.ruby.chunkOwners!.klass[i]) ?? '');
}

/** Whose T_DATA the chunk at start is the data of: the VM's own classes' (VM_DATA_CLASSES: execution
 *  contexts, the Ractor), a lock's or queue's of the program (SYNC_DATA_CLASSES), or the program's;
 *  undefined when no T_DATA object owns it. */
function dataOwner(ctx: Context, start: number): 'vm' | 'sync' | 'program' | undefined {
  const i = chunkOwnerIndex(ctx, start);
  if (i < 0) return undefined;
  const o = ctx.ruby.chunkOwners!;
  if ((o.flags[i] & FL.typeMask) !== T.DATA) return undefined;
  const name = chunkOwnerClassName(ctx, start);
  // (a Queue is told by its data type too, whatever its class: the heap map lists what it holds)
  return SYNC_DATA_CLASSES.has(name) || holdsDataContents(ctx, o.slot[i]) ? 'sync' : VM_DATA_CLASSES.has(name) ? 'vm' : 'program';
}

/** The objects holding RubyStructures.dataContents (Queues, by their data type), sorted: made once per
 *  capture's structures. */
const contentsHolders = new WeakMap<object, Float64Array>();

/** Is the object at slot one that holds data contents (a Queue or SizedQueue, of any class)? */
function holdsDataContents(ctx: Context, slot: number): boolean {
  const c = ctx.ruby.dataContents;
  if (!c) return false;
  let holders = contentsHolders.get(c);
  if (!holders) contentsHolders.set(c, (holders = Float64Array.from(c.owner).sort()));
  return indexOf(holders, slot) >= 0;
}

function isProgramData(ctx: Context, start: number): boolean {
  return dataOwner(ctx, start) === 'program';
}

/** The imemo type of the object owning the chunk at start (-1: no imemo, no owner known). */
function ownerImemo(ctx: Context, start: number): number {
  const i = chunkOwnerIndex(ctx, start);
  const flags = i < 0 ? 0 : ctx.ruby.chunkOwners!.flags[i];
  return (flags & FL.typeMask) === T.IMEMO ? imemoTypeOf(flags) : -1;
}

/** The data of a T_DATA of the interpreter's, or of a lock's or queue's (their wait queues' links). */
function isVmData(ctx: Context, start: number): boolean {
  const owner = dataOwner(ctx, start);
  return owner === 'vm' || owner === 'sync';
}

/** Two 32-bit counters (capa and len) in one word? */
const smallPair = (w: Word): boolean => w.lo < 1 << 20 && w.hi < 1 << 20;

/** Did the word only gain bits (a field filled in from zero, a flag set)? */
const onlySetsBits = (O: Word, N: Word): boolean => ((O.lo & ~N.lo) | (O.hi & ~N.hi)) === 0 && (O.lo !== N.lo || O.hi !== N.hi);
/** A field of an object's data filled on first use: it only gained bits (from zero), or held nil, the unset
 *  field (3.1's Time keeps its zone nil until asked: the zone String's address may lack nil's bit 3, so
 *  by bits alone its word was mutation.data in about half of the runs, 20,000 words of time_fields.rb). */
const filledOnce = (L: RubyLayout | undefined, O: Word, N: Word): boolean => onlySetsBits(O, N) || (!!L && isNil(L, O) && !isNil(L, N));

/** What a malloc'd chunk an object points to is, by the object's type (the only out-of-slot data of each). */
const CHUNK_FIELDS: Record<number, string> = {
  [T.STRING]: 'its character buffer',
  [T.ARRAY]: 'its element buffer',
  [T.HASH]: 'its hash table',
  [T.OBJECT]: 'its instance variables',
  [T.STRUCT]: 'its members',
  [T.BIGNUM]: 'its digits',
  [T.MATCH]: 'its match offsets',
};

/** Does the chunk at start hold its owner's generic ivars (ChunkOwners.offset GENERIC_IVARS)? */
function ownsGenericIvars(ctx: Context, start: number): boolean {
  const i = chunkOwnerIndex(ctx, start);
  return i >= 0 && ctx.ruby.chunkOwners!.offset[i] === GENERIC_IVARS;
}

/** Index in ruby.chunkOwners of the chunk starting at start, or -1. */
function chunkOwnerIndex(ctx: Context, start: number): number {
  // several rules ask about the same chunk, and a chunk's words come one after another: the last answer
  if (start === ctx.ownerMemo.start) return ctx.ownerMemo.index;
  const o = ctx.ruby.chunkOwners;
  let i = -1;
  if (o && o.chunk.length) {
    const at = lastAtOrBelow(o.chunk, start);
    if (at >= 0 && o.chunk[at] === start) i = at;
  }
  ctx.ownerMemo.start = start;
  ctx.ownerMemo.index = i;
  return i;
}

/** The type of the object owning the chunk at start (-1: no owner known). */
function ownerType(ctx: Context, start: number): number {
  const i = chunkOwnerIndex(ctx, start);
  return i < 0 ? -1 : ctx.ruby.chunkOwners!.flags[i] & FL.typeMask;
}

/** Is the object at slot (of class klass) a table of the VM's: of no class (hidden from the program), and
 *  not the contents a program's object keeps hidden (RubyStructures.dataContents: a Queue's items, which
 *  the program pushes and pops)? QA: 20,000 preloaded Queues pushed to once in the child (3.1-3.4), their
 *  item Arrays 486-505 pages a child mutation.hash-table, whose remedy (prewarm) made the children copy
 *  3.3M more. */
function isVmTable(ctx: Context, slot: number, klass: number): boolean {
  const c = ctx.ruby.dataContents;
  return klass === 0 && !(c && indexOf(c.address, slot) >= 0);
}

/** isVmTable for the object owning the chunk at start (false: no owner known). */
function isVmTableChunk(ctx: Context, start: number): boolean {
  const i = chunkOwnerIndex(ctx, start);
  return i >= 0 && isVmTable(ctx, ctx.ruby.chunkOwners!.slot[i], ctx.ruby.chunkOwners!.klass[i]);
}

/** Is the chunk that starts at start in use in the child (the same start there: its own walk)? */
function childInUse(ctx: Context, start: number): boolean {
  const g = ctx.glibc;
  const k = g.childAt.at(start);
  return k >= 0 && g.child!.start[k] === start && g.child!.inUse[k] === 1;
}

/** Did the child free the object owning the chunk at start: the owner's slot is free in the child, or
 *  holds an object of another type (the slot was reused)? Slots whose flags word did not change are
 *  alive; a slot compaction left behind (T_MOVED) moved its object, chunk and all. */
function ownerDied(ctx: Context, start: number): boolean {
  const i = chunkOwnerIndex(ctx, start);
  if (i < 0) return false;
  const o = ctx.ruby.chunkOwners!;
  const now = ctx.newSlotFlags.get(o.slot[i]);
  const was = o.flags[i] & FL.typeMask;
  // A T_DATA object keeps its data pointer for life: the slot's pointer to the chunk changed, so the slot
  // holds another object of the type (a Date made where a dead Random was, whose state chunk was freed).
  if ((now === undefined || (now & FL.typeMask) === was) && was === T.DATA && o.offset[i] === DATA_PTR_OFFSET) return indexOf(ctx.wordAddr, o.slot[i] + DATA_PTR_OFFSET) >= 0;
  if (now === undefined) return false;
  const type = now & FL.typeMask;
  return type !== T.MOVED && type !== was;
}

/** struct RData / RTypedData: the data pointer after flags, klass and two words (dmark and dfree; type
 *  and the typed flag), 3.1-3.4. */
const DATA_PTR_OFFSET = 32;

/** Is the chunk at start one whose counters the call path bumps: a call table of a class (its slot
 *  points to it at one of classCallTables) or a method entry's definition (the entry points to it at
 *  +16, rb_method_entry_struct.def, 3.1-3.4)? */
function isCallPathCounter(ctx: Context, start: number): boolean {
  const i = chunkOwnerIndex(ctx, start);
  if (i < 0) return false;
  const o = ctx.ruby.chunkOwners!;
  const type = o.flags[i] & FL.typeMask;
  // the tables themselves, and the chunks their entries point to (a cc_tbl's rb_class_cc_entries per method:
  // capa and len, which a new call cache for the method bumps)
  if (CLASS_TYPES.has(type)) return ownedAsCallPathTable(ctx, i);
  return isMethodDefinition(ctx, start);
}

/** Is the chunk at start a method definition (rb_method_definition_t: a method entry points to it at +16,
 *  rb_method_entry_struct.def, 3.1-3.4)? */
function isMethodDefinition(ctx: Context, start: number): boolean {
  const i = chunkOwnerIndex(ctx, start);
  if (i < 0) return false;
  const o = ctx.ruby.chunkOwners!;
  return (o.flags[i] & FL.typeMask) === T.IMEMO && imemoTypeOf(o.flags[i]) === IMEMO.ment && o.offset[i] === 16;
}

/** idTableItems' key: a class's slot (a multiple of 8) and the offset (a multiple of 8, below 256) of the
 *  field in it that points to an ID table. */
const idTableKey = (slot: number, offset: number): number => slot * 32 + offset / 8;

function idTableItemsOf(owners: ChunkOwners | undefined): AddrMap<number> {
  const out = new AddrMap<number>();
  if (!owners) return out;
  // a chunk reached through a table (offset: minus the slot's field) at the table's items pointer
  for (let i = 0; i < owners.chunk.length; i++)
    if (owners.offset[i] < 0 && owners.offset[i] > -256 && owners.inner?.[i] === ID_TABLE_ITEMS && CLASS_TYPES.has(owners.flags[i] & FL.typeMask))
      out.set(idTableKey(owners.slot[i], -owners.offset[i]), owners.chunk[i]);
  return out;
}

/** The cause of changed word k of the chunk at start where the chunk is the header of a class's ID table
 *  (its slot points to it; the word: capa and num, or used) whose items the child inserted into: the
 *  insert's (idTableCauses); else undefined. */
function idTableHeaderCause(ctx: Context, start: number, k: number): string | undefined {
  const off = ctx.cw.off(k) - CHUNK_HEADER;
  if (off !== 0 && off !== 8) return undefined;
  const i = chunkOwnerIndex(ctx, start);
  if (i < 0) return undefined;
  const o = ctx.ruby.chunkOwners!;
  if (o.offset[i] <= 0 || o.offset[i] >= 256 || !CLASS_TYPES.has(o.flags[i] & FL.typeMask)) return undefined;
  const items = ctx.idTableItems.get(idTableKey(o.slot[i], o.offset[i]));
  return items === undefined ? undefined : ctx.idTableCause.get(items);
}

/** The owner of a changed word in a fork-time chunk (i: its index in ruby.chunkOwners), for the by-type
 *  and by-class tables. */
function chunkOwnerOf(ctx: Context, i: number): WordOwner | undefined {
  if (i < 0) return undefined;
  const o = ctx.ruby.chunkOwners!;
  const type = o.flags[i] & FL.typeMask;
  const off = o.offset[i];
  const field =
    off === GENERIC_IVARS
      ? "its instance variables (the VM's generic-ivar table points to them)"
      : CHUNK_FIELDS[type]
        ? `${CHUNK_FIELDS[type]}${off < 0 ? ' (a chunk its table points to)' : ''}`
        : off < 0
          ? `a chunk that ${off === -1 ? 'one of its chunks' : `the one it points to at +${-off}`} points to` // -1: an older capture
          : `a chunk it points to at +${off}`;
  return { key: o.slot[i], type: TYPE_NAMES[type] ?? 'unknown', class: classLabel(ctx, type, imemoTypeOf(o.flags[i]), o.klass[i]), field };
}

/** The cause of the chunk the child allocated that word k's new value points into, if any. */
function freshTargetCause(ctx: Context, k: number): string | undefined {
  return ctx.tw.kind[k] === CW.FRESH ? (ctx.freshChunkCause.get(ctx.tw.start(k)) ?? 'alloc.malloc') : undefined;
}

/** What a call-cache table record points to: method entries, call caches and call infos. */
const CALL_CACHE_IMEMOS = new Set<number>([IMEMO.ment, IMEMO.callcache, IMEMO.callinfo]);

/** What a pointer the child stored into a chunk says about that chunk, first match wins; `fresh`: a chunk
 *  the child allocated (else one in use at the fork). */
const FRESH_CHUNK_POINTERS: { cause: string; when: (ctx: Context, target: number, fresh: boolean, imemo: number) => boolean }[] = [
  // A method entry the child made (define_method, define_singleton_method, a method definition run in the
  // child), stored in the method table it allocated or grew: a definition, not a cache. Not an entry a
  // call complemented (a module's method in an including class's callable table). QA: 20,000
  // define_singleton_method in the child, 102-182 pages of icache.call (3.1-3.4) and no call made.
  { cause: 'mutation.definition', when: (ctx, t, _, imemo) => imemo === IMEMO.ment && madeInChild(ctx, t) && !complemented(ctx, t) },
  // A call-cache table: a class's cc_tbl items and callable_m_tbl point to method entries, and so does a
  // call-cache record (struct rb_class_cc_entries: capa and len, then the method entry at +8); its entries
  // array is found through the record (freshChunkCauses). In a fork-time chunk, call caches and call infos
  // tell too (a table's entries the child filled). Elsewhere in a chunk the child allocated they say
  // nothing: the iseqs the child compiles (an eval per call, as ERB#result is; a template's first render)
  // hold them in their instructions and call_data. Found on a program whose workers render an ERB
  // template per order (3.1-3.4): 1,100-1,800 pages of such chunks were icache.call, and its prewarm,
  // which that cause names, made the child copy 38% more.
  {
    cause: 'icache.call',
    when: (_ctx, _t, fresh, imemo) => imemo === IMEMO.ment || (!fresh && CALL_CACHE_IMEMOS.has(imemo)),
  },
  // 3.2+ constant-cache tracking: a set of ICs, each an address inside an iseq's is_entries
  { cause: 'icache.const', when: (ctx, t) => !ctx.L?.globalConstantSerial && findRange(ctx.ruby.isEntries.start, ctx.ruby.isEntries.end, t) >= 0 },
  // the object-id tables (id -> object, object -> id) the child filled for objects it gave an id
  { cause: 'object.id', when: (ctx, t) => ctx.idSeenSlots.has(t) },
];

/** The cause the first matching FRESH_CHUNK_POINTERS row gives a stored pointer, if any. known: the
 *  answers for targets asked before with the same `fresh` ('' none), kept by a caller that asks of many
 *  pointers to the same objects. */
function freshPointerCause(ctx: Context, target: number, fresh: boolean, known?: AddrMap<string>): string | undefined {
  // Every row asks about an 8-byte aligned address in pointerSpan. Most stored values are not (small
  // numbers, characters): a Rails worker asks for ~300K words of the chunks it allocated.
  if (!aligned8(target) || target < ctx.pointerSpan.lo || target >= ctx.pointerSpan.hi) return undefined;
  const was = known?.get(target);
  if (was !== undefined) return was || undefined;
  let cause: string | undefined;
  // the imemo type of the object there (-1: none), which the first rows ask: a few searches, done once
  const imemo = imemoAt(ctx, target);
  for (const r of FRESH_CHUNK_POINTERS)
    if (r.when(ctx, target, fresh, imemo)) {
      cause = r.cause;
      break;
    }
  known?.set(target, cause ?? '');
  return cause;
}

/** Is the method entry at addr one a call complemented (a module's method called through a class: the
 *  entry the call made for it in the class's or iclass's callable table), by the child's flags of it? */
function complemented(ctx: Context, addr: number): boolean {
  return !!(slotFlagsAt(ctx, addr) & FL.mentComplemented);
}

/** The causes of a cache table's chunks, which spread through the table (freshChunkCauses). */
function isCacheTableCause(cause: string | undefined): cause is 'icache.call' | 'icache.const' {
  return cause === 'icache.call' || cause === 'icache.const';
}

/** Did the child make the object at addr: in a slot free at the fork, or on a GC heap page of its own? */
function madeInChild(ctx: Context, addr: number): boolean {
  return ctx.filledSlots.has(addr) || (ctx.bornFlags.size > 0 && ctx.bornFlags.get(addr) !== undefined);
}

/** The child's flags (low half) of the object at addr, where it set them; 0 elsewhere. */
function slotFlagsAt(ctx: Context, addr: number): number {
  return ctx.newSlotFlags.get(addr) ?? ctx.bornFlags.get(addr) ?? 0;
}

/** The imemo type of the object at an address: from the child's new flags, else the heap map; -1. */
function imemoAt(ctx: Context, addr: number): number {
  // Objects are 8-byte aligned; every slot whose flags changed and every object of the heap map lies in
  // a GC heap body: elsewhere only the objects the child allocated on pages of its own are searched.
  if (!aligned8(addr)) return -1;
  const inBody = bodyOf(ctx, addr) >= 0;
  const fresh = inBody ? ctx.newSlotFlags.get(addr) : undefined;
  if (fresh !== undefined) return (fresh & FL.typeMask) === T.IMEMO ? imemoTypeOf(fresh) : -1;
  const born = ctx.bornFlags.size ? ctx.bornFlags.get(addr) : undefined;
  if (born !== undefined) return (born & FL.typeMask) === T.IMEMO ? imemoTypeOf(born) : -1;
  if (!inBody) return -1;
  const i = ctx.objIndex.at(addr);
  const o = ctx.ruby.objects;
  return i >= 0 && o.type[i] === T.IMEMO ? o.imemo[i] : -1;
}

/** What the child made for an ivar it added to a fork-time object (memoization: @x ||= ..., first run in
 *  the worker): where the ivars outgrew the object's slot or buffer, the new buffer the slot now points to
 *  (a chunk the child malloc'd), and the new objects in slots free at the fork that such an ivar, in the
 *  slot or in that buffer, now holds where it held nil, Qundef or 0. A prewarm that memoized in the parent
 *  makes them there: the child only reads them. QA: 30,000 preloaded objects' display names memoized in
 *  the workers, a fourth ivar each: 549 pages alloc.free-slot and 139 alloc.malloc a child beside 822
 *  object.ivar (3.1.2), and prewarm predicted to save 158 pages where it saved 1,542. */
function ivarGrowth(ctx: Context, diffs: PageDiffs, pageBody: Int32Array, v: WordValues): void {
  const { ruby, L, cw } = ctx;
  if (!L) return;
  // the slot of the fork-time T_OBJECT that changed word k is in, else -1; a slot's changed words come
  // one after another, so the last slot's answer is kept (a Rails worker: ~300K words, a fifth as many slots)
  let lastSlot = -1;
  let lastObject = -1;
  const objectOf = (k: number): number => {
    const b = pageBody[diffs.wordPage[k]];
    const start = ruby.slotStart[b];
    const size = ruby.slotSize[b];
    const addr = ctx.wordAddr[k];
    if (!start || !size || addr < start) return -1;
    const slot = start + Math.floor((addr - start) / size) * size;
    if (slot === lastSlot) return lastObject;
    const obj = ctx.objIndex.at(slot);
    lastSlot = slot;
    return (lastObject = obj >= 0 && ruby.objects.type[obj] === T.OBJECT ? slot : -1);
  };
  const unset = (w: Word) => unsetIvar(L, w);
  // the slots' words first: embedded ivars set, and pointers that may lead to a new buffer (its user
  // start), with the object that holds each
  const pointed = new AddrMap<number>();
  for (const k of ctx.lists.slot) {
    const slot = objectOf(k);
    if (slot < 0) continue;
    // its flags: the ivars moved out of the slot (into a buffer the capture may not hold: new memory)
    if (ctx.wordAddr[k] === slot && unembedded(v.oldIn(k), v.newIn(k))) ctx.ivarOwners.set(slot, true);
    // its fields past the class
    if (ctx.wordAddr[k] - slot < 16) continue;
    // a value set where none was, or a pointer that may lead to a new buffer: not one to the buffer 3.1's
    // GC moved out of the transient heap as it promoted the object (QA: 8,000 young objects of four ivars
    // at the fork, one minor GC in the child, 155 pages object.ivar)
    const N = num(v.newIn(k));
    if (unset(v.oldIn(k)) && ctx.filledSlots.has(N)) {
      ctx.ivarValues.set(N, true);
      ctx.ivarOwners.set(slot, true);
    } else if (!(N & 7) && N > 16 && !inTransientHeap(ctx, v.oldIn(k))) pointed.set(N - 16, slot);
  }
  if (!pointed.size) return;
  // then the chunks the child malloc'd that such a pointer leads to, and what they hold
  for (const k of ctx.lists.fresh) {
    const owner = pointed.get(cw.start(k));
    if (owner === undefined) continue;
    ctx.ivarOwners.set(owner, true);
    ctx.ivarBuffers.set(cw.start(k), true);
    if (ctx.filledSlots.has(num(v.newIn(k)))) ctx.ivarValues.set(num(v.newIn(k)), true);
  }
}

/** 3.1: the chunks the child's GC malloc'd for buffers it moved out of the transient heap (an object it
 *  promoted: a slot's pointer that led into the transient heap now leads to the chunk's user start). A GC
 *  before the fork moves them in the parent. QA: 8,000 young objects of four ivars at the fork, one minor
 *  GC in the child: 210 pages alloc.malloc, which no step removes, where gc saved 2.4M. */
function transientMoves(ctx: Context, v: WordValues): void {
  if (!ctx.L?.transientBlock) return;
  for (const k of ctx.lists.slot) {
    const N = num(v.newIn(k));
    if (!(N & 7) && N > 16 && inTransientHeap(ctx, v.oldIn(k)) && !inTransientHeap(ctx, v.newIn(k))) ctx.transientMoved.set(N - 16, true);
  }
}

/** The fork-time call-cache chunks no object owns (a class's cc_tbl items point to them, a level deeper
 *  than the owner scan reads) that the child freed, by chunk start: a record (struct rb_class_cc_entries,
 *  3.1-3.4: capa and len, then the method entry at +8) whose method entry word now holds something else,
 *  or its entries array (a call info, then the call cache at +8) whose first call cache is now no call
 *  cache, where the child did not make a cache structure there again. A live record keeps its method
 *  entry (a record is per method entry: vm_ccs_create), and a live array's call cache is replaced by
 *  another; an array a call outgrew is moved (its record's entries pointer changed, the method entry
 *  kept: define_in_child.rb). The VM frees both when the method entry is invalidated
 *  (a method defined again, a module prepended: ensure_origin moves the class's methods to its origin),
 *  and the child's mallocs fill the memory again (the chunk in use in the child's walk). That is the
 *  program's change of the class where the child ran no GC, or where it invalidated the method entry
 *  (METHOD_ENTRY_INVALIDATED set in its changed flags word). Not decided here otherwise: a GC frees the
 *  records of method entries invalidated before the fork too, as a GC there would have (Rails, 3.1-3.4:
 *  7-10 such chunks a worker, some refilled with request Strings), and an entries array's record is not
 *  known. CI
 *  (3.3.8 prepend_classes): 171-239 words of such chunks unknown, the rest of theirs vm.globals (the
 *  counters), mutation.container and icache.call (the pointers to objects that were in them). */
function freedCacheChunks(ctx: Context, diffs: PageDiffs, v: WordValues): AddrMap<string> {
  const out = new AddrMap<string>();
  const { cw } = ctx;
  // (words of chunks in use at the fork, off the GC heap)
  const words = ctx.lists.content;
  // entries arrays that a call moved as it outgrew them (vm_ccs_push reallocs: the old array freed), the
  // record kept: its entries pointer changed, its method entry (the word before) did not
  const outgrown = new AddrMap<true>();
  for (const k of words) {
    if (cw.off(k) === CHUNK_HEADER + 16 && !neighbourChanged(ctx, diffs, k, -1, cw.start(k))) outgrown.set(num(v.oldIn(k)) - CHUNK_HEADER, true);
  }
  for (const k of words) {
    if (cw.off(k) !== CHUNK_HEADER + 8) continue;
    const start = cw.start(k);
    const was = forkImemoAt(ctx, num(v.oldIn(k))) ?? (recordShaped(ctx, diffs, v, k, start) ? IMEMO.ment : -1);
    if (was !== IMEMO.ment && (was !== IMEMO.callcache || outgrown.has(start))) continue;
    // (a cache structure again, a record or entries the child made there: the cache rules')
    const now = imemoAt(ctx, num(v.newIn(k)));
    if (now === IMEMO.ment || now === IMEMO.callcache || chunkOwnerIndex(ctx, start) >= 0) continue;
    // (the memory in use again: a chunk the child freed and left free holds glibc's links there)
    if (!ctx.glibc.child || !childInUse(ctx, start)) continue;
    // On a page cowscope's fork path wrote in the twin too (forkPathCopied), a record the twin's own first
    // call made after its fork, which the child never held: the fork path's (CI, 3.4.5 class_values and
    // send_calls, 1 run in 5: the twin's record of cowscope's forked_setup where the child holds an
    // entries array, 2 words of mutation.class and 1 of mutation.definition or mutation.container).
    if (ctx.forkPathCopied(ctx.wordAddr[k])) {
      out.set(start, 'fork.atfork');
      continue;
    }
    if (!ctx.gcRuns || (was === IMEMO.ment && invalidatedInChild(ctx, num(v.oldIn(k))))) out.set(start, 'mutation.class');
  }
  return out;
}

/** Is the object at addr a method entry the child invalidated: its flags word changed, METHOD_ENTRY_INVALIDATED
 *  set now (not an entry aged, or marked cached by a call: other bits of the same word)? */
function invalidatedInChild(ctx: Context, addr: number): boolean {
  const now = ctx.newSlotFlags.get(addr);
  return now !== undefined && (now & FL.typeMask) === T.IMEMO && imemoTypeOf(now) === IMEMO.ment && (now & METHOD_ENTRY_INVALIDATED) !== 0;
}

/** METHOD_ENTRY_INVALIDATED (IMEMO_FL_USER4, bit 21; FL.mentCached holds it with METHOD_ENTRY_CACHED) */
const METHOD_ENTRY_INVALIDATED = 0x200000;

/** The imemo type of the object at an address at the fork (the heap map's), whatever the child made of
 *  its slot since: -1 for an object of no imemo type or no object, undefined for a slot the map does not
 *  list (it lists the objects of the copied pages, and every class and iseq). */
function forkImemoAt(ctx: Context, addr: number): number | undefined {
  if (!aligned8(addr) || bodyOf(ctx, addr) < 0) return -1;
  const i = ctx.objIndex.at(addr);
  const o = ctx.ruby.objects;
  return i < 0 ? undefined : o.type[i] === T.IMEMO ? o.imemo[i] : -1;
}

/** Did changed word k (at +8 in the chunk at start, a slot's address at the fork) and the words either
 *  side of it, changed too, read at the fork as a call-cache record: capa and len (1 <= len <= capa), the
 *  method entry, and the entries pointer to the user start of a chunk in use? For a method entry on a page
 *  the child did not copy, which the heap map does not list: in prepend_classes.rb (3.3.8) most records. */
function recordShaped(ctx: Context, diffs: PageDiffs, v: WordValues, k: number, start: number): boolean {
  if (ctx.cw.size(k) > 48 || !neighbourChanged(ctx, diffs, k, -1, start) || !neighbourChanged(ctx, diffs, k, 1, start)) return false;
  const counts = v.oldAt(k - 1);
  const entries = num(v.oldIn(k + 1)) - CHUNK_HEADER;
  const g = ctx.glibc;
  const f = g.forkAt.at(entries);
  return counts.lo >= counts.hi && counts.hi >= 1 && counts.lo <= 0x10000 && f >= 0 && g.fork.start[f] === entries && g.fork.inUse[f] === 1;
}

/** Causes of the chunks the child allocated, from the pointers it stored in them and the cache tables
 *  they belong to. Other chunks the child allocated hold whatever it malloc'd. */
function freshChunkCauses(ctx: Context, diffs: PageDiffs, v: WordValues): AddrMap<string> {
  const out = new AddrMap<string>();
  const pointsTo: [number, number][] = [];
  // the pointer rules' answer by target: a Rails worker's chunks hold 94K pointers the rules look at, to
  // 39K objects and arrays (each a few searches)
  const targetCauses = new AddrMap<string>();
  // a chunk's words come one after another: its cause so far, from the word before
  let lastStart = -1;
  let lastCause: string | undefined;
  // chunks a fork-time call table or call-cache record now points to (the pointer is to their user
  // start; these are chunk starts): its items or entries, moved to memory the child allocated as they grew
  const grownFrom: number[] = [];
  // A fork-time call-cache record (struct rb_class_cc_entries: capa and len, the method entry, entries)
  // whose entries array grew: its counters changed, and its entries pointer now leads to a chunk the
  // child allocated. No object owns a record directly (a class's cc_tbl items point to it).
  let countersChanged = -1;
  const { cw, tw } = ctx;
  // words of chunks only (half of a Rails worker's), and of no GC heap page (those hold no malloc chunks)
  for (const k of ctx.lists.chunk) {
    if (cw.kind[k] === CW.CONTENT) {
      const start = cw.start(k);
      const target = tw.kind[k] === CW.FRESH && tw.off(k) === 16;
      // (or into the memory the heap grew into since the fork, whose chunks no walk lists)
      const toFresh = target || (cw.off(k) === 32 && inHeapGrowth(ctx.glibc, num(v.newIn(k))));
      if (cw.off(k) === 16 && smallPair(v.oldAt(k)) && smallPair(v.newAt(k))) countersChanged = start;
      const grownRecord = cw.off(k) === 32 && countersChanged === start && cw.size(k) <= 48 && chunkOwnerIndex(ctx, start) < 0;
      if (toFresh && grownRecord) ctx.grownCallCacheRecords.set(start, true);
      if (target && (grownRecord || isCallPathCounter(ctx, start))) grownFrom.push(tw.start(k));
      continue;
    }
    const start = cw.start(k);
    const was = start === lastStart ? lastCause : out.get(start);
    lastStart = start;
    lastCause = was;
    // a pointer decides the chunk's cause until one names it (alloc.malloc: none so far); not a method
    // entry after an object reference: a Method's data (its receiver's class, then the entry; 3.1 mallocs
    // it) where a cache table has a count or an ID before it (QA: 20,000 obj.method(:m) in the child, 215
    // pages of icache.call on 3.1)
    const pointed = !was || was === 'alloc.malloc' ? freshPointerCause(ctx, num(v.newIn(k)), true, targetCauses) : undefined;
    const cause = pointed && !afterObjectReference(ctx, diffs, v, k, start) && !backtraceLocation(ctx, diffs, v, k, start) ? pointed : undefined;
    if (cause) out.set(start, (lastCause = cause));
    else if (!was) out.set(start, (lastCause = 'alloc.malloc'));
    // only from a chunk still in use: one the child freed again (merged with its free neighbours) holds
    // what several dead allocations left, no table's links (3.1.2, a 73 KiB free chunk holding a Hash's
    // old entries and another structure's pointers to a call-cache chunk: 665 pages icache.call)
    if (tw.kind[k] === CW.FRESH && tw.off(k) === 16 && (!ctx.glibc.child || childInUse(ctx, start))) pointsTo.push([start, tw.start(k)]);
  }
  for (const start of grownFrom) if ((out.get(start) ?? 'alloc.malloc') === 'alloc.malloc') out.set(start, 'icache.call');
  // A cache table is a tree of chunks (a class's cc_tbl items -> ccs record -> its entries; the constant
  // cache's set -> its entries): a chunk the child allocated that points to a cache chunk, or that a
  // call-cache record points to, is part of the same table. Two rounds settle three levels, each round
  // from the causes the one before left: a chain of pointers found in address order went further in one
  // round, through chunks of no table. A tree node has one parent, and a table's chunks point mostly to
  // its other chunks: a chunk the child reused holds stale pointers past what it wrote (the old arrays a
  // realloc freed), so down only to a chunk no other chunk points to, and up only from a chunk at least
  // half of whose pointers lead to the table. QA (2,000 variables set with ENV in the child, 3.4.5): a
  // call-cache chunk in memory where glibc's environ array had been still pointed to three of the strings,
  // environ (2,000 pointers) joined the table through them, and then all 2,000 strings were icache.call,
  // 223-279 pages a child.
  // by chunk: the first chunk found pointing to it (-1: more than one), and its pointers' count
  const parent = new AddrMap<number>();
  const pointers = new AddrMap<number>();
  for (const [from, to] of pointsTo) {
    const p = parent.get(to);
    if (p === undefined) parent.set(to, from);
    else if (p !== from) parent.set(to, -1);
    pointers.set(from, (pointers.get(from) ?? 0) + 1);
  }
  for (let round = 0; round < 2; round++) {
    const found: [number, string][] = [];
    const cacheTargets = new AddrMap<number>();
    for (const [from, to] of pointsTo) {
      if (isCacheTableCause(out.get(to))) cacheTargets.set(from, (cacheTargets.get(from) ?? 0) + 1);
    }
    for (const [from, to] of pointsTo) {
      const a = out.get(from);
      const b = out.get(to);
      if (a === 'icache.call' && b === 'alloc.malloc' && parent.get(to) === from) found.push([to, 'icache.call']);
      if (isCacheTableCause(b) && a === 'alloc.malloc' && 2 * cacheTargets.get(from)! >= pointers.get(from)!) found.push([from, b]);
    }
    for (const [start, cause] of found) out.set(start, cause);
  }
  for (const [start] of ctx.ivarBuffers) out.set(start, 'object.ivar');
  for (const [start] of ctx.transientMoved) if ((out.get(start) ?? 'alloc.malloc') === 'alloc.malloc') out.set(start, 'alloc.transient');
  return out;
}

/** Do the first word's old and new values (O, N) read as a call-cache record's counters (struct
 *  rb_class_cc_entries: int capa, int len, 3.0-3.4) when calls' new entries found it full: capa == len, a
 *  power of two, then capa doubled (once or more, a power of two again) and len past the old capa, within
 *  the new? */
function callCacheRecordGrew(O: Word, N: Word): boolean {
  const [capa, now] = [O.lo, N.lo];
  const pow2 = (x: number) => x > 0 && x <= 0x10000 && (x & (x - 1)) === 0;
  return pow2(capa) && O.hi === capa && pow2(now) && now >= 2 * capa && N.hi > capa && N.hi <= now;
}

/** Is changed word k, in the chunk at start, a method entry right after a word that now holds a GC heap
 *  reference (a Method's data: its class, then its entry), rather than after a count or an ID (a call
 *  cache record, a method table's item)? */
function afterObjectReference(ctx: Context, diffs: PageDiffs, v: WordValues, k: number, start: number): boolean {
  return neighbourChanged(ctx, diffs, k, -1, start) && inGcHeap(ctx, v.newIn(k - 1)) && imemoAt(ctx, num(v.newIn(k))) === IMEMO.ment;
}

/** Did the child change the word 8 bytes before (step -1) or after (step 1) changed word k, in the same
 *  chunk (at start)? The changed words come in address order: it is word k + step. */
function neighbourChanged(ctx: Context, diffs: PageDiffs, k: number, step: -1 | 1, start: number): boolean {
  const j = k + step;
  // (by address: the word before a page's first is the last of the page before, when that one was copied)
  return j >= 0 && j < diffs.wordPage.length && ctx.cw.start(j) === start && ctx.wordAddr[j] === ctx.wordAddr[k] + 8 * step;
}

/** Is changed word k, in the chunk at start, a method entry right before an iseq: a backtrace location
 *  (3.3+: rb_backtrace_location_t, the frame's method entry, iseq and pc), which a raise, caller or
 *  caller_locations in the child stores in the backtrace it malloc'd, rather than a call-cache table's
 *  entry (an ID or another entry after it)? QA: 20,000 exceptions raised and rescued in the child
 *  (3.4.5), 134 pages of such chunks icache.call, 29,000 words, where a child's call sites fill ~30. */
function backtraceLocation(ctx: Context, diffs: PageDiffs, v: WordValues, k: number, start: number): boolean {
  return neighbourChanged(ctx, diffs, k, 1, start) && imemoAt(ctx, num(v.newIn(k))) === IMEMO.ment && imemoAt(ctx, num(v.newIn(k + 1))) === IMEMO.iseq;
}

/** Chunks in use at the fork into which the child stored pointers that say what the chunk is part of
 *  (an object-id table, a call-cache or constant-cache table): their other changed words go with them. */
function contentChunkCauses(ctx: Context, contentWords: Uint32Array, v: WordValues, reusedValues: AddrMap<string>): AddrMap<string> {
  const out = new AddrMap<string>();
  const links: [number, number][] = [];
  // the chunk of the word before, and whether its cause is set (once set, it stays): a chunk's words come
  // one after another
  let lastStart = -1;
  let lastSet = false;
  for (const k of contentWords) {
    const start = ctx.cw.start(k);
    const t = ctx.tw.kind[k];
    if (t === CW.CONTENT && ctx.tw.start(k) !== start) links.push([start, ctx.tw.start(k)]);
    if (start !== lastStart) [lastStart, lastSet] = [start, out.has(start)];
    if (lastSet) continue;
    const N = v.newAt(k);
    const target = num(N);
    const cause = freshPointerCause(ctx, target, false);
    if (cause) out.set(start, cause);
    // a chunk holding saved machine-stack bounds is a thread's state (rb_thread_t, its jmp_buf)
    else if (isThreadStateWord(ctx.stacks, start, ctx.cw.size(k), v.oldAt(k), N)) out.set(start, 'vm.globals');
    // a table that now points to memory the child allocated grew (st_table entries, bins)
    else if (t === CW.FRESH || ctx.childMapped.at(target) >= 0) out.set(start, t === CW.FRESH ? (ctx.freshChunkCause.get(ctx.tw.start(k)) ?? 'alloc.malloc') : 'alloc.malloc');
    else continue;
    lastSet = true;
  }
  // A chunk the child freed and malloc'd again for an entry it inserted into an rb_id_table
  // (idTableCauses), when its own words named nothing else.
  for (const [start, cause] of reusedValues) if (!out.has(start)) out.set(start, cause);
  // A chunk that a chunk of known cause now points to is part of the same structure (a table's bins).
  for (const [from, to] of links) if (out.has(from) && !out.has(to)) out.set(to, out.get(from)!);
  return out;
}

/** 1 for each changed word on a GC heap page. A loop over every word in a function of its own, as the
 *  other passes: a blame's first runs them unoptimized until V8 compiles them on the fly (OSR), which is
 *  quicker for a small function than for the blamer's constructor with all it inlines. */
function wordsOnGcHeap(wordPage: Uint32Array, pageBody: Int32Array): Uint8Array {
  const out = new Uint8Array(wordPage.length);
  for (let k = 0; k < out.length; k++) out[k] = pageBody[wordPage[k]] >= 0 ? 1 : 0;
  return out;
}

/** The chunks in use at the fork among contentWords' with a word the child rewrote: one that did more than
 *  set bits, and was no unset field (nil: a Time's broken-down fields on 3.1 wait as nil to be computed). */
function rewrittenChunks(ctx: Context, contentWords: Uint32Array, v: WordValues): AddrMap<true> {
  const out = new AddrMap<true>();
  for (const k of contentWords) {
    const O = v.oldIn(k);
    if (!onlySetsBits(O, v.newIn(k)) && !(ctx.L && isNil(ctx.L, O))) out.set(ctx.cw.start(k), true);
  }
  return out;
}

/** The changed words by where they lie, each list ascending: the passes that look at one kind walk its
 *  list rather than every word (a Rails worker: ~800K words, ten passes). */
interface WordLists {
  /** words of GC heap pages (slots, and heap page headers) */
  slot: Uint32Array;
  /** off the GC heap (GC heap pages hold no malloc chunks): words of chunks in use at the fork
   *  (CW.CONTENT), a twentieth of a Rails worker's, all that idTableCauses and contentChunkCauses look at */
  content: Uint32Array;
  /** off the GC heap: words of chunks the child allocated (CW.FRESH) */
  fresh: Uint32Array;
  /** content and fresh together, ascending */
  chunk: Uint32Array;
}

export function wordListsOf(cw: ChunkWords, wordPage: Uint32Array, pageBody: Int32Array): WordLists {
  let slots = 0;
  let contents = 0;
  let freshes = 0;
  for (let k = 0; k < wordPage.length; k++) {
    if (pageBody[wordPage[k]] >= 0) slots++;
    else if (cw.kind[k] === CW.CONTENT) contents++;
    else if (cw.kind[k] === CW.FRESH) freshes++;
  }
  const out = { slot: new Uint32Array(slots), content: new Uint32Array(contents), fresh: new Uint32Array(freshes), chunk: new Uint32Array(contents + freshes) };
  let [s, c, f, ch] = [0, 0, 0, 0];
  for (let k = 0; k < wordPage.length; k++) {
    if (pageBody[wordPage[k]] >= 0) out.slot[s++] = k;
    else if (cw.kind[k] === CW.CONTENT) out.content[c++] = out.chunk[ch++] = k;
    else if (cw.kind[k] === CW.FRESH) out.fresh[f++] = out.chunk[ch++] = k;
  }
  return out;
}

/** rb_id_table inserts into chunks in use at the fork: a new item {key: an ID serial, val} and, on every
 *  occupied slot of the probe path, the "collided" bit (bit 32 of the item's first word) stored — mostly
 *  the same value again, so whole pages are copied unchanged. The table's cause is what its new values
 *  are: a call-cache record (a class's cc_tbl), a constant-cache set (vm->constant_cache), else an entry
 *  the program defined (a method entry in the GC heap, a constant entry or variable record).
 *  reusedValues: the chunks of inserted values that were in use at the fork, with the insert's cause. */
function idTableCauses(ctx: Context, diffs: PageDiffs, contentWords: Uint32Array, v: WordValues): { tables: AddrMap<string>; reusedValues: AddrMap<string> } {
  const out = new AddrMap<string>();
  const reusedValues = new AddrMap<string>();
  // the item's two words, old and new: filled per word, no object per word (most words are no item)
  const O: Word = { lo: 0, hi: 0 };
  const N: Word = { lo: 0, hi: 0 };
  const oldVal: Word = { lo: 0, hi: 0 };
  const V: Word = { lo: 0, hi: 0 };
  for (const k of contentWords) {
    // A method defined again: the item's value, a method entry, replaced by the new one (the key stays).
    // QA: 2,000 methods defined again in the child, 104-123 pages of mutation.container (3.1-3.4).
    if ((ctx.cw.off(k) & 15) === 8) {
      v.oldInto(k, O);
      v.newInto(k, N);
      const start = ctx.cw.start(k);
      // (the new entry is an object the child made: its slot may not be looked at yet, only where it is)
      // An entry replaced by another that was there at the fork defines nothing: a call-path table's
      // entry resolved again (QA, 3.4.5 --no-aslr, some environments: Marshal.load's calls, 1 page).
      // On a page cowscope's fork path wrote in the twin too (forkPathCopied), a method entry alone: the
      // twin's own first calls made call caches there, where the child holds other memory (CI, 3.4.5
      // class_values, 1 run in 5: a record of the twin's whose method entry word the child's entries
      // array holds a call cache in, 1 word of mutation.definition).
      const nowMent = imemoAt(ctx, num(N)) === IMEMO.ment;
      if (!out.has(start) && imemoAt(ctx, num(O)) === IMEMO.ment && inGcHeap(ctx, N) && (nowMent || !ctx.forkPathCopied(ctx.wordAddr[k])))
        out.set(start, nowMent && !madeInChild(ctx, num(N)) ? 'icache.call' : 'mutation.definition');
      continue;
    }
    if ((ctx.cw.off(k) & 15) !== 0) continue; // items are 16 bytes, from the chunk's user start
    if (k + 1 === diffs.wordPage.length || diffs.wordPage[k + 1] !== diffs.wordPage[k] || diffs.wordOffset[k + 1] !== diffs.wordOffset[k] + 8) continue;
    v.oldInto(k, O);
    v.newInto(k, N);
    v.oldInto(k + 1, oldVal);
    v.newInto(k + 1, V);
    if (!isZero(O) || !isZero(oldVal) || N.hi > 1 || N.lo === 0 || N.lo > 0x7fffffff || isZero(V)) continue;
    const start = ctx.cw.start(k);
    // The key and record of an st_table's entry (hash, key, record: 24 bytes), from zeros: after the
    // entry's hash, a number that is no address (a small one for an integer key), where an rb_id_table's
    // item follows the item before's value. QA (3.3.8, a run in 2-4): the table of objects Marshal.load makes (index -> object) taken for
    // an ID table the child inserted into, 131-133 pages of mutation.definition where nothing was defined.
    if (neighbourChanged(ctx, diffs, k, -1, start) && isHashValue(ctx, k - 1, v.newAt(k - 1))) continue;
    // the value's chunk (what word k + 1's new value points into)
    const valChunk = ctx.tw.kind[k + 1];
    // a cache's table when the value is a cache record; else a definition (a method entry in the GC
    // heap, a constant entry or variable record the child malloc'd)
    const fresh = valChunk === CW.FRESH ? ctx.freshChunkCause.get(ctx.tw.start(k + 1)) : undefined;
    // A method entry a call complemented (a module's method called through a class: the entry the call
    // made for it, in the callable table of the class or iclass) is that call's cache. QA (3.4.5, one
    // layout of several): Marshal.load's calls put one in Kernel's iclass, 1-2 pages mutation.definition.
    const callEntry = valChunk === CW.NONE && imemoAt(ctx, num(V)) === IMEMO.ment && complemented(ctx, num(V));
    // A call-cache record the child wrote at the value (struct rb_class_cc_entries): a class's cc_tbl
    // item, made by a call through the class. QA (3.4.5, --no-aslr, in some environments): Marshal.load's
    // calls put two, in chunks the child freed and malloc'd again, 2-4 pages mutation.definition.
    const ccRecord = valChunk !== CW.NONE && callCacheRecordAt(ctx, v, num(V));
    // An insert into a class's call-path table: a record a call made, whether or not its page was copied.
    // QA (3.3.8, 1 run in 6): 2,000 classes' first calls to a class method, their records in pages the
    // child took fresh from the top chunk (no content captured to tell a record by), 267 pages of
    // mutation.definition.
    const callTable = isCallPathTable(ctx, start);
    const cause = isCacheTableCause(fresh) ? fresh : callEntry || ccRecord || callTable ? 'icache.call' : valChunk !== CW.NONE || inGcHeap(ctx, V) ? 'mutation.definition' : undefined;
    if (cause && (!out.has(start) || out.get(start) === 'mutation.definition')) out.set(start, cause);
    // A value in a chunk in use at the fork, from its start: a chunk the child freed and malloc'd again for
    // the entry it inserted (3.3.8's const mode, 6 runs in 250: the constant entry of Object.const_set in the
    // entries array a call-cache fill had just reallocated away). Its words are the entry's.
    if (cause && valChunk === CW.CONTENT && ctx.tw.off(k + 1) === 16) reusedValues.set(ctx.tw.start(k + 1), cause);
  }
  return { tables: out, reusedValues };
}

/** Does the child's memory at addr now hold a call-cache record (struct rb_class_cc_entries, 3.1-3.4:
 *  int capa and len, 0 < len <= capa, then the method entry the calls resolved to), both words written
 *  by the child? */
function callCacheRecordAt(ctx: Context, v: WordValues, addr: number): boolean {
  const k = indexOf(ctx.wordAddr, addr);
  if (k < 0 || ctx.wordAddr[k + 1] !== addr + 8) return false;
  const counts = v.newAt(k);
  return counts.lo > 0 && counts.lo < 1 << 16 && counts.hi > 0 && counts.hi <= counts.lo && imemoAt(ctx, num(v.newAt(k + 1))) === IMEMO.ment;
}

/** Does changed word k now hold what a hash function gives, not an item's value (an object, a chunk): a
 *  number that points into no GC heap page and no chunk (st_numhash gives small ones)? */
function isHashValue(ctx: Context, k: number, N: Word): boolean {
  return !isZero(N) && !inGcHeap(ctx, N) && ctx.tw.kind[k] === CW.NONE;
}

/** A malloc'd st_table (st_init_table: 56 bytes, a 64-byte chunk) as its fields sit from the chunk's
 *  start: the powers and rebuild count, the entry count, and the bound of the entries in use. The same
 *  in every Ruby of the layout table (st.c has not changed it since 2.4), so no row of its own. */
const ST_TABLE = { chunkSize: 64, powers: 16, numEntries: 32, bins: 40, entriesBound: 56, entries: 64 } as const;

/** Are these the changed words of an st_table header: its entry count (num) and entries bound (bound),
 *  old and new, and its first word (powers, undefined when it did not change)? An insert adds one to
 *  both; a rebuild resets the bound and the powers (a delete changes the count alone, and is not told
 *  apart from a counter). Both small numbers, the count within the bound on both sides, and in the first
 *  word powers of a table's size (entry_power and bin_power below 32, size_ind below 4). Exported for the
 *  rule-table tests. */
export function isStTableHeaderChange(num: [Word, Word], bound: [Word, Word], powers?: [Word, Word]): boolean {
  const small = (w: Word) => w.hi === 0 && w.lo < 0x80000000;
  const sizes = (w: Word) => (w.lo & 0xff) < 32 && ((w.lo >>> 8) & 0xff) < 32 && ((w.lo >>> 16) & 0xff) < 4;
  return [...num, ...bound].every(small) && num[0].lo <= bound[0].lo && num[1].lo <= bound[1].lo && (!powers || powers.every(sizes));
}

/** Causes of tables that a header's new pointers can name (contentChunkCauses): its entries are then
 *  those of an object-id table or a cache's, and so are its counts. */
const TABLE_CAUSES = new Set(['object.id', 'icache.const', 'icache.call']);

/** The entry indexes the child's inserts into a VM st_table stored in its bins, a row a header whose
 *  counts grew without a rebuild: indexes lo <= i < hi (stored as i + 2: 0 marks an empty bin, 1 a
 *  deleted one), in lanes of laneBits bits, and the table's cause. */
export interface StTableIndexes {
  lo: number[];
  hi: number[];
  laneBits: number[];
  /** the least size of the table's bins, in bytes: a smaller chunk is not its bins */
  minBytes: number[];
  cause: string[];
}

/** st.c's bins: an index is stored plus ENTRY_BASE; a table of up to 2^4 entries has no bins at all (it
 *  searches its entries); one of 2^e entries has 2^(e+1) bins, of 8 bits up to 2^8 bins, then 16, then 32. */
const ST_BINS = { entryBase: 2, noBinsUpToPower: 4 } as const;

/** The bins of the smallest table that holds this entries bound: their lane width in bits and their
 *  size in bytes (0, 0: a table that small has no bins). A table made larger than it needs (a size hint)
 *  has more bins, of lanes as wide or wider: stBinsCause asks for a chunk of at least that size. */
function binsOf(bound: number): { laneBits: number; bytes: number } {
  return binsOfPower(Math.ceil(Math.log2(Math.max(bound, 1))));
}

/** The bins of a table of 2^entryPower entries (st.c's features table, 64-bit). */
function binsOfPower(entryPower: number): { laneBits: number; bytes: number } {
  if (entryPower <= ST_BINS.noBinsUpToPower) return { laneBits: 0, bytes: 0 };
  const binPower = entryPower + 1;
  const laneBits = binPower <= 8 ? 8 : binPower <= 16 ? 16 : 32;
  return { laneBits, bytes: (2 ** binPower * laneBits) / 8 };
}

/** A VM table the child rebuilt (its powers word changed: st.c's rebuild_table, as it grew): each rebuild
 *  malloc'd bins for 2^power entries, for every power from the fork-time one to its own now. */
export interface StTableRebuild {
  fromPower: number;
  toPower: number;
  cause: string;
}

/** The st_table headers, among chunks in use at the fork, whose entry count and entries bound the child
 *  changed (isStTableHeaderChange), and their cause: the VM's own tables (interned strings, symbols, call
 *  infos, generic ivars, the tables the VM object and other interpreter data own), whose counts would
 *  otherwise read as VM counters, are mutation.hash-table; one whose new pointers lead to an object-id
 *  table's or a cache's entries (contentChunkCauses) has theirs. Not a chunk an object of the program
 *  owns: its own rules say what it is. With each, the entry indexes its inserts stored in its bins. */
export function stTableHeaders(
  ctx: Context,
  diffs: PageDiffs,
  v: WordValues,
): { headers: AddrMap<string>; indexes: StTableIndexes; released: AddrMap<string>; rebuilds: StTableRebuild[] } {
  const out = new AddrMap<string>();
  const indexes: StTableIndexes = { lo: [], hi: [], laneBits: [], minBytes: [], cause: [] };
  const released = new AddrMap<string>();
  const rebuilds: StTableRebuild[] = [];
  const cw = ctx.cw;
  const kind = cw.kind;
  for (const k of ctx.lists.content) {
    if (cw.size(k) !== ST_TABLE.chunkSize || cw.off(k) !== ST_TABLE.numEntries) continue;
    const s = cw.start(k);
    // the bound, three words on when it changed too (the chunk's words come in address order)
    let b = -1;
    for (let j = k + 1; j < diffs.wordPage.length && j <= k + 3 && cw.start(j) === s && kind[j] === CW.CONTENT; j++) if (cw.off(j) === ST_TABLE.entriesBound) b = j;
    if (b < 0) continue;
    const first = k > 0 && cw.start(k - 1) === s && kind[k - 1] === CW.CONTENT && cw.off(k - 1) === ST_TABLE.powers ? k - 1 : -1;
    const owner = ownerType(ctx, s);
    // an object's own ivar table (3.3+, a "too complex" shape) that grew: an ivar added
    if (owner === T.OBJECT && v.newAt(k).lo > v.oldAt(k).lo && isStTableHeaderChange([v.oldAt(k), v.newAt(k)], [v.oldAt(b), v.newAt(b)], first >= 0 ? [v.oldAt(first), v.newAt(first)] : undefined)) {
      ctx.ivarTableInserts.add(ctx.ruby.chunkOwners!.slot[chunkOwnerIndex(ctx, s)]);
      continue;
    }
    // a class's table of variables that grew (3.1's iv_tbl, classExt; 3.3+'s st_table of a too-complex
    // class, classData): an instance or class variable added, its counts small numbers, which the class's
    // own rule would take for values it held
    const classIvars = CLASS_TYPES.has(owner) && classDataOf(ctx, s) === 'ivars';
    if ((owner >= 0 && !classIvars && (owner !== T.DATA || isProgramData(ctx, s))) || !isStTableHeaderChange([v.oldAt(k), v.newAt(k)], [v.oldAt(b), v.newAt(b)], first >= 0 ? [v.oldAt(first), v.newAt(first)] : undefined)) continue;
    const known = ctx.contentChunkCause.get(s);
    const cause = classIvars ? 'object.ivar' : known && TABLE_CAUSES.has(known) ? known : 'mutation.hash-table';
    out.set(s, cause);
    // A rebuild into new bins and entries frees the fork-time ones (st.c's rebuild_table), whose memory
    // the child then fills with its own: a freed chunk's words, or a mapping made where glibc unmapped a
    // large block. The table's growth released it (QA: the interned-string table grown by 20,000 -str in
    // the child, 3.4.5: its 64 KiB of bins 13-17 pages of unknown, and GC heap pages the child mapped
    // where its 452 KiB of entries had been 34-37 pages of mutation.container).
    for (const off of [ST_TABLE.bins, ST_TABLE.entries]) {
      const j = indexOf(ctx.wordAddr, s + off);
      if (j < 0) continue;
      const [was, now] = [num(v.oldAt(j)), num(v.newAt(j))];
      if (was !== now && was > CHUNK_HEADER) released.set(was - CHUNK_HEADER, cause);
    }
    // Inserts take the entries from the old bound on, into the bins the table had at the fork. A rebuild
    // (its count in the powers word goes up, and the powers with a new size) writes new bins in a new
    // chunk, every index anew: nothing of the fork-time bins to look for.
    const [oldBound, newBound] = [v.oldAt(b).lo, v.newAt(b).lo];
    if (first >= 0) {
      // entry_power, the powers word's first byte (struct st_table, 3.1-3.4)
      const [was, now] = [v.oldAt(first).lo & 0xff, v.newAt(first).lo & 0xff];
      rebuilds.push({ fromPower: Math.min(was, now), toPower: Math.max(was, now), cause });
    }
    const bins = binsOf(newBound);
    if (first >= 0 || !bins.laneBits || newBound <= oldBound) continue;
    indexes.lo.push(oldBound);
    indexes.hi.push(newBound);
    indexes.laneBits.push(bins.laneBits);
    indexes.minBytes.push(bins.bytes);
    indexes.cause.push(cause);
  }
  return { headers: out, indexes, released, rebuilds };
}

/** The least table rebuiltBinsCause looks for the bins of: 2^10 entries, 4 KiB of bins. Smaller ones (64
 *  bytes and up) are a page at most, and lanes of small numbers, each once, are too common a content to
 *  tell them by (Rails, 3.1.2: 80-byte chunks of a VM structure read as the bins of 32 entries). */
const MIN_REBUILT_BINS_POWER = 10;

/** The bins a rebuild of a table (StTableRebuild) malloc'd for 2^power entries: a chunk the child
 *  allocated, of their size exactly (malloc's 16 bytes over), every changed word of it lanes of their
 *  width that are empty, deleted or an entry index below 2^power (stored plus ST_BINS.entryBase), each
 *  index once, and entries found in lanes past each word's first too (a hash spreads them; an array of
 *  small numbers fills only the first). Bins hold no pointer, and the table's header points only to its
 *  last ones: nothing else ties them to the table, whose cause they take. QA: 20,000 objects given an
 *  object_id in the child: the object-id tables' earlier bins were 71 pages of alloc.malloc a child on
 *  3.1.2 (52 on 3.3.8), and prewarm saved 632 pages where 573 were predicted (now 628 against 628; the
 *  tables' headers, and so their bins, are mutation.hash-table, which prewarm removes as well). offs: each
 *  word's offset in the chunk. Exported for the rule-table tests. */
export function rebuiltBinsCause(rebuilds: readonly StTableRebuild[], size: number, free: boolean, offs: readonly number[], words: readonly Word[]): string | undefined {
  let cause: string | undefined;
  for (const r of rebuilds)
    for (let power = Math.max(r.fromPower, MIN_REBUILT_BINS_POWER); power <= r.toPower; power++) {
      if (!binsFit(power, size, free)) continue;
      const bins = binsOfPower(power);
      const end = CHUNK_HEADER + bins.bytes;
      const inBins = words.filter((_, i) => offs[i] < end);
      if (4 * 8 * inBins.length < bins.bytes || !areBins(inBins, bins.laneBits, 2 ** power)) continue;
      if (cause !== undefined && cause !== r.cause) return undefined; // two tables' bins would fit: neither
      cause = r.cause;
    }
  return cause;
}

/** Could a chunk of this size hold the bins of a table of 2^power entries: their size exactly, or a free
 *  one at least as large? A chunk the child freed again (the next rebuild frees the bins before) may have
 *  merged since with the free chunks after it: the bins are its first bytes (QA above, 3.3.8: 20 of the
 *  45 pages of bins lay in free chunks of 17-128 KiB), and at least a quarter of their words changed. */
function binsFit(power: number, size: number, free: boolean): boolean {
  const end = CHUNK_HEADER + binsOfPower(power).bytes;
  return free ? size >= end : size === end;
}

/** Are these words lanes of st bins for a table of `entries` entries (rebuiltBinsCause)? */
function areBins(words: readonly Word[], laneBits: number, entries: number): boolean {
  const lanes = 64 / laneBits;
  const mask = laneBits === 32 ? 0xffffffff : (1 << laneBits) - 1;
  // a bin holds each entry's index once
  const seen = new Uint8Array(entries + ST_BINS.entryBase);
  let filled = 0;
  let pastFirst = 0;
  for (const w of words)
    for (let i = 0; i < lanes; i++) {
      const bit = i * laneBits;
      const lane = (((bit < 32 ? w.lo : w.hi) >>> bit % 32) & mask) >>> 0;
      if (lane >= entries + ST_BINS.entryBase) return false;
      if (lane < ST_BINS.entryBase) continue;
      if (seen[lane]++) return false;
      filled++;
      if (i > 0) pastFirst++;
    }
  return filled > 0 && 4 * pastFirst >= filled;
}

/** A word of a mark-stack chunk, by the object it holds now (the last pushed there): one the child made is
 *  marked whatever the parent did before the fork (gc.mark-new), one that was young at the fork would be
 *  old after a promote (gc.mark-stack). QA (3.4.5): 20,000 preloaded old objects each given a singleton
 *  class in the child, then a minor GC: the write barrier remembered every object, the GC pushed their
 *  20,000 new classes, 47 pages of gc.mark-stack a child, and promote, predicted to save 41 pages,
 *  saved none (49 pages of mark stack under promote). */
function markStackCause(ctx: Context, N: Word): string {
  const addr = num(N);
  // (or in a slot whose fork-time object is gone: the child's sweep freed it, and the child filled it)
  const childs = madeInChild(ctx, addr) || (ctx.goneSlots.has(addr) && (slotFlagsAt(ctx, addr) & FL.typeMask) !== 0);
  return childs ? 'gc.mark-new' : 'gc.mark-stack';
}

/** The chunks the child's GC malloc'd for its mark stack (stack_chunk_t: 500 object references and the
 *  next chunk, a chunk of isMarkStackSize), for freshChunkCause: a chunk the child allocated of that size
 *  in a child whose GC ran, nine in ten of whose changed words are references into the GC heap, and to
 *  which no object points (the buffer of an Array of ~500 elements the child made: its slot points to
 *  the chunk's user start). QA: a minor GC over 30,000 young objects in the child (3.1.2, 3.4.5): 49 such
 *  chunks, 56-69 pages of alloc.malloc a child (their first writer _int_malloc), and promote, which
 *  removes gc.mark-stack, predicted to save 12% of none's copied pages less than it saved. */
function freshMarkStacks(ctx: Context, v: WordValues): void {
  if (!ctx.gcRuns) return;
  const candidates = new AddrMap<number>(); // user start -> chunk start
  forEachMallocdChunk(ctx, (start, k, end) => {
    if (!isMarkStackSize(ctx.cw.freshSize(k))) return;
    let refs = 0;
    for (let j = k; j < end; j++) if (inGcHeap(ctx, v.newIn(j))) refs++;
    if (10 * refs >= 9 * (end - k)) candidates.set(start + CHUNK_HEADER, start);
  });
  if (!candidates.size) return;
  const pointedTo = new AddrMap<true>();
  for (const k of ctx.lists.slot) {
    const target = num(v.newIn(k));
    if (candidates.has(target)) pointedTo.set(target, true);
  }
  for (const [user, start] of candidates) if (!pointedTo.has(user)) ctx.freshChunkCause.set(start, 'gc.mark-stack');
}

/** The chunks the child allocated that rebuilt tables' bins, with the table's cause: for freshChunkCause,
 *  after stTableHeaders (which names the tables). Only chunks no pointer named (alloc.malloc so far). */
function rebuiltBins(ctx: Context, v: WordValues, rebuilds: readonly StTableRebuild[]): void {
  if (!rebuilds.length) return;
  const { cw } = ctx;
  forEachMallocdChunk(ctx, (start, k, end) => {
    const c = cw.chunk[k];
    const free = c < -1 && ctx.glibc.child!.inUse[-2 - c] === 0;
    const size = cw.freshSize(k);
    // most chunks are of no bins' size: their words are not read
    const mayFit = rebuilds.some((r) => {
      for (let power = Math.max(r.fromPower, MIN_REBUILT_BINS_POWER); power <= r.toPower; power++) if (binsFit(power, size, free)) return true;
      return false;
    });
    if (!mayFit) return;
    const words: Word[] = [];
    const offs: number[] = [];
    for (let j = k; j < end; j++) {
      words.push(v.newAt(j));
      offs.push(ctx.wordAddr[j] - start);
    }
    const cause = rebuiltBinsCause(rebuilds, size, free, offs, words);
    if (cause) ctx.freshChunkCause.set(start, cause);
  });
}

/** Each run of changed words off the GC heap in one chunk the child allocated that no pointer has named
 *  yet (freshChunkCause alloc.malloc): its start, and the words [k, end). The passes that name such chunks
 *  by their shape (freshMarkStacks, rebuiltBins) look at them alone. */
function forEachMallocdChunk(ctx: Context, visit: (start: number, k: number, end: number) => void): void {
  const { cw } = ctx;
  const fresh = ctx.lists.fresh;
  // a run: words of the list one after another in the diffs too, in one chunk
  for (let i = 0; i < fresh.length; ) {
    const k = fresh[i];
    const start = cw.start(k);
    let j = i + 1;
    while (j < fresh.length && fresh[j] === k + (j - i) && cw.start(fresh[j]) === start) j++;
    if ((ctx.freshChunkCause.get(start) ?? 'alloc.malloc') === 'alloc.malloc') visit(start, k, k + (j - i));
    i = j;
  }
}

/** The cause of a word of st_table bins that one of those inserts filled: in a chunk as large as that
 *  table's bins at least, every lane that changed now holds an index those inserts stored where it was
 *  empty or deleted, or was emptied (a delete), at least one the former, in the lane width of its bins. undefined: none matches. A VM table's bins are
 *  malloc'd apart from its header, so nothing else ties them to it; their lanes are small numbers, which
 *  read as a VM counter (Rails, 3.3.8: ~40 pages a child of such bins were vm.globals, first written by
 *  rb_st_update and rb_st_insert). Exported for the rule-table tests. */
export function stBinsCause(x: StTableIndexes, chunkSize: number, O: Word, N: Word): string | undefined {
  for (let r = 0; r < x.lo.length; r++) {
    if (chunkSize < x.minBytes[r]) continue;
    const bits = x.laneBits[r];
    const lanes = 64 / bits;
    const mask = bits === 32 ? 0xffffffff : (1 << bits) - 1;
    let filled = 0;
    let ok = true;
    for (let i = 0; i < lanes && ok; i++) {
      const bit = i * bits;
      const half = bit < 32 ? 'lo' : 'hi';
      const shift = bit % 32;
      const o = ((O[half] >>> shift) & mask) >>> 0;
      const n = ((N[half] >>> shift) & mask) >>> 0;
      if (o === n) continue;
      const index = n - ST_BINS.entryBase;
      if (o < ST_BINS.entryBase && index >= x.lo[r] && index < x.hi[r]) filled++;
      else if (n >= ST_BINS.entryBase) ok = false;
    }
    if (ok && filled) return x.cause[r];
  }
  return undefined;
}

// ---- 5. mappings ----

/** Per-mapping causes for words outside the GC heap and malloc's structures, first match wins. */
const MAPPING_KINDS: { cause: string; when: (v: Vma, i: number, vmas: Vma[], region: string, L: RubyLayout | undefined) => boolean }[] = [
  { cause: 'exec.stack', when: (v) => v.path.startsWith('[stack') },
  // .data/.bss of libc (and the loader): malloc's main_arena and friends
  { cause: 'malloc.meta', when: (v, i, vmas, region) => region === 'file-data' && /\/(libc|ld-linux)[.-]/.test(v.inode ? v.path : (vmas[i - 1]?.path ?? '')) },
  // .data/.bss of the ruby binary, libruby and extensions: VM globals
  { cause: 'vm.globals', when: (_v, _i, _vmas, region) => region === 'file-data' },
  { cause: 'exec.stack', when: (v, _i, _vmas, region, L) => region === 'anon' && v.end - v.start === (L?.vmStackMapping ?? 0x101000) },
  { cause: 'alloc.transient', when: (v, _i, _vmas, region, L) => region === 'anon' && !!L?.transientHeapSizes.includes(v.end - v.start) },
  // a pthread stack: an anonymous rw-p mapping right after its ---p guard page (3.3+'s timer thread)
  { cause: 'exec.stack', when: (v, i, vmas, region) => region === 'anon' && vmas[i - 1]?.perms === '---p' && vmas[i - 1].end === v.start && vmas[i - 1].end - vmas[i - 1].start <= 0x10000 && v.end - v.start >= 0x10000 },
  // small anonymous mappings near the libraries: thread-local storage and the thread control block
  { cause: 'vm.globals', when: (v, _i, _vmas, region) => region === 'anon' && v.end - v.start <= 0x10000 },
];

function mappingKinds(vmas: Vma[], regions: string[], L: RubyLayout | undefined): string[] {
  return vmas.map((v, i) => MAPPING_KINDS.find((k) => k.when(v, i, vmas, regions[i], L))?.cause ?? '');
}

// ---- identical pages ----

interface IdenticalPage {
  ctx: Context;
  page: number;
  pageSize: number;
  objects?: ObjectsOnPage;
}

/** Counts of objectsOn. */
interface ObjectsOnPage {
  live: number;
  /** young at the fork and kept by the child: a GC of the child ages them, storing their flags word */
  youngKept: number;
  hashes: number;
  strings: number;
  ments: number;
  regexps: number;
}

/** Objects whose slot starts on a GC heap page at the fork: live ones, Hashes, method entries, and the
 *  young ones the child kept (`freed`: the slots of the page whose fork-time object the child freed or
 *  replaced, in address order; absent, as on a page the child did not change, it kept them all). A slot
 *  that starts on the page before is left to that page: the stores these counts stand for (aging, a
 *  Hash's iteration level, an entry's cached bit) all write the flags word, a slot's first. */
function objectsOn(ctx: Context, b: number, page: number, pageSize: number, freed?: readonly number[]): ObjectsOnPage {
  const o = ctx.ruby.objects;
  const start = ctx.ruby.slotStart[b];
  const size = ctx.ruby.slotSize[b];
  const n = { live: 0, youngKept: 0, hashes: 0, strings: 0, ments: 0, regexps: 0 };
  if (!start || !size) return n;
  // the heap map's objects are sorted by address: walk those in the page's slots, no search per slot
  let t = 0;
  for (let i = lastAtOrBelow(o.address, Math.max(start, page) - 1) + 1; i < o.address.length && o.address[i] < page + pageSize; i++) {
    if ((o.address[i] - start) % size !== 0 || o.type[i] === T.NONE) continue;
    n.live++;
    if (o.type[i] === T.HASH) n.hashes++;
    if (o.type[i] === T.STRING) n.strings++;
    if (o.type[i] === T.REGEXP) n.regexps++;
    if (o.type[i] === T.IMEMO && o.imemo[i] === IMEMO.ment) n.ments++;
    if (o.gcFlags[i] & 2) continue;
    while (freed && t < freed.length && freed[t] < o.address[i]) t++;
    if (!freed || freed[t] !== o.address[i]) n.youngKept++;
  }
  return n;
}

const overlaps = (r: { start: Float64Array; end: Float64Array }, page: number, size: number) => overlapsAny(r.start, r.end, page, page + size);

/** Live objects, young ones and Hashes on a GC heap page at the fork (computed once per page). */
const heapPageObjects = (p: IdenticalPage) => (p.objects ??= objectsOn(p.ctx, bodyOf(p.ctx, p.page), p.page, p.pageSize));

/** The cause of an id table with inserts that overlaps the page, if any. */
function idTableOn(p: IdenticalPage): string | undefined {
  for (const [start, cause] of p.ctx.idTableCause) {
    const c = chunkAt(p.ctx.glibc, start);
    if (c && c.start < p.page + p.pageSize && c.start + c.size > p.page) return cause;
  }
  return undefined;
}

/** A copied page whose bytes did not change, first match wins ('id-table' resolves to the table's cause). */
const IDENTICAL_RULES: { when: (p: IdenticalPage) => boolean; cause: string | ((p: IdenticalPage) => string) }[] = [
  // glibc's malloc sorted the chunks the parent had freed out of its unsorted bin, storing back the links
  // they held: a page holding such links that the fork path copied with the parent's bytes (the twin too),
  // or that a malloc wrote first. Found on 30,000 Strings frozen in the parent just before the fork (3.4.5:
  // their buffers shrunk, 20,000 remainders left unsorted): 4,970 pages fork.atfork a child, which no step
  // removed.
  { cause: 'malloc.bin-sort', when: (p) => binSorted(p.ctx.glibc, p.page, p.pageSize, p.ctx.forkPathKept(p.page), p.ctx.exactWriter(p.page), p.ctx.unsampledSort(p.ctx.glibc, p.page)) },
  // The twin, which ran nothing but fork's child side, holds its own copy too (exact tier).
  { cause: 'fork.atfork', when: (p) => p.ctx.forkPathCopied(p.page) },
  // A store of the program that left the bytes as they were (h[k] = v and a[i] = a[i] again, a Struct
  // member or an attribute set to what it held, String#setbyte of the same byte), told by its writer,
  // named exactly (STORE_WRITERS): ahead of the rules that guess from what lies on the page. Found on
  // programs doing each on 20,000-100,000 preloaded objects (3.4.5): 668 pages first written by ar_update
  // (hash.iteration before: a small Hash's table lies in its slot), 196 by rb_ary_store
  // (same-value.unknown), 248 by vm_call_opt_struct_aset and 196 by vm_call_attrset (gc.age: the child's
  // GC had run and the page held young objects), 151 by rb_str_setbyte (gc.age).
  { cause: (p) => storeCause(p)!, when: (p) => storeCause(p) !== undefined },
  // A String resized in place to its own length (3.1, resizeClearsCoderange: rb_fstring resizing a new
  // Hash key) clears its coderange, which its next use computes again: the flags word back to its
  // fork-time bits. Told by the first writer on a page holding Strings. Found on a Rack app indexing 30,000 preloaded UTF-8 names in a
  // Hash built per worker (3.1.2): 794 pages first written by rb_str_resize, hash.iteration before (the
  // pages held the Hashes beside the names).
  {
    cause: 'string.coderange-cleared',
    when: (p) => !!p.ctx.L?.resizeClearsCoderange && onGcHeapPage(p) && FIRST_WRITERS.stringResize.test(p.ctx.firstWriter(p.page) ?? '') && !!heapPageObjects(p).strings,
  },
  // ... and with no writer to tell (live, or no fault tracing): a page holding Strings and none of the
  // objects whose other same-value stores the rules below know without a writer (a Hash's iteration
  // level, a method entry's cached bit): on 3.1 that is the one store known to leave a String's slot as it
  // was (IO#write of an unfrozen String copies it instead; marking and aging change the words). Found on a
  // Rack app putting the unfrozen tags of 40,000 preloaded Structs in a Set per request (3.1.2): live
  // under Puma and Unicorn, ~290 of ~940 copied pages a worker were same-value.unknown; run
  // --no-trace-faults, 256 of 779.
  {
    cause: 'string.coderange-cleared',
    when: (p) => {
      if (!p.ctx.L?.resizeClearsCoderange || bodyOf(p.ctx, p.page) < 0 || p.ctx.firstWriter(p.page) !== undefined) return false;
      const on = heapPageObjects(p);
      return on.strings > 0 && on.hashes === 0 && on.ments === 0;
    },
  },
  // ... and with no writer named (Debian's 3.1 names none of its static functions): a page holding Regexps,
  // at least as many as the objects of the other stores known to leave their bytes as they were (a
  // Hash's iteration level, a method entry's cached bit): the likeliest of those stores. Found on the
  // program of the writer rule (3.1.2): 535 pages same-value.unknown, 66 hash.iteration and 56
  // method.cached a child.
  {
    cause: 'regexp.match',
    when: (p) => {
      if (bodyOf(p.ctx, p.page) < 0 || p.ctx.exactWriter(p.page) !== undefined) return false;
      const on = heapPageObjects(p);
      return on.regexps > 0 && on.regexps >= on.hashes + on.ments;
    },
  },
  // Told by its first writer: a Hash iterated (its iteration level raised and lowered again, in its flags
  // on 3.3+), on a page holding Hashes, however many other objects lie there (the rule below guesses from
  // their share, in a child that ran a GC). QA (a Rack app rendering 30,000 preloaded records, 3.3.8): 33
  // pages same-value.unknown a child first written by rb_hash_foreach, each with ~13 Hashes among ~26
  // live objects, beside 40 such pages hash.iteration.
  { cause: 'hash.iteration', when: (p) => onGcHeapPage(p) && FIRST_WRITERS.hashIteration.test(p.ctx.exactWriter(p.page) ?? '') && !!heapPageObjects(p).hashes },
  // Told by its first writer: the GC aging the page's young objects (3.3+ store the flags word unchanged).
  // Found on a program whose child ran one minor GC over 30,000 young small Hashes (3.4.5): 1,163 pages
  // hash.iteration (the rule below: Hashes on the page), where nothing iterated a Hash.
  { cause: 'gc.age', when: (p) => !!p.ctx.gcRuns && onGcHeapPage(p) && FIRST_WRITERS.aging.test(p.ctx.exactWriter(p.page) ?? '') },
  // Iterating a Hash stores its iteration level and stores it back (same value after the loop).
  { cause: 'hash.iteration', when: (p) => onGcHeapPage(p) && !!heapPageObjects(p).hashes && (!p.ctx.gcRuns || heapPageObjects(p).hashes * 2 >= heapPageObjects(p).live) },
  // 3.3+: RVALUE_AGE_SET stores the flags word unchanged when it ages a young object (3.1 changes the
  // flags word: no same-value page of aging there).
  { cause: 'gc.age', when: (p) => !!p.ctx.gcRuns && !!p.ctx.L && !p.ctx.L.ageInFlags && onGcHeapPage(p) && !!heapPageObjects(p).youngKept },
  // A call cache made for a method entry marks the entry cached, whether it was or not
  // (METHOD_ENTRY_CACHED_SET): the child's first calls of methods the parent had called already.
  { cause: 'method.cached', when: (p) => onGcHeapPage(p) && !!heapPageObjects(p).ments },
  { cause: 'gc.bitmap', when: (p) => !!p.ctx.gcRuns && overlaps(p.ctx.ruby.heapPageStructs, p.page, p.pageSize) },
  // A native library of the program (a C extension, the C library it wraps) that wrote the page first,
  // off the GC heap and its stacks, by a store of its own (not a malloc it called: the allocator rules
  // below tell those), into memory in use at the fork (a page wholly free then is an allocation's): the VM's marks and cache fills the rules below guess from what else lies on the
  // page (an iseq's call data beside the extension's structs) did not copy it. Found on the orders
  // fixture under --strategy prewarm (3.3.8): 113 pages gc.iseq-remembered a child, first written by
  // date_core's m_canonicalize_jd storing a Date's fields again beside the chunks of old iseqs (3.4.5: up
  // to 161 pages gc.iseq-mark, where the child's GCs ran).
  { cause: 'mutation.native', when: (p) => bodyOf(p.ctx, p.page) < 0 && p.ctx.nativeStore(p.page) && !onStack(p) && !onlyFreeAtFork(p.ctx.glibc, p.page, p.pageSize) },
  // A minor GC marks an old iseq only when a write barrier remembered it: in a child whose GCs were all
  // minor, the marks below on an old iseq's caches follow the child's own cache fills (same-value stores
  // remember it too), which a prewarm makes unnecessary. Measured on the Rails app (3.3.8, 200 requests,
  // perf page-fault samples): 401 of 530 such pages first written by rb_iseq_mark_and_move, 333 of them
  // not copied when the parent prewarmed.
  {
    cause: 'gc.iseq-remembered',
    when: (p) => onlyMinorGcs(p.ctx) && oldIseqCachesOn(p.ctx, p.page, p.pageSize, false),
  },
  // ... and an old iseq the parent had remembered before the fork: a GC before forking clears the set.
  {
    cause: 'gc.remembered-at-fork',
    when: (p) => onlyMinorGcs(p.ctx) && oldIseqCachesOn(p.ctx, p.page, p.pageSize, true),
  },
  // Marking an iseq stores into its inline-cache arrays (the empty call cache, cached entries) values
  // they already hold (3.1, 3.3).
  {
    cause: 'gc.iseq-mark',
    when: (p) => !!p.ctx.gcRuns && !!p.ctx.L?.iseqMarkRestoresEmptyCc && (overlaps(p.ctx.ruby.callData, p.page, p.pageSize) || overlaps(p.ctx.ruby.isEntries, p.page, p.pageSize)),
  },
  // 3.4.5: marking empties every call cache of the iseqs it marks, and the child's next calls fill them
  // again with the very entries they held (the class's call-cache table still has them): call sites
  // back to their fork-time bytes. Found on the Rails fixture (test/rails.test.ts): ~2.5% of a child's
  // copied pages, all call_data pages of a child that ran GCs, first written by rb_iseq_mark_and_move
  // or by the call path (perf page-fault samples).
  { cause: 'gc.iseq-mark', when: (p) => !!p.ctx.gcRuns && !!p.ctx.L?.markEmptiesCallCaches && overlaps(p.ctx.ruby.callData, p.page, p.pageSize) },
  // Without a GC, only the call path writes call sites: a cache filled again with what it held.
  { cause: 'icache.call', when: (p) => !p.ctx.gcRuns && overlaps(p.ctx.ruby.callData, p.page, p.pageSize) },
  // Marking an escaped block's environment stores its write-barrier flag again (3.1/3.3).
  { cause: 'gc.env-mark', when: (p) => !!p.ctx.gcRuns && !!p.ctx.L?.envMarkStoresFlag && envFlagsOn(p.ctx, p.page, p.pageSize) },
  // The probe path of an rb_id_table insert stores collided bits that were already set.
  { cause: (p) => idTableOn(p)!, when: (p) => idTableOn(p) !== undefined },
  { cause: 'exec.stack', when: (p) => onStack(p) },
  // Last, from the first write fault (fault tracing): an allocation that filled the page with the bytes
  // it held at the fork. The same objects and buffers made again by the same code in memory the child's
  // GC freed: a workload run twice (prewarm, a parent that served requests), in slots or chunks its
  // garbage held. Found on a Rack app under prewarm (3.1-3.4, a child that ran a full GC): 103-214 pages,
  // 5-13% of the child's copies, first written by rb_wb_protected_newobj_of, rb_mem_clear, _int_malloc.
  {
    cause: 'alloc.swept-slot',
    when: (p) => onGcHeapPage(p) && (FIRST_WRITERS.objectAllocation.test(p.ctx.firstWriter(p.page) ?? '') || FIRST_WRITERS.objectAllocationNamed.test(p.ctx.exactWriter(p.page) ?? '')),
  },
  // ... or the sweep, which rewrote the page's free slots with the links they held (3.4.5, a prewarm child
  // whose 3 minor GCs swept pages the prewarm had left as they are: 117 pages first written by
  // gc_sweep_step)
  { cause: 'gc.sweep', when: (p) => onGcHeapPage(p) && FIRST_WRITERS.sweep.test(p.ctx.firstWriter(p.page) ?? '') },
  // ... but with no GC in the child, nothing freed what lay there: a buffer of live objects of one type (a
  // String's characters, an Array's elements) rewritten as it was, by the program's operation on them.
  // Found on workers shifting an element off 200 preloaded Arrays of 5,000 and unshifting it back (QA,
  // 3.3.8/3.4.5): 198-199 pages a child alloc.swept-chunk, first written by rb_mem_clear, 0 GC runs.
  { cause: (p) => mutation(dataOwnerOn(p)), when: (p) => !p.ctx.gcRuns && bodyOf(p.ctx, p.page) < 0 && FIRST_WRITERS.mallocFill.test(p.ctx.firstWriter(p.page) ?? '') && dataOwnerOn(p) >= 0 },
  { cause: 'alloc.swept-chunk', when: (p) => !!p.ctx.gcRuns && bodyOf(p.ctx, p.page) < 0 && FIRST_WRITERS.mallocFill.test(p.ctx.firstWriter(p.page) ?? '') && !freeChunkOn(p) },
  { cause: 'alloc.malloc', when: (p) => bodyOf(p.ctx, p.page) < 0 && FIRST_WRITERS.mallocFill.test(p.ctx.firstWriter(p.page) ?? '') },
  // Last, with no writer to tell: a malloc heap page that holds nothing but Hash tables. Their only store
  // that leaves the bytes as they were is a Hash store of the value the entry held: marking, lookups and
  // iteration (its level lives in the Hash's flags) do not write them, compaction only where an object
  // moved. Found on the same program on Debian's 3.1 (its libruby names no static function): 1,405 pages.
  { cause: 'mutation.hash', when: (p) => p.ctx.exactWriter(p.page) === undefined && hashTablesOn(p) === HASH_TABLES_ONLY },
  // The GC's mark stack (stack_chunk_t: 500 VALUEs and a link, in chunks of ~4 KiB no object owns): a
  // child's GC pushes the objects a GC before the fork pushed, in the same order, into the chunks that GC
  // left. Told by the writer where named (gc_grey pushes), else by a page of such chunks alone. Found on a
  // program whose workload ran 3 GCs after a parent's GC.start (strategy gc, 3.1/3.3.8): ~195 pages a
  // child, 26-49% of its copies, same-value.unknown before (3.4.5's GCs change the stack's words).
  { cause: 'gc.mark-stack', when: (p) => !!p.ctx.gcRuns && bodyOf(p.ctx, p.page) < 0 && (FIRST_WRITERS.markStack.test(p.ctx.exactWriter(p.page) ?? '') || markStackChunksOnly(p)) },
  // glibc's allocator itself, storing back the links and sizes its chunk headers and tcache held (an
  // unlink, a tcache hand-out): its metadata, off the GC heap.
  { cause: 'malloc.meta', when: (p) => bodyOf(p.ctx, p.page) < 0 && FIRST_WRITERS.mallocMeta.test(p.ctx.exactWriter(p.page) ?? '') },
  // A page that lay wholly in chunks free at the fork: nothing of the program's lived there, so what
  // wrote the bytes it held is an allocation of the child's (memset, a copy, st.c rebuilding a table into
  // a chunk the parent's own rebuilds had freed). Found on a program whose workload clears a 40,000-entry
  // Hash and fills it again (3.4.5): 62 pages of same-value.unknown a child, first written by
  // rebuild_table_with, rb_st_update, memset, unlink_chunk and malloc.
  { cause: 'alloc.malloc', when: (p) => bodyOf(p.ctx, p.page) < 0 && onlyFreeAtFork(p.ctx.glibc, p.page, p.pageSize) },
  // A buffer an object owns (a String's characters, an Array's elements: a chunk in use at the fork, or a
  // block glibc mmapped for it) that the program stored its own bytes into again (String#setbyte of the
  // byte there, a[i] = a[i]), with no writer named to tell the store: every chunk on the page is the data
  // of objects of one type. Found on a program rewriting the bytes of a 10 MB preloaded String, one per
  // page (3.1, and 3.4.5 without fault tracing): 2,560 pages, same-value.unknown before.
  { cause: (p) => mutation(dataOwnerOn(p)), when: (p) => p.ctx.exactWriter(p.page) === undefined && dataOwnerOn(p) >= 0 },
  // A native library of the program (a C extension, the C library it wraps) stored its own bytes again
  // off the GC heap, where no object owns them.
  { cause: 'mutation.native', when: (p) => bodyOf(p.ctx, p.page) < 0 && p.ctx.nativeWriter(p.page) !== undefined },
  // Nothing else said, in a child whose compaction moved objects: its reference update stores every
  // reference of an object or table back, moved or not (3.1). QA: 30,000 Objects GC.compact moved in the
  // child, 599-614 pages same-value.unknown a child (3.1.2), 93 (3.3.8).
  { cause: 'gc.compact', when: (p) => p.ctx.moves.size > 0 },
];

/** CRuby's own files: the executable and libruby. Writes from other files are a native library's (a C
 *  extension, or the C library it wraps). */
const CORE_FILES = /\/(libruby[^/]*\.so[^/]*|ruby[\d.]*)$/;

/** First-writer functions (CRuby's and glibc's) that allocate: a slot for a new object, or malloc memory
 *  its new owner fills (an Array's buffer filled with nil, glibc carving a chunk); and CRuby's sweep. */
const FIRST_WRITERS = {
  objectAllocation: /^(rb_wb_(un)?protected_newobj_of|rb_ec_wb_protected_newobj_of|newobj_of\w*|rb_newobj\w*)$/,
  // ... and the functions that inline newobj_of, named exactly (where libruby has no .symtab, a static
  // function of gc.c after one of these exported ones would pass for it): 3.3's rb_imemo_new,
  // rb_data_typed_object_zalloc and the slow paths, named on the orders fixture under --strategy prewarm
  // (3.3.8: 105-118 pages of same-value.unknown a child); 3.4's gc/default.c allocates in
  // rb_gc_impl_new_obj and newobj_alloc
  objectAllocationNamed: /^(newobj_\w+|rb_gc_impl_new_obj|rb_imemo_new|rb_imemo_tmpbuf_new\w*|rb_data_(typed_)?object_(wrap|zalloc)\w*|rb_class_allocate_instance)$/,
  sweep: /^(gc_sweep_(step|page|plane)\w*|gc_page_sweep\w*)$/,
  mallocFill: /^(rb_mem_clear|_int_malloc|_int_realloc|__libc_calloc)$/,
  stringResize: /^rb_str_resize$/,
  markStack: /^(gc_grey|push_mark_stack|push_mark_stack_chunk)$/,
  aging: /^gc_aging(\.\w+)*$/,
  hashIteration: /^(rb_hash_foreach|hash_foreach_\w+|hash_iter_lev_(inc|dec)|iter_lev_\w+|rb_hash_stlike_foreach\w*)$/,
  mallocMeta: /^(malloc|free|cfree|__libc_malloc|__libc_free|unlink_chunk(\.\w+)*|_int_free\w*|malloc_consolidate|tcache_\w+)$/,
};

/** The chunks glibc carved for the GC's mark stack: stack_chunk_t, 500 VALUEs and a link (the size the
 *  content rule gc.mark-stack takes too). */
const isMarkStackSize = (size: number) => size >= 4000 && size <= 4096;

/** Is every chunk in use at the fork on this page (off the GC heap) of the mark stack's size, with no
 *  object owning it, and is there one? */
function markStackChunksOnly(p: IdenticalPage): boolean {
  const f = p.ctx.glibc.fork;
  const used = forkChunksOn(p).filter((i) => f.inUse[i]);
  return used.length > 0 && used.every((i) => isMarkStackSize(f.size[i]) && chunkOwnerIndex(p.ctx, f.start[i]) < 0);
}

/** The chunks of glibc's fork-time walk that overlap the page, in use or free (their indexes). */
function forkChunksOn(p: IdenticalPage): number[] {
  const f = p.ctx.glibc.fork;
  const out: number[] = [];
  for (let i = Math.max(0, lastAtOrBelow(f.start, p.page)); i < f.start.length && f.start[i] < p.page + p.pageSize; i++) if (f.start[i] + f.size[i] > p.page) out.push(i);
  return out;
}

/** The type of the objects whose data (DATA_OWNER_TYPES) is all the page holds, off the GC heap: the
 *  block glibc mmapped for one, or the chunks in use at the fork on the page, each owned by an object of
 *  that one type; -1 otherwise. */
function dataOwnerOn(p: IdenticalPage): number {
  if (onGcHeapPage(p)) return -1;
  const m = mmappedChunkAt(p.ctx, p.page);
  if (m) {
    const type = m.start + 16 <= p.page && p.page + p.pageSize <= m.start + m.size ? ownerType(p.ctx, m.start) : -1;
    return DATA_OWNER_TYPES.has(type) ? type : -1;
  }
  const f = p.ctx.glibc.fork;
  const types = new Set(forkChunksOn(p).map((i) => (f.inUse[i] ? ownerType(p.ctx, f.start[i]) : -1)));
  const [type] = types;
  return types.size === 1 && DATA_OWNER_TYPES.has(type) ? type : -1;
}

/** The program's stores into its objects, by the function that makes them (exact names, clone suffixes
 *  stripped), and what the page must hold for it, first match wins: what a same-value page first
 *  written by one of them is. hash.c's stores on a page holding a Hash (in its slot, 3.2+, or a table
 *  chunk); st.c's (st.h renames st_update and st_insert rb_st_*), which serve the VM's tables too
 *  (generic ivars, symbols), only on a page of Hash tables alone. */
const STORE_WRITERS: { cause: string | ((p: IdenticalPage) => string); writer: RegExp; nearest?: RegExp; on?: (p: IdenticalPage) => boolean }[] = [
  {
    cause: 'mutation.hash',
    writer: /^(ar_update|ar_insert|hash_aset(_str)?|tbl_update(_modify)?|rb_hash_aset)$/,
    on: (p) => (onGcHeapPage(p) ? !!heapPageObjects(p).hashes : hashTablesOn(p) !== 0),
  },
  { cause: 'mutation.hash', writer: /^(rb_st_update|rb_st_insert|rb_st_add_direct|st_add_direct_with_hash|rebuild_table_with|rebuild_table)$/, on: (p) => hashTablesOn(p) === HASH_TABLES_ONLY },
  // (and the reorderings that may leave every element where it was: an Array reversed twice, QA: 391
  // pages of same-value.unknown on 3.4.5, first written by rb_ary_reverse; and the sharing of an Array's
  // buffer with the copy sort! sorts, its slot's fields stored back as they were, QA: 13-20 pages of
  // same-value.unknown a child, first written by rb_ary_set_shared)
  { cause: 'mutation.array', writer: /^(rb_ary_store|rb_ary_aset|ary_aset_by_rb_ary_store|rb_ary_splice|ary_memcpy0?|rb_ary_fill|rb_ary_reverse(_bang)?|ary_reverse|rb_ary_rotate\w*|ary_rotate_ptr|rb_ary_sort_bang|rb_ary_shuffle_bang|ary_shuffle_bang|rb_ary_set_shared|ary_make_shared|rb_ary_unshare)$/ },
  { cause: 'mutation.struct', writer: /^(vm_call_opt_struct_aset0?|rb_struct_aset|rb_struct_set|struct_aset_imp)$/ },
  { cause: 'mutation.object', writer: /^(vm_call_attrset\w*|vm_setivar\w*|vm_setinstancevariable|rb_ivar_set|rb_obj_ivar_set|obj_ivar_set\w*)$/ },
  // a class-level ivar stored again (QA: 5,000 classes' @hits set after a prewarm had set them, 3.3.8/3.4.5:
  // 159 pages of same-value.unknown a child, the classes' ivar buffers)
  // (and a class variable, @@count, stored again: QA, every fixture run under --strategy prewarm, session
  // 64: class_values.rb's 5,000 classes, 215-238 pages of same-value.unknown a child on 3.3.8/3.4.5,
  // first written by rb_cvar_set)
  { cause: 'mutation.class', writer: /^(rb_class_ivar_set|class_ivar_set\w*|rb_cvar_set)$/ },
  // ... where a class keeps them in an st_table (3.1's iv_tbl): an insert into it, named near st.c's
  // exported functions where libruby has no .symtab (Debian's 3.1), on a page of such tables (QA above,
  // 3.1.2: 295 pages of same-value.unknown a child, first written near rb_st_insert)
  { cause: (p) => mutation(classVariableTablesOn(p)), writer: /^(rb_st_insert|rb_st_update)$/, nearest: /^(rb_st_insert|rb_st_update)$/, on: (p) => classVariableTablesOn(p) >= 0 },
  // ... and into an object's own ivar table (a "too complex" shape, 3.3+): an ivar it held set again, as
  // an attribute set to what it held (mutation.object above; the first insert is object.ivar, which a
  // prewarm removes, the same one again no step does). QA (prewarm sweep, session 64): complex_ivars.rb's
  // 20,000 objects given @zz again, 877-895 pages of same-value.unknown a child on 3.3.8/3.4.5, first
  // written by rb_st_insert.
  { cause: 'mutation.object', writer: /^(rb_st_insert|rb_st_update)$/, on: (p) => objectIvarTablesOn(p) },
  { cause: 'mutation.string', writer: /^(rb_str_setbyte|rb_str_update|rb_str_aset\w*|str_modify_keep_cr|tr_trans)$/ },
  // What a child does again that its parent had done (a prewarm, or the same setup before the fork):
  // stores that leave the bytes as they were. The first time they are a cause prewarm removes (a String
  // made shared, a method aliased, a singleton class made); done again they write all the same, so no
  // step keeps the child from copying the page: the program's change of the object, no remedy. QA (every
  // fixture run under --strategy prewarm, session 64, 3.3.8/3.4.5), pages a child:
  // - a String sliced to its end again (string_shared.rb): 590 same-value.unknown and 41-62 method.cached
  //   (the pages held method entries too), first written by str_replace_shared_without_enc;
  { cause: 'mutation.string', writer: /^str_replace_shared(_without_enc)?$/, on: (p) => onGcHeapPage(p) },
  // - a method aliased again (alias_in_child.rb): 252-260 method.cached, first written by rb_alias;
  { cause: 'mutation.class', writer: /^rb_alias$/ },
  // - a singleton method defined again (singleton_methods.rb): the object's singleton class looked up,
  //   its flags stored as they were, 750-757 same-value.unknown and 55-62 hash.iteration, first written by
  //   rb_singleton_class.
  { cause: 'mutation.class', writer: /^(rb_singleton_class|singleton_class_of)$/, on: (p) => onGcHeapPage(p) },
  // An ivar of an object that keeps its ivars outside its slot (a String, an Array, a Hash: the VM's
  // generic-ivar table) set in the child: the store sets FL_EXIVAR in the object's flags again, which it
  // held (3.3+). QA: 20,000 preloaded Strings whose @tag the workers set (3.3.8/3.4.5): 300-335 pages a
  // child, first written by generic_ivar_set_shape_ivptr, were same-value.unknown and method.cached.
  { cause: (p) => mutation(genericIvarType(p)), writer: /^generic_ivar_set\w*$/, on: (p) => genericIvarType(p) >= 0 },
  // a Mutex locked and unlocked (synchronize): its owner stored and cleared (QA: 266-279 pages of
  // same-value.unknown a child, first written by rb_mutex_trylock). Where libruby has no .symtab (Debian's
  // 3.1) the writer is named only by the exported rb_mutex_* function before it: the static mutex code of
  // thread_sync.c that follows (QA: 20,000 preloaded Mutexes synchronized once each, 3.1.2: 282 pages of
  // same-value.unknown and 133 of icache.call a child, whose chunks lay beside iseqs' call_data, all first
  // written "near rb_mutex_trylock"; 3.3.8/3.4.5 name it and embed the mutex in its slot). A Monitor
  // (monitor.so: its count and owner, in a 32-byte chunk of its own) entered and left likewise: on the
  // Rails fixture (3.4.5, 200 requests), 3 pages a child first written by monitor_synchronize, which the
  // rules guessed gc.iseq-remembered from the iseq chunks beside them.
  {
    cause: 'mutation.data',
    writer: /^(rb_mutex_trylock|rb_mutex_lock|rb_mutex_unlock|do_mutex_lock|rb_mutex_unlock_th|rb_mutex_synchronize|monitor_(synchronize|enter|exit|try_enter|sync_body|sync_ensure|enter_for_cond|exit_for_cond))$/,
    nearest: /^rb_mutex_(trylock|lock|unlock|synchronize|locked_p|owned_p)$/,
  },
  // A Fiber resumed and yielding back: its struct (status, the saved machine context, the execution
  // context's stack pointers) stored as it was at every switch. Found on workers resuming 2,000 preloaded
  // Fibers once each (QA, 3.1-3.4.5): 336-370 pages of same-value.unknown a child, first written by
  // fiber_switch (3.4.5: 347 of 355 pages).
  {
    cause: 'mutation.data',
    writer: /^(fiber_switch|fiber_store|fiber_status_set|fiber_setcontext|fiber_restore_thread|fiber_resume_kw|fiber_raise|cont_save_thread|cont_restore_thread|rb_fiber_resume\w*|rb_fiber_yield\w*|rb_fiber_transfer\w*|coroutine_transfer)$/,
    // not the Fibers' own stacks, which a switch writes too (exec.stack, IDENTICAL_RULES)
    on: (p) => !onStack(p),
  },
  // A call made through rb_funcall (Symbol#to_proc as in map(&:name), send, public_send) sets up its
  // arguments with the call cache the VM's global table gives it and stores that cache's fast path again,
  // the value it holds, at every call (3.4.5; CC_SET_FASTPATH in vm_callee_setup_arg): no prewarm keeps it
  // from writing. Found on workers summing 400 classes' methods with map(&:call_all) after the parent had
  // called them all (QA, 3.4.5): 128 of 132 pages of method.cached (the pages held method entries too),
  // prewarm predicted to save 616K where it saved 120K.
  { cause: 'icache.call-store', writer: /^vm_callee_setup_arg$/, on: (p) => onGcHeapPage(p) },
  // Such a call whose method the VM's global call-cache table (a fixed number of slots, hashed by class and
  // method name) no longer held makes a new call cache, which marks the method entry cached again
  // (METHOD_ENTRY_CACHED_SET: the bit was set): with more methods called so than the table holds, every
  // call does, in every worker, prewarmed or not. Found on workers calling 2,000 methods with public_send
  // (QA, 3.3.8): after a prewarm, 266 pages of method.cached first written by gccct_method_search_slowpath,
  // 4 words changed, and the prewarmed run predicted prewarm to save 316 pages; prewarm had made the
  // children copy 151 pages more than none's.
  { cause: 'icache.call-store', writer: /^gccct_method_search_slowpath$/, on: (p) => onGcHeapPage(p) },
  // A match raises the Regexp's use count (usecnt, in its slot) and lowers it after: the same value back.
  // Found on workers matching 20,000 preloaded Regexps once each (QA, 3.3.8/3.4.5): 274-286 pages of
  // same-value.unknown a child, first written by rb_reg_onig_match, and 83-90 of method.cached (the pages
  // held method entries too), which prewarm was predicted to save.
  { cause: 'regexp.match', writer: /^(rb_reg_onig_match|rb_reg_search\w*|rb_reg_match\w*|reg_match_pos|rb_reg_prepare_re\w*|rb_reg_start_with_p|rb_reg_regsub)$/, on: (p) => onGcHeapPage(p) },
  // A finalizer defined on an object that had one: define_final0 sets FL_FINALIZE in its flags word,
  // which held the bit (3.3's rb_define_finalizer_no_check, 3.4's rb_define_finalizer and the GC's
  // rb_gc_impl_define_finalizer, define_final0 inlined). Found on workers defining a finalizer again on
  // 20,000 preloaded Objects, after a prewarm or in fixtures/ruby/finalizer_again.rb (QA, 3.3.8/3.4.5):
  // ~200 pages of same-value.unknown and 80-96 of method.cached a child (the pages held method entries
  // too), all first written there.
  { cause: 'object.finalizer', writer: /^(rb_define_finalizer(_no_check)?|define_final0?|rb_gc_impl_define_finalizer)$/, on: (p) => onGcHeapPage(p) },
];

/** The cause of a same-value page first written by one of the program's stores (STORE_WRITERS): by the
 *  writer's exact name, else by the exported function before it where a row knows what follows that. */
function storeCause(p: IdenticalPage): string | undefined {
  const writer = p.ctx.exactWriter(p.page);
  const near = writer === undefined ? p.ctx.firstWriter(p.page) : undefined;
  const row =
    writer !== undefined
      ? STORE_WRITERS.find((r) => r.writer.test(writer) && (!r.on || r.on(p)))
      : near !== undefined
        ? STORE_WRITERS.find((r) => r.nearest?.test(near) && (!r.on || r.on(p)))
        : undefined;
  return !row ? undefined : typeof row.cause === 'string' ? row.cause : row.cause(p);
}

/** The type of the objects on a GC heap page whose ivars an ivar store there set, -1 none: of those the
 *  chunk owners name as having generic ivars (their buffers the child changed), else of all of
 *  GENERIC_IVAR_TYPES, the type most of them have. */
function genericIvarType(p: IdenticalPage): number {
  const b = bodyOf(p.ctx, p.page);
  if (b < 0) return -1;
  const o = p.ctx.ruby.objects;
  const start = p.ctx.ruby.slotStart[b];
  const size = p.ctx.ruby.slotSize[b];
  if (!start || !size) return -1;
  const owners = genericIvarSlots(p.ctx);
  const known = new Map<number, number>();
  const all = new Map<number, number>();
  for (let i = lastAtOrBelow(o.address, Math.max(start, p.page) - 1) + 1; i < o.address.length && o.address[i] < p.page + p.pageSize; i++) {
    if ((o.address[i] - start) % size !== 0 || !GENERIC_IVAR_TYPES.has(o.type[i])) continue;
    all.set(o.type[i], (all.get(o.type[i]) ?? 0) + 1);
    if (owners.has(o.address[i])) known.set(o.type[i], (known.get(o.type[i]) ?? 0) + 1);
  }
  const count = known.size ? known : all;
  let best = -1;
  for (const [type, n] of count) if (best < 0 || n > count.get(best)!) best = type;
  return best;
}

/** The slots the chunk owners name as owning generic ivars (made once a blame). */
function genericIvarSlots(ctx: Context): AddrMap<true> {
  if (ctx.genericIvarSlots) return ctx.genericIvarSlots;
  const slots = new AddrMap<true>();
  const o = ctx.ruby.chunkOwners;
  if (o) for (let i = 0; i < o.offset.length; i++) if (o.offset[i] === GENERIC_IVARS) slots.set(o.slot[i], true);
  return (ctx.genericIvarSlots = slots);
}

/** hashTablesOn: every chunk in use on the page is a Hash's (and there is one). */
const HASH_TABLES_ONLY = -1;

/** How many chunks in use at the fork on a page off the GC heap are the table of a Hash (or a chunk its
 *  table points to), by the heap map's chunk owners; HASH_TABLES_ONLY when all are (0: none, or a GC
 *  heap page). */
function hashTablesOn(p: IdenticalPage): number {
  if (onGcHeapPage(p)) return 0;
  const f = p.ctx.glibc.fork;
  const used = forkChunksOn(p).filter((i) => f.inUse[i]);
  const tables = used.filter((i) => ownerType(p.ctx, f.start[i]) === T.HASH).length;
  return tables && tables === used.length ? HASH_TABLES_ONLY : tables;
}

/** The bytes in use at the fork on a page off the GC heap, and those of the owned chunks `isTable`
 *  accepts; undefined where an owned chunk there is not one (st.c's writers serve the VM's tables too,
 *  whose chunks have no owner). */
function tableBytesOn(p: IdenticalPage, isTable: (start: number, size: number, owner: number) => boolean): { table: number; used: number } | undefined {
  if (onGcHeapPage(p)) return undefined;
  const f = p.ctx.glibc.fork;
  let table = 0;
  let used = 0;
  for (const i of forkChunksOn(p)) {
    if (!f.inUse[i]) continue;
    const bytes = Math.min(f.start[i] + f.size[i], p.page + p.pageSize) - Math.max(f.start[i], p.page);
    used += bytes;
    const owner = chunkOwnerIndex(p.ctx, f.start[i]);
    if (owner < 0) continue;
    if (!isTable(f.start[i], f.size[i], owner)) return undefined;
    table += bytes;
  }
  return { table, used };
}

/** The type of the classes or modules whose tables of variables (classDataOf: ivars) a page off the GC
 *  heap holds, where those hold most of its bytes in use at the fork and no chunk there has another owner;
 *  -1 otherwise. */
function classVariableTablesOn(p: IdenticalPage): number {
  const types = new Set<number>();
  const b = tableBytesOn(p, (start) => classDataOf(p.ctx, start) === 'ivars' && !!types.add(ownerType(p.ctx, start)));
  const [type] = types;
  return b && types.size === 1 && 2 * b.table > b.used ? type : -1;
}

/** Do objects' own ivar tables (3.3+: an object whose shape is "too complex" keeps its ivars in an
 *  st_table its slot points to, the table's entries reached through it) hold most of the bytes in use at
 *  the fork on a page off the GC heap, no chunk there owned otherwise? A table's chunks: the one the
 *  object's ivar pointer leads to, of an st_table's size, or one that table points to (an ordinary
 *  object's ivar buffer is neither, but where it has an st_table's size). */
function objectIvarTablesOn(p: IdenticalPage): boolean {
  const L = p.ctx.L;
  const o = p.ctx.ruby.chunkOwners;
  if (!L?.tooComplexShape || !L.objectIvars || !o) return false;
  const ivars = L.objectIvars;
  const b = tableBytesOn(p, (_, size, k) => (o.flags[k] & FL.typeMask) === T.OBJECT && (o.offset[k] === -ivars || (o.offset[k] === ivars && size === ST_TABLE.chunkSize)));
  return !!b && 2 * b.table > b.used;
}

/** Is the page in a stack: a machine stack's mapping (a Fiber's among them), or a thread's VM stack? */
function onStack(p: IdenticalPage): boolean {
  return (p.ctx.vmaKind[findRange(p.ctx.vmaStarts, p.ctx.vmaEnds, p.page)] === 'exec.stack' && !inProgramDataBlock(p.ctx, p.page)) || inVmStack(p.ctx, p.page);
}

/** Does the page lie on the GC heap (a heap page's body: slots, no malloc chunks)? */
function onGcHeapPage(p: IdenticalPage): boolean {
  return bodyOf(p.ctx, p.page) >= 0;
}

/** Does a chunk that was free at the fork overlap the page (glibc's fork-time walk)? */
function freeChunkOn(p: IdenticalPage): boolean {
  return forkChunksOn(p).some((i) => !p.ctx.glibc.fork.inUse[i]);
}

// ---- the blamer ----

/** The cause of word k at addr (old value O, new N). inNoArray: the caller knows that no struct heap_page,
 *  call_data or is_entries array holds addr (offHeapWords, for runs of words between them). */
function wordCause(ctx: Context, addr: number, O: Word, N: Word, k: number, inNoArray = false): string {
  const r = ctx.ruby;
  if (isMove(ctx, O, N)) return 'gc.compact';
  const hp = inNoArray ? -1 : ctx.heapPageStructAt.at(addr);
  if (hp >= 0) {
    const w: HeapPageWord = { ctx, hp, off: addr - r.heapPageStructs.start[hp], O, N };
    const f = HEAP_PAGE_FIELDS.find((x) => x.when(w))!;
    return typeof f.cause === 'string' ? f.cause : f.cause(w);
  }
  const cd = inNoArray ? -1 : ctx.callDataAt.at(addr);
  if (cd >= 0) return callDataCause(ctx, O, N, oldAtFork(ctx, r.callData.owner[cd]), wasRemembered(ctx, r.callData.owner[cd]));
  // An escaped block's environment flags: marking sets VM_ENV_FLAG_WB_REQUIRED; the program's store into
  // a variable of such an env clears it (vm_env_write_slowpath remembers the env, then clears the flag),
  // beside the variable's own word: the program's change of the env, as CHUNK_CONTENT_RULES says of that
  // word. QA (5,000 define_method closures each bumping its captured local, GC disabled in the child,
  // 3.1-3.4.5): 136-182 pages a child gc.env-mark, a marking GC's, where none ran.
  if (O.hi === N.hi && ((O.lo ^ N.lo) >>> 0) === ENV_FLAG_WB_REQUIRED && isEnvFlags(ctx, addr)) return N.lo & ENV_FLAG_WB_REQUIRED ? 'gc.env-mark' : 'mutation.imemo';
  if (!inNoArray && ctx.isEntriesAt.at(addr) >= 0) return isEntryCause(ctx, O, N);
  switch (ctx.cw.kind[k]) {
    case CW.META:
      return carvedSizeCause(ctx, addr) ?? sweptLinkCause(ctx, addr) ?? resizedLinkCause(ctx, addr) ?? 'malloc.meta';
    case CW.PREV_IN_USE:
      return ctx.freshChunkCause.get(ctx.cw.start(k)) ?? 'malloc.meta';
    case CW.FRESH: {
      // a chunk's words come one after another: its cause looked up once
      const start = ctx.cw.start(k);
      if (start !== ctx.freshMemo.start) [ctx.freshMemo.start, ctx.freshMemo.cause] = [start, ctx.freshChunkCause.get(start) ?? 'alloc.malloc'];
      if (ctx.freshMemo.cause === 'gc.mark-stack') return markStackCause(ctx, N);
      if (ctx.freshMemo.cause !== 'alloc.malloc') return ctx.freshMemo.cause;
      // a free remainder's links (user +0, +8); what a malloc put there later is that allocation's
      if (ctx.cw.off(k) < CHUNK_HEADER + 16 && isFreeLink(ctx.glibc, ctx.wordAddr[k], ctx.cw.off(k) - CHUNK_HEADER, N)) {
        const shrunk = shrunkRemainderCause(ctx, start);
        if (shrunk) return shrunk;
      }
      return releasedByOwnerCause(ctx, addr) ?? (inSweptChunk(ctx, addr) ? 'alloc.swept-chunk' : 'alloc.malloc');
    }
    case CW.CONTENT:
      return chunkContentCause({ ctx, k, start: ctx.cw.start(k), size: ctx.cw.size(k), O, N });
  }
  // A block glibc mmapped for a large malloc (a big table's entries or bins): in use as long as it is
  // mapped; its header is glibc's, its contents are decoded as a chunk's. One of the VM stack's size that
  // holds no object's data is a thread's VM stack (inVmStack).
  const mi = ctx.mmappedAt.at(addr);
  if (mi >= 0) {
    const start = ctx.ruby.mmappedChunks!.start[mi];
    const size = ctx.ruby.mmappedChunks!.size[mi];
    if (size === ctx.L?.vmStackMapping && !DATA_OWNER_TYPES.has(ownerType(ctx, start))) return 'exec.stack';
    return addr - start < 16 ? 'malloc.meta' : chunkContentCause({ ctx, k, start, size, O, N });
  }
  if (isLazyBinding(ctx.files, addr, num(O), num(N))) return 'exec.lazy-bind';
  const v = ctx.vmaAt.at(addr);
  if (v >= 0 && ctx.vmaKind[v] === 'alloc.transient' && transientFill(ctx, addr, O, N)) return 'alloc.transient-fill';
  return (v >= 0 && ctx.vmaKind[v]) || 'unknown';
}

/** Was addr, at the fork, inside a chunk in use whose owning object the child's GC freed? Memory the child
 *  then malloc'd there at another size (the chunk merged with its neighbours, or split) is the garbage's
 *  reused, as CHUNK_CONTENT_RULES says of a chunk reused at its size (alloc.swept-chunk), not memory free
 *  at the fork (alloc.malloc). QA, a Rack app on 3.3.8 (56 minor GCs in 240 requests): 87,000 of its
 *  190,000 alloc.malloc words lay in such chunks; run with a GC before the fork, 78% of their pages were
 *  copied all the same (the child's mallocs took the garbage's memory again), where 71% of the pages of
 *  its mallocs into memory free at the fork were not. */
function inSweptChunk(ctx: Context, addr: number): boolean {
  const f = ctx.glibc.fork;
  const c = ctx.glibc.forkAt.at(addr);
  if (c < 0 || !f.inUse[c]) return false;
  const memo = ctx.sweptMemo;
  if (memo.start !== f.start[c]) [memo.start, memo.died] = [f.start[c], ownerDied(ctx, f.start[c])];
  return memo.died;
}

/** Where addr lay, at the fork, in a chunk in use that a fork-time object owned, and no GC ran in the
 *  child (so no object died: the owner is alive and released the chunk itself), the cause of what the
 *  child's mallocs put there since: the owner's change that freed it (a Hash's ar_table freed as it became
 *  an st_table, a buffer moved as it grew or as a freeze shrank it), as CHUNK_CONTENT_RULES says of the
 *  owner's data; else undefined. Not alloc.malloc, memory free at the fork: fixtures/ruby/hash_convert.rb
 *  (3.1.2, 20,000 preloaded Hashes given a ninth key in the child, GC disabled), 331,813 words of the
 *  freed ar_tables' chunks, ~900 pages a child, which 3.3+ (whose tables were not freed) blamed on
 *  mutation.hash. (After a GC, a dead object's slot refilled by one of its type looks the same: QA found
 *  19,805 words of garbage_reuse.rb's dead Arrays' chunks taken for mutation.array that way.) */
function releasedByOwnerCause(ctx: Context, addr: number): string | undefined {
  if (ctx.gcRuns > 0) return undefined;
  const f = ctx.glibc.fork;
  const c = ctx.glibc.forkAt.at(addr);
  if (c < 0 || !f.inUse[c]) return undefined;
  const i = chunkOwnerIndex(ctx, f.start[c]);
  if (i < 0) return undefined;
  // The owner's own pointer to the chunk (its slot's field) changed in the child: the owner let go of it.
  // Not a chunk whose owner's slot kept its pointer (glibc recarved the memory around a chunk the owner
  // still holds, or a scan's stale owner): QA found such words mutation.string in programs that changed
  // no String (1-10 words a child).
  const o = ctx.ruby.chunkOwners!;
  if (o.offset[i] <= 0 || indexOf(ctx.wordAddr, o.slot[i] + o.offset[i]) < 0) return undefined;
  const type = o.flags[i] & FL.typeMask;
  // (a freeze that shrank the buffer and moved it: the freeze's, as the shrink's other words are)
  if (!(o.flags[i] & FL.freeze) && (ctx.newSlotFlags.get(o.slot[i]) ?? 0) & FL.freeze) return 'object.freeze';
  if (VM_TABLE_TYPES.has(type) && isVmTableChunk(ctx, f.start[c])) return 'mutation.hash-table';
  return DATA_OWNER_TYPES.has(type) ? mutation(type) : undefined;
}

/** Did the child allocate the transient-heap word at addr (3.1) where its block was free at the fork,
 *  or where its GC emptied the block? A block the parent's GC emptied holds 0 as its bump offset: no GC
 *  before the fork keeps the child from filling it. The child's GC, for its part, marks the fork-time
 *  buffers (an allocation header's next_marked_index), moves the live ones out, and empties the blocks
 *  (their headers: offset and count to 0), which a GC before the fork would have done in the parent: those
 *  words are the collector's; what fills the blocks afterwards is the child's allocation again. QA: a
 *  program that parsed times in its workers after 4 GCs, 418 pages a child (all of its transient-heap
 *  words) credited to gc, promote and nakayoshi, which saved 4 and -15; one whose workers ran a GC after
 *  filling blocks, 563 pages, gc predicted to save 2.2M where it saved 132K. */
function transientFill(ctx: Context, addr: number, O: Word, N: Word): boolean {
  const b = ctx.L?.transientBlock;
  if (!b) return false;
  // the block's start: the address's low 32 bits decide it, the block size being a power of two (3.1's
  // 32 KiB): \`addr % size\` on an address above 2^31 is a floating-point remainder, a call per word
  const block = addr - ((addr >>> 0) & (b.size - 1));
  const memo = ctx.transientHeader;
  if (memo.block !== block) [memo.block, memo.index] = [block, indexOf(ctx.wordAddr, block)];
  const header = addr === block ? -1 : memo.index;
  // the header word's low 16 bits: the int16 bump offset into the block's buffer (the header word
  // unchanged: not in the diffs, its value unknown)
  const changed = addr === block || header >= 0;
  const [was, now] = addr === block ? [O.lo & 0xffff, N.lo & 0xffff] : header >= 0 ? [ctx.values.oldLo(header) & 0xffff, ctx.values.newLo(header) & 0xffff] : [0, 0];
  // a block the child's GC moved fork-time buffers into (young ones that stay young): the collector's
  if (ctx.gcRuns > 0 && transientEscapes(ctx, block, b)) return false;
  // the header (the offset, the count, the next block): the block taken for allocations (its offset
  // raised), or, unchanged, taken and emptied again by the child's GC; else the GC emptied it
  if (addr - block < b.header) return changed ? now > was : ctx.gcRuns > 0;
  // in a child whose GC ran: a mark of a fork-time allocation (its header's magic and size kept,
  // next_marked_index changed, not to the free mark a new allocation writes there, which an allocation
  // where the parent's stale header lay would look like), and the owner of one the GC moved out, set to
  // Qundef where it named a fork-time object
  if (ctx.gcRuns > 0 && (O.lo & 0xffff) === TRANSIENT_ALLOC_MAGIC && O.lo === N.lo && O.hi !== N.hi && (N.hi & 0xffff) !== TRANSIENT_MARKING_FREE) return false;
  if (ctx.gcRuns > 0 && N.hi === 0 && N.lo === ctx.L!.qundef && ctx.objIndex.at(num(O)) >= 0) return false;
  // past the fork-time offset: an allocation into space free at the fork
  if (changed && addr - block - b.header >= was) return true;
  // below it, or in a block whose header is as it was: refilled after the child's GC emptied it (every
  // GC moves the young buffers out and empties every block); with no GC, a fork-time buffer written in
  // place
  return ctx.gcRuns > 0;
}

/** struct transient_alloc_header (3.1's transient_heap.c): its magic, in the low 16 bits of its first
 *  word, and the next_marked_index an allocation writes (TRANSIENT_HEAP_ALLOC_MARKING_FREE, -2), in the
 *  low 16 bits of the high half */
const TRANSIENT_ALLOC_MAGIC = 0xfeab;
const TRANSIENT_MARKING_FREE = 0xfffe;

/** Did the child's GC fill this transient-heap block with fork-time buffers it moved (a young object's
 *  buffer that stays young moves to a new block; an old one's leaves for malloc)? By the allocations the
 *  child wrote there (a header: the magic, then the owning object): most of them owned by objects of the
 *  fork-time image, not by objects the child made. The child's allocations and the GC's moves go to
 *  blocks they take one after another, so a block holds one or the other but where they meet. Found on a
 *  program whose parent forked with 12,000 young Arrays, Hashes and objects, and whose workers ran one
 *  minor GC: gc saved 3.2M a child of 3.9M, its transient-heap pages among them. */
function transientEscapes(ctx: Context, block: number, b: { size: number; header: number }): boolean {
  const known = ctx.transientEscapes.get(block);
  if (known !== undefined) return known;
  const { wordAddr, values } = ctx;
  let forkTime = 0;
  let made = 0;
  for (let k = lastAtOrBelow(wordAddr, block + b.header - 1) + 1; k + 1 < wordAddr.length && wordAddr[k] < block + b.size; k++) {
    if ((values.newLo(k) & 0xffff) !== TRANSIENT_ALLOC_MAGIC || wordAddr[k + 1] !== wordAddr[k] + 8) continue;
    const owner = num(values.newAt(k + 1));
    const i = ctx.objIndex.at(owner);
    if (i >= 0 && ctx.ruby.objects.type[i] !== T.NONE && !madeInChild(ctx, owner)) forkTime++;
    else made++;
  }
  const escapes = forkTime > made;
  ctx.transientEscapes.set(block, escapes);
  return escapes;
}

/** The size word of a chunk the child allocated (its own walk: in use, a start the fork-time heap did
 *  not have there) was written by that malloc: the chunk's cause (a cache table's entries are the cache
 *  fill's), as the next chunk's PREV_INUSE bit is. Undefined for other glibc words. */
function carvedSizeCause(ctx: Context, addr: number): string | undefined {
  const g = ctx.glibc;
  const k = g.childAt.at(addr);
  if (k < 0 || !g.child!.inUse[k] || addr - g.child!.start[k] !== 8) return undefined;
  // (the size a shrink gave the remainder: a malloc that took the remainder again at its size kept it)
  const fresh = ctx.freshChunkCause.get(g.child!.start[k]);
  const cause = (fresh === undefined || fresh === 'alloc.malloc' ? shrunkRemainderCause(ctx, g.child!.start[k]) : undefined) ?? fresh;
  // (carved in memory a live owner released: that owner's change, as the chunk's contents are)
  return cause === 'alloc.malloc' ? (releasedByOwnerCause(ctx, addr) ?? cause) : cause;
}

/** glibc's size and links in a chunk in use at the fork whose owning object the child's GC freed (its free
 *  function released the chunk: the size a merge with its neighbours rewrote, tcache's or a bin's links;
 *  not the word before, the previous chunk's): the sweep's, as the rest of
 *  the chunk is (CHUNK_CONTENT_RULES). Undefined for other glibc words. QA: a program with garbage at
 *  the fork (no GC since its boot) whose workers only recursed, on 3.1: its lazy sweep finished in the
 *  child, 118 pages malloc.meta, which no strategy step removes, where a GC before the fork would have. */
function sweptLinkCause(ctx: Context, addr: number): string | undefined {
  const g = ctx.glibc;
  const i = g.forkAt.at(addr);
  if (i < 0 || !g.fork.inUse[i] || addr - g.fork.start[i] < 8) return undefined;
  return ownerDied(ctx, g.fork.start[i]) ? 'gc.sweep' : undefined;
}

/** glibc's size and links in a chunk in use at the fork whose owning object the program changed (its flags
 *  word: programFlagsCause): a realloc of the object's buffer as the change resized it, in place (the
 *  chunk's size, and the free remainder's size and links) or away (the chunk freed): that change's cause.
 *  String#freeze shrinks a String's buffer to its length, 3.1's rb_fstring a new Hash key's. QA: 30,000
 *  preloaded Strings of 100 bytes made with capacity 400, frozen in the child (3.1.2): 3,245 pages of
 *  malloc.meta a child, which no step removes, where prewarm saved 3,748 pages and was predicted to save
 *  27. */
function resizedLinkCause(ctx: Context, addr: number): string | undefined {
  const g = ctx.glibc;
  let c = g.forkAt.at(addr);
  // The first word of a chunk is the size of the free chunk before it, in the child's walk: written as
  // that chunk was freed, the remainder of the resize where it starts in the resized chunk (merged with a
  // chunk free at the fork after it, where there was one). One that starts elsewhere (carved from a
  // chunk free at the fork by a malloc) says nothing of the chunks it follows.
  if (c >= 0 && addr - g.fork.start[c] < 8) {
    const k = g.child ? g.childAt.at(addr - 8) : -1;
    c = k >= 0 && !g.child!.inUse[k] ? g.forkAt.at(g.child!.start[k]) : -1;
  }
  if (c < 0 || !g.fork.inUse[c] || addr < g.fork.start[c] + 8) return undefined;
  return ownerChangeCause(ctx, g.fork.start[c]);
}

/** programFlagsCause of the owner of the chunk in use at the fork at start, by its flags at the fork and
 *  the child's; undefined where it has none, or its flags did not change so. */
function ownerChangeCause(ctx: Context, start: number): string | undefined {
  const i = chunkOwnerIndex(ctx, start);
  if (i < 0) return undefined;
  const o = ctx.ruby.chunkOwners!;
  const now = ctx.newSlotFlags.get(o.slot[i]);
  if (now === undefined || (now & FL.typeMask) !== (o.flags[i] & FL.typeMask)) return undefined;
  return programFlagsCause(ctx.L, { lo: o.flags[i], hi: 0 }, { lo: now, hi: 0 });
}

/** The free remainder of a buffer the program's change shrank in place (a chunk of the child's that starts
 *  inside a chunk in use at the fork, not at its start, whose owner's flags changed: programFlagsCause),
 *  its size and links (tcache's next and key, a bin's): that change's, as resizedLinkCause says of the
 *  rest; undefined elsewhere. QA: 20,000 preloaded Arrays of 30 elements with room to spare, frozen in the
 *  child (3.4.5: Array#freeze shrinks a heap buffer first), 1,584 pages alloc.malloc a child. */
function shrunkRemainderCause(ctx: Context, childStart: number): string | undefined {
  const g = ctx.glibc;
  const c = g.forkAt.at(childStart);
  if (c < 0 || !g.fork.inUse[c] || childStart <= g.fork.start[c]) return undefined;
  return ownerChangeCause(ctx, g.fork.start[c]);
}

function chunkContentCause(c: ChunkContent): string {
  const r = CHUNK_CONTENT_RULES.find((x) => x.when(c));
  return !r ? 'unknown' : typeof r.cause === 'string' ? r.cause : r.cause(c);
}

/** The block glibc mmapped that holds addr, if any. */
function mmappedChunkAt(ctx: Context, addr: number): { start: number; size: number } | undefined {
  const i = ctx.mmappedAt.at(addr);
  return i >= 0 ? { start: ctx.ruby.mmappedChunks!.start[i], size: ctx.ruby.mmappedChunks!.size[i] } : undefined;
}

/** Is addr in a thread's VM stack: a block glibc mmapped of the VM stack's size, not the data of an object
 *  of the program? A Hash's bins or an Array's items can be a block of that size too (QA: the bins of a
 *  preloaded Hash of 100,000 entries, half deleted in the child, 261 pages exec.stack on 3.1 and 3.4; the
 *  Hash owns them). (The pointer scan finds the main thread's stack owned too: by its Thread, a T_DATA.) */
function inVmStack(ctx: Context, addr: number): boolean {
  const m = mmappedChunkAt(ctx, addr);
  return !!m && m.size === ctx.L?.vmStackMapping && !inProgramDataBlock(ctx, addr);
}

/** Is addr in a block glibc mmapped that holds the data of an object of the program (DATA_OWNER_TYPES: its
 *  mapping is that block, and a mapping of the VM stack's size may be one)? */
function inProgramDataBlock(ctx: Context, addr: number): boolean {
  const m = mmappedChunkAt(ctx, addr);
  return !!m && DATA_OWNER_TYPES.has(ownerType(ctx, m.start));
}

/** The class column's name of an imemo, by its imemo type code (asked once per owner described). */
const IMEMO_CLASS: Record<number, string> = Object.fromEntries(Object.entries(IMEMO).map(([name, code]) => [code, `imemo:${name}`]));

function classNameOf(ctx: Context, obj: number): string {
  const o = ctx.ruby.objects;
  if (obj < 0) return '(unknown)';
  return classLabel(ctx, o.type[obj], o.imemo[obj], o.classAddr[obj]);
}

/** What the by-class table calls an object of this type (imemo: its imemo type) and class address: an
 *  imemo has no class, a class the heap map does not name is anonymous; never an empty label. */
function classLabel(ctx: Context, type: number, imemo: number, klass: number): string {
  if (type === T.IMEMO) return IMEMO_CLASS[imemo] ?? `imemo:${imemo}`;
  if (type === T.NONE) return '(free slot)';
  return ctx.classNames.get(klass) ?? `${TYPE_NAMES[type] ?? 'object'} of anonymous class`;
}

/** The index of the heap map's object at an address (-1: none). Every rule asks, most of them per word:
 *  a table per GC heap body, by slot, answers without a search where all of the body's objects lie on
 *  its slot grid (always, unless the slot size is unknown); the sorted addresses are searched elsewhere.
 *  A class, as RangeCursor is: one call target for every blame's index. */
class ObjectIndex {
  private readonly nb: number;
  /** the body's first row in the table */
  private readonly first: Float64Array;
  /** its slots (0: searched instead) */
  private readonly count: Float64Array;
  private readonly table: Int32Array;

  constructor(
    private readonly addrs: Float64Array,
    private readonly bodies: Float64Array,
    private readonly hps: number,
    private readonly slotStart: Float64Array,
    private readonly slotSize: Uint16Array,
  ) {
    const nb = (this.nb = bodies.length);
    const first = (this.first = new Float64Array(nb));
    const count = (this.count = new Float64Array(nb));
    let rows = 0;
    for (let b = 0; b < nb; b++) {
      const start = slotStart[b];
      const size = slotSize[b];
      if (!start || !size || start < bodies[b] || start >= bodies[b] + hps) continue;
      first[b] = rows;
      count[b] = Math.floor((bodies[b] + hps - start) / size);
      rows += count[b];
    }
    const table = (this.table = new Int32Array(rows).fill(-1));
    for (let i = 0, b = 0; i < addrs.length; i++) {
      const addr = addrs[i];
      while (b < nb && bodies[b] + hps <= addr) b++;
      if (b >= nb || addr < bodies[b] || !count[b]) continue;
      const off = addr - slotStart[b];
      const k = off / slotSize[b];
      if (off < 0 || k !== Math.floor(k) || k >= count[b]) count[b] = 0; // off the grid: search this body
      else table[first[b] + k] = i;
    }
  }

  at(addr: number): number {
    const { nb, bodies, hps, count } = this;
    if (!nb || addr < bodies[0] || addr >= bodies[nb - 1] + hps) return this.search(addr);
    const b = lastAtOrBelow(bodies, addr);
    if (b < 0 || addr >= bodies[b] + hps || !count[b]) return this.search(addr);
    const k = (addr - this.slotStart[b]) / this.slotSize[b];
    return k >= 0 && k < count[b] && k === Math.floor(k) ? this.table[this.first[b] + k] : -1;
  }

  private search(addr: number): number {
    return indexOf(this.addrs, addr);
  }
}

/** Low words of slots' new flags, pushed in address order (the changed words' order), found by binary
 *  search: no object per slot (a Rails worker changes the flags of ~100K slots). The arrays grow by
 *  doubling: sized for every changed word (670K), their pages touched here and there by a sixth as many
 *  rows were all faulted in (~2,000 page faults a blame). */
class SlotFlags {
  private addr: Float64Array;
  private lo: Uint32Array;
  private n = 0;
  constructor(capacity: number) {
    this.addr = new Float64Array(capacity);
    this.lo = new Uint32Array(capacity);
  }
  push(addr: number, lo: number): void {
    if (this.n === this.addr.length) this.grow();
    this.addr[this.n] = addr;
    this.lo[this.n++] = lo;
  }
  private grow(): void {
    const addr = new Float64Array(Math.max(1024, this.addr.length * 2));
    const lo = new Uint32Array(addr.length);
    addr.set(this.addr);
    lo.set(this.lo);
    [this.addr, this.lo] = [addr, lo];
  }
  get(addr: number): number | undefined {
    const i = indexOf(this.addr, addr, this.n);
    return i < 0 ? undefined : this.lo[i];
  }
}

function contextFor(capture: Capture, diffs: PageDiffs, gcRuns: number): Context {
  const ruby = capture.ruby!;
  const ref = capture.processes.find((p) => p.pid === diffs.reference)!;
  const L = layoutFor(capture.runtime?.version ?? '');
  const hps = capture.heapMap!.heapPageSize;
  const bodies = capture.heapMap!.bodies;
  const objIndex = new ObjectIndex(ruby.objects.address, bodies, hps, ruby.slotStart, ruby.slotSize);
  const bodyEnds = Float64Array.from(bodies, (b) => b + hps);
  const regions = regionsOf(ref.vmas);
  const classNames = new AddrMap<string>();
  for (let i = 0; i < ruby.classNames.address.length; i++) classNames.set(ruby.classNames.address[i], ruby.classNames.name[i]);
  const child = ruby.childChunks?.find((c) => c.pid === diffs.pid)?.chunks;
  const heapVma = mainHeap(ref.vmas);
  const born = ruby.childObjects?.find((c) => c.pid === diffs.pid);
  const bornFlags = new AddrMap<number>();
  let [bornLo, bornHi] = [Infinity, -Infinity];
  if (born)
    for (let i = 0; i < born.address.length; i++) {
      bornFlags.set(born.address[i], born.flags[i]);
      bornLo = Math.min(bornLo, born.address[i]);
      bornHi = Math.max(bornHi, born.address[i] + 8);
    }
  const vmaStarts = Float64Array.from(ref.vmas, (v) => v.start);
  const vmaEnds = Float64Array.from(ref.vmas, (v) => v.end);
  const childVmas = capture.processes.find((p) => p.pid === diffs.pid)?.vmas;
  const glibc = glibcView({ chunks: ruby.mallocChunks, heapStart: ruby.heapStart, tcacheKey: ruby.tcacheKey }, child, heapVma, childVmas && mainHeap(childVmas));
  const values = new WordValues(diffs);
  const rememberBits = new HeapPageBits(ruby, L?.rememberBits, 1, diffs, values, bodies, bodyEnds, capture.meta.pageSize);
  return {
    L,
    ruby,
    gcRuns,
    gcFullRuns: capture.run?.gcFullRuns?.[capture.run.children.indexOf(diffs.pid)],
    gcMarks: capture.run?.gcMarks?.[capture.run.children.indexOf(diffs.pid)],
    gcCompactions: capture.run?.gcCompactions?.[capture.run.children.indexOf(diffs.pid)],
    glibc,
    cw: chunkWords(0),
    wordAddr: new Float64Array(),
    values,
    heapPageStructAt: new RangeCursor(ruby.heapPageStructs.start, ruby.heapPageStructs.end),
    callDataAt: new RangeCursor(ruby.callData.start, ruby.callData.end),
    isEntriesAt: new RangeCursor(ruby.isEntries.start, ruby.isEntries.end),
    tw: chunkWords(0),
    lists: { slot: new Uint32Array(0), content: new Uint32Array(0), fresh: new Uint32Array(0), chunk: new Uint32Array(0) },
    hps,
    bodies,
    bodyEnds,
    vmaStarts,
    vmaEnds,
    vmaAt: new RangeCursor(vmaStarts, vmaEnds),
    mmappedAt: ruby.mmappedChunks
      ? new RangeCursor(ruby.mmappedChunks.start, Float64Array.from(ruby.mmappedChunks.start, (a, i) => a + ruby.mmappedChunks!.size[i]))
      : new RangeCursor(new Float64Array(), new Float64Array()),
    transientHeader: { block: -1, index: -1 },
    vmaRegion: regions,
    vmaKind: mappingKinds(ref.vmas, regions, L),
    files: mappedFiles(ref.vmas),
    objIndex,
    classNames,
    vmEmptyCc: ruby.vmEmptyCc ? { lo: ruby.vmEmptyCc % 4294967296, hi: Math.floor(ruby.vmEmptyCc / 4294967296) } : undefined,
    newSlotFlags: new SlotFlags(0),
    iseqCacheCause: new AddrMap(),
    freshChunkCause: new AddrMap(),
    grownCallCacheRecords: new AddrMap(),
    freedCacheChunks: new AddrMap(),
    ownerMemo: { start: -1, index: -1 },
    freshMemo: { start: -1, cause: '' },
    sweptMemo: { start: -1, died: false },
    idSeenSlots: new AddrMap(),
    filledSlots: new AddrMap(),
    cacheSlotsFilled: 0,
    ivarBuffers: new AddrMap(),
    ivarValues: new AddrMap(),
    ivarOwners: new AddrMap(),
    sharedStrings: new AddrMap(),
    transientEscapes: new AddrMap(),
    transientMoved: new AddrMap(),
    forkObjectsGone: 0,
    goneSlots: new AddrMap(),
    moves: new AddrMap(),
    movedTo: new AddrMap(),
    idTableCause: new AddrMap(),
    // (3.1: a class's tables hang off its classext chunk, whose +16 is the method table itself, no items)
    idTableItems: idTableItemsOf(L?.classExt ? undefined : ruby.chunkOwners),
    rewrittenChunks: new AddrMap(),
    ivarTableInserts: new Set(),
    stTableHeaders: new AddrMap(),
    stTableIndexes: { lo: [], hi: [], laneBits: [], minBytes: [], cause: [] },
    stTableReleased: new AddrMap(),
    contentChunkCause: new AddrMap(),
    childMapped: (() => {
      const child = capture.processes.find((p) => p.pid === diffs.pid);
      const own = (child?.vmas ?? []).filter((v) => v.inode === 0 && v.perms.startsWith('rw') && !ref.vmas.some((r) => r.start < v.end && r.end > v.start));
      return new RangeCursor(
        Float64Array.from(own, (v) => v.start),
        Float64Array.from(own, (v) => v.end),
      );
    })(),
    bornFlags,
    bornSpan: { lo: bornLo, hi: bornHi },
    pointerSpan: spanOf([bodies[0], bodies[bodies.length - 1] + hps], [ruby.isEntries.start[0], ruby.isEntries.end[ruby.isEntries.end.length - 1]], [bornLo, bornHi]),
    stacks: (() => {
      const kinds = mappingKinds(ref.vmas, regions, L);
      const st = ref.vmas.filter((_, i) => kinds[i] === 'exec.stack');
      return { start: Float64Array.from(st, (v) => v.start), end: Float64Array.from(st, (v) => v.end) };
    })(),
    forkPathCopied: forkPathCopied(capture, ref),
    forkPathKept: forkPathKeptBytes(capture, ref),
    firstWriter: firstWriterName(capture, diffs.pid),
    exactWriter: exactFirstWriterOf(capture, diffs.pid),
    unsampledSort: unsampledSortOf(childTrace(capture, diffs.pid), exactFirstWriterOf(capture, diffs.pid), capture.meta.pageSize),
    nativeWriter: nativeWriterOf(capture, diffs.pid, CORE_FILES),
    nativeStore: nativeStoreOf(capture, diffs.pid, CORE_FILES),
    rememberBits,
    ageBits: new HeapPageBits(ruby, L?.ageBits, 2, diffs, values, bodies, bodyEnds, capture.meta.pageSize),
  };
}

/** The name of the function that first wrote each copied page (fault tracing). */
function firstWriterName(capture: Capture, pid: number): (page: number) => string | undefined {
  const of = firstWriterOf(capture, pid);
  return (page) => of(page)?.name;
}

/** A slot's bits in a per-slot bitmap of struct heap_page (`width` bits per BASE_SLOT_SIZE of the body, as
 *  CRuby's NUM_IN_PAGE counts: bit n stands for the slot at body + BITMAP_UNIT * n + bitmapShift, as in
 *  rememberedCause), at the fork and now, from the bitmap's words the child changed (the capture holds
 *  only those). The remembered set: a bit the child's GCs cleared is in a changed word; one set at the
 *  fork and set again at the end is not seen, and counts as not remembered (the prediction errs toward
 *  the child's own cache fills). The age bits: a GC that aged or promoted an object changed its word. */
class HeapPageBits {
  /** wordOf: no struct heap_page known for the slot's body, or no such field in this version */
  static readonly UNKNOWN = -2;
  /** wordOf: the word holding the slot's bits did not change */
  static readonly UNCHANGED = -1;
  // built at the first question (a child that ran a major GC asks none about the remembered set)
  private wordAt: AddrMap<number> | undefined; // word address -> index of the changed word
  private hpOfBody = new AddrMap<number>();
  private readonly perWord: number;
  private readonly mask: number;
  private readonly scratch: Word = { lo: 0, hi: 0 };

  constructor(
    private readonly ruby: RubyStructures,
    private readonly field: { offset: number; bytes: number } | null | undefined,
    private readonly width: number,
    private readonly diffs: PageDiffs,
    private readonly values: WordValues,
    private readonly bodies: Float64Array,
    private readonly bodyEnds: Float64Array,
    private readonly pageSize: number,
  ) {
    this.perWord = 64 / width;
    this.mask = (1 << width) - 1;
  }

  private build(field: { offset: number; bytes: number }): AddrMap<number> {
    const { diffs, pageSize } = this;
    const structs = this.ruby.heapPageStructs;
    const wordAt = new AddrMap<number>();
    const hpAt = new RangeCursor(structs.start, structs.end);
    for (let k = 0; k < diffs.wordPage.length; ) {
      const p = diffs.wordPage[k];
      // a page no struct heap_page overlaps: on to the next page's words
      if (!overlapsAny(structs.start, structs.end, diffs.addrs[p], diffs.addrs[p] + pageSize)) {
        while (k < diffs.wordPage.length && diffs.wordPage[k] === p) k++;
        continue;
      }
      for (; k < diffs.wordPage.length && diffs.wordPage[k] === p; k++) {
        const addr = diffs.addrs[p] + diffs.wordOffset[k];
        const hp = hpAt.at(addr);
        if (hp < 0) continue;
        const off = addr - structs.start[hp];
        if (off >= field.offset && off < field.offset + field.bytes) wordAt.set(addr, k);
      }
    }
    for (let h = 0; h < structs.owner.length; h++) this.hpOfBody.set(structs.owner[h], h);
    return wordAt;
  }

  /** The bit position of the slot found by the last wordOf, in its word. */
  private bit = 0;

  /** Index k of the changed word holding the slot's bits (and the slot's position in it, for oldBits and
   *  newBits), or UNCHANGED, or UNKNOWN (no known body or struct holds the slot). */
  wordOf(slot: number): number {
    const field = this.field;
    if (!field || !field.bytes) return HeapPageBits.UNKNOWN;
    this.wordAt ??= this.build(field);
    const b = findRange(this.bodies, this.bodyEnds, slot);
    if (b < 0) return HeapPageBits.UNKNOWN;
    const body = this.bodies[b];
    const hp = this.hpOfBody.get(body);
    if (hp === undefined) return HeapPageBits.UNKNOWN;
    const n = Math.floor((slot - body - bitmapShift(this.ruby, b, body)) / BITMAP_UNIT);
    this.bit = (n % this.perWord) * this.width;
    return this.wordAt.get(this.ruby.heapPageStructs.start[hp] + field.offset + Math.floor(n / this.perWord) * 8) ?? HeapPageBits.UNCHANGED;
  }

  /** The bits at the fork and now of the slot the last wordOf found, in its changed word k. */
  oldBits(k: number): number {
    return this.bitsIn(this.values.oldInto(k, this.scratch));
  }
  newBits(k: number): number {
    return this.bitsIn(this.values.newInto(k, this.scratch));
  }

  /** The slot's bits at the fork (undefined: their word did not change, or unknown). */
  atFork(slot: number): number | undefined {
    const k = this.wordOf(slot);
    return k < 0 ? undefined : this.oldBits(k);
  }

  private bitsIn(w: Word): number {
    // width divides 32: a slot's bits never straddle the two halves
    const bit = this.bit;
    return ((bit < 32 ? w.lo >>> bit : w.hi >>> (bit - 32)) & this.mask) >>> 0;
  }
}

/** The smallest span [lo, hi) holding all these spans (undefined ends: empty lists). */
function spanOf(...spans: [number | undefined, number | undefined][]): { lo: number; hi: number } {
  let [lo, hi] = [Infinity, -Infinity];
  for (const [a, b] of spans) if (a !== undefined && b !== undefined && !Number.isNaN(a) && !Number.isNaN(b)) [lo, hi] = [Math.min(lo, a), Math.max(hi, b)];
  return { lo, hi };
}

/** Pages the fork-time image holds that the child no longer does: a GC heap page its GC released (every
 *  object on it moved away or freed), memory it unmapped or madvised away. */
function releasedByChild(capture: Capture, pid: number): (page: number) => boolean {
  const ps = capture.meta.pageSize;
  const child = capture.processes.find((p) => p.pid === pid);
  const ref = capture.processes.find((p) => p.pid === capture.run?.reference);
  if (!child || !ref) return () => false;
  const inRef = pageIndexer(ref, ps);
  const inChild = pageIndexer(child, ps);
  return (page) => {
    const r = inRef(page);
    if (r < 0 || !(ref.pages.flags[r] & PageFlag.present)) return false;
    const c = inChild(page);
    return c < 0 || !(child.pages.flags[c] & PageFlag.present);
  };
}

/** Pages of private anonymous memory the child allocated new: present in it, not in the fork-time image
 *  (its stacks aside). Its workload's allocations beyond the room the fork-time heap had. */
export function newMemoryPages(capture: Capture, pid: number): number {
  const ps = capture.meta.pageSize;
  const child = capture.processes.find((p) => p.pid === pid);
  const ref = capture.processes.find((p) => p.pid === capture.run?.reference);
  if (!child || !ref || !capture.run) return 0;
  const inRef = pageIndexer(ref, ps);
  let pages = 0;
  let i = 0;
  for (const v of child.scanned.map((k) => child.vmas[k])) {
    const n = (v.end - v.start) / ps;
    if (v.inode === 0 && v.perms === 'rw-p' && !v.path.startsWith('[stack'))
      for (let j = 0; j < n; j++) {
        if (!(child.pages.flags[i + j] & PageFlag.present)) continue;
        const r = inRef(v.start + j * ps);
        if (r < 0 || !(ref.pages.flags[r] & PageFlag.present)) pages++;
      }
    i += n;
  }
  return pages;
}

/** What a prewarm costs a child. Its run of the workload in the parent leaves what it allocated and
 *  dropped in the fork-time heap, and the child's own run then allocates into that garbage as its GCs
 *  free it, where the child of a parent that had not run it took new memory: about the pages of new
 *  memory the child allocated (newMemoryPages), copied instead. This counts what the child allocates;
 *  where the prewarm's garbage lies on pages its GCs had freed of the boot's is prewarmEffects' refill,
 *  which counts what the prewarm's own (first) run left, and is not scaled below. Found
 *  on fixtures/ruby/orders.rb (3.4.5): prewarm was predicted to save 2.55M a child and made it copy 6.32M
 *  more; the none child had 8.5M of new memory. Only a child whose GC ran frees that garbage: without a
 *  GC its allocations go to new memory either way (the planted objid mode, whose child fills the
 *  object-id tables: a prewarm, which fills them in the parent, saves 1.3M of 1.6M). A live capture
 *  gives nothing.
 *  Where the run says what the workload allocates once its one-time work is done (a Rack run of two
 *  rounds or more: the later rounds' objects, scaled to every round), the new pages are scaled by that
 *  share of all it allocated: the prewarmed child allocates that much, and no more, into the garbage.
 *  Found on fixtures/ruby/rack/posts.ru (3.3.8): a first run of its requests allocates 913K objects over
 *  55 GCs and grows the heap by 1,056 pages, a second 56K over 3; prewarm's predicted saving was -140
 *  pages a child (the whole 1,056 a cost), its measured one 772. */
export function prewarmCosts(newPages: number, gcRuns: number, allocated?: { all: number; steady: number }): StepCost[] {
  if (!newPages || !gcRuns) return [];
  const share = allocated && allocated.all > 0 ? Math.min(1, allocated.steady / allocated.all) : 1;
  const pages = Math.round(newPages * share);
  if (!pages) return [];
  const scaled = share < 1 ? ` (${newPages} pages of new memory in this child, scaled to what a run after the first allocates: ${allocated!.steady} of its ${allocated!.all} objects)` : ` of new memory in this child`;
  return [{ step: 'prewarm', pages, why: `the workload's allocations: ${pages} pages${scaled}, which after a prewarm it takes from the garbage the prewarm's run left in the fork-time heap` }];
}

/** A prewarm runs the workload in the parent, and with it the GCs the workload ran in this child:
 *  - they free the garbage the boot left, as the gc step does, and the prewarm's own allocations then
 *    take the slots they freed before any new memory: so the garbage the prewarm leaves at the fork
 *    (as much as the child allocated new: newPages) lies first on those pages, which the child sweeps
 *    all the same. Of the pages removing gc.sweep alone saves, up to newPages stay copied (refilled).
 *    Measured on the Rails app, 200 requests, none against prewarm children (--no-aslr, 3 runs): of the
 *    pages the none child's sweep alone wrote, 61% (3.4.5) were not copied after a prewarm. The predicted
 *    saving came within 1.0% (3.3.8) and 2.5% (3.4.5) of none's copied pages, from 9.3% and 8.7% short
 *    before; the planted gc_churn mode, whose child put 1,356-3,458 pages in new memory, keeps them all;
 *  - one is enough to clear the remembered set the boot left, as the gc step does. Measured on the Rails
 *    app, 200 requests: gc.remembered-at-fork 55 pages with none, 1 with prewarm (3.3.8; 3.4.5: 162, 9);
 *  - when they are enough to make an object old, the objects young at the fork (the child's gc.promote
 *    and gc.age) are old before the fork, as after the promote step, and the child's minor GCs have as
 *    few young objects to mark (gc.mark-stack). Measured (3.4.5, 7 GCs in 200 requests): gc.promote 985
 *    pages with none, 0 with prewarm; gc.mark-stack 34 and 0. */
function prewarmEffects(ctx: Context, newPages: number | undefined): StepEffect[] {
  if (!ctx.L || !ctx.gcRuns) return [];
  const runs = `the workload ran ${ctx.gcRuns} GCs in this child: run first in the parent`;
  const effects: StepEffect[] = [
    // Only where the child's new memory is known (a run cowscope made: its twin is the fork-time image),
    // since it bounds what is refilled; a live child's blame leaves gc.sweep to the catalog.
    ...(newPages === undefined
      ? []
      : [
          {
            step: 'prewarm' as const,
            removes: ['gc.sweep'],
            why: `${runs}, they free the garbage the boot left`,
            refilled: { pages: newPages, why: `the garbage the prewarm's run leaves at the fork (${newPages} pages' worth: what this child allocated new) refills the slots its GCs freed first, and this child sweeps it` },
          },
        ]),
    { step: 'prewarm', removes: ['gc.remembered-at-fork'], why: `${runs}, they clear the remembered set the boot left` },
    // the first of them makes an object one GC short of old at the fork old in the parent
    { step: 'prewarm', removes: ['gc.promote-next'], why: `${runs}, the first makes old what was one GC short` },
  ];
  if (ctx.gcRuns >= ctx.L.oldAge)
    effects.push({ step: 'prewarm', removes: ['gc.promote', 'gc.age', 'gc.mark-stack'], why: `the workload ran ${ctx.gcRuns} GCs in this child (${ctx.L.oldAge} make an object old): run first in the parent, they age its heap` });
  return effects;
}

/** A prewarm, for a child whose workload ran no GC, with its GC off, and grew its heap (it filled every
 *  slot free at the fork, then took new pages): the prewarm's run allocates in the parent what this
 *  child allocated, in the same order, into the same slots, and nothing frees its garbage before the
 *  fork; the child's allocations then take new heap pages, and the pages whose only cause was
 *  alloc.free-slot stay shared. The GC was off where the agent says so (gcOff: GC.disable in the
 *  workload), or where the heap grew past the room it had at the fork with no GC (Ruby grows a heap past
 *  that room without collecting only when collecting is not allowed: a capture without gcOff). Not for a
 *  child whose GC may have been on: after a prewarm its allocations may start a GC, whose sweep of the
 *  prewarm's garbage they refill (3.3.8: a child that grew its heap by 96 pages of 4 KiB, with 10.8 MiB
 *  of room, ran a GC); nor for a child whose heap did not grow: it left free slots, which it fills after
 *  a prewarm instead, on pages of the fork-time heap all the same. QA (programs that disable the GC in
 *  their workload, 3.1.2-3.4.5): prewarm saved 211-2,066 pages a child where 37-138 were predicted. */
function prewarmFillEffects(ctx: Context, room: { grown: number; allocatable: number; gcOff: boolean } | undefined): StepEffect[] {
  if (!ctx.L || ctx.gcRuns || !room?.grown || !(room.gcOff || room.grown > room.allocatable)) return [];
  const why = "the workload ran no GC in this child, its GC off, and outgrew the slots free at the fork: a prewarm's run fills them in the parent, nothing frees them, and this child allocates on new pages";
  return [{ step: 'prewarm', removes: ['alloc.free-slot'], why }];
}

/** What compacting before the fork does to a child that compacts itself (gc.compact): where a compaction
 *  settles the heap (compactionSettles), the child's then moves next to nothing. Not on 3.3+, where each
 *  GC.compact moves most objects again: there the fix is no compaction in the workers (GC.auto_compact
 *  off, no GC.compact), which no step does. */
function compactionEffects(L: RubyLayout | undefined): StepEffect[] {
  if (!L?.compactionSettles) return [];
  const why = 'a compaction before the fork leaves the heap as the child\'s own would: it moves next to nothing';
  return (['compact', 'warmup'] as const).map((step) => ({ step, removes: ['gc.compact'], why }));
}

/** The steps whose compaction moves the live objects together and keeps the pages it emptied, shared:
 *  GC.compact (the compact step, and the warmup emulation before 3.3) and 3.4.5's Process.warmup. 3.3's
 *  Process.warmup returns those pages, whose room the child then takes new. */
const packingSteps = (L: RubyLayout): Remedy[] => (L.warmupFreesEmptyPages ? ['compact'] : ['compact', 'warmup']);

/** What the garbage at the fork, collected before it, costs back. Ruby adds a heap page from the room
 *  its last GC left (heapAllocatableBytesAtFork) rather than collect while any room is left: a child
 *  whose allocations outgrow the free slots puts them in new heap pages while the garbage at the fork
 *  waits for its first GC, which then sweeps it (gc.sweep). After a GC before the fork the same
 *  allocations fill the slots it freed, on shared pages, first: the bytes the child put in new pages
 *  that way (the lesser of its growth and that room), up to the garbage there is (what the child's own
 *  sweep freed on its copied pages), over the garbage a swept page held, or over the page size where a
 *  compaction packed the freed slots. Of the pages removing gc.sweep saves, that many stay copied
 *  (refilled). (Without the cap by the garbage, the planted gc_churn mode, whose child allocates 4.8M
 *  before its first GC against 0.2M of garbage at the fork, had warmup 33-48% short.)
 *  Found on the planted gc_cold_garbage mode (3.1.2): its child's 4,000 call caches took 10 new heap
 *  pages (40 OS pages) before its GC; after gc and promote the child copied 73 pages more of freed slots
 *  it filled (alloc.free-slot), 38 after warmup (GC.compact), none of which was counted. */
export function gcRefillEffects(L: RubyLayout | undefined, growthBytes: number, swept: { bytes: number; pages: number }, pageSize: number): StepEffect[] {
  if (!L || growthBytes <= 0 || !swept.pages || !swept.bytes) return [];
  const perPage = swept.bytes / swept.pages;
  const bytes = Math.min(growthBytes, swept.bytes);
  const packing = packingSteps(L);
  // the steps that free the garbage the child's sweep would (the catalog's gc.sweep remedies): they leave
  // the freed slots spread where the garbage lay, or packed by a compaction; a warmup that returns the
  // emptied pages leaves none to refill
  const steps = causeRow('gc.sweep')!.remedies.filter((s) => s !== 'warmup' || packing.includes(s));
  return steps.flatMap((step) => {
    const packed = packing.includes(step);
    const pages = Math.ceil(bytes / (packed ? pageSize : Math.min(pageSize, perPage)));
    const where = packed ? 'the free slots its compaction packed' : `the slots it freed (${Math.round(perPage)} bytes of garbage a swept page)`;
    return [
      {
        step,
        removes: ['gc.sweep'],
        why: 'a GC before the fork frees the garbage this child swept',
        refilled: { pages, why: `of the ${growthBytes} bytes this child put in new heap pages before its first GC, ${bytes} go to ${where} instead: ${pages} shared pages` },
      },
    ];
  });
}

/** Where a GC before the fork puts the child's mallocs, in a child whose GCs were all minor. Its minor
 *  GCs free the young garbage's chunks (garbageBytes: their owners died); the old garbage at the fork
 *  they never free. So its mallocs take memory that was free at the fork (alloc.malloc, and glibc's
 *  headers and links there, malloc.meta), spread over shared pages, all run long. Of those mallocs, the
 *  ones that split a large free chunk (child.split bytes; a chunk of a large bin's size, MIN_LARGE_SIZE
 *  or more) move: a full GC before the fork frees the garbage's chunks, and glibc hands a small request
 *  an exact fit (tcache, fastbins, the small bin, then the unsorted bin where the garbage's chunks wait)
 *  before it splits a larger chunk; the child's mallocs take the garbage's chunks instead, on pages its
 *  sweep would have copied all the same. The ones that filled a small hole mostly stay: a small bin
 *  hands out its oldest chunk first, and the holes were there before the garbage was freed (tcache and
 *  fastbin holes are handed out newest first, which this does not tell apart). The steps that free the
 *  garbage remove alloc.malloc, and malloc.meta where it is beside it (not glibc's own pages: the
 *  tcache, the links of the child's frees). Of the pages that saves (child.malloc: the cause sets of the
 *  pages with alloc.malloc) only those whose mallocs in free memory all split a large chunk
 *  (child.splitSets), and of those the share the garbage's chunks can take, are saved. The rest are
 *  refilled, but for the pages the step releases before the fork (warmup's trim), saved all the same.
 *  Not for a child that ran a full GC (fullRuns, undefined where the capture does not say): from then on
 *  it mallocs as the other child does, and the capture does not time its mallocs against it.
 *  Found on the second Rack app (240 requests, --no-aslr, one child each): on 3.3.8 (56 minor GCs, 1.8 MB
 *  of garbage chunks, 590 KB malloc'd in free memory, 544 KB of it splitting large chunks) gc saved 157
 *  of the 214 pages of {alloc.malloc, malloc.meta} and {alloc.malloc} where none was predicted, its
 *  prediction 9% of none's copies short. Of those pages, 146 of the 157 whose mallocs all split were
 *  saved, and 2 of the 36 whose mallocs all filled holes (the rest hold both, or neither). On 3.4.5 (a
 *  full GC among 44) 25-104 of 372-445 were saved, on 3.1.2 (2 among 27) 0 of 176. On the Rails app on
 *  3.4.5 (7 minor GCs, 389 KB of the 773 KB filling holes): 9 of the 16 pages whose mallocs all split, 31
 *  of the 79 whose mallocs all filled holes. */
export function gcMallocEffects(
  L: RubyLayout | undefined,
  fullRuns: number | undefined,
  garbageBytes: number,
  child: { split: number; malloc: CauseSet[]; splitSets: CauseSet[] },
): StepEffect[] {
  if (!L || fullRuns !== 0 || !garbageBytes || !child.split) return [];
  const moved = Math.min(garbageBytes, child.split);
  return causeRow('gc.sweep')!.remedies.flatMap((step) => {
    const effect = {
      step,
      removes: ['alloc.malloc'],
      alongside: ['malloc.meta'],
      why: `a GC before the fork frees the garbage's chunks (${garbageBytes} bytes), which this child's mallocs take instead of splitting the large chunks free at the fork (its GCs were all minor: the old garbage stayed)`,
    };
    // pages the step releases before the fork (a trim of free chunks' whole pages) it saves whoever writes them
    const unreleased = (sets: CauseSet[]) => savedPages(sets.filter((x) => !x.releasedBy?.includes(step)), step, [effect]);
    const all = unreleased(child.malloc);
    const splitPages = unreleased(child.splitSets);
    // (1e-9: a share of a whole number of pages that is whole again is not one page less)
    const saved = Math.floor((splitPages * moved) / child.split + 1e-9);
    if (!saved) return [];
    const pages = all - saved;
    const beyond = child.split - moved;
    const why = [
      all > splitPages ? `the mallocs on ${all - splitPages} of its ${all} pages did not all split a large free chunk (they filled small holes free at the fork, or chunks in use then that the child freed and took again), and stay` : '',
      beyond ? `${beyond} of the ${child.split} bytes split from large free chunks go beyond the garbage's chunks, and split them all the same (${splitPages - saved} pages)` : '',
    ].filter(Boolean);
    return [{ ...effect, ...(pages > 0 ? { refilled: { pages, why: why.join('; ') } } : {}) }];
  });
}

/** The bytes of the fork-time chunks whose owning object the child's GC freed (ownerDied). */
function garbageChunkBytes(ctx: Context): number {
  const o = ctx.ruby.chunkOwners;
  const g = ctx.glibc;
  if (!o || !ctx.gcRuns) return 0;
  let bytes = 0;
  for (let i = 0; i < o.chunk.length; i++) {
    const f = g.forkAt.at(o.chunk[i]);
    if (f >= 0 && g.fork.start[f] === o.chunk[i] && g.fork.inUse[f] && ownerDied(ctx, o.chunk[i])) bytes += g.fork.size[f];
  }
  return bytes;
}

/** The child's mallocs in memory free at the fork: split, the bytes of its chunks in use that start in a
 *  chunk free then of a large bin's size; malloc, the cause sets of the copied pages with alloc.malloc;
 *  splitSets, those of them whose changed words in chunks that start in free memory (the walks list the
 *  chunks of copied pages) all lie in ones that split a large chunk. */
function childMallocs(ctx: Context, diffs: PageDiffs, pageCauses: readonly string[][], pageReleased: readonly (readonly string[] | undefined)[]): { split: number; malloc: CauseSet[]; splitSets: CauseSet[] } {
  const g = ctx.glibc;
  if (!g.child) return { split: 0, malloc: [], splitSets: [] };
  /** 0: the chunk that start lies in was in use at the fork (or in none); 1: free, of a small bin's
   *  size (a hole); 2: free and large (split) */
  const freeAt = (start: number) => {
    const f = g.forkAt.at(start);
    return f < 0 || g.fork.inUse[f] ? 0 : g.fork.size[f] >= MIN_LARGE_SIZE ? 2 : 1;
  };
  let split = 0;
  for (let k = 0; k < g.child.start.length; k++) if (g.child.inUse[k] && freeAt(g.child.start[k]) === 2) split += g.child.size[k];
  const kinds = new Uint8Array(diffs.addrs.length); // per page: bit 0 a hole filled, bit 1 a chunk split
  for (let k = 0; k < diffs.wordPage.length; k++) if (ctx.cw.kind[k] === CW.FRESH) kinds[diffs.wordPage[k]] |= freeAt(ctx.cw.start(k));
  const malloc: number[] = [];
  for (let p = 0; p < diffs.addrs.length; p++) if (pageCauses[p]?.includes('alloc.malloc')) malloc.push(p);
  const sets = (pages: number[]) => groupCauseSets(pages.map((p) => pageCauses[p]), pages.map((p) => pageReleased[p]));
  return { split, malloc: sets(malloc), splitSets: sets(malloc.filter((p) => kinds[p] === 2)) };
}

/** What a compaction that keeps the pages it emptied costs a child: GC.compact (the compact step, and the
 *  warmup emulation before 3.3) and 3.4.5's Process.warmup move the live objects together and leave the
 *  free slots on whole pages of their own, still shared. The catalog counts the pages the child copied by
 *  filling free slots spread over the heap (alloc.free-slot, alloc.swept-slot, the sweep of what it
 *  filled) as saved by compaction; the child fills as many slots after it, only packed: filledBytes (the
 *  slots it filled on its copied pages) over the page size is the pages it copies instead. Measured on
 *  the Rails app, 200 requests, with warmup: 3.4.5 copied 935 such pages (none: 1,640 with 35,534 slots
 *  filled, 652 pages packed); 3.1.2 copied 385 (none: 1,328 with 31,116 filled, 304 packed). */
export function compactionCosts(L: RubyLayout | undefined, filledBytes: number, pageSize: number): StepCost[] {
  if (!L || !filledBytes) return [];
  const pages = Math.ceil(filledBytes / pageSize);
  const why = `the child filled ${pages} pages' worth of free slots spread over shared pages; packed by the compaction, the free slots still lie on shared pages`;
  return packingSteps(L).map((step) => ({ step, pages, why }));
}

/** What a full GC before the fork costs a child on a Ruby whose marking empties every call cache (3.4):
 *  the child fills again each call cache its workload runs, call sites that none's children run without
 *  a write (their caches were filled at the boot), so no copied page of none's shows them. The call-cache
 *  probe of a run (a child that ran such a GC, then the workload) found their pages (ruby.cacheRefill):
 *  those this child did not copy are the pages each of these steps adds. Measured on the Rails app,
 *  3.4.5, 200 requests: promote's children copied 447 pages more of icache.call than none's. */
export function cacheRefillCosts(L: RubyLayout | undefined, refill: RubyStructures['cacheRefill'], copied: Float64Array): StepCost[] {
  if (!L?.markEmptiesCallCaches || !refill) return [];
  let pages = 0;
  for (const page of refill.pages) if (indexOf(copied, page) < 0) pages++;
  if (!pages) return [];
  const why = `a full GC before the fork empties every call cache on Ruby ${L.series}, and the child fills again those its workload runs: the call-cache probe (a full GC, then the workload) filled ${refill.sites} call sites again, on ${pages} pages this child did not copy`;
  return MARKING_GC_STEPS.map((step): StepCost => ({ step, pages, why }));
}

/** The flags words of slots that changed on the page being judged, old and new: the row of each by its
 *  index in the page (no Map keyed by 47-bit addresses); and the flags word of the slot that starts on
 *  the page before, when it changed there. */
class PageFlags {
  private start = 0;
  private readonly row: Int32Array;
  private readonly set: number[] = [];
  private readonly scratchOld: Word = { lo: 0, hi: 0 };
  private readonly scratchNew: Word = { lo: 0, hi: 0 };
  private straddleSlot = -1;
  private straddleK = -1;

  constructor(
    pageSize: number,
    private readonly values: WordValues,
  ) {
    this.row = new Int32Array(pageSize / 8).fill(-1);
  }

  /** forget the page before, judge the page at start */
  reset(start: number): void {
    for (const i of this.set) this.row[i] = -1;
    this.set.length = 0;
    this.start = start;
    this.straddleSlot = -1;
  }
  /** word k is the flags word of the slot that starts on the page before and ends on this one */
  addStraddling(slot: number, k: number): void {
    this.straddleSlot = slot;
    this.straddleK = k;
  }
  /** word k, at byte offset off of the page, is a slot's flags word */
  add(off: number, k: number): void {
    this.row[off / 8] = k;
    this.set.push(off / 8);
  }
  private rowOf(slot: number): number {
    if (slot === this.straddleSlot) return this.straddleK;
    const i = (slot - this.start) / 8;
    return i >= 0 && i < this.row.length && i === Math.floor(i) ? this.row[i] : -1;
  }
  /** the slot's flags at the fork, when they changed on this page */
  old(slot: number): Word | undefined {
    const k = this.rowOf(slot);
    return k < 0 ? undefined : this.values.oldInto(k, this.scratchOld);
  }
  /** the slot's flags now, when they changed on this page */
  now(slot: number): Word | undefined {
    const k = this.rowOf(slot);
    return k < 0 ? undefined : this.values.newInto(k, this.scratchNew);
  }
}

/** The Ruby blamer of one child. A class, not an object of closures: every blame makes one, and V8
 *  compiles its methods once for all of them (a closure per blame is a new call target every time). */
class RubyPageBlamer implements PageBlamer {
  readonly unknownVersion: string | undefined;
  private readonly ctx: Context;
  private readonly ruby: RubyStructures;
  private readonly pageSize: number;
  /** the GC heap body of each copied page, -1 none */
  private readonly pageBody: Int32Array;
  private readonly values: WordValues;
  /** every pass asks for word k's address: computed once */
  private readonly wordAddr: Float64Array;
  /** the cause of a word no rule explains, by changed page off the GC heap (unexplainedCauses) */
  private readonly unexplained: string[];
  /** no struct heap_page, call_data or is_entries array holds the address (wordCause's first questions):
   *  most words off the GC heap lie between those arrays */
  private readonly inNoArray: GapCursor;
  /** the page changedWords judged last (ownerOf describes its words), and its slots' flags */
  private page = -1;
  private readonly flags: PageFlags;
  /** the slots of fork-time objects the child freed, replaced or promoted, on the GC heap page slotWords
   *  judged last (freedSlotsPage), in address order: silentCauses tells the young objects it aged (and
   *  nothing else wrote) from those */
  private readonly freedSlots: number[] = [];
  private freedSlotsPage = -1;
  /** the program's writes in flags words the GC also aged or promoted, on page freedSlotsPage
   *  (programFlagsCause): causes of the page beside the words' own */
  private readonly alsoCauses: string[] = [];
  /** the fork-time chunk holding a word, looked up once per chunk (a chunk's words come one after another) */
  private readonly forkChunkAt: RangeCursor;
  private lastChunk = -1;
  private lastOwner = -1;
  /** bytes of the slots on copied GC heap pages the child allocated into (compactionCosts) */
  private filledBytes = 0;
  /** the slots the child's sweep freed on copied GC heap pages, in bytes, and the pages that held them
   *  (gcRefillEffects) */
  private sweptBytes = 0;
  private sweptPages = 0;
  private sweptPage = -1;

  constructor(
    private readonly capture: Capture,
    private readonly diffs: PageDiffs,
    gcRuns: number,
  ) {
    const ctx = (this.ctx = contextFor(capture, diffs, gcRuns));
    this.ruby = ctx.ruby;
    this.unknownVersion = ctx.L ? undefined : capture.runtime?.version;
    this.pageSize = capture.meta.pageSize;
    const pageBody = (this.pageBody = Int32Array.from(diffs.addrs, (a) => bodyOf(ctx, a)));
    this.unexplained = unexplainedCauses(ctx, diffs, pageBody);
    const v = (this.values = new WordValues(diffs));
    const wordPage = diffs.wordPage;
    const wordAddr = (this.wordAddr = ctx.wordAddr = wordAddresses(diffs));
    this.slotsAndCaches();
    // What each changed word is to glibc, and what its new value points into (off GC heap pages: values
    // there are object references), asked by every pass below and by wordCause: computed once a word.
    const onGcHeap = wordsOnGcHeap(wordPage, pageBody);
    ctx.cw = classifyChunkWords(ctx.glibc, wordAddr, diffs.oldWord, diffs.newWord);
    ctx.tw = classifyChunkWords(ctx.glibc, null, diffs.newWord, diffs.newWord, onGcHeap);
    ctx.lists = wordListsOf(ctx.cw, wordPage, pageBody);
    compactionMoves(ctx, diffs, pageBody, v, releasedByChild(capture, diffs.pid), this.pageSize);
    ivarGrowth(ctx, diffs, pageBody, v);
    transientMoves(ctx, v);
    ctx.freshChunkCause = freshChunkCauses(ctx, diffs, v);
    ctx.freedCacheChunks = freedCacheChunks(ctx, diffs, v);
    freshMarkStacks(ctx, v);
    const contentWords = ctx.lists.content;
    const idTables = idTableCauses(ctx, diffs, contentWords, v);
    ctx.idTableCause = idTables.tables;
    ctx.rewrittenChunks = rewrittenChunks(ctx, contentWords, v);
    ctx.contentChunkCause = contentChunkCauses(ctx, contentWords, v, idTables.reusedValues);
    const stTables = stTableHeaders(ctx, diffs, v);
    ctx.stTableHeaders = stTables.headers;
    ctx.stTableIndexes = stTables.indexes;
    ctx.stTableReleased = stTables.released;
    rebuiltBins(ctx, v, stTables.rebuilds);
    this.flags = new PageFlags(this.pageSize, v);
    this.forkChunkAt = new RangeCursor(ctx.glibc.fork.start, ctx.glibc.forkEnds);
    this.inNoArray = new GapCursor([ctx.heapPageStructAt, ctx.callDataAt, ctx.isEntriesAt]);
  }

  /** Context from all of the child's words: the new flags of every slot whose flags changed (and the
   *  slots it gave an object id), and the iseqs whose inline caches it refilled. */
  private slotsAndCaches(): void {
    const { ctx, ruby, pageBody, values: v, wordAddr } = this;
    const wordPage = this.diffs.wordPage;
    const callDataAt = new RangeCursor(ruby.callData.start, ruby.callData.end);
    const isEntriesAt = new RangeCursor(ruby.isEntries.start, ruby.isEntries.end);
    ctx.newSlotFlags = new SlotFlags(0);
    // most words off the GC heap lie in no call_data or is_entries array
    const noArray = new GapCursor([callDataAt, isEntriesAt]);
    for (let k = 0; k < wordPage.length; k++) {
      const b = pageBody[wordPage[k]];
      const addr = wordAddr[k];
      if (b >= 0) {
        if (this.isFlagsWord(b, addr)) {
          const nLo = v.newLo(k);
          ctx.newSlotFlags.push(addr, nLo);
          if (nLo & ~v.oldLo(k) & FL.seenObjId) ctx.idSeenSlots.set(addr, true);
          if ((v.oldLo(k) & FL.typeMask) === T.STRING && madeShared(ctx.L, v.oldIn(k), v.newIn(k))) ctx.sharedStrings.set(addr, true);
          if (!(v.oldLo(k) & FL.typeMask) && nLo & FL.typeMask) {
            ctx.filledSlots.set(addr, true);
            if (isCacheImemo(nLo)) ctx.cacheSlotsFilled++;
          }
          // a fork-time object gone: its slot free now, or holding an object of another type
          const oldType = v.oldLo(k) & FL.typeMask;
          if (oldType && (isZero(v.newIn(k)) || (nLo & FL.typeMask) !== oldType)) {
            ctx.forkObjectsGone++;
            ctx.goneSlots.set(addr, true);
          }
        }
        continue;
      }
      if (noArray.free(addr)) continue;
      const cd = callDataAt.at(addr);
      if (cd >= 0) {
        ctx.iseqCacheCause.set(ruby.callData.owner[cd], 'icache.call');
        continue;
      }
      const ie = isEntriesAt.at(addr);
      if (ie >= 0 && !ctx.iseqCacheCause.has(ruby.isEntries.owner[ie])) ctx.iseqCacheCause.set(ruby.isEntries.owner[ie], isEntryCause(ctx, v.oldAt(k), v.newAt(k)));
    }
  }

  /** Is addr, an address in GC heap body b, the flags word (offset 0) of a slot? */
  private isFlagsWord(b: number, addr: number): boolean {
    const start = this.ruby.slotStart[b];
    const size = this.ruby.slotSize[b];
    // the offset is below the heap page size plus a page (slotStart lies in its body), and that size is at
    // most 1 GiB wherever it was read (driver.ts for a run, the live map's meta, capture-schema for a saved
    // capture): an int32 remainder (a float one is a call)
    return !!start && !!size && addr >= start && ((addr - start) | 0) % size === 0;
  }

  /** The chunk owner of word k (index in ruby.chunkOwners, -1: none). */
  private chunkOwnerAt(k: number): number {
    const c = this.forkChunkAt.at(this.wordAddr[k]);
    if (c < 0) {
      // a block glibc mmapped for a large malloc: owned as a chunk is
      const m = mmappedChunkAt(this.ctx, this.wordAddr[k]);
      return m ? chunkOwnerIndex(this.ctx, m.start) : -1;
    }
    if (c !== this.lastChunk) {
      this.lastChunk = c;
      this.lastOwner = chunkOwnerIndex(this.ctx, this.ctx.glibc.fork.start[c]);
    }
    return this.lastOwner;
  }

  effects(pageCauses: readonly string[][], pageReleased: readonly (readonly string[] | undefined)[]): StepEffect[] {
    const run = this.capture.run;
    const i = run?.children.indexOf(this.diffs.pid) ?? -1;
    // what the child put in new heap pages while the garbage at the fork waited for its first GC
    const growth = i >= 0 && run?.heapGrownBytes && run.heapAllocatableBytesAtFork !== undefined && this.ctx.gcRuns ? Math.min(run.heapGrownBytes[i], run.heapAllocatableBytesAtFork) : 0;
    const room = i >= 0 && run?.heapGrownBytes && run.heapAllocatableBytesAtFork !== undefined ? { grown: run.heapGrownBytes[i], allocatable: run.heapAllocatableBytesAtFork, gcOff: run.gcOff?.[i] === 1 } : undefined;
    return [
      ...prewarmEffects(this.ctx, run ? this.newPages() : undefined),
      ...prewarmFillEffects(this.ctx, room),
      ...gcRefillEffects(this.ctx.L, growth, { bytes: this.sweptBytes, pages: this.sweptPages }, this.pageSize),
      // (the walks over the garbage's chunks and the child's are for a child whose GCs were all minor)
      ...(this.ctx.gcFullRuns === 0 ? gcMallocEffects(this.ctx.L, 0, garbageChunkBytes(this.ctx), childMallocs(this.ctx, this.diffs, pageCauses, pageReleased)) : []),
      ...compactionEffects(this.ctx.L),
    ];
  }

  costs(): StepCost[] {
    const run = this.capture.run;
    const i = run?.children.indexOf(this.diffs.pid) ?? -1;
    const allocated = i >= 0 && run?.allocated && run.allocatedSteady ? { all: run.allocated[i], steady: run.allocatedSteady[i] } : undefined;
    return [
      ...compactionCosts(this.ctx.L, this.filledBytes, this.pageSize),
      ...prewarmCosts(this.newPages(), this.ctx.gcRuns, allocated),
      ...cacheRefillCosts(this.ctx.L, this.capture.ruby?.cacheRefill, this.diffs.addrs),
    ];
  }

  private newPagesMemo: number | undefined;
  /** the child's new memory (newMemoryPages), counted once: a prewarm's cost and its effects ask */
  private newPages(): number {
    return (this.newPagesMemo ??= newMemoryPages(this.capture, this.diffs.pid));
  }

  regionOf(page: number): string {
    const ctx = this.ctx;
    if (bodyOf(ctx, page) >= 0) return 'ruby-heap';
    const v = findRange(ctx.vmaStarts, ctx.vmaEnds, page);
    return v >= 0 ? ctx.vmaRegion[v] : 'unmapped';
  }

  silentCauses(p: number): string[] {
    // 3.3+: a GC ages young objects by storing their flags word unchanged (the age is in struct
    // heap_page), so a GC heap page with young objects is written whatever else changed there. Not by a
    // young object the child's sweep freed (or whose slot it gave to an object of another type):
    // garbage, never marked, so never aged. A GC before the fork frees those, and the page keeps none of
    // them. Nor by one it promoted: that write changed the flags word (gc.promote, gc.promote-next). (A
    // slot refilled with an object of the same type is not told from a kept object: still aged.)
    // And the program's writes in the flags words the GC aged or promoted (programFlagsCause).
    const ctx = this.ctx;
    const page = this.diffs.addrs[p];
    const also = this.freedSlotsPage === p ? this.alsoCauses : [];
    if (!ctx.gcRuns || !ctx.L || ctx.L.ageInFlags || bodyOf(ctx, page) < 0) return [...also];
    const freed = this.freedSlotsPage === p ? this.freedSlots : [];
    return objectsOn(ctx, bodyOf(ctx, page), page, this.pageSize, freed).youngKept ? ['gc.age', ...also] : [...also];
  }

  releasedBy(p: number): readonly Remedy[] {
    // a page a malloc_trim before the fork returns to the kernel (the trim step; Process.warmup calls
    // malloc_trim, as the warmup emulation on older Rubies does)
    return trimReleases(this.ctx.glibc, this.diffs.addrs[p], this.pageSize) ? TRIM_STEPS : [];
  }

  identicalPage(p: number): string {
    const ip: IdenticalPage = { ctx: this.ctx, page: this.diffs.addrs[p], pageSize: this.pageSize };
    const rule = IDENTICAL_RULES.find((x) => x.when(ip));
    return !rule ? 'same-value.unknown' : typeof rule.cause === 'string' ? rule.cause : rule.cause(ip);
  }

  changedWords(p: number, first: number, end: number, causes: string[], ownerKeys: number[] | null): void {
    this.page = p;
    const body = this.pageBody[p];
    if (body < 0) this.offHeapWords(p, first, end, causes, ownerKeys);
    else this.slotWords(p, body, first, end, causes, ownerKeys);
  }

  /** Words of a page off the GC heap: malloc chunks, VM structures, mappings. */
  private offHeapWords(p: number, first: number, end: number, causes: string[], ownerKeys: number[] | null): void {
    const { ctx, ruby, values: v, wordAddr } = this;
    const unexplained = this.unexplained[p];
    for (let k = first; k < end; k++) {
      const addr = wordAddr[k];
      const cause = wordCause(ctx, addr, v.oldIn(k), v.newIn(k), k, this.inNoArray.free(addr));
      causes[k - first] = cause === 'unknown' ? unexplained : cause;
      if (!ownerKeys) continue;
      const o = this.chunkOwnerAt(k);
      ownerKeys[k - first] = o < 0 ? 0 : ruby.chunkOwners!.slot[o];
    }
  }

  /** Words of a page of GC heap body `body`: slots, and the page header. */
  private slotWords(p: number, body: number, first: number, end: number, causes: string[], ownerKeys: number[] | null): void {
    const { ctx, ruby, diffs, values: v, wordAddr, flags } = this;
    // The rows of the slots' flags words that changed on this page.
    flags.reset(diffs.addrs[p]);
    for (let k = first; k < end; k++) if (this.isFlagsWord(body, wordAddr[k])) flags.add(diffs.wordOffset[k], k);
    // The slot that starts on the page before (a 40-byte slot straddles most page boundaries): its flags
    // word, when it changed, is among the words just before this page's (the words are in address order).
    const start = ruby.slotStart[body];
    const size = ruby.slotSize[body];
    const page = diffs.addrs[p];
    if (start && size && page > start && (page - start) % size) {
      const straddling = page - ((page - start) % size);
      for (let k = first - 1; k >= 0 && wordAddr[k] >= straddling; k--) if (wordAddr[k] === straddling) flags.addStraddling(straddling, k);
    }
    const freed = this.freedSlots;
    freed.length = 0;
    this.freedSlotsPage = p;
    const alsoCauses = this.alsoCauses;
    alsoCauses.length = 0;
    let s: Slot | undefined;
    let level: string | undefined; // slotLevelCause of s
    let shapeChanged = false; // of s (3.2+: the shape id lives in the flags word's upper half)
    let ivarsMoved = false; // of s
    let froze = false; // of s
    let shared = false; // of s
    let embedded = false; // of s: a String whose bytes were in its slot at the fork (its flags changed here)
    for (let k = first; k < end; k++) {
      const addr = wordAddr[k];
      // a slot's words come one after another: look it up once
      if (!s || addr < s.slot || addr >= s.slot + ruby.slotSize[body]) {
        s = slotAt(ctx, body, addr, flags);
        level = s && slotLevelCause(ctx, s, flags.old(s.slot), flags.now(s.slot));
        shapeChanged = !!s && !!ctx.L?.shapeInFlags && shapeMoved(flags.old(s.slot), flags.now(s.slot));
        ivarsMoved = !!s && s.type === T.OBJECT && unembedded(flags.old(s.slot), flags.now(s.slot));
        froze = !!s && frozeNow(flags.old(s.slot), flags.now(s.slot));
        shared = !!s && ctx.sharedStrings.has(s.slot);
        embedded = !!s && (s.type === T.STRING || s.type === T.ARRAY) && ownsNoChunk(ctx.L, flags.old(s.slot)?.lo ?? FL.user1);
        // a fork-time object the child freed or replaced (not one its compaction moved: that one lived),
        // or promoted (its flags word changed: the page holds that write, not a silent aging)
        if (s && s.type > 0 && (level ? level !== 'gc.compact' && !movedAway(flags.now(s.slot)) : this.promoted(s.slot))) freed.push(s.slot);
        // a slot the child allocated into: free at the fork (filled, or filled and freed again), or freed
        // by its sweep and filled (not one its compaction moved an object into)
        if (s && ((s.type === T.NONE && level !== 'gc.compact') || level === REBORN)) this.filledBytes += ruby.slotSize[body];
        if (s && s.type > 0 && level === 'gc.sweep') {
          if (this.sweptPage !== p) this.sweptPages++;
          this.sweptPage = p;
          this.sweptBytes += ruby.slotSize[body];
        }
      }
      if (!s) {
        causes[k - first] = wordCause(ctx, addr, v.oldIn(k), v.newIn(k), k);
        if (ownerKeys) ownerKeys[k - first] = 0;
        continue;
      }
      const off = addr - s.slot;
      // a String's flags word: did its length or bytes change too (the words after it on this page)?
      let rewritten = false;
      if (off === 0 && s.type === T.STRING)
        for (let j = k + 1; j < end && wordAddr[j] < s.slot + 32; j++) if (wordAddr[j] - s.slot >= 16) rewritten = true;
      const cause = slotWordCause(ctx, s, off, v.oldIn(k), v.newIn(k), flags.now(s.slot), level, shapeChanged, ivarsMoved, froze, embedded, shared, rewritten);
      causes[k - first] = cause;
      if (off === 0 && !level && (AGING_CAUSES.has(cause) || STRING_FLAG_CAUSES.has(cause))) {
        const program = AGING_CAUSES.has(cause) ? programFlagsCause(ctx.L, v.oldIn(k), v.newIn(k)) : cause;
        // (and beside a String's own bits, what else the program wrote there: an ivar)
        const other = program && STRING_FLAG_CAUSES.has(program) ? otherStringFlagsCause(ctx.L, v.oldIn(k), v.newIn(k)) : undefined;
        for (const also of [program, other]) if (also && also !== cause && !alsoCauses.includes(also)) alsoCauses.push(also);
      }
      if (ownerKeys) ownerKeys[k - first] = s.slot;
    }
  }

  /** Did the child's GC promote the object at this slot (its flags word changed on the page judged)? */
  private promoted(slot: number): boolean {
    const [O, N] = [this.flags.old(slot), this.flags.now(slot)];
    return !!this.ctx.L && O !== undefined && N !== undefined && promotedNow(this.ctx.L, O, N);
  }

  ownerOf(k: number): WordOwner | undefined {
    const { ctx, ruby } = this;
    const body = this.pageBody[this.page];
    if (body < 0) return chunkOwnerOf(ctx, this.chunkOwnerAt(k));
    const s = slotAt(ctx, body, this.wordAddr[k], this.flags);
    if (!s) return undefined;
    const site = s.obj >= 0 ? ruby.objects.site[s.obj] : -1;
    return { key: s.slot, type: TYPE_NAMES[s.type] ?? 'unknown', class: classNameOf(ctx, s.obj), site: site >= 0 ? ruby.sites[site] : undefined };
  }
}

/** The cause of a word no rule explains, for each page of words off the GC heap (undefined elsewhere): on a
 *  page the fork path itself wrote (the twin copied it too), fork's child-side handlers re-initialising a
 *  lock or list; or a native library of the program that wrote the page first (blame/native-writer.ts).
 *  Asked here, once a blame, not in offHeapWords: those lookups are closures made per blame, and inlined
 *  there they deoptimized it at every blame as they died with theirs (V8: weak objects). */
function unexplainedCauses(ctx: Context, diffs: PageDiffs, pageBody: Int32Array): string[] {
  const out = new Array<string>(diffs.addrs.length);
  for (let p = 0; p < out.length; p++) {
    if (pageBody[p] >= 0 || diffs.status[p] !== 1) continue;
    const page = diffs.addrs[p];
    out[p] = ctx.forkPathCopied(page) ? 'fork.atfork' : ctx.nativeWriter(page) !== undefined ? 'mutation.native' : 'unknown';
  }
  return out;
}

/** The strategy steps that run glibc's malloc_trim. */
const TRIM_STEPS: readonly Remedy[] = ['trim', 'warmup'];

export function rubyBlamer(capture: Capture, diffs: PageDiffs, gcRuns: number): PageBlamer {
  return new RubyPageBlamer(capture, diffs, gcRuns);
}
