// The checks a capture file passes before any analysis runs (`cowscope report FILE`): types, ranges,
// typed-array lengths that follow from the mappings, sorted arrays where the analysis binary-searches,
// and cross-references between sections. Every violation is one CaptureFileError line that names the
// field path, e.g. `capture.processes[2].vmas[5].end: must be above start (…)`.
//
// Hand-written on purpose: there is one fixed schema, so a schema library would be a dependency for
// what a page of code does, and most rules here are not expressible in JSON Schema anyway (lengths
// derived from other fields, sortedness, pids that must name a captured process, base64 sizes).
//
// The rule for whoever changes the analysis: every field analyzers/ or cli/render/ reads from a
// Capture is checked here, so that no capture this accepts can end in a TypeError or RangeError.
// The validator builds a fresh Capture of the checked fields only (unknown fields are dropped).

import type { Capture, CaptureMeta, ChildWriters, FaultTracing, HeapMap, PageDiffs, ProcessCapture, Role, RunInfo, RuntimeInfo, Tier, TieResults } from './capture';
import type { MemoryTotals, Vma } from './procfs-parse';
import type { HeapObjects } from './probe';
import type { Ranges, RubyStructures } from '../runtimes/ruby/discover';
import type { FreeSpace, Pools, PythonStructures } from '../runtimes/python/discover';
import { TYPE_BASES, type PythonHeapMap } from '../runtimes/python/heap-map';
import type { MallocChunks } from '../allocators/glibc/chunks';

export const CAPTURE_FORMAT = 'cowscope.capture/1';

export class CaptureFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaptureFileError';
  }
}

const TYPED = {
  Uint8Array,
  Uint16Array,
  Uint32Array,
  Int32Array,
  Float64Array,
  BigUint64Array,
} as const;
export type TypedName = keyof typeof TYPED;
type TypedOf<N extends TypedName> = InstanceType<(typeof TYPED)[N]>;

/** Largest pid Linux hands out (PID_MAX_LIMIT on 64-bit). */
const PID_MAX = 4 * 1024 * 1024;
/** Addresses the analysis does arithmetic on must be exact as numbers. */
const SAFE = Number.MAX_SAFE_INTEGER;
/** Any 64-bit address, e.g. [vsyscall] at 0xffffffffff600000 (exact as a number: low bits are zero). */
const ADDR_LIMIT = 2 ** 64;
/** The largest number below 2^64. */
const ADDR_MAX = 2 ** 64 - 2048;
const PERMS = /^[r-][w-][x-][ps]$/;
const HEX64 = /^[0-9a-f]{1,16}$/;
const ROLES: readonly Role[] = ['parent', 'reference', 'child', 'process'];
const TIERS: readonly Tier[] = ['exact', 'exclusive-bit'];

type Obj = Record<string, unknown>;

/** A short, one-line rendering of a bad value for the message. */
function show(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (typeof v === 'string') return v.length > 40 ? `${JSON.stringify(v.slice(0, 40))}…` : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object' && typeof (v as Obj).$typed === 'string') return `a ${show((v as Obj).$typed)} typed array`;
  return `an ${typeof v}`;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The index of the first element that is not a whole number in [min, max] and a multiple of step; -1
 *  when every one is. A loop of its own for integer typed arrays (whole numbers already) and for a step of
 *  1 (no remainder): a Rails worker's capture holds ~2M elements, 56 ms of its load in one generic loop
 *  (Number.isInteger and x % 1 on every element). NaN fails the range test. */
function firstOutside(a: ArrayLike<number>, min: number, max: number, step: number): number {
  const n = a.length;
  const whole = a instanceof Uint8Array || a instanceof Uint16Array || a instanceof Uint32Array || a instanceof Int8Array || a instanceof Int16Array || a instanceof Int32Array;
  if (step === 1 && whole) {
    for (let i = 0; i < n; i++) {
      const x = a[i];
      if (x < min || x > max) return i;
    }
  } else if (step === 1) {
    for (let i = 0; i < n; i++) {
      const x = a[i];
      if (!(x >= min && x <= max) || Math.floor(x) !== x) return i;
    }
  } else {
    // (a remainder of 0 by a whole step: a whole number)
    for (let i = 0; i < n; i++) {
      const x = a[i];
      if (!(x >= min && x <= max) || x % step !== 0) return i;
    }
  }
  return -1;
}

/** The value of a base64 digit (A-Z a-z 0-9 + /), by its character code; -1 for any other. */
function base64Digit(c: number): number {
  if (c >= 65 && c <= 90) return c - 65;
  if (c >= 97 && c <= 122) return c - 71;
  if (c >= 48 && c <= 57) return c + 4;
  return c === 43 ? 62 : c === 47 ? 63 : -1;
}

class Checker {
  constructor(private readonly source: string) {}

  fail(path: string, what: string): never {
    throw new CaptureFileError(`${this.source}: ${path}: ${what}`);
  }

  obj(path: string, v: unknown): Obj {
    if (!isObj(v) || '$typed' in v) this.fail(path, `must be an object, not ${show(v)}`);
    return v;
  }

  optional<T>(path: string, v: unknown, check: (path: string, v: unknown) => T): T | undefined {
    return v === undefined ? undefined : check(path, v);
  }

  arr(path: string, v: unknown): unknown[] {
    if (!Array.isArray(v)) this.fail(path, `must be an array, not ${show(v)}`);
    return v;
  }

  str(path: string, v: unknown): string {
    if (typeof v !== 'string') this.fail(path, `must be a string, not ${show(v)}`);
    return v;
  }

  strings(path: string, v: unknown): string[] {
    const a = this.arr(path, v);
    for (let i = 0; i < a.length; i++) this.str(`${path}[${i}]`, a[i]);
    return a as string[];
  }

  bool(path: string, v: unknown): boolean {
    if (typeof v !== 'boolean') this.fail(path, `must be true or false, not ${show(v)}`);
    return v;
  }

  oneOf<T extends string>(path: string, v: unknown, values: readonly T[]): T {
    if (!values.includes(v as T)) this.fail(path, `must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}, not ${show(v)}`);
    return v as T;
  }

  /** A whole number in [min, max]. */
  int(path: string, v: unknown, min: number, max: number, what = `a whole number from ${min} to ${max}`): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(path, `must be ${what}, not ${show(v)}`);
    return v;
  }

  /** A finite number >= 0 (sizes, seconds). */
  nonNegative(path: string, v: unknown): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) this.fail(path, `must be a number >= 0, not ${show(v)}`);
    return v;
  }

  pid(path: string, v: unknown): number {
    return this.int(path, v, 1, PID_MAX, `a process id (a whole number from 1 to ${PID_MAX})`);
  }

  /** Any 64-bit address or offset, as a number. */
  address(path: string, v: unknown): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= ADDR_LIMIT) this.fail(path, `must be a whole number from 0 to below 2^64, not ${show(v)}`);
    return v;
  }

  powerOfTwo(path: string, v: unknown, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max || (v & (v - 1)) !== 0)
      this.fail(path, `must be a power of two from ${min} to ${max}, not ${show(v)}`);
    return v;
  }

  /** {"$typed": name, "base64": "…"}: checked before anything is allocated from it, then decoded. */
  typed<N extends TypedName>(path: string, v: unknown, name: N): TypedOf<N> {
    if (!isObj(v) || !('$typed' in v)) this.fail(path, `must be a ${name} ({"$typed": "${name}", "base64": "…"}), not ${show(v)}`);
    if (v.$typed !== name) this.fail(`${path}.$typed`, `must be "${name}", not ${show(v.$typed)}`);
    const b64 = v.base64;
    if (typeof b64 !== 'string') this.fail(`${path}.base64`, `must be a string of base64, not ${show(b64)}`);
    const malformed = () => this.fail(`${path}.base64`, 'is not well-formed base64 (A-Z, a-z, 0-9, + and /, padded with = to a multiple of 4 characters)');
    if (b64.length % 4 !== 0) malformed();
    const Ctor = TYPED[name];
    const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
    const bytes = (b64.length / 4) * 3 - pad;
    const copy = new ArrayBuffer(bytes); // aligned for the element size
    // Node's decoder skips what is not base64 and takes base64url's - and _: the text is well-formed when
    // it decodes to every byte its length promises (each character skipped, a space or an = inside, takes
    // some away), holds neither - nor _, and its last digit has no bits past the last byte (a digit that
    // decodes as another would: "AR==" as "AQ=="). Encoding the bytes back to compare took ~50 ms of a
    // Rails worker's capture's load; a regular expression over the text 4x as long.
    const decoded = Buffer.from(copy);
    if (decoded.write(b64, 'base64') !== bytes || b64.includes('-') || b64.includes('_')) malformed();
    if (pad && (base64Digit(b64.charCodeAt(b64.length - 1 - pad)) & (pad === 2 ? 15 : 3)) !== 0) malformed();
    if (bytes % Ctor.BYTES_PER_ELEMENT !== 0)
      this.fail(path, `holds ${bytes} bytes, not a whole number of ${Ctor.BYTES_PER_ELEMENT}-byte ${name} elements`);
    return new Ctor(copy) as TypedOf<N>;
  }

  length(path: string, a: { length: number }, n: number, why: string): void {
    if (a.length !== n) this.fail(path, `has ${a.length} elements, must have ${n} (${why})`);
  }

  /** Every element a whole number in [min, max]; optionally a multiple of `step`. */
  elements(path: string, a: ArrayLike<number>, min: number, max: number, step = 1, what?: string): void {
    const i = firstOutside(a, min, max, step);
    if (i >= 0) this.fail(`${path}[${i}]`, `must be ${what ?? `a whole number from ${min} to ${max}${step > 1 ? `, a multiple of ${step}` : ''}`}, not ${a[i]}`);
  }

  /** Sorted ascending (strictly: no two equal). */
  sorted(path: string, a: ArrayLike<number>, strict: boolean): void {
    for (let i = 1; i < a.length; i++)
      if (strict ? !(a[i] > a[i - 1]) : !(a[i] >= a[i - 1])) this.fail(`${path}[${i}]`, `must be ${strict ? 'above' : 'at least'} ${path}[${i - 1}] (the array is sorted), not ${a[i]}`);
  }
}

