// CPython facts that vary by version, one row per minor version (x86_64 and aarch64, default build with
// the GIL). Offsets are from each version's headers and were checked against live interpreters: the
// adaptive bytecode by comparing memory at id(code)+offset with code._co_code_adaptive (3.12+) or
// co_code (3.11), the str hash by comparing the word at id(s)+24 with hash(s), a str's UTF-8 form by
// reading utf8_length and utf8 before and after sqlite3 bound it as a parameter.

export interface PythonLayout {
  version: string;
  /** reference count encoding: 'full' (3.11: the whole first word), 'u32' (3.12+: the low 32 bits, an
   *  immortal object keeps them at 0xffffffff and is never written) */
  refcount: 'full' | 'u32';
  /** start of co_code_adaptive in a code object */
  codeAdaptive: number;
  /** 3.11: the word holding co_warmup (incremented on every call until the code is quickened) */
  codeWarmupWord: number | null;
  /** a code object's attribute cache, NULL until first read (3.11: _co_code, co_code without the
   *  specializer's changes; 3.12+: _co_cached, co_code, co_varnames, co_cellvars and co_freevars): the word
   *  that changed from 0 when co_code was read (ctypes, 3.11.2 / 3.12.1 / 3.13.0) */
  codeCached: number;
  /** 3.11: _co_linearray, a code object's line table made on the first trace of it (a profiler, a
   *  tracer), 0 at the fork (ctypes: the word sys.setprofile and a call changed); null after 3.11 */
  codeLineArray: number | null;
  /** 3.12+: [from, to) of _co_instrumentation_version and _co_monitoring, which sys.monitoring (and
   *  sys.setprofile or settrace on top of it) sets when it instruments the code object (ctypes: the words
   *  setprofile and a call changed: 3.12.1 +160 and +168, 3.13.0 +168 and +176); null before 3.12 */
  codeMonitoring: { from: number; to: number } | null;
  /** PyFunctionObject.func_dict and func_annotations: NULL, or the compiler's tuple of annotations, until
   *  first read (ctypes: +88 and +112 hold id(f.__dict__) and id(f.__annotations__) after it, 3.11-3.13) */
  funcDict: number;
  funcAnnotations: number;
  /** PyASCIIObject.hash, PyBytesObject.ob_shash */
  strHash: number;
  bytesHash: number;
  /** PyASCIIObject.state: its low two bits are the interned state (0: not interned) */
  strState: number;
  /** PyCompactUnicodeObject.utf8_length, and utf8 the word after: a non-ASCII str's UTF-8 form, made and
   *  kept on first use (PyUnicode_AsUTF8AndSize) */
  strUtf8: number;
  /** the size of PyCompactUnicodeObject: every str's characters lie past it (an ASCII str's start before) */
  strCharsFrom: number;
  /** PyTypeObject.tp_flags (Py_TPFLAGS_VALID_VERSION_TAG) and tp_version_tag */
  typeFlags: number;
  typeVersionTag: number;
  /** the word holding PyTypeObject.tp_versions_used (3.13: a u16 after tp_watched, counted up by
   *  assign_version_tag with each tag it gives the type), or null before 3.13 */
  typeVersionsUsedWord: number | null;
  /** PyFunctionObject.func_version */
  funcVersion: number;
  /** PyDictObject.ma_version_tag: written by every mutation of the dict */
  dictVersionTag: number;
  /** the type attribute cache (4096 entries of 24 B) in PyInterpreterState: offsetof() against the
   *  version's internal headers (pycore_interp.h) */
  typeCache: number;
}

/** Bytes of the type attribute cache (MCACHE_SIZE_EXP 12: 4096 entries of version, name, value). */
export const TYPE_CACHE_BYTES = 4096 * 24;

/** The GC head (PyGC_Head: _gc_next, _gc_prev) is the 16 bytes before every object of a GC type. */
export const GC_HEAD_BYTES = 16;
/** pymalloc (obmalloc) with the radix tree, the 64-bit default: 16 KiB pools in 1 MiB arenas; a pool
 *  starts with a 48-byte header; blocks are multiples of 16 bytes up to 512. */
export const POOL = { size: 16384, header: 48, alignment: 16, classes: 32 } as const;
/** Offsets in a pool header (struct pool_header), the same in 3.11–3.13. */
export const POOL_HEADER = { count: 0, freeblock: 8, nextpool: 16, prevpool: 24, arenaIndexAndSize: 32, nextAndMaxOffset: 40 } as const;
/** A ContextVar's cache (var_cached, var_cached_tsid, var_cached_tsver: the value a get() found and the
 *  thread and context version it found it in), [from, to) of the object, the same in 3.11-3.13 (ctypes:
 *  the words a set and get in a new context changed). */
export const CONTEXTVAR_CACHE = { from: 32, to: 56 } as const;
/** PyDictKeysObject.dk_version (u32 at +12, in the word at +8): assigned lazily for the specializer. */
export const DICT_KEYS_VERSION_WORD = 8;

export const LAYOUTS: readonly PythonLayout[] = [
  { version: '3.11', refcount: 'full', codeAdaptive: 184, codeWarmupWord: 48, codeCached: 152, codeLineArray: 160, codeMonitoring: null, funcDict: 88, funcAnnotations: 112, strHash: 24, bytesHash: 24, strState: 32, strUtf8: 48, strCharsFrom: 72, typeFlags: 168, typeVersionTag: 384, typeVersionsUsedWord: null, funcVersion: 128, dictVersionTag: 24, typeCache: 9056 },
  { version: '3.12', refcount: 'u32', codeAdaptive: 192, codeWarmupWord: null, codeCached: 152, codeLineArray: null, codeMonitoring: { from: 160, to: 176 }, funcDict: 88, funcAnnotations: 112, strHash: 24, bytesHash: 24, strState: 32, strUtf8: 40, strCharsFrom: 56, typeFlags: 168, typeVersionTag: 384, typeVersionsUsedWord: null, funcVersion: 136, dictVersionTag: 24, typeCache: 275392 },
  { version: '3.13', refcount: 'u32', codeAdaptive: 200, codeWarmupWord: null, codeCached: 160, codeLineArray: null, codeMonitoring: { from: 168, to: 184 }, funcDict: 88, funcAnnotations: 112, strHash: 24, bytesHash: 24, strState: 32, strUtf8: 40, strCharsFrom: 56, typeFlags: 168, typeVersionTag: 384, typeVersionsUsedWord: 408, funcVersion: 136, dictVersionTag: 24, typeCache: 84656 },
];

/** The row of a version ("3.11.2" -> 3.11), or undefined outside the table. */
export function pythonLayoutFor(version: string): PythonLayout | undefined {
  const minor = /^(\d+\.\d+)/.exec(version)?.[1];
  return LAYOUTS.find((l) => l.version === minor);
}

/** The oldest CPython the agent runs on (gc.freeze, the 3.8 object layout): older interpreters are
 *  refused before the program starts. */
export const PYTHON_OLDEST: readonly [number, number] = [3, 8];

/** What the agent needs of the table to write its heap map (it picks its own version's row). */
export const AGENT_LAYOUTS = LAYOUTS.map((l) => ({ version: l.version, codeAdaptive: l.codeAdaptive, typeCache: l.typeCache, typeCacheBytes: TYPE_CACHE_BYTES }));

/** Strategy steps of the Python agent (its STRATEGY_STEPS); a strategy joins steps with +. */
export const PYTHON_STRATEGY_STEPS = ['none', 'gc', 'freeze', 'disable', 'trim'];
