// The cause catalog: every cause id cowscope can name, in one table. The rows feed the blame engine
// (tie order), the text and HTML legends, the README table (test/catalog.test.ts checks it) and the
// validation of cause ids in cowscope.json. A runtime or allocator adds its rows here, never a list of
// its own.
//
// Order matters: it is the tie order when two causes changed the same number of words on a page, most
// specific first.

/** Families group causes for colours and summaries (at most ten). */
export const FAMILIES = {
  gc: 'the garbage collector',
  alloc: 'allocation into memory that was free at the fork',
  icache: 'inline caches and method entries filled or emptied',
  object: 'object header bits and fields set lazily (id, freeze, ivars, coderange, hash iteration, a Date\'s civil date)',
  mutation: 'the program changed its own data',
  malloc: 'the C allocator (glibc malloc)',
  vm: 'interpreter state: globals and stacks',
  refcount: 'reference counts (CPython): every use of an object writes its header',
  unknown: 'not explained',
} as const;
export type Family = keyof typeof FAMILIES;

/** Strategy steps (cowscope run --strategy) that keep a cause out of the children. */
export type Remedy = 'gc' | 'promote' | 'warmup' | 'nakayoshi' | 'compact' | 'coderange' | 'prewarm' | 'trim' | 'freeze' | 'disable';

export interface CauseRow {
  id: string;
  family: Family;
  /** one line: what wrote the page */
  meaning: string;
  /** strategy steps that remove this cause (empty: no fork-time step can) */
  remedies: Remedy[];
  /** one line: what to do about it, for people, in plain words (no strategy step named: every runtime
   *  shows it) */
  fix: string;
  /** the strategy steps that do the fix, and a sentence naming them, said only where the runtime has one
   *  of them (Ruby's trim and warmup run malloc_trim; the Python agent has neither) */
  stepFix?: { steps: Remedy[]; text: string };
}

const row = (id: string, family: Family, meaning: string, remedies: Remedy[], fix: string, stepFix?: CauseRow['stepFix']): CauseRow =>
  stepFix ? { id, family, meaning, remedies, fix, stepFix } : { id, family, meaning, remedies, fix };

/** 'an Array', 'a String': the article a class name takes in a legend. */
const withArticle = (name: string): string => `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`;

/** The object types a mutation cause can name (CRuby's T_* types that own data). */
export const MUTATION_TYPES = ['object', 'class', 'module', 'string', 'regexp', 'array', 'hash', 'struct', 'bignum', 'float', 'data', 'match', 'imemo', 'iclass', 'container', 'unknown'] as const;