function meta(c: Checker, v: unknown): CaptureMeta {
  const p = 'capture.meta';
  const m = c.obj(p, v);
  return {
    tool: c.oneOf(`${p}.tool`, m.tool, ['cowscope'] as const),
    version: c.str(`${p}.version`, m.version),
    kernel: c.str(`${p}.kernel`, m.kernel),
    pageSize: c.powerOfTwo(`${p}.pageSize`, m.pageSize, 4096, 65536),
    thp: c.str(`${p}.thp`, m.thp),
    tier: c.oneOf(`${p}.tier`, m.tier, TIERS),
    zeroPagesKnown: c.bool(`${p}.zeroPagesKnown`, m.zeroPagesKnown),
    time: c.str(`${p}.time`, m.time),
    command: c.strings(`${p}.command`, m.command),
  };
}

function memory(c: Checker, p: string, v: unknown): MemoryTotals {
  const m = c.obj(p, v);
  const f = c.obj(`${p}.fields`, m.fields);
  const fields: Record<string, number> = {};
  for (const [k, x] of Object.entries(f)) fields[k] = c.nonNegative(`${p}.fields.${k}`, x);
  return {
    rss: c.nonNegative(`${p}.rss`, m.rss),
    pss: c.nonNegative(`${p}.pss`, m.pss),
    uss: c.nonNegative(`${p}.uss`, m.uss),
    swap: c.nonNegative(`${p}.swap`, m.swap),
    swapPss: c.nonNegative(`${p}.swapPss`, m.swapPss),
    anonHuge: c.nonNegative(`${p}.anonHuge`, m.anonHuge),
    fields,
  };
}

function vmas(c: Checker, p: string, v: unknown, pageSize: number): Vma[] {
  const list = c.arr(p, v);
  const out: Vma[] = [];
  for (let i = 0; i < list.length; i++) {
    const q = `${p}[${i}]`;
    const m = c.obj(q, list[i]);
    const start = c.address(`${q}.start`, m.start);
    const end = c.address(`${q}.end`, m.end);
    if (start % pageSize) c.fail(`${q}.start`, `must be a multiple of the page size ${pageSize}, not ${start}`);
    if (end % pageSize) c.fail(`${q}.end`, `must be a multiple of the page size ${pageSize}, not ${end}`);
    if (!(end > start)) c.fail(`${q}.end`, `must be above start (${start}), not ${end}`);
    if (i > 0 && start < out[i - 1].end) c.fail(`${q}.start`, `must be at least ${p}[${i - 1}].end (${out[i - 1].end}): mappings are in address order and do not overlap`);
    const perms = c.str(`${q}.perms`, m.perms);
    if (!PERMS.test(perms)) c.fail(`${q}.perms`, `must be four characters like "rw-p", not ${show(perms)}`);
    out.push({
      start,
      end,
      perms,
      offset: c.address(`${q}.offset`, m.offset),
      dev: c.str(`${q}.dev`, m.dev),
      inode: c.address(`${q}.inode`, m.inode),
      path: c.str(`${q}.path`, m.path),
      ...(m.bss === undefined ? {} : { bss: c.bool(`${q}.bss`, m.bss) }),
    });
  }
  return out;
}

