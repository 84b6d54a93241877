// Every version-specific CRuby fact cowscope uses, one row per version series (docs/ruby.md says where
// each fact comes from and how it was verified). Code elsewhere asks `layoutFor(version)` and never
// compares version strings. Offsets are for x86_64 release builds.

export interface RubyLayout {
  /** the series this row describes, e.g. "3.1" */
  series: string;
  /** bytes of one GC heap page body */
  heapPageSize: number;
  /** slot sizes of the size pools */
  slotSizes: number[];
  /** the GC age lives in flags bits 5-6 (3.1/3.2); from 3.3 only bit 5 (old) is in the flags */
  ageInFlags: boolean;
  /** bits 32-63 of the flags hold the shape id (3.2+) */
  shapeInFlags: boolean;
  /** struct heap_page (malloc'd; the body's first word points to it). Below bitmapsOffset: counts,
   *  links and the free-list head; from it: the GC bitmaps. */
  heapPage: { size: number; slotSizeOffset: number | null; startOffset: number; bitmapsOffset: number };
  /** 3.3+: the per-slot age bitmap in struct heap_page (2 bits per BASE_SLOT_SIZE); null before */
  ageBits: { offset: number; bytes: number } | null;
  /** the write barrier's remembered set in struct heap_page: one bit per BASE_SLOT_SIZE (40 B) of the
   *  body (3.1/3.2 reuse marking_bits; 3.3+ have remembered_bits) */
  rememberBits: { offset: number; bytes: number };
  /** struct rb_iseq_constant_body, reached through the imemo_iseq's word at +16 */
  iseqBody: {
    pointerOffset: number;
    isEntries: number;
    callData: number;
    /** u32 counts whose sum is the number of is_entries (one field on 3.1, four on 3.3+) */
    isSizes: number[];
    ciSize: number;
    /** bytes of one struct rb_call_data (ci, cc) and of one inline-cache entry */
    callDataEntry: number;
    isEntry: number;
  };
  /** Qundef: an unset embedded ivar slot */
  qundef: number;
  /** Qnil (3.1: 0x08; 3.2+: 0x04, as Qundef moved to 0x24) */
  qnil: number;
  /** ObjectSpace.dump_all sets string coderange bits (so it must run in a sibling fork) */
  dumpMutatesStrings: boolean;
  /** every constant definition invalidates every constant cache (global serial) */
  globalConstantSerial: boolean;
  /** rb_str_resize clears a String's coderange even when the length stays (3.1): rb_fstring resizes an
   *  unfrozen String it interns, a new Hash key, to its own length (string.coderange-cleared; a page
   *  first written by rb_str_resize whose bytes ended as they were is that too); later versions clear it
   *  only when truncating a String that is not 7-bit */
  resizeClearsCoderange: boolean;
  /** STR_SHARED, the flags bit of a String whose buffer belongs to another (frozen) String: set when an
   *  operation takes a frozen copy of a long unfrozen String (a substring to its end, a Regexp match's
   *  MatchData), which takes the buffer and leaves the String pointing to it (aux.shared, +32). Measured:
   *  20,000 Strings of 1,000 bytes (131 on 3.1), `s[10..]` in a child: 0x4000 (FL_USER2) on 3.1.2 and
   *  3.3.8, 0x1000 (FL_USER0) on 3.4.5. The same bit, ELTS_SHARED, marks an Array whose buffer is its
   *  shared root's (as.heap.aux.shared_root, +24): an Array shifted or dup'ed, measured on each (session
   *  65). null: not measured */
  strShared: number | null;
  /** an ivar inline cache (IVC) holds its shape and index packed in a word, no pointer (3.2+): of the
   *  is_entries words, only a class-variable cache (ICVARC) points to a malloc'd chunk (its
   *  rb_cvar_class_tbl_entry). 3.1's IVC points to a malloc'd rb_iv_index_tbl_entry as well. */
  ivcPacked: boolean;
  /** sizes of the transient heap's mapping (3.1 only: 32 MiB, plus 32 KiB before trimming); [] when absent */
  transientHeapSizes: number[];
  /** the transient heap's blocks: their size and alignment (32 KiB; a power of two, which transientFill relies on), and the header before their buffers
   *  (struct transient_heap_block_header: the bump offset, the last marked one and the object count as
   *  int16s, then the next block; 16 bytes); null when absent */
  transientBlock: { size: number; header: number } | null;
  /** size of the mapping holding a thread's VM stack (a 1 MiB malloc'd block, mmapped: 1 MiB + one page) */
  vmStackMapping: number;
  /** a timer thread of the VM's own is alive at every fork point (3.3+): not a user thread, and its 8 MiB
   *  pthread stack is re-used by the child's timer thread */
  timerThread: boolean;
  /** a marking GC stores the empty call cache into unused call sites again (same-value stores, 3.3) */
  iseqMarkRestoresEmptyCc: boolean;
  /** an escaped block environment (imemo env): ep at +16 of the object; the env's flags word at ep[0]
   *  and the env object itself at ep[1] */
  env: { epOffset: number } | null;
  /** marking an env stores VM_ENV_FLAG_WB_REQUIRED into its flags word even when it is set (3.1/3.3:
   *  `VM_ENV_FLAGS_SET` in gc_mark_imemo; 3.4 tests the bit first) */
  envMarkStoresFlag: boolean;
  /** a marking GC empties every call cache of every iseq it marks (3.4.5's cc_is_active always returns
   *  false): gc, warmup, promote and nakayoshi leave children with cold call caches */
  markEmptiesCallCaches: boolean;
  /** a Hash of few entries keeps its AR table in its own slot (3.3+, variable-width slots): without
   *  RHASH_ST_TABLE_FLAG it owns no malloc'd chunk, whatever its slot's words look like */
  hashArInSlot: boolean;
  /** offsets in a class's slot of the call path's tables (rb_id_table pointers): callable_m_tbl and
   *  cc_tbl of the classext embedded after struct RClass (3.3/3.4: 32 + 16, 32 + 24); [] where the
   *  classext is a chunk of its own (3.1) or not verified (3.2) */
  classCallTables: number[];
  /** where the classext is a chunk of its own (3.1): the slot's pointer to it (ext), and the offsets in it
   *  (iv_index_tbl, iv_tbl, m_tbl, const_tbl, callable_m_tbl, cc_tbl, one word each) of the call path's
   *  tables (callTables: callable_m_tbl, cc_tbl; measured on 3.1.2, a class method's first call fills
   *  cc_tbl), of iv_tbl (ivars: an st_table of the class's instance and class variables, each value an
   *  entry's record; measured on 3.1.2, @@x and @x set again), of const_tbl (constants, an rb_id_table) and
   *  of m_tbl (methods, an rb_id_table; measured on 3.1.2 with Fiddle: +16's table grew at a define_method);
   *  null where classCallTables and classData have them */
  classExt: { ext: number; callTables: number[]; ivars: number; constants: number; methods: number } | null;
  /** offsets in a class's slot of its own data: iv_ptr (its instance variables: a buffer, or the st_table
   *  of a too-complex shape) and const_tbl (an rb_id_table of its constants' rb_const_entry_t), the first
   *  two words of the embedded classext (3.3/3.4: 32 + 0, 32 + 8); null where the classext is a chunk of
   *  its own (3.1) or not verified (3.2) */
  classData: { ivars: number; constants: number } | null;
  /** the offset in a class's slot of its method table (m_tbl, an rb_id_table: struct RClass's field after
   *  super; measured on 3.3.8/3.4.5 with Fiddle: +24's table grew by one item at a define_method), which
   *  only the program's definitions change (a method added, removed, aliased); null where not verified */
  classMethodTable: number | null;
  /** Array#freeze shrinks a heap buffer with room to spare to its length first (a realloc: the capacity
   *  word, the chunk and its free remainder). Measured with 20,000 Arrays of 30 elements built by push
   *  (capacity 37): 3.4.5 shrinks them; 3.1.2 and 3.3.8 write only the flags word. 3.2 as 3.3 (not
   *  measured). */
  freezeShrinksArrays: boolean;
  /** the bits of a method definition's first word (rb_method_definition_t) that an alias of the method
   *  changes and a call's complement does not: 3.1's alias_count (27 bits after the 4-bit type and
   *  iseq_overload: an alias adds 0x20), 3.3+'s aliased bit (0x40; the reference count, which both bump,
   *  is the high half). Measured: 10,000 alias_method in a child, the word 0 -> 0x20 (3.1.2) and
   *  0x100000000 -> 0x200000040 (3.3.8, 3.4.5). null: not measured */
  methodDefAliased: number | null;
  /** where a T_OBJECT whose ivars outgrew its slot points to their buffer (3.1: as.heap.ivptr after the
   *  32-bit numiv, +24; 3.3/3.4: +16, measured with Fiddle on 3.1.2/3.3.8/3.4.5); null where not verified */
  objectIvars: number | null;
  /** the shape id (the flags word's high half) of an object or class whose ivars are an st_table of its
   *  own, not a buffer ("too complex": OBJ_TOO_COMPLEX_SHAPE_ID; measured on an object given one of 80 ivar
   *  names: 11 on 3.3.8, 2 on 3.4.5; a too-complex object frozen keeps it); null where no shape is (3.1:
   *  an object's ivars are always a buffer) */
  tooComplexShape: number | null;
  /** GCs an object survives before it is old (RVALUE_OLD_AGE) */
  oldAge: number;
  /** struct RSymbol's id (after basic, hashval and fstr): a dynamic Symbol holds only its ID's scope
   *  bits there until rb_sym2id gives it a serial (and makes it permanent) */
  symbolIdOffset: number;
  /** Process.warmup frees the GC heap pages its compaction emptied (3.3), so the children allocate on pages
   *  of their own; false where it keeps them (3.4.5) or where there is no Process.warmup (3.1/3.2: the
   *  emulation compacts with GC.compact, which never frees them) */
  warmupFreesEmptyPages: boolean;
  /** a compaction leaves the heap so that the next one moves (almost) nothing: compacting before the fork
   *  keeps a child's own GC.compact from moving the preloaded objects again (gc.compact). Measured with
   *  30,000 survivors of 60,000 Objects: a second GC.compact moved 14 objects on 3.1.2, 28,001 on 3.4.5
   *  and 27,845 on 3.3.8 (of 31,978 and 30,839 the first moved). 3.2 is taken as 3.3 (not measured). */
  compactionSettles: boolean;
  /** a GC, minor or major, makes old at once every young object it reaches through an old one (3.1:
   *  rgengc_check_relation gives it the candidate age, one short of old, and the GC's aging makes it
   *  old), where later versions age it by one. Measured on 3.1.2: 1,000 young Objects held by a local (the
   *  VM stack, marked from the old thread) or a constant were all old after one GC.start,
   *  GC.start(full_mark: false) or GC.compact; on 3.3.8 none (3.4.5: old after the second). Objects held
   *  by a global variable (marked as roots, no old parent) age by one. 3.2 is not measured here. */
  oneGcPromotes: boolean;
}