export const CAUSES: readonly CauseRow[] = [
  row('string.coderange', 'object', "a string's coderange computed lazily (String#hash, Hash keys, =~, length …)", ['coderange', 'warmup', 'prewarm'], 'precompute coderanges before forking (warmup on 3.3+, the coderange step, or running the code paths once in the parent)'),
  row(
    'string.coderange-cleared',
    'object',
    "a string's coderange cleared: the String was resized or modified in place (Ruby 3.1 resizes an unfrozen String that becomes a new Hash key to its own length, or hands its buffer to the key's frozen copy); a later use computes it again, the same bits back",
    [],
    'freeze the Strings workers insert as new Hash keys at boot (str.freeze or -str: a frozen key is stored as it is); 3.3+ does not clear it for a key',
  ),
  row('icache.call', 'icache', "a call site's method cache filled on its first call (iseq call_data)", ['prewarm'], 'run the code paths once in the parent before forking (prewarm)'),
  row('icache.const', 'icache', 'a constant cache filled or refilled (on 3.1 any constant definition invalidates all)', ['prewarm'], 'define constants before forking; run the code paths once in the parent'),
  row('icache.ivar', 'icache', 'an instance-variable cache filled on first read (iseq is_entries)', ['prewarm'], 'run the code paths once in the parent before forking (prewarm)'),
  row('icache.cvar', 'icache', 'a class-variable cache filled', ['prewarm'], 'run the code paths once in the parent before forking (prewarm)'),
  row('icache.call-store', 'icache', 'a call through rb_funcall (send, public_send, Symbol#to_proc as in map(&:name)) storing the fast path of its call cache again, the value it held, or marking its method entry cached again as it makes a new call cache the VM\'s global table no longer held: every such call writes it, in every worker', [], 'none at fork time: the parent cannot do these stores for the workers; call hot methods directly (map { |x| x.name }), not through send or &:name'),
  row('icache.new-slot', 'icache', 'a call or constant cache a call site made on its first call (an imemo of its own), put in a slot that was free at the fork', ['prewarm', 'compact', 'warmup'], 'run the code paths once in the parent before forking (prewarm): the caches are made there; or compact, so that new objects go to pages of their own'),
  row('method.cached', 'icache', 'a method entry marked cached by its first call cache', ['prewarm'], 'run the code paths once in the parent before forking (prewarm)'),
  row('symbol.id', 'object', 'a dynamic Symbol (String#to_sym, :"…#{}") given its ID on first use as a name (to_proc, send, respond_to?, define_method): the VM makes it permanent', ['prewarm'], 'use such Symbols as names once in the parent before forking (prewarm), or make them literals'),
  row('string.shared', 'object', "a String made shared with a frozen copy of itself that an operation took (a substring running to its end, a Regexp match's MatchData): the copy took its buffer, the String now points to it (STR_SHARED)", ['prewarm'], 'freeze preloaded Strings before forking (a frozen String is shared as it is), or run those code paths once in the parent'),
  row('object.id', 'object', 'object_id / Object#hash assigned an id (FL_SEEN_OBJ_ID and the id table)', ['prewarm'], 'avoid object_id on preloaded objects in workers, or call it in the parent'),
  row('object.freeze', 'object', 'an object frozen', ['prewarm'], 'freeze preloaded objects before forking'),
  row('object.shareable', 'object', 'a deeply frozen object flagged shareable (FL_SHAREABLE) when a constant holding it was first read at a call site: the Ractor check walks the whole structure', ['prewarm'], 'read such constants once in the parent, or Ractor.make_shareable them at boot'),
  row('object.ivar', 'object', 'an instance variable added to an existing object or class (shape or ivar table changed), or one nil at the fork set for the first time (memoized: @x ||= ...)', ['prewarm'], 'set instance variables at boot, not lazily in workers'),
  row('object.singleton', 'object', 'a singleton class created for an object', ['prewarm'], 'create singleton classes (extend, define_singleton_method) before forking'),
  row('object.data-cache', 'object', 'a C-implemented object (T_DATA, such as a Date) filled in a field it computes on first use (Date#year)', ['prewarm'], 'compute them in the parent: call what the workers call on preloaded objects before forking, or run the code paths once (prewarm)'),
  row('hash.iteration', 'object', "a Hash's iteration level stored (the same value again after the loop)", [], 'none at fork time: iterating a Hash writes it; keep hot Hashes few or small'),
  row('regexp.match', 'object', "a Regexp's use count raised and lowered around a match (the same value stored back)", [], 'none at fork time: every match writes its Regexp; match against a few shared patterns rather than one Regexp per item'),
  row('object.finalizer', 'object', 'a finalizer defined on an object (FL_FINALIZE: ObjectSpace.define_finalizer; on Ruby 3.1 ObjectSpace::WeakMap#[]= on its key and value)', [], 'define finalizers at boot, once: defined again in a worker, a finalizer stores the flag again and copies the page all the same; on 3.1 keep preloaded objects out of WeakMaps made in workers'),
  row('gc.promote', 'gc', 'a GC promoted a young object to old', ['promote', 'warmup', 'nakayoshi'], 'promote objects before forking (warmup, nakayoshi_fork, or the promote step)'),
  row('gc.promote-next', 'gc', 'a GC promoted an object that was one GC short of old at the fork (on Ruby 3.1 also a younger one an old object holds, which any GC there makes old at once)', ['gc', 'promote', 'compact', 'warmup', 'nakayoshi'], 'run a GC before forking (any strategy that does): it makes these objects old in the parent'),
  row('gc.age', 'gc', 'a GC aged a young object (age bits in the flags or, 3.3+, in struct heap_page)', ['promote', 'warmup', 'nakayoshi'], 'promote objects before forking (warmup, nakayoshi_fork, or the promote step)'),
  row('gc.compact', 'gc', "compaction in the child moved objects (both slots written) and rewrote the references to them", [], 'keep GC.auto_compact off in workers and call no GC.compact there (compacting before forking stops it on Ruby 3.1 only)'),
  row('gc.sweep', 'gc', 'a sweep freed a slot or relinked the free list (garbage at the fork)', ['gc', 'promote', 'compact', 'warmup', 'nakayoshi'], 'collect garbage before forking (any strategy that runs a full GC)'),
  row('gc.iseq-remembered', 'gc', "a minor GC marked an old iseq because a write barrier had remembered it (the child's cache fills), storing its call sites again", ['prewarm'], 'run the code paths once in the parent before forking (prewarm): the child then fills no cache, and its minor GCs leave old iseqs alone'),
  row('gc.remembered-at-fork', 'gc', "a minor GC marked an old iseq the parent's write barrier had remembered before the fork (its own cache fills at boot), storing its call sites again", ['gc', 'promote', 'compact', 'warmup', 'nakayoshi'], 'run a GC before forking (any strategy that does): it clears the remembered set, so the workers\' minor GCs leave those iseqs alone'),
  row('gc.iseq-mark', 'gc', "a marking GC stored the empty call cache into an iseq's call sites (3.1/3.3: the same value again; 3.4.5: emptying live caches)", [], 'none at fork time: any marking GC in a worker does it'),
  row('gc.env-mark', 'gc', "a marking GC stored the write-barrier flag of an escaped block's environment, set already (3.1/3.3 store it unconditionally)", [], 'none at fork time: any marking GC in a worker does it (fewer live blocks and Procs: fewer pages)'),
  row('alloc.free-slot', 'alloc', 'an object allocated into a slot that was free at the fork', ['compact', 'warmup'], 'compact before forking so free slots are not spread over shared pages'),
  row('alloc.swept-slot', 'alloc', "an object allocated into a slot whose fork-time object the child's sweep freed: freed before the fork instead (gc), the slot is filled all the same", ['compact', 'warmup'], 'compact before forking: live objects fill the slots garbage leaves, so the child allocates on pages of its own'),
  row('alloc.swept-chunk', 'alloc', "memory the child malloc'd in a chunk whose fork-time owner its GC freed: freed before the fork instead (gc), the chunk is reused all the same", [], 'none at fork time: the child\'s mallocs reuse what the garbage held, whether a GC before the fork or its own freed it'),
  row('gc.remember', 'gc', 'the write barrier remembered an old object that now references a young one', [], 'none at fork time: storing new objects into old ones does it'),
  row('gc.bitmap', 'gc', 'GC mark and flag bitmaps in struct heap_page', [], 'none at fork time: any GC in a worker does it (fewer GCs: larger heap slots/malloc limits)'),
  row('gc.mark-stack', 'gc', 'the GC mark stack', ['promote', 'warmup', 'nakayoshi'], 'promote objects before forking: a minor GC in a worker then has few young objects to mark'),
  row('gc.mark-new', 'gc', 'the GC mark stack, where it holds objects the child made: its GCs mark them whatever the parent aged before the fork', [], "none at fork time: the worker's own new objects are marked (fewer of them kept, or old objects that point to fewer of them: fewer pages)"),
  row(
    'malloc.bin-sort',
    'malloc',
    "glibc sorted chunks the parent had freed just before the fork out of its unsorted bin, on the first malloc after the fork that no tcache or small bin served (in every child alike, often within fork itself): it rewrote each chunk's links, with the values they held where the chunks were of one size, and copied a page per chunk",
    ['trim'],
    'let the parent sort them after its last frees (a malloc that no tcache or small bin serves sorts up to 10,000; malloc_trim does not), or free less just before forking',
    { steps: ['trim'], text: 'the trim step sorts them, after its malloc_trim' },
  ),
  row('malloc.meta', 'malloc', 'glibc malloc metadata (chunk headers, tcache, free-list links, arena)', [], 'jemalloc keeps metadata apart; malloc_trim before forking releases the whole pages inside free chunks', {
    steps: ['trim', 'warmup'],
    text: 'the trim step calls it, and blame counts those pages as saved by the steps that do, whatever wrote them',
  }),
  row('alloc.malloc', 'alloc', "memory the child malloc'd in a chunk that was free at the fork", [], 'malloc_trim before forking releases the whole pages inside free chunks, so allocations there land on new pages', {
    steps: ['trim', 'warmup'],
    text: 'the trim step calls it, and blame counts those pages as saved by the steps that do',
  }),
  row('alloc.transient', 'alloc', "Ruby 3.1 transient heap: young Array/Hash/Object buffers of the fork-time image evacuated or marked by the child's GC", ['gc', 'promote', 'nakayoshi', 'warmup'], 'run GCs before forking (any GC, minor too, evacuates the transient heap)'),
  row('alloc.transient-fill', 'alloc', 'Ruby 3.1 transient heap: a young Array/Hash/Object buffer the child allocated where a block was free at the fork (a block the parent\'s GC emptied and kept)', [], 'none at fork time: a GC before the fork empties the blocks the child then fills; fewer short-lived Arrays and Hashes per request: fewer pages'),
  row('mutation.hash-table', 'mutation', "entries inserted into or deleted from a VM hash table no object of the program owns (its st_table bins or dict entries, the entry count in its header, or the fork-time bins and entries a rebuild freed, which the child filled again): interned strings (Python's interned dict too), Symbols and their IDs, generic ivars, a Hash or Array no class owns; a program Hash's own entries are mutation.hash", ['prewarm'], 'fill tables at boot (run the code paths once in the parent), or keep per-request keys out of shared tables'),
  row('mutation.definition', 'mutation', 'the program defined a method, constant or variable after the fork: a new entry in an ID table (and the probe path it stored)', ['prewarm'], 'define methods, constants and variables at boot, not in workers'),
  ...MUTATION_TYPES.map((t) =>
    row(
      `mutation.${t}`,
      'mutation',
      t === 'container'
        ? "object references in a malloc'd buffer rewritten (Array/Hash/ivar contents)"
        : t === 'unknown'
          ? 'the program changed an object whose type is unknown'
          : `the program changed ${t === 'imemo' ? 'a VM-internal object (imemo)' : t === 'iclass' ? 'a module inclusion record (iclass)' : t === 'data' ? "a T_DATA object's state (a Mutex, a Time, a C extension's struct)" : withArticle(`${t[0].toUpperCase()}${t.slice(1)}`)}`,
      [],
      'the program writes this data in workers: keep per-request state out of preloaded objects',
    ),
  ),
  row(
    'mutation.native',
    'mutation',
    'a native library of the program (a C extension, or a C library one wraps: SQLite, OpenSSL) wrote its own memory: a connection, cache or handle made before the fork',
    [],
    'open database connections and other native handles in each worker after the fork (a post-fork hook), not in the parent',
  ),
  // CPython (runtimes/python). Its ids start with py. where a Ruby id would read the same (gc.*, mutation.*).
  row('py.specialize.code', 'icache', "the specializing interpreter rewrote a code object's adaptive bytecode or inline caches (first calls of a function; 3.11: its warm-up counter; 3.12+: also sys.monitoring or a profiler instrumenting it)", [], 'call the hot functions in the parent before forking, so they are specialized in the shared image'),
  row('py.specialize.version', 'icache', 'a version tag assigned lazily for the specializer (a type\'s tp_version_tag, a function\'s func_version, a dict keys table\'s dk_version)', [], 'call the hot functions in the parent before forking'),
  row('py.typecache', 'icache', "the interpreter's type attribute cache (4096 entries in the runtime state) filled by lookups that missed it", [], 'run the hot code paths in the parent before forking, so the cache is filled in the shared image'),
  row('py.str.intern', 'object', 'a str interned (sys.intern, or a name made at run time): the interned bits of its state set and, on 3.12, the string made immortal', [], 'intern the strings workers intern in the parent before forking (sys.intern at boot)'),
  row('py.str.hash', 'object', "a str or bytes object's hash computed and cached on first use (a dict or set lookup, hash())", [], 'hash preloaded strings in the parent before forking (use them as dict keys once)'),
  row('py.str.utf8', 'object', "a non-ASCII str's UTF-8 form made and kept in the str on first use (a C API taking UTF-8: sqlite3 parameters, os and file names, struct and socket calls)", [], 'encode the preloaded strings the workers pass to such calls once in the parent before forking'),
  row('py.hash', 'object', 'the hash another object caches in itself, computed on first use (a frozenset; a datetime, date, time or timedelta; a Decimal; a weak reference, whose hash the abc module\'s isinstance checks compute; a memoryview; a dict or set lookup, hash())', [], 'hash preloaded objects in the parent before forking (use them as dict keys or set members once), or key by values whose hash is not cached per object'),
  row('py.code.cache', 'object', "a code object's attributes made on first read and kept in it (3.11: co_code without the specializer's changes, and the line table a profiler or tracer makes; 3.12+: co_code, co_varnames, co_cellvars and co_freevars), read by inspect.signature, dis, a traceback or a debugger", [], 'read them in the parent before forking (inspect.signature of the functions the workers inspect, at boot); a line table a profiler makes stays the profiler\'s cost'),
  row('py.lazy.attr', 'object', "a function's attributes made on first read and kept in it: its __dict__ (an empty dict, which functools.wraps reads) and its __annotations__ (the compiler's tuple made a dict: inspect.signature, typing.get_type_hints, frameworks introspecting handlers)", [], 'read them in the parent before forking (introspect at boot the functions the workers introspect)'),
  row('py.contextvar.cache', 'object', "a ContextVar's cached value and the context version it was read in, rewritten by a get() in each new context (a request context entered per request: Flask, asgiref) and by a set()", [], 'none at fork time: a read in each new context rewrites it (fewer ContextVars read per request: fewer pages)'),
  row('py.gc.link', 'gc', "the cycle collector's links before an object (PyGC_Head) rewritten: a collection moved it between generations, or a new object was linked after it (a neighbour the child freed: py.gc.unlink)", ['freeze'], 'gc.freeze() before forking (collections then skip the preloaded objects)'),
  row(
    'py.gc.unlink',
    'gc',
    "the cycle collector's links before a preloaded object (PyGC_Head) rewritten as its neighbour in the collector's list was freed in the child: the program dropped the neighbour, and its free unlinked it (no collection ran over this object; a frozen object is unlinked from the permanent generation the same way, so gc.freeze() does not stop it)",
    [],
    "none at fork time: keep references to preloaded objects alive in workers; objects the program drops together made apart from those it keeps (the collector's list is in the order they were made)",
  ),
  row('py.gc.traverse', 'gc', 'a collection in the child visited the tracked objects of a page and stored their GC links back unchanged (update_refs, subtract_refs)', ['freeze'], 'gc.freeze() before forking (collections then skip the preloaded objects)'),
  row('py.gc.freeze-missing', 'gc', 'a collection in the child visited tracked objects the program had not frozen: gc.freeze() ran at boot, but these were made after it', ['freeze'], 'call gc.freeze() last, right before forking (or use --strategy freeze)'),
  row('py.gc.garbage', 'gc', "a collection in the child freed garbage of the fork (reference cycles the program had dropped, and what only they held): it unlinked, cleared and freed each object; a full one also emptied the interpreter's free lists (dead tuples, lists, dicts and floats kept for reuse)", ['gc', 'freeze'], 'collect before forking (gc.collect(), or the gc or freeze strategy): the garbage is freed in the parent'),
  row('py.gc.untrack', 'gc', 'a collection in the child stopped tracking a preloaded tuple or dict that holds nothing it follows: it cleared both words of the GC head, once', ['gc', 'freeze'], 'collect before forking (gc.collect(), or the gc or freeze strategy): the parent untracks them'),
  row('py.obmalloc.alloc', 'alloc', 'an object allocated into a pymalloc block of a shared pool that was free at the fork (freed, never used, or a dead tuple, list or dict kept on a free list for reuse), or that a preloaded object the child dropped left free', [], 'keep the parent from freeing much just before forking (gc.disable() early, gc.freeze() at the fork), so pools stay full'),
  row('py.obmalloc.free', 'alloc', "a preloaded object freed in the child, or a buffer a live one let go of as it grew (a dict's old keys table, a list's old items): pymalloc linked its block into the pool's free list", [], 'keep references to preloaded objects alive in workers (per-request copies, not replacements), and build preloaded containers at their final size'),
  row('py.obmalloc.pool', 'alloc', "a pymalloc pool header (block count, free list, pool list links) updated by an allocation or free in the pool", [], 'keep the parent from freeing much just before forking, so workers allocate into fresh pools'),
  row('py.mutation.dict', 'mutation', 'the program changed a preloaded dict (its header: size, version tag)', [], 'the program writes this data in workers: keep per-request state out of preloaded objects'),
  row('py.mutation.list', 'mutation', 'the program changed a preloaded list (its header)', [], 'the program writes this data in workers: keep per-request state out of preloaded objects'),
  row('py.mutation.buffer', 'mutation', "the program changed an object's out-of-line buffer: a dict's keys table (a class's shared one too: the attribute names its instances set), a list's item array, a set's table, a deque's blocks, an array.array's, a bytearray's or a BytesIO's bytes, a StringIO's characters, an OrderedDict's nodes, a buffered file's buffer, a lock's semaphore, a ctypes object's or an mmap's memory", [], 'the program writes this data in workers: keep per-request state out of preloaded objects, and make an instance of each class at boot (its shared keys filled before the fork)'),
  row('py.mutation.object', 'mutation', 'the program changed a field of another preloaded Python object', [], 'the program writes this data in workers: keep per-request state out of preloaded objects'),
  row('py.refcount', 'refcount', "a reference count changed (Py_INCREF/Py_DECREF on a shared object's ob_refcnt: reading an object writes it), or stored back unchanged on a page nothing else wrote", [], 'none at fork time for mortal objects (3.12+ makes static objects immortal); fewer objects touched per request: fewer pages'),
  row('vm.globals', 'vm', 'VM globals: the interpreter\'s .data/.bss, thread-local storage, VM counters', [], 'none at fork time'),
  row('exec.stack', 'vm', 'the machine or VM stack', [], 'none at fork time'),
  row('exec.lazy-bind', 'vm', "the dynamic linker bound a library function on its first call (lazy binding wrote the caller's GOT entry)", ['prewarm'], 'start the program with LD_BIND_NOW=1 (or link with -z now): every function is bound at load, before the fork; or run the code paths once in the parent'),
  row('fork.atfork', 'vm', 'written by fork itself in every child (glibc and runtime at-fork handlers re-initialise locks, thread lists, the timer thread; Python: the random module reseeds): the fork-time twin copied the page too, and where it holds other words than the parent, the fork path wrote them', [], 'none: every forked process does it (a fixed cost per worker)'),
  row('same-value.unknown', 'unknown', 'copied, yet no byte changed: a store of the same value by an unknown writer', [], ''),
  row('unknown', 'unknown', 'no rule matched', [], ''),
];