function processCapture(c: Checker, i: number, v: unknown, pageSize: number): ProcessCapture {
  const p = `capture.processes[${i}]`;
  const m = c.obj(p, v);
  const head = {
    pid: c.pid(`${p}.pid`, m.pid),
    ppid: c.int(`${p}.ppid`, m.ppid, 0, PID_MAX),
    role: c.oneOf(`${p}.role`, m.role, ROLES),
    comm: c.str(`${p}.comm`, m.comm),
    command: c.str(`${p}.command`, m.command),
    state: c.str(`${p}.state`, m.state),
    threads: c.int(`${p}.threads`, m.threads, 0, 2 ** 31),
    memory: memory(c, `${p}.memory`, m.memory),
  };
  const maps = vmas(c, `${p}.vmas`, m.vmas, pageSize);
  const scanned = c.arr(`${p}.scanned`, m.scanned);
  let pages = 0;
  for (let k = 0; k < scanned.length; k++) {
    const q = `${p}.scanned[${k}]`;
    const vi = c.int(q, scanned[k], 0, maps.length - 1, `an index into ${p}.vmas (0 to ${maps.length - 1})`);
    if (k > 0 && !(vi > (scanned[k - 1] as number))) c.fail(q, `must be above ${p}.scanned[${k - 1}] (scanned mappings are listed in address order), not ${vi}`);
    // Page addresses of scanned mappings are computed: they must be exact as numbers.
    if (maps[vi].end > SAFE) c.fail(`${p}.vmas[${vi}].end`, `a scanned mapping must lie below 2^53, not end at ${maps[vi].end}`);
    pages += (maps[vi].end - maps[vi].start) / pageSize;
  }
  const pg = c.obj(`${p}.pages`, m.pages);
  const flags = c.typed(`${p}.pages.flags`, pg.flags, 'Uint16Array');
  const pfn = c.typed(`${p}.pages.pfn`, pg.pfn, 'Float64Array');
  const why = `one per page of the scanned mappings at page size ${pageSize}`;
  c.length(`${p}.pages.flags`, flags, pages, why);
  c.length(`${p}.pages.pfn`, pfn, pages, why);
  return { ...head, vmas: maps, scanned: scanned as number[], pages: { flags, pfn } };
}

function runtime(c: Checker, v: unknown): RuntimeInfo {
  const p = 'capture.runtime';
  const m = c.obj(p, v);
  return {
    name: c.oneOf(`${p}.name`, m.name, ['ruby', 'python'] as const),
    version: c.str(`${p}.version`, m.version),
    platform: c.str(`${p}.platform`, m.platform),
    heapPageSize: c.powerOfTwo(`${p}.heapPageSize`, m.heapPageSize, 1024, 2 ** 26),
    slotSize: c.int(`${p}.slotSize`, m.slotSize, 1, 65535),
  };
}

function run(c: Checker, v: unknown, known: (path: string, pid: number) => void): RunInfo {
  const p = 'capture.run';
  const m = c.obj(p, v);
  const pidOf = (q: string, x: unknown) => {
    const pid = c.pid(q, x);
    known(q, pid);
    return pid;
  };
  const children = c.arr(`${p}.children`, m.children).map((x, i) => pidOf(`${p}.children[${i}]`, x));
  const perChild = (name: string) => {
    const a = c.arr(`${p}.${name}`, m[name]);
    c.length(`${p}.${name}`, a, children.length, `one per child in ${p}.children`);
    return a.map((x, i) => c.int(`${p}.${name}[${i}]`, x, 0, SAFE));
  };
  const threads = c.arr(`${p}.threadsAtFork`, m.threadsAtFork).map((x, i) => {
    const t = c.obj(`${p}.threadsAtFork[${i}]`, x);
    return { name: c.str(`${p}.threadsAtFork[${i}].name`, t.name), status: c.str(`${p}.threadsAtFork[${i}].status`, t.status) };
  });
  return {
    parent: pidOf(`${p}.parent`, m.parent),
    reference: pidOf(`${p}.reference`, m.reference),
    children,
    strategy: c.str(`${p}.strategy`, m.strategy),
    strategyLabel: c.str(`${p}.strategyLabel`, m.strategyLabel),
    strategySeconds: c.nonNegative(`${p}.strategySeconds`, m.strategySeconds),
    heapMapSeconds: c.nonNegative(`${p}.heapMapSeconds`, m.heapMapSeconds),
    threadsAtFork: threads,
    osThreadsAtFork: c.int(`${p}.osThreadsAtFork`, m.osThreadsAtFork, 0, 2 ** 31),
    gcCountAtFork: c.int(`${p}.gcCountAtFork`, m.gcCountAtFork, 0, SAFE),
    ...(m.heapPagesAtForkPoint !== undefined ? { heapPagesAtForkPoint: c.int(`${p}.heapPagesAtForkPoint`, m.heapPagesAtForkPoint, 0, SAFE) } : {}),
    workload: c.str(`${p}.workload`, m.workload),
    requestsServed: perChild('requestsServed'),
    gcRuns: perChild('gcRuns'),
    // Python runs only: the full collections among gcRuns (runtimes/python/blamer.ts reads them)
    ...(m.gcFullRuns !== undefined ? { gcFullRuns: perChild('gcFullRuns') } : {}),
    ...(m.gcFreedBlocks !== undefined ? { gcFreedBlocks: perChild('gcFreedBlocks') } : {}),
    ...(m.gcAutoRuns !== undefined ? { gcAutoRuns: perChild('gcAutoRuns') } : {}),
    ...(m.gcMarks !== undefined ? { gcMarks: perChild('gcMarks') } : {}),
    ...(m.gcCompactions !== undefined ? { gcCompactions: perChild('gcCompactions') } : {}),
    ...(m.allocated !== undefined ? { allocated: perChild('allocated') } : {}),
    ...(m.allocatedSteady !== undefined ? { allocatedSteady: perChild('allocatedSteady') } : {}),
    ...(m.heapAllocatableBytesAtFork !== undefined ? { heapAllocatableBytesAtFork: c.int(`${p}.heapAllocatableBytesAtFork`, m.heapAllocatableBytesAtFork, 0, SAFE) } : {}),
    ...(m.heapGrownBytes !== undefined ? { heapGrownBytes: perChild('heapGrownBytes') } : {}),
    ...(m.gcOff !== undefined ? { gcOff: perChild('gcOff') } : {}),
    ...(m.cacheProbe !== undefined ? { cacheProbe: c.int(`${p}.cacheProbe`, m.cacheProbe, 1, 2 ** 22) } : {}),
  };
}