const V31: RubyLayout = {
  series: '3.1',
  heapPageSize: 16384,
  slotSizes: [40],
  ageInFlags: true,
  shapeInFlags: false,
  heapPage: { size: 344, slotSizeOffset: null, startOffset: 32, bitmapsOffset: 64 },
  ageBits: null,
  rememberBits: { offset: 232, bytes: 56 },
  iseqBody: { pointerOffset: 16, isEntries: 184, callData: 192, isSizes: [244], ciSize: 248, callDataEntry: 16, isEntry: 16 },
  qundef: 0x34,
  qnil: 0x08,
  dumpMutatesStrings: true,
  globalConstantSerial: true,
  resizeClearsCoderange: true, // measured: 3.1.2
  strShared: 0x4000,
  ivcPacked: false,
  transientHeapSizes: [0x2000000, 0x2008000],
  transientBlock: { size: 0x8000, header: 16 },
  vmStackMapping: 0x101000,
  timerThread: false,
  iseqMarkRestoresEmptyCc: false,
  env: { epOffset: 16 },
  envMarkStoresFlag: true,
  markEmptiesCallCaches: false,
  hashArInSlot: false,
  classCallTables: [],
  classExt: { ext: 24, callTables: [32, 40], ivars: 8, constants: 24, methods: 16 },
  classData: null,
  freezeShrinksArrays: false,
  methodDefAliased: 0xffffffe0,
  classMethodTable: null,
  objectIvars: 24,
  tooComplexShape: null,
  oldAge: 3,
  symbolIdOffset: 32,
  warmupFreesEmptyPages: false,
  compactionSettles: true,
  oneGcPromotes: true,
};