const BY_ID = new Map(CAUSES.map((c, i) => [c.id, { row: c, rank: i }]));

export const isCause = (id: string): boolean => BY_ID.has(id);
export const causeRow = (id: string): CauseRow | undefined => BY_ID.get(id)?.row;
/** Tie order: lower is more specific. */
export const causeRank = (id: string): number => BY_ID.get(id)?.rank ?? CAUSES.length;
export const causeMeaning = (id: string): string => BY_ID.get(id)?.row.meaning ?? '';

/** What to do about a cause, for a runtime whose strategy steps are `steps` (undefined: every step, Ruby's):
 *  the plain-words fix, and the sentence naming the steps that do it only where the runtime has one. */
export function causeFix(id: string, steps?: readonly string[]): string {
  const row = BY_ID.get(id)?.row;
  if (!row) return '';
  const s = row.stepFix;
  return s && (!steps || s.steps.some((x) => steps.includes(x))) ? `${row.fix}: ${s.text}` : row.fix;
}

/** The cause for a mutated object of a type name (TYPE_NAMES), within the catalog. */
export function mutationCause(typeName: string | undefined): string {
  const id = `mutation.${typeName ?? 'unknown'}`;
  return BY_ID.has(id) ? id : 'mutation.unknown';
}

/** Levenshtein distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length];
}

/** The valid ids closest to a misspelt one (at most three, nearest first). */
export function nearestCauses(id: string): string[] {
  const scored = CAUSES.map((c) => ({ id: c.id, d: distance(id.toLowerCase(), c.id) })).sort((a, b) => a.d - b.d);
  const best = scored[0].d;
  return scored.filter((s) => s.d <= Math.max(best, 2)).slice(0, 3).map((s) => s.id);
}

/** The catalog as a Markdown table (README and docs/causes.md carry it; a test keeps them equal). */
export function causeTableMarkdown(): string {
  const lines = ['| cause | family | what wrote the page | strategies that remove it |', '|---|---|---|---|'];
  for (const c of CAUSES) lines.push(`| \`${c.id}\` | ${c.family} | ${c.meaning.replace(/\|/g, '\\|')} | ${c.remedies.length ? c.remedies.join(', ') : '—'} |`);
  return lines.join('\n');
}