function ties(c: Checker, v: unknown, known: (path: string, pid: number) => void): TieResults[] {
  return c.arr('capture.ties', v).map((x, i) => {
    const p = `capture.ties[${i}]`;
    const m = c.obj(p, x);
    const pid = c.pid(`${p}.pid`, m.pid);
    known(`${p}.pid`, pid);
    const reference = c.pid(`${p}.reference`, m.reference);
    known(`${p}.reference`, reference);
    return { pid, reference, status: c.typed(`${p}.status`, m.status, 'Uint8Array') };
  });
}

function heapMap(c: Checker, v: unknown): HeapMap {
  const p = 'capture.heapMap';
  const m = c.obj(p, v);
  const heapPageSize = c.powerOfTwo(`${p}.heapPageSize`, m.heapPageSize, 1024, 2 ** 26);
  const bodies = c.typed(`${p}.bodies`, m.bodies, 'Float64Array');
  c.elements(`${p}.bodies`, bodies, 0, SAFE - heapPageSize);
  for (let i = 1; i < bodies.length; i++)
    if (!(bodies[i] >= bodies[i - 1] + heapPageSize))
      c.fail(`${p}.bodies[${i}]`, `must be at least ${p}.bodies[${i - 1}] + heapPageSize (sorted, heap pages do not overlap), not ${bodies[i]}`);
  return {
    heapPageSize,
    bodies,
    objects: c.int(`${p}.objects`, m.objects, 0, SAFE),
    free: c.int(`${p}.free`, m.free, 0, SAFE),
    malformed: c.int(`${p}.malformed`, m.malformed, 0, SAFE),
  };
}

function diffs(c: Checker, v: unknown, pageSize: number, known: (path: string, pid: number) => void): PageDiffs[] {
  return c.arr('capture.diffs', v).map((x, i) => pageDiffs(c, `capture.diffs[${i}]`, x, pageSize, known));
}

/** One process's word diffs against its reference (a child's, or the twin's against the parent). */
function pageDiffs(c: Checker, p: string, x: unknown, pageSize: number, known: (path: string, pid: number) => void): PageDiffs {
  const m = c.obj(p, x);
  const pid = c.pid(`${p}.pid`, m.pid);
  known(`${p}.pid`, pid);
  const reference = c.pid(`${p}.reference`, m.reference);
  known(`${p}.reference`, reference);
  const addrs = c.typed(`${p}.addrs`, m.addrs, 'Float64Array');
  c.elements(`${p}.addrs`, addrs, 0, SAFE - pageSize, pageSize, `a page address (a multiple of ${pageSize} below 2^53)`);
  c.sorted(`${p}.addrs`, addrs, true);
  const status = c.typed(`${p}.status`, m.status, 'Uint8Array');
  c.length(`${p}.status`, status, addrs.length, `one per page in ${p}.addrs`);
  const wordPage = c.typed(`${p}.wordPage`, m.wordPage, 'Uint32Array');
  const wordOffset = c.typed(`${p}.wordOffset`, m.wordOffset, 'Uint16Array');
  const oldWord = c.typed(`${p}.oldWord`, m.oldWord, 'BigUint64Array');
  const newWord = c.typed(`${p}.newWord`, m.newWord, 'BigUint64Array');
  const words = `one per changed word, as in ${p}.wordPage`;
  c.length(`${p}.wordOffset`, wordOffset, wordPage.length, words);
  c.length(`${p}.oldWord`, oldWord, wordPage.length, words);
  c.length(`${p}.newWord`, newWord, wordPage.length, words);
  c.elements(`${p}.wordPage`, wordPage, 0, addrs.length - 1, 1, `an index into ${p}.addrs (0 to ${addrs.length - 1})`);
  c.sorted(`${p}.wordPage`, wordPage, false);
  c.elements(`${p}.wordOffset`, wordOffset, 0, pageSize - 8, 8, `a byte offset of an 8-byte word in a page (a multiple of 8 below ${pageSize})`);
  // The words of a page in address order, each once: the blamer judges a slot's words one after another
  // and finds a straddling slot's flags word by walking back.
  for (let k = 1; k < wordPage.length; k++)
    if (wordPage[k] === wordPage[k - 1] && !(wordOffset[k] > wordOffset[k - 1]))
      c.fail(`${p}.wordOffset[${k}]`, `must be above ${p}.wordOffset[${k - 1}] (the words of a page are sorted), not ${wordOffset[k]}`);
  return { pid, reference, addrs, status, wordPage, wordOffset, oldWord, newWord };
}

/** Frames per first writer (WRITER_FRAMES in capture.ts; a literal here: this module loads no addon code). */
const WRITER_FRAMES = 4;

function faults(c: Checker, v: unknown, pageSize: number, diffs: PageDiffs[] | undefined): FaultTracing {
  const p = 'capture.faults';
  const m = c.obj(p, v);
  const traced = c.bool(`${p}.traced`, m.traced);
  const why = c.str(`${p}.why`, m.why);
  const children = c.arr(`${p}.children`, m.children).map((x, i): ChildWriters => {
    const q = `${p}.children[${i}]`;
    const w = c.obj(q, x);
    const pid = c.pid(`${q}.pid`, w.pid);
    const copied = diffs?.find((d) => d.pid === pid);
    if (!copied) c.fail(`${q}.pid`, `${pid} has no entry in capture.diffs: first writers are of copied pages`);
    const addrs = c.typed(`${q}.addrs`, w.addrs, 'Float64Array');
    c.elements(`${q}.addrs`, addrs, 0, SAFE - pageSize, pageSize, `a page address (a multiple of ${pageSize} below 2^53)`);
    c.sorted(`${q}.addrs`, addrs, true);
    const ns = c.typed(`${q}.ns`, w.ns, 'Float64Array');
    c.length(`${q}.ns`, ns, addrs.length, `one per page in ${q}.addrs`);
    for (let k = 0; k < ns.length; k++) if (!(ns[k] >= -1e12 && ns[k] < 1e15)) c.fail(`${q}.ns[${k}]`, `must be a time in ns, not ${ns[k]}`);
    const kernel = c.typed(`${q}.kernel`, w.kernel, 'Uint8Array');
    c.length(`${q}.kernel`, kernel, addrs.length, `one per page in ${q}.addrs`);
    c.elements(`${q}.kernel`, kernel, 0, 1);
    const ips = c.typed(`${q}.ips`, w.ips, 'Float64Array');
    c.length(`${q}.ips`, ips, addrs.length * WRITER_FRAMES, `${WRITER_FRAMES} per page in ${q}.addrs`);
    c.elements(`${q}.ips`, ips, 0, ADDR_MAX);
    const functions = c.arr(`${q}.functions`, w.functions).map((f, j) => {
      const r = `${q}.functions[${j}]`;
      const o = c.obj(r, f);
      return { name: c.str(`${r}.name`, o.name), file: c.str(`${r}.file`, o.file), approximate: c.bool(`${r}.approximate`, o.approximate) };
    });
    const fn = c.typed(`${q}.fn`, w.fn, 'Int32Array');
    c.length(`${q}.fn`, fn, addrs.length * WRITER_FRAMES, `${WRITER_FRAMES} per page in ${q}.addrs`);
    c.elements(`${q}.fn`, fn, -1, functions.length - 1, 1, `an index into ${q}.functions, or -1`);
    const requests = c.optional(`${q}.requests`, w.requests, (r, a) =>
      c.arr(r, a).map((x, j) => {
        const o = c.obj(`${r}[${j}]`, x);
        return { requests: c.int(`${r}[${j}].requests`, o.requests, 1, SAFE), ns: c.int(`${r}[${j}].ns`, o.ns, 0, 1e15, 'a time in ns since the continue') };
      }),
    );
    if (requests)
      for (let j = 1; j < requests.length; j++)
        if (!(requests[j].requests > requests[j - 1].requests && requests[j].ns >= requests[j - 1].ns))
          c.fail(`${q}.requests[${j}]`, 'must follow the one before it: more requests, no earlier');
    return {
      pid,
      samples: c.int(`${q}.samples`, w.samples, 0, SAFE),
      lost: c.int(`${q}.lost`, w.lost, 0, SAFE),
      addrs,
      ns,
      kernel,
      ips,
      fn,
      functions,
      ...(requests ? { requests } : {}),
      ...(w.collections !== undefined ? { collections: collections(c, `${q}.collections`, w.collections) } : {}),
    };
  });
  return { traced, why, children };
}