// 3.2 was not available to verify (docs/ruby.md): only the facts pinned by the
// merged pull requests are set; the struct offsets are unknown and left null-equivalent below.
const V32: RubyLayout = {
  series: '3.2',
  heapPageSize: 65536,
  slotSizes: [40, 80, 160, 320, 640],
  ageInFlags: true,
  shapeInFlags: true,
  heapPage: { size: 0, slotSizeOffset: 0, startOffset: 32, bitmapsOffset: 64 },
  ageBits: null,
  rememberBits: { offset: 0, bytes: 0 },
  iseqBody: { pointerOffset: 16, isEntries: 0, callData: 0, isSizes: [], ciSize: 0, callDataEntry: 16, isEntry: 16 },
  qundef: 0x24,
  qnil: 0x04,
  dumpMutatesStrings: false,
  globalConstantSerial: false,
  resizeClearsCoderange: false, // not verified (no 3.2 here): as in 3.3
  strShared: null,
  ivcPacked: true, // vm_core.h (3.2): iseq_inline_iv_cache_entry.value, shape id and index
  transientHeapSizes: [],
  transientBlock: null,
  vmStackMapping: 0x101000,
  timerThread: false,
  iseqMarkRestoresEmptyCc: false,
  env: null,
  envMarkStoresFlag: false,
  markEmptiesCallCaches: false,
  hashArInSlot: false,
  classCallTables: [],
  classExt: null,
  classData: null,
  freezeShrinksArrays: false,
  methodDefAliased: null,
  classMethodTable: null,
  objectIvars: null,
  tooComplexShape: null,
  oldAge: 3,
  symbolIdOffset: 32,
  warmupFreesEmptyPages: false,
  compactionSettles: false,
  oneGcPromotes: false,
};

