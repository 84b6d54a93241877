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
  'gc.bitmap',
  'gc.mark-stack',
  'malloc.meta',
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
  'gc.bitmap': 'GC bitmaps and counters in struct heap_page',
  'gc.mark-stack': 'the GC mark stack',
  'malloc.meta': 'glibc malloc metadata (chunk headers, free lists, arena)',
  'vm.globals': 'VM globals in libruby .data/.bss',
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
  /** set when the Ruby version is not in the table: only version-independent rules ran */
  unknownVersion?: string;
}

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
  vmaRegion: string[];
  capture: Capture;
  vmas: Vma[];
  vmaStarts: Float64Array;
  vmaEnds: Float64Array;
  vmaKind: string[];
  objIndex: Map<number, number>;
  bodyIndex: (addr: number) => number;
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
    // A thread's VM stack: a 1 MiB malloc'd block, so an mmapped chunk of 1 MiB + one page.
    if (regions[i] === 'anon' && v.end - v.start === 0x101000) return 'exec.stack';
    return '';
  });
}

function contextFor(capture: Capture): Context {
  const layout = layoutFor(capture.runtime?.version ?? '');
  const ref = capture.processes.find((p) => p.pid === capture.run?.reference)!;
  const vmas = ref.vmas;
  const ruby = capture.ruby!;
  const objIndex = new Map<number, number>();
  ruby.objects.address.forEach((a, i) => objIndex.set(a, i));
  const bodies = capture.heapMap!.bodies;
  const hps = capture.heapMap!.heapPageSize;
  return {
    layout,
    vmaRegion: regionsOf(vmas),
    capture,
    vmas,
    vmaStarts: Float64Array.from(vmas, (v) => v.start),
    vmaEnds: Float64Array.from(vmas, (v) => v.end),
    vmaKind: mappingKinds(vmas),
    objIndex,
    bodyIndex: (addr) => findRange(bodies, (i) => bodies[i] + hps, addr),
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
function slotOf(ctx: Context, body: number, addr: number, oldFlags: Map<number, bigint>): SlotInfo | undefined {
  const ruby = ctx.capture.ruby!;
  const start = ruby.slotStart[body];
  const size = ruby.slotSize[body];
  if (!start || !size || addr < start) return undefined;
  const slot = start + Math.floor((addr - start) / size) * size;
  const obj = ctx.objIndex.get(slot) ?? -1;
  const flags = oldFlags.get(slot);
  if (flags !== undefined) {
    const type = Number(flags & FL.typeMask);
    return { slot, type: flags === 0n ? T.NONE : type, imemo: type === T.IMEMO ? imemoTypeOf(flags) : -1, obj };
  }
  if (obj < 0) return { slot, type: -1, imemo: -1, obj };
  const t = ruby.objects.type[obj];
  return { slot, type: t === 0xff ? -1 : t, imemo: ruby.objects.imemo[obj] === 0xff ? -1 : ruby.objects.imemo[obj], obj };
}

const mutation = (type: number) => `mutation.${type >= 0 ? (TYPE_NAMES[type] ?? `type${type}`) : 'unknown'}`;

/** §7.3: a changed word in a GC heap slot. O/N: old and new value; F: old flags; N' new flags. */
function heapWordCause(ctx: Context, s: SlotInfo, off: number, O: bigint, N: bigint, newFlags: bigint | undefined): string {
  const L = ctx.layout;
  const wasFree = s.type === T.NONE;
  if (off === 0) {
    if (O === 0n && N !== 0n) return 'alloc.free-slot';
    if (O !== 0n && N === 0n) return 'gc.sweep';
    if ((N & FL.typeMask) === BigInt(T.MOVED)) return 'gc.compact';
    if ((O & FL.typeMask) !== (N & FL.typeMask)) return 'gc.sweep';
    const X = O ^ N;
    const t = Number(O & FL.typeMask);
    if (L?.ageInFlags && X & FL.age) return (N & FL.age) === FL.age ? 'gc.promote' : 'gc.age';
    if (L && !L.ageInFlags && X & FL.promoted) return 'gc.promote';
    if (t === T.STRING && X & FL.coderange) return 'string.coderange';
    if (t === T.IMEMO && imemoTypeOf(O) === IMEMO.ment && X & FL.mentCached) return 'method.cached';
    if (X & FL.seenObjId) return 'object.id';
    if (X & FL.freeze) return 'object.freeze';
    if (X & FL.exivar) return 'object.ivar';
    if (t === T.HASH && X & FL.hashIterLevel) return 'hash.iteration';
    if (L?.shapeInFlags && X & FL.shape) return 'object.ivar';
    return mutation(t);
  }
  // A slot that was free at the fork: filled by an allocation, or its free-list link rewritten.
  if (wasFree) return newFlags !== undefined && newFlags !== 0n ? 'alloc.free-slot' : 'gc.sweep';
  if (off === 8) return 'object.singleton';
  if (s.type === T.IMEMO && s.imemo === IMEMO.callcache) return 'icache.call';
  if (s.type === T.IMEMO && s.imemo === IMEMO.constcache) return 'icache.const';
  if (s.type === T.OBJECT && L && O === BigInt(L.qundef)) return 'object.ivar';
  return mutation(s.type);
}

/** §7.4: a changed word outside the GC heap. */
function otherWordCause(ctx: Context, addr: number, O: bigint, N: bigint): string {
  const ruby = ctx.capture.ruby!;
  if (findRange(ruby.heapPageStructs.start, ruby.heapPageStructs.end, addr) >= 0) return 'gc.bitmap';
  if (findRange(ruby.callData.start, ruby.callData.end, addr) >= 0) return 'icache.call';
  if (findRange(ruby.isEntries.start, ruby.isEntries.end, addr) >= 0) {
    // 3.1 mixes the kinds in one array: a constant cache points into the GC heap (an imemo_constcache),
    // an ivar cache to a malloc'd table entry.
    const inHeap = (v: bigint) => v !== 0n && ctx.bodyIndex(Number(v)) >= 0;
    return inHeap(N) || inHeap(O) ? 'icache.const' : 'icache.ivar';
  }
  const chunks = ruby.mallocChunks;
  const c = findRange(chunks.start, (i) => chunks.start[i] + chunks.size[i], addr);
  if (c >= 0) {
    const off = addr - chunks.start[c];
    if (off < 16 || !chunks.inUse[c]) return 'malloc.meta'; // header, or a chunk free at the fork
    // A mark-stack chunk (stack_chunk_t: 500 VALUEs and a link, ~4 KiB): object pointers pushed and popped.
    const isObj = (v: bigint) => v === 0n || ctx.bodyIndex(Number(v)) >= 0;
    if (chunks.size[c] >= 4000 && chunks.size[c] <= 4096 && isObj(O) && isObj(N)) return 'gc.mark-stack';
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
    const s = ruby.heapPageStructs;
    for (let i = 0; i < s.start.length; i++) if (s.start[i] < page + pageSize && s.end[i] > page) return 'gc.bitmap';
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
  const cls = o.classAddr[obj];
  const names = ctx.capture.ruby!.classNames;
  const i = names.address.indexOf(cls);
  return i >= 0 ? names.name[i] : `${TYPE_NAMES[t] ?? 'object'} of anonymous class`;
}

/** Blame for one child. */
export function blameChild(capture: Capture, diffs: PageDiffs, gcRuns: number): ChildBlame {
  const ctx = contextFor(capture);
  const ruby = capture.ruby!;
  const ps = capture.meta.pageSize;
  const causes = new Map<string, { pages: number; words: number }>();
  const byType = new Map<string, { pages: number; words: number }>();
  const byClass = new Map<string, { pages: number; words: number }>();
  const bySite = new Map<string, { pages: number; words: number }>();
  const regions = new Map<string, Map<string, { pages: number; words: number }>>();
  const blamePage = (page: number, cause: string) => {
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
    const body = ctx.bodyIndex(page);
    // Old and new flags of the slots whose flags word changed on this page.
    const oldFlags = new Map<number, bigint>();
    const newFlags = new Map<number, bigint>();
    if (body >= 0) {
      for (let k = first; k < w; k++) {
        const addr = page + diffs.wordOffset[k];
        const s = slotOf(ctx, body, addr, oldFlags);
        if (s && s.slot === addr) {
          oldFlags.set(addr, diffs.oldWord[k]);
          newFlags.set(addr, diffs.newWord[k]);
        }
      }
    }
    const wordsHere = new Map<string, number>();
    const perSlot = new Map<number, { obj: number; type: number; words: number }>();
    for (let k = first; k < w; k++) {
      const addr = page + diffs.wordOffset[k];
      const O = diffs.oldWord[k];
      const N = diffs.newWord[k];
      let cause: string;
      const s = body >= 0 ? slotOf(ctx, body, addr, oldFlags) : undefined;
      if (s) {
        cause = heapWordCause(ctx, s, addr - s.slot, O, N, newFlags.get(s.slot));
        const e = perSlot.get(s.slot) ?? { obj: s.obj, type: s.type, words: 0 };
        e.words++;
        perSlot.set(s.slot, e);
      } else {
        cause = otherWordCause(ctx, addr, O, N);
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
    unknownVersion: ctx.layout ? undefined : capture.runtime?.version,
  };
}

/** Blame for every child of a run capture (empty when the capture has no Ruby structures). */
export function blameRun(capture: Capture): ChildBlame[] {
  if (!capture.ruby || !capture.diffs || !capture.run) return [];
  return capture.run.children.map((pid, i) => blameChild(capture, capture.diffs!.find((d) => d.pid === pid)!, capture.run!.gcRuns[i] ?? 0));
}