/** ChildWriters.collections: start and stop times of the collections, ascending. */
function collections(c: Checker, p: string, v: unknown): { ns: number[]; untilNs?: number } {
  const o = c.obj(p, v);
  const ns = c.arr(`${p}.ns`, o.ns).map((t, j) => c.int(`${p}.ns[${j}]`, t, -1e12, 1e15, 'a time in ns since the continue'));
  if (ns.length % 2) c.fail(`${p}.ns`, 'must hold start and stop pairs');
  for (let j = 1; j < ns.length; j++) if (ns[j] < ns[j - 1]) c.fail(`${p}.ns[${j}]`, 'must not be earlier than the time before it');
  return { ns, ...(o.untilNs !== undefined ? { untilNs: c.int(`${p}.untilNs`, o.untilNs, -1e12, 1e15, 'a time in ns since the continue') } : {}) };
}

function ranges(c: Checker, p: string, v: unknown): Ranges {
  const m = c.obj(p, v);
  const start = c.typed(`${p}.start`, m.start, 'Float64Array');
  const end = c.typed(`${p}.end`, m.end, 'Float64Array');
  const owner = c.typed(`${p}.owner`, m.owner, 'Float64Array');
  c.length(`${p}.end`, end, start.length, `one per range in ${p}.start`);
  c.length(`${p}.owner`, owner, start.length, `one per range in ${p}.start`);
  // Only compared with page and word addresses (which are below 2^53), never computed on.
  c.elements(`${p}.start`, start, 0, ADDR_MAX, 1, 'a whole number from 0 to below 2^64');
  c.elements(`${p}.end`, end, 0, 2 ** 64, 1, 'a whole number from 0 to 2^64');
  c.elements(`${p}.owner`, owner, 0, 2 ** 64, 1, 'a whole number from 0 to 2^64');
  c.sorted(`${p}.start`, start, false);
  for (let i = 0; i < start.length; i++) if (!(end[i] > start[i])) c.fail(`${p}.end[${i}]`, `must be above ${p}.start[${i}] (${start[i]}), not ${end[i]}`);
  return { start, end, owner };
}

function objects(c: Checker, p: string, v: unknown, sites: number): HeapObjects {
  const m = c.obj(p, v);
  // Objects are only looked up by exact address, never computed on: any 64-bit value will do (as a
  // number, 0xffffffffffffffff rounds to 2^64).
  const address = c.typed(`${p}.address`, m.address, 'Float64Array');
  c.elements(`${p}.address`, address, 0, 2 ** 64, 1, 'a whole number from 0 to 2^64');
  const n = address.length;
  const column = <N extends TypedName>(name: string, type: N): TypedOf<N> => {
    const a = c.typed(`${p}.${name}`, m[name], type);
    c.length(`${p}.${name}`, a, n, `one per object in ${p}.address`);
    return a;
  };
  const classAddr = column('classAddr', 'Float64Array');
  const site = column('site', 'Int32Array');
  c.elements(`${p}.site`, site, -1, sites - 1, 1, `-1 or an index into capture.ruby.sites (0 to ${sites - 1})`);
  return {
    address,
    type: column('type', 'Uint8Array'),
    imemo: column('imemo', 'Uint8Array'),
    gcFlags: column('gcFlags', 'Uint8Array'),
    slotSize: column('slotSize', 'Uint16Array'),
    bytesize: column('bytesize', 'Float64Array'),
    embedded: column('embedded', 'Uint8Array'),
    classAddr,
    site,
  };
}