const V33: RubyLayout = {
  series: '3.3',
  heapPageSize: 65536,
  slotSizes: [40, 80, 160, 320, 640],
  ageInFlags: false,
  shapeInFlags: true,
  heapPage: { size: 1728, slotSizeOffset: 0, startOffset: 32, bitmapsOffset: 64 },
  ageBits: { offset: 1312, bytes: 416 },
  rememberBits: { offset: 896, bytes: 208 },
  iseqBody: { pointerOffset: 16, isEntries: 176, callData: 184, isSizes: [236, 240, 244, 248], ciSize: 252, callDataEntry: 16, isEntry: 16 },
  qundef: 0x24,
  qnil: 0x04,
  dumpMutatesStrings: false,
  globalConstantSerial: false,
  resizeClearsCoderange: false, // measured: 3.3.8 and 3.4.5
  strShared: 0x4000,
  ivcPacked: true, // vm_core.h (3.3, 3.4)
  transientHeapSizes: [],
  transientBlock: null,
  vmStackMapping: 0x101000,
  timerThread: true,
  iseqMarkRestoresEmptyCc: true,
  env: { epOffset: 16 },
  envMarkStoresFlag: true,
  markEmptiesCallCaches: false,
  hashArInSlot: true,
  classCallTables: [48, 56],
  classExt: null,
  classData: { ivars: 32, constants: 40 },
  freezeShrinksArrays: false,
  methodDefAliased: 0x40,
  classMethodTable: 24,
  objectIvars: 16,
  tooComplexShape: 11,
  oldAge: 3,
  symbolIdOffset: 32,
  warmupFreesEmptyPages: true,
  compactionSettles: false,
  oneGcPromotes: false,
};

const V34: RubyLayout = {
  ...V33,
  series: '3.4',
  tooComplexShape: 2,
  freezeShrinksArrays: true,
  strShared: 0x1000,
  heapPage: { size: 1736, slotSizeOffset: 0, startOffset: 40, bitmapsOffset: 72 },
  ageBits: { offset: 1320, bytes: 416 },
  rememberBits: { offset: 904, bytes: 208 },
  iseqMarkRestoresEmptyCc: false,
  envMarkStoresFlag: false,
  markEmptiesCallCaches: true,
  hashArInSlot: true,
  warmupFreesEmptyPages: false,
  compactionSettles: false,
  oneGcPromotes: false,
};

const LAYOUTS = [V31, V32, V33, V34];

/** The agent's strategy steps that run a full marking GC in the parent just before the fork (GC.start,
 *  Process.warmup, GC.compact); nakayoshi's minor GCs mark no old iseq. A run with one of them has its
 *  call caches emptied already: it needs no call-cache probe (on a series whose markEmptiesCallCaches
 *  says a marking GC empties them, the driver keeps the probe the agent forks). */
export const MARKING_GC_STEPS = ['gc', 'promote', 'warmup', 'compact'] as const;

/** Does an object with this flags word (its low half) keep no malloc'd chunk, its contents in its own
 *  slot: an embedded String or Array, or (hashArInSlot) a Hash with an AR table? (Not told of an Object:
 *  3.3+'s objects whose ivars live in a table of their own keep the flag.) A word of its
 *  slot that looks like a chunk's address (an embedded String's bytes, an AR table's or a previous
 *  occupant's leftovers) is then no pointer to a chunk it owns. */
export function ownsNoChunk(L: RubyLayout | undefined, flagsLo: number): boolean {
  switch (flagsLo & FL.typeMask) {
    case T.STRING:
      return !(flagsLo & FL.user1);
    case T.ARRAY:
      return !!(flagsLo & FL.user1);
    case T.HASH:
      return !!L?.hashArInSlot && !(flagsLo & FL.hashStTable);
    default:
      return false;
  }
}

/** Does the chunk an object points to from this field of its slot (slotOffset; negative: read down from
 *  it, layouts.ts classExt) hold values only, no pointer the VM follows to another chunk: a String's bytes,
 *  an Array's elements (VALUEs: slots and immediates, never a chunk) or a Bignum's digits, whatever the
 *  field; an object's or a class's ivar buffer (VALUEs), unless its shape is too complex (then the field
 *  holds an st_table, whose bins and entries are chunks)? A word there that looks like a chunk's address (a
 *  String that packs addresses, a previous occupant's leftovers in the unused tail of a buffer's capacity)
 *  leads to no chunk the object owns. CI met one in a class's ivar buffer: 2 words of object.ivar in
 *  class_values.rb (3.3.8, 1 run in 40). */
export function chunkHoldsOnlyData(L: RubyLayout | undefined, flagsLo: number, shape: number, slotOffset: number): boolean {
  const type = flagsLo & FL.typeMask;
  if (DATA_CHUNK_TYPES.has(type)) return true;
  if (!L || shape === L.tooComplexShape) return false;
  const ivarBuffer = type === T.OBJECT ? L.objectIvars : type === T.CLASS || type === T.MODULE ? L.classData?.ivars : undefined;
  return ivarBuffer != null && slotOffset === ivarBuffer;
}

/** The row for a Ruby version ("3.1.2" -> 3.1), or undefined for a version cowscope does not know. */
export function layoutFor(version: string): RubyLayout | undefined {
  const series = /^(\d+\.\d+)/.exec(version)?.[1];
  return LAYOUTS.find((l) => l.series === series);
}

/** OS threads the VM itself runs at a fork point (3.3+'s timer thread): not the user's threads, and
 *  not a hang risk for children. */
export function vmOwnThreads(version: string): number {
  return layoutFor(version)?.timerThread ? 1 : 0;
}

// ---- facts that are the same in 3.1-3.4 (include/ruby/internal/*.h, internal/imemo.h) ----

export const T = {
  NONE: 0x00,
  OBJECT: 0x01,
  CLASS: 0x02,
  MODULE: 0x03,
  FLOAT: 0x04,
  STRING: 0x05,
  REGEXP: 0x06,
  ARRAY: 0x07,
  HASH: 0x08,
  STRUCT: 0x09,
  BIGNUM: 0x0a,
  FILE: 0x0b,
  DATA: 0x0c,
  MATCH: 0x0d,
  COMPLEX: 0x0e,
  RATIONAL: 0x0f,
  SYMBOL: 0x14,
  IMEMO: 0x1a,
  NODE: 0x1b,
  ICLASS: 0x1c,
  ZOMBIE: 0x1d,
  MOVED: 0x1e,
} as const;

export const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(T).map(([k, v]) => [v, k.toLowerCase()]));

/** imemo types (internal/imemo.h), by the names heap dumps use. */
export const IMEMO_CODES = {
  env: 0, cref: 1, svar: 2, throw_data: 3, ifunc: 4, memo: 5, ment: 6, iseq: 7, tmpbuf: 8, ast: 9, parser_strterm: 10, callinfo: 11, callcache: 12, constcache: 13,
} as const;
export const IMEMO = IMEMO_CODES;