function ruby(c: Checker, v: unknown, heap: HeapMap | undefined): RubyStructures {
  const p = 'capture.ruby';
  const m = c.obj(p, v);
  if (!heap) c.fail('capture.heapMap', 'missing: a capture with capture.ruby needs the heap map its blame uses');
  const bodies = c.typed(`${p}.bodies`, m.bodies, 'Float64Array');
  c.elements(`${p}.bodies`, bodies, 0, SAFE);
  c.sorted(`${p}.bodies`, bodies, true);
  const sites = c.strings(`${p}.sites`, m.sites);
  const cn = c.obj(`${p}.classNames`, m.classNames);
  const cnAddress = c.typed(`${p}.classNames.address`, cn.address, 'Float64Array');
  const cnName = c.strings(`${p}.classNames.name`, cn.name);
  c.length(`${p}.classNames.name`, cnName, cnAddress.length, `one per class in ${p}.classNames.address`);
  // Per GC heap page of capture.heapMap.bodies: the slot grid.
  const perBody = `one per GC heap page in capture.heapMap.bodies`;
  const slotStart = c.typed(`${p}.slotStart`, m.slotStart, 'Float64Array');
  const slotSize = c.typed(`${p}.slotSize`, m.slotSize, 'Uint16Array');
  c.length(`${p}.slotStart`, slotStart, heap.bodies.length, perBody);
  c.length(`${p}.slotSize`, slotSize, heap.bodies.length, perBody);
  for (let i = 0; i < slotStart.length; i++) {
    const s = slotStart[i];
    const b = heap.bodies[i];
    if (s !== 0 && !(Number.isInteger(s) && s >= b && s < b + heap.heapPageSize))
      c.fail(`${p}.slotStart[${i}]`, `must be 0 (unknown) or an address inside its heap page ${b}-${b + heap.heapPageSize}, not ${s}`);
    const z = slotSize[i];
    if (z !== 0 && (z < 16 || z % 8 !== 0)) c.fail(`${p}.slotSize[${i}]`, `must be 0 (unknown) or a multiple of 8 from 16, not ${z}`);
  }
  const { start: chunkStart, size: chunkSize, inUse } = chunks(c, `${p}.mallocChunks`, m.mallocChunks);
  const childChunks = c.optional(`${p}.childChunks`, m.childChunks, (q, x) =>
    c.arr(q, x).map((e, i) => {
      const o = c.obj(`${q}[${i}]`, e);
      return { pid: c.int(`${q}[${i}].pid`, o.pid, 1, 2 ** 22), chunks: chunks(c, `${q}[${i}].chunks`, o.chunks) };
    }),
  );
  const envFlags = c.optional(`${p}.envFlags`, m.envFlags, (q, x) => {
    const o = c.obj(q, x);
    const ep = c.typed(`${q}.ep`, o.ep, 'Float64Array');
    const flags = c.typed(`${q}.flags`, o.flags, 'Uint32Array');
    c.length(`${q}.flags`, flags, ep.length, `one per address in ${q}.ep`);
    c.elements(`${q}.ep`, ep, 0, SAFE);
    c.sorted(`${q}.ep`, ep, false);
    return { ep, flags };
  });
  const mmappedChunks = c.optional(`${p}.mmappedChunks`, m.mmappedChunks, (q, x) => {
    const o = c.obj(q, x);
    const start = c.typed(`${q}.start`, o.start, 'Float64Array');
    const size = c.typed(`${q}.size`, o.size, 'Float64Array');
    c.length(`${q}.size`, size, start.length, `one per block in ${q}.start`);
    c.elements(`${q}.start`, start, 0, SAFE);
    c.elements(`${q}.size`, size, 0, SAFE);
    return { start, size };
  });
  const childObjects = c.optional(`${p}.childObjects`, m.childObjects, (q, x) =>
    c.arr(q, x).map((e, i) => {
      const o = c.obj(`${q}[${i}]`, e);
      const address = c.typed(`${q}[${i}].address`, o.address, 'Float64Array');
      const flags = c.typed(`${q}[${i}].flags`, o.flags, 'Uint32Array');
      c.length(`${q}[${i}].flags`, flags, address.length, `one per address in ${q}[${i}].address`);
      c.elements(`${q}[${i}].address`, address, 0, SAFE);
      return { pid: c.int(`${q}[${i}].pid`, o.pid, 1, 2 ** 22), address, flags };
    }),
  );
  const dataContents = c.optional(`${p}.dataContents`, m.dataContents, (q, x) => {
    const o = c.obj(q, x);
    const address = c.typed(`${q}.address`, o.address, 'Float64Array');
    c.elements(`${q}.address`, address, 0, SAFE);
    c.sorted(`${q}.address`, address, false);
    const owner = c.typed(`${q}.owner`, o.owner, 'Float64Array');
    c.length(`${q}.owner`, owner, address.length, `one per object in ${q}.address`);
    c.elements(`${q}.owner`, owner, 0, SAFE);
    return { address, owner };
  });
  const chunkOwners = c.optional(`${p}.chunkOwners`, m.chunkOwners, (q, x) => {
    const o = c.obj(q, x);
    const chunk = c.typed(`${q}.chunk`, o.chunk, 'Float64Array');
    c.elements(`${q}.chunk`, chunk, 0, SAFE);
    c.sorted(`${q}.chunk`, chunk, true);
    const column = <T extends 'Float64Array' | 'Uint32Array' | 'Int32Array'>(name: string, type: T) => {
      const a = c.typed(`${q}.${name}`, o[name], type);
      c.length(`${q}.${name}`, a, chunk.length, `one per chunk in ${q}.chunk`);
      return a;
    };
    const slot = column('slot', 'Float64Array');
    c.elements(`${q}.slot`, slot, 0, SAFE);
    const klass = column('klass', 'Float64Array');
    c.elements(`${q}.klass`, klass, 0, 2 ** 64);
    const offset = column('offset', 'Int32Array');
    c.elements(`${q}.offset`, offset, -4096, 4096, 1, 'the offset of the pointer in the slot, or minus the offset of the chunk it is owned through');
    const inner = c.optional(`${q}.inner`, o.inner, () => {
      const a = column('inner', 'Int32Array');
      c.elements(`${q}.inner`, a, -1, 2 ** 31 - 1, 1, 'the offset of the pointer in the chunk in between, or -1');
      return a;
    });
    return { chunk, slot, flags: column('flags', 'Uint32Array'), klass, offset, ...(inner ? { inner } : {}) };
  });
  const cacheRefill = c.optional(`${p}.cacheRefill`, m.cacheRefill, (q, x) => {
    const o = c.obj(q, x);
    const pages = c.typed(`${q}.pages`, o.pages, 'Float64Array');
    c.elements(`${q}.pages`, pages, 0, SAFE);
    c.sorted(`${q}.pages`, pages, true);
    return { probe: c.int(`${q}.probe`, o.probe, 1, 2 ** 22), pages, sites: c.int(`${q}.sites`, o.sites, 0, SAFE), emptied: c.int(`${q}.emptied`, o.emptied, 0, SAFE) };
  });
  const tcacheKey = c.str(`${p}.tcacheKey`, m.tcacheKey);
  if (!HEX64.test(tcacheKey)) c.fail(`${p}.tcacheKey`, `must be a 64-bit value in lower-case hex ("0" when unknown), not ${show(tcacheKey)}`);
  return {
    bodies,
    objects: objects(c, `${p}.objects`, m.objects, sites.length),
    classNames: { address: cnAddress, name: cnName },
    sites,
    slotStart,
    slotSize,
    heapPageStructs: ranges(c, `${p}.heapPageStructs`, m.heapPageStructs),
    callData: ranges(c, `${p}.callData`, m.callData),
    isEntries: ranges(c, `${p}.isEntries`, m.isEntries),
    vmEmptyCc: c.int(`${p}.vmEmptyCc`, m.vmEmptyCc, 0, 2 ** 64, 'a 64-bit value (a whole number from 0 to 2^64)'),
    mallocChunks: { start: chunkStart, size: chunkSize, inUse },
    heapStart: c.int(`${p}.heapStart`, m.heapStart, 0, SAFE),
    tcacheKey,
    ...(childChunks ? { childChunks } : {}),
    ...(childObjects ? { childObjects } : {}),
    ...(cacheRefill ? { cacheRefill } : {}),
    ...(envFlags ? { envFlags } : {}),
    ...(mmappedChunks ? { mmappedChunks } : {}),
    ...(chunkOwners ? { chunkOwners } : {}),
    ...(dataContents ? { dataContents } : {}),
  };
}