/** imemo type of a flags word (its low 32 bits): bits 12-15. */
export const imemoTypeOf = (flagsLo: number): number => (flagsLo >>> 12) & 0xf;

/** rb_id_table (id_table.c: int capa, num, used, then the items pointer), the same in 3.1-3.4: where the
 *  items pointer is, from the table's user start. */
export const ID_TABLE_ITEMS = 16;

/** A class, a module, or a module's include class: the objects that own method and call-path tables. */
export const CLASS_TYPES = new Set<number>([T.CLASS, T.MODULE, T.ICLASS]);

/** Data types (the "struct" a T_DATA's dump line names, 3.1-3.4) whose references are their object's own
 *  contents, kept in objects the VM hides from the program (no class): a Queue's and a SizedQueue's items,
 *  in a hidden Array (queue_mark marks q->que). The heap map lists what they reference (contents). */
export const DATA_CONTENTS_STRUCTS = ['queue', 'sized_queue'] as const;

/** Types whose objects keep their ivars in the VM's generic-ivar table, 3.1-3.4 (not T_OBJECT, a class,
 *  an imemo): a buffer of their own (struct gen_ivtbl) that the table's entry for the object points to. */
export const GENERIC_IVAR_TYPES = new Set<number>([T.STRING, T.ARRAY, T.HASH, T.STRUCT, T.DATA, T.REGEXP, T.BIGNUM, T.FLOAT, T.MATCH, T.RATIONAL, T.COMPLEX, T.FILE]);

/** chunkHoldsOnlyData's types */
const DATA_CHUNK_TYPES = new Set<number>([T.STRING, T.ARRAY, T.BIGNUM]);

/** Flag bits, as masks of the flags word's low 32 bits (the shape id, 3.2+, is the whole high word). */
export const FL = {
  typeMask: 0x1f,
  /** 3.1/3.2: age in bits 5-6; 3.3+: bit 5 = old */
  age: 0x60,
  promoted: 0x20,
  finalize: 0x80,
  /** RUBY_FL_SHAREABLE (3.0+): the Ractor shareability check found the object deeply frozen */
  shareable: 0x100,
  seenObjId: 0x200,
  exivar: 0x400,
  freeze: 0x800,
  /** FL_USER1: T_OBJECT's and T_ARRAY's EMBED (their contents inside the slot), T_STRING's NOEMBED (its
   *  bytes in a buffer of their own), 3.1-3.4. ROBJECT_EMBED is cleared when the ivars outgrow the slot
   *  and move to a malloc'd buffer. */
  objectEmbed: 0x2000,
  user1: 0x2000,
  /** T_STRING, FL_USER1-6: how its bytes are kept (NOEMBED, STR_SHARED; 3.1's embedded length, FL_USER2-6),
   *  which only a change of the String's contents or length changes */
  strRepr: 0x7e000,
  /** T_HASH: RHASH_ST_TABLE_FLAG (FL_USER3), an st_table rather than an AR table */
  hashStTable: 0x8000,
  /** T_STRING coderange: FL_USER8 | FL_USER9 */
  coderange: 0x300000,
  /** The encoding index of a String, Symbol or Regexp (ENCODING_SHIFT 22, 7 bits: FL_USER10-16), 3.1-3.4 */
  encoding: 0x1fc00000,
  /** imemo ment: METHOD_ENTRY_CACHED (bit 20) and INVALIDATED (bit 21) */
  mentCached: 0x300000,
  /** imemo ment: METHOD_ENTRY_COMPLEMENTED (IMEMO_FL_USER3, bit 19): an entry a call made for a module's
   *  method in a class that includes it (its callable method table), not a definition */
  mentComplemented: 0x80000,
  /** T_HASH iteration level: bits 25-31 */
  hashIterLevel: 0xfe000000,
} as const;

/** Strategy steps of the Ruby agent (its STRATEGY_STEPS); a strategy joins steps with +, e.g. gc+coderange. */
export const STRATEGY_STEPS = ['none', 'gc', 'nakayoshi', 'compact', 'warmup', 'coderange', 'promote', 'trim', 'prewarm', 'custom'];