/** glibc chunks: sorted starts, sizes, in-use flags of one length. */
function chunks(c: Checker, p: string, v: unknown): MallocChunks {
  const mc = c.obj(p, v);
  const start = c.typed(`${p}.start`, mc.start, 'Float64Array');
  const size = c.typed(`${p}.size`, mc.size, 'Float64Array');
  const inUse = c.typed(`${p}.inUse`, mc.inUse, 'Uint8Array');
  c.length(`${p}.size`, size, start.length, `one per chunk in ${p}.start`);
  c.length(`${p}.inUse`, inUse, start.length, `one per chunk in ${p}.start`);
  c.elements(`${p}.start`, start, 0, SAFE);
  c.sorted(`${p}.start`, start, false);
  c.elements(`${p}.size`, size, 0, SAFE);
  return { start, size, inUse };
}

/** Sorted columns of one length: each field a typed array of the given kind. */
function columns<T extends Record<string, TypedName>>(c: Checker, p: string, v: unknown, fields: T, sortedBy: keyof T): { [K in keyof T]: TypedOf<T[K]> } {
  const m = c.obj(p, v);
  const out = {} as { [K in keyof T]: TypedOf<T[K]> };
  for (const [k, name] of Object.entries(fields) as [keyof T & string, TypedName][]) out[k] = c.typed(`${p}.${k}`, m[k], name) as TypedOf<T[typeof k]>;
  const n = (out[sortedBy] as ArrayLike<number>).length;
  for (const k of Object.keys(fields)) c.length(`${p}.${k}`, out[k] as ArrayLike<number>, n, `one per entry of ${p}.${String(sortedBy)}`);
  c.elements(`${p}.${String(sortedBy)}`, out[sortedBy] as ArrayLike<number>, 0, SAFE);
  c.sorted(`${p}.${String(sortedBy)}`, out[sortedBy] as ArrayLike<number>, false);
  return out;
}

/** Free pymalloc memory (runtimes/python/discover.ts FreeSpace); blockSize is absent in captures made
 *  before it was kept. */
function freeSpace(c: Checker, p: string, v: unknown): FreeSpace {
  const m = c.obj(p, v);
  const cols = columns(c, p, m, { page: 'Float64Array', bytes: 'Float64Array' }, 'page');
  const blockSize = c.optional(`${p}.blockSize`, m.blockSize, (q, x) => {
    const sizes = c.typed(q, x, 'Uint16Array');
    c.length(q, sizes, cols.page.length, `one per entry of ${p}.page`);
    c.elements(q, sizes, 0, 512, 16, 'a pool block size (0: an empty pool)');
    return sizes;
  });
  return { ...cols, ...(blockSize ? { blockSize } : {}), meanBlock: c.nonNegative(`${p}.meanBlock`, m.meanBlock) };
}

function pools(c: Checker, p: string, v: unknown): Pools {
  return columns(c, p, v, { start: 'Float64Array', blockSize: 'Uint16Array', nextOffset: 'Uint16Array' }, 'start');
}

/** CPython structures (runtimes/python/discover.ts). */
function python(c: Checker, v: unknown): PythonStructures {
  const p = 'capture.python';
  const m = c.obj(p, v);
  const mp = c.obj(`${p}.map`, m.map);
  const types = c.strings(`${p}.map.types`, mp.types);
  const objects = columns(c, `${p}.map.objects`, mp.objects, { addr: 'Float64Array', pre: 'Uint8Array', size: 'Float64Array', state: 'Uint8Array', type: 'Uint16Array' }, 'addr');
  c.elements(`${p}.map.objects.type`, objects.type, 0, Math.max(0, types.length - 1), 1, `an index into ${p}.map.types`);
  const typeHashWords = c.optional(`${p}.map.typeHashWords`, mp.typeHashWords, (q, x) => {
    const words = c.typed(q, x, 'Int32Array');
    c.length(q, words, types.length, `one per type in ${p}.map.types`);
    c.elements(q, words, 0, 0xfff8, 8, 'a byte offset of an 8-byte word (0: none)');
    return words;
  });
  const typeBases = c.optional(`${p}.map.typeBases`, mp.typeBases, (q, x) => {
    const bases = c.typed(q, x, 'Uint8Array');
    c.length(q, bases, types.length, `one per type in ${p}.map.types`);
    c.elements(q, bases, 0, TYPE_BASES.length - 1, 1, 'an index into TYPE_BASES (0: none of str, bytes, dict, list)');
    return bases;
  });
  const buffers = columns(c, `${p}.map.buffers`, mp.buffers, { start: 'Float64Array', bytes: 'Float64Array', kind: 'Uint8Array', owner: 'Float64Array' }, 'start');
  const garbageBuffers = c.optional(`${p}.map.garbageBuffers`, mp.garbageBuffers, (q, x) => {
    const flags = c.typed(q, x, 'Uint8Array');
    c.length(q, flags, buffers.start.length, `one per buffer in ${p}.map.buffers`);
    c.elements(q, flags, 0, 1, 1, '1 where the buffer was garbage at the fork, else 0');
    return flags;
  });
  const map: PythonHeapMap = {
    objects,
    types,
    ...(typeHashWords ? { typeHashWords } : {}),
    ...(typeBases ? { typeBases } : {}),
    code: columns(c, `${p}.map.code`, mp.code, { start: 'Float64Array', bytes: 'Float64Array' }, 'start'),
    buffers,
    ...(garbageBuffers ? { garbageBuffers } : {}),
    ranges: columns(c, `${p}.map.ranges`, mp.ranges, { start: 'Float64Array', bytes: 'Float64Array', kind: 'Uint8Array' }, 'start'),
    total: c.int(`${p}.map.total`, mp.total, 0, SAFE),
    frozen: c.int(`${p}.map.frozen`, mp.frozen, 0, SAFE),
    frozenAtStart: c.int(`${p}.map.frozenAtStart`, mp.frozenAtStart, 0, SAFE),
    ...(mp.gcCounters !== undefined ? { gcCounters: c.address(`${p}.map.gcCounters`, mp.gcCounters) } : {}),
    ...(mp.garbageUnsought !== undefined ? { garbageUnsought: c.int(`${p}.map.garbageUnsought`, mp.garbageUnsought, 0, SAFE) } : {}),
    malformed: c.int(`${p}.map.malformed`, mp.malformed, 0, SAFE),
  };
  const perChild = <T>(q: string, x: unknown, key: string, f: (path: string, v: unknown) => T) =>
    c.arr(q, x).map((e, i) => {
      const o = c.obj(`${q}[${i}]`, e);
      return { pid: c.pid(`${q}[${i}].pid`, o.pid), [key]: f(`${q}[${i}].${key}`, o[key]) };
    });
  return {
    map,
    pools: pools(c, `${p}.pools`, m.pools),
    childPools: perChild(`${p}.childPools`, m.childPools, 'pools', (q, x) => pools(c, q, x)) as PythonStructures['childPools'],
    mallocChunks: chunks(c, `${p}.mallocChunks`, m.mallocChunks),
    heapStart: c.address(`${p}.heapStart`, m.heapStart),
    tcacheKey: c.str(`${p}.tcacheKey`, m.tcacheKey),
    childChunks: perChild(`${p}.childChunks`, m.childChunks, 'chunks', (q, x) => chunks(c, q, x)) as PythonStructures['childChunks'],
    ...(m.garbageSpace !== undefined
      ? {
          garbageSpace: ((q: string) => {
            const g = columns(c, q, m.garbageSpace, { page: 'Float64Array', bytes: 'Float64Array', blockSize: 'Uint16Array' }, 'page');
            c.elements(`${q}.blockSize`, g.blockSize, 0, 512, 16, 'a pymalloc size class (0: a pool the collection empties)');
            return g;
          })(`${p}.garbageSpace`),
        }
      : {}),
    ...(m.childNewBlocks !== undefined
      ? {
          childNewBlocks: perChild(`${p}.childNewBlocks`, m.childNewBlocks, 'blocks', (q, x) => {
            const b = columns(c, q, x, { blockSize: 'Uint16Array', blocks: 'Float64Array' }, 'blockSize');
            c.elements(`${q}.blockSize`, b.blockSize, 16, 512, 16, 'a pymalloc size class');
            c.elements(`${q}.blocks`, b.blocks, 0, SAFE);
            return b;
          }) as PythonStructures['childNewBlocks'],
        }
      : {}),
    ...(m.liveCollections !== undefined
      ? {
          liveCollections: c.arr(`${p}.liveCollections`, m.liveCollections).map((e, i) => {
            const q = `${p}.liveCollections[${i}]`;
            const o = c.obj(q, e);
            return { pid: c.pid(`${q}.pid`, o.pid), runs: c.int(`${q}.runs`, o.runs, 0, SAFE), full: c.int(`${q}.full`, o.full, 0, SAFE) };
          }),
        }
      : {}),
    ...(m.freeBlocks !== undefined ? { freeBlocks: columns(c, `${p}.freeBlocks`, { start: m.freeBlocks }, { start: 'Float64Array' }, 'start').start } : {}),
    ...(m.deadBlocks !== undefined ? { deadBlocks: columns(c, `${p}.deadBlocks`, { start: m.deadBlocks }, { start: 'Float64Array' }, 'start').start } : {}),
    ...(m.freeSpace !== undefined
      ? {
          freeSpace: freeSpace(c, `${p}.freeSpace`, m.freeSpace),
        }
      : {}),
  };
}

/** The decoded JSON document of a capture file ({format, capture}) as a checked Capture; typed arrays
 *  are decoded here. `source` (the file name) starts every message. Throws CaptureFileError. */
export function validateCaptureDocument(doc: unknown, source: string): Capture {
  const c = new Checker(source);
  const expected = `a JSON object {"format": "${CAPTURE_FORMAT}", "capture": {…}} (write one with cowscope run --save FILE)`;
  if (!isObj(doc)) throw new CaptureFileError(`${source} is not a cowscope capture: it holds ${show(doc)}, not ${expected}`);
  if (doc.format !== CAPTURE_FORMAT)
    throw new CaptureFileError(
      doc.format === undefined
        ? `${source} is not a cowscope capture: it has no "format" field (expected ${expected})`
        : `${source} has format ${show(doc.format)}, this cowscope reads ${CAPTURE_FORMAT}`,
    );
  if (doc.capture === undefined)
    throw new CaptureFileError(`${source}: capture: missing: the file says format ${CAPTURE_FORMAT} but holds no "capture" object (was it written by cowscope run --save?)`);
  const cap = c.obj('capture', doc.capture);

  const m = meta(c, cap.meta);
  const list = c.arr('capture.processes', cap.processes);
  const processes = list.map((x, i) => processCapture(c, i, x, m.pageSize));
  const indexOf = new Map<number, number>();
  processes.forEach((proc, i) => {
    const before = indexOf.get(proc.pid);
    if (before !== undefined) c.fail(`capture.processes[${i}].pid`, `${proc.pid} appears twice (also capture.processes[${before}].pid)`);
    indexOf.set(proc.pid, i);
  });
  const known = (path: string, pid: number) => {
    if (!indexOf.has(pid)) c.fail(path, `${pid} names no process in capture.processes`);
  };

  const out: Capture = { meta: m, processes };
  out.runtime = c.optional('capture.runtime', cap.runtime, (_p, v) => runtime(c, v));
  out.run = c.optional('capture.run', cap.run, (_p, v) => run(c, v, known));
  if (out.run && !out.runtime) c.fail('capture.runtime', 'missing: a capture with capture.run (cowscope run --save) needs the runtime it forked');
  out.ties = c.optional('capture.ties', cap.ties, (_p, v) => ties(c, v, known));
  out.heapMap = c.optional('capture.heapMap', cap.heapMap, (_p, v) => heapMap(c, v));
  out.diffs = c.optional('capture.diffs', cap.diffs, (_p, v) => diffs(c, v, m.pageSize, known));
  out.forkWrites = c.optional('capture.forkWrites', cap.forkWrites, (p, v) => pageDiffs(c, p, v, m.pageSize, known));
  out.ruby = c.optional('capture.ruby', cap.ruby, (_p, v) => ruby(c, v, out.heapMap));
  out.faults = c.optional('capture.faults', cap.faults, (_p, v) => faults(c, v, m.pageSize, out.diffs));
  out.python = c.optional('capture.python', cap.python, (_p, v) => python(c, v));
  // Blame looks up each child's word diffs.
  if (out.run && (out.ruby || out.python) && out.diffs)
    out.run.children.forEach((pid, i) => {
      if (!out.diffs!.some((d) => d.pid === pid)) c.fail('capture.diffs', `has no entry for child ${pid} (capture.run.children[${i}]): its blame needs its word diffs`);
    });
  for (const k of Object.keys(out) as (keyof Capture)[]) if (out[k] === undefined) delete out[k];
  return out;
}
