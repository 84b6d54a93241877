// Page classification: for every page of a child's scanned mappings, what happened to it since the
// fork, judged against a reference process (the parent, or the fork-time twin in `run`).
//
// Two tiers (docs/architecture.md "Tiers"):
//   exact          same PFN in child and reference means shared (needs CAP_SYS_ADMIN to see PFNs);
//   exclusive-bit  pagemap bit 56 (mapped once) means the child holds a private copy; a page mapped more
//                  than once is shared with the reference when the reference's page is also mapped more
//                  than once, and content comparison settles it where other processes could be the sharers
//                  (docs/kernel.md).

import { PageFlag } from '../native/page-flags';
import { FamilyPair, classifyExactRuns, markSharedFrames, sharedNewPages } from '../native/probe';
import type { PageColumns, ProcessCapture, Tier } from '../native/capture';
import type { Vma } from '../native/procfs-parse';

export const PageClass = {
  /** not resident in the child, nor in the reference */
  none: 0,
  shared: 1,
  /** present in both, different page */
  copied: 2,
  /** the reference's page changed; the child kept the fork-time page (needs a fork-time baseline) */
  copiedByParent: 3,
  /** present only in the child */
  new: 4,
  /** present in the reference only */
  absent: 5,
  swapped: 6,
  zero: 7,
} as const;
export type PageClassCode = (typeof PageClass)[keyof typeof PageClass];

export const CLASS_KEYS = ['shared', 'copied', 'copiedByParent', 'new', 'absent', 'swapped', 'zero'] as const;
export type ClassKey = (typeof CLASS_KEYS)[number];

export interface PairOptions {
  tier: Tier;
  pageSize: number;
  /** zero pages are flagged (PAGEMAP_SCAN or kpageflags); otherwise they look shared */
  zeroPagesKnown: boolean;
  /** other processes (siblings, grandchildren) may share pages with the child: bit 56 alone cannot
   *  tell them from the reference, so exclusive-bit verdicts of "shared" become ties to compare */
  crowded: boolean;
}

export interface PairClasses {
  /** PageClass per page of the child's scanned mappings */
  classes: Uint8Array;
  /** child page indexes whose verdict "shared" rests on bit 56 alone and should be confirmed by content */
  ties: Uint32Array;
}

/** Child and reference mappings that hold the same memory at the same address: both anonymous with the
 *  same name, or the same file at the same offset. Address-based pairing is only valid for inherited mappings. */
export function sameMapping(c: Vma, r: Vma): boolean {
  if (c.inode !== r.inode || c.dev !== r.dev) return false;
  if (c.inode === 0) return c.path === r.path;
  return c.offset - c.start === r.offset - r.start;
}

/** Calls fn for runs of child pages: the child's first page index, the paired reference page index
 *  (-1 where the reference has no such mapping), and the run length. */
export function forEachRun(
  child: Pick<ProcessCapture, 'vmas' | 'scanned'>,
  ref: Pick<ProcessCapture, 'vmas' | 'scanned'>,
  pageSize: number,
  fn: (childIndex: number, refIndex: number, count: number) => void,
): void {
  const refStarts: number[] = [];
  let off = 0;
  for (const i of ref.scanned) {
    refStarts.push(off);
    off += (ref.vmas[i].end - ref.vmas[i].start) / pageSize;
  }
  let j = 0;
  let coff = 0;
  for (const ci of child.scanned) {
    const c = child.vmas[ci];
    let cursor = c.start;
    while (j < ref.scanned.length && ref.vmas[ref.scanned[j]].end <= c.start) j++;
    for (let k = j; k < ref.scanned.length && cursor < c.end; k++) {
      const r = ref.vmas[ref.scanned[k]];
      if (r.start >= c.end) break;
      if (r.start > cursor) {
        fn(coff + (cursor - c.start) / pageSize, -1, (r.start - cursor) / pageSize);
        cursor = r.start;
      }
      const segEnd = Math.min(c.end, r.end);
      const n = (segEnd - cursor) / pageSize;
      const refIndex = sameMapping(c, r) ? refStarts[k] + (cursor - r.start) / pageSize : -1;
      fn(coff + (cursor - c.start) / pageSize, refIndex, n);
      cursor = segEnd;
    }
    if (cursor < c.end) fn(coff + (cursor - c.start) / pageSize, -1, (c.end - cursor) / pageSize);
    coff += (c.end - c.start) / pageSize;
  }
}

/** forEachRun's runs as (child index, paired index or -1, count) triples, for the native kernels. */
export function runsOf(child: Pick<ProcessCapture, 'vmas' | 'scanned'>, ref: Pick<ProcessCapture, 'vmas' | 'scanned'>, pageSize: number): Float64Array {
  const runs: number[] = [];
  forEachRun(child, ref, pageSize, (c0, r0, n) => runs.push(c0, r0, n));
  return Float64Array.from(runs);
}

/** The processes whose frames tell which of a child's copies its parent made (markWrittenByParent): the
 *  reference's other children. */
export function siblingsOf<P extends { pid: number; ppid: number }>(processes: readonly P[], child: P, reference: P): P[] {
  return processes.filter((p) => p.ppid === reference.pid && p.pid !== child.pid && p.pid !== reference.pid);
}

/** A process of a family read, as the pairing needs it. */
export type ReadMember = { pid: number; ppid: number } & Pick<ProcessCapture, 'vmas' | 'scanned'>;

/** The pairs a family's read classifies as it reads (native/capture.ts classifyWhileReading), by member
 *  index: every process whose parent is read too, against that parent, then marked against siblingsOf,
 *  the pairs and siblings analyzers/sharing.ts classifies for inspect. */
export function pairsToClassify(members: ReadMember[], pageSize: number, zeroMask: number): FamilyPair[] {
  const index = new Map(members.map((m, i) => [m.pid, i]));
  const pairs: FamilyPair[] = [];
  members.forEach((m, child) => {
    const reference = index.get(m.ppid);
    if (reference === undefined || reference === child) return;
    const siblings = siblingsOf(members, m, members[reference]).map((s) => ({ member: index.get(s.pid)!, runs: runsOf(m, s, pageSize) }));
    pairs.push({ child, reference, runs: runsOf(m, members[reference], pageSize), siblings, zeroMask });
  });
  return pairs;
}

const P = PageFlag.present;
const SW = PageFlag.swapped;
const X = PageFlag.exclusive;
const F = PageFlag.file;
const Z = PageFlag.zero;
const H = PageFlag.huge;

/** How many times classifyPair ran in this process (tests check that a command classifies once). */
export const classifyCalls = { count: 0 };

/** Classifies every page of child's scanned mappings against ref. */
export function classifyPair(child: ProcessCapture, ref: ProcessCapture, opts: PairOptions): PairClasses {
  classifyCalls.count++;
  const classes = new Uint8Array(child.pages.flags.length);
  const ties: number[] = [];
  const mode = (opts.tier === 'exact' ? EXACT : 0) | (opts.zeroPagesKnown ? ZERO_KNOWN : 0) | (opts.crowded ? CROWDED : 0);
  // The exact tier's rule runs natively (native/classify.cc): it is the loop over every page of every
  // child of an inspect, and V8 compiles it only part-way through its one run.
  if (mode & EXACT) classifyExactRuns(classes, child.pages, ref.pages, runsOf(child, ref, opts.pageSize), mode & ZERO_KNOWN ? Z : 0);
  else forEachRun(child, ref, opts.pageSize, (c0, r0, n) => classifyRun(child.pages, ref.pages, c0, r0, n, mode, classes, ties));
  return { classes, ties: Uint32Array.from(ties) };
}

// Class codes as module constants: inside this module TypeScript compiles `PageClass.x` to a property
// load on `exports`, which the hot loop below must not do per page.
const NONE = PageClass.none;
const SHARED = PageClass.shared;
const COPIED = PageClass.copied;
const NEW = PageClass.new;
const ABSENT = PageClass.absent;
const SWAPPED = PageClass.swapped;
const ZERO = PageClass.zero;
const COPIED_BY_PARENT = PageClass.copiedByParent;

const EXACT = 1;
const ZERO_KNOWN = 2;
const CROWDED = 4;

/** One run of forEachRun in the exclusive-bit tier: child pages [c0, c0 + n) against reference pages
 *  from r0 (-1: none). The first three rules are the exact tier's too (native/classify.cc); there the
 *  frames decide the rest. Kept small and monomorphic: `inspect` runs it once per process, cold, over
 *  millions of pages, so it must be optimized (on-stack replacement) within the first run. */
function classifyRun(child: PageColumns, ref: PageColumns, c0: number, r0: number, n: number, mode: number, classes: Uint8Array, ties: number[]): void {
  const cf = child.flags;
  const rf = ref.flags;
  const crowded = (mode & CROWDED) !== 0;
  const zeroMask = mode & ZERO_KNOWN ? Z : 0;
  const hasRef = r0 >= 0;
  const d = r0 - c0;
  const end = c0 + n;
  for (let i = c0; i < end; i++) {
    const f = cf[i];
    const g = hasRef ? rf[i + d] : 0;
    let cls: PageClassCode;
    if (!(f & P)) {
      cls = f & SW ? SWAPPED : g & P ? ABSENT : NONE;
    } else if (f & zeroMask) {
      cls = ZERO;
    } else if (!(g & P)) {
      // A page-cache page the reference never faulted in is shared page cache, not memory of the
      // child's own; a page the reference swapped out is the child's own copy now.
      cls = f & F ? SHARED : g & SW ? COPIED : NEW;
    } else if (f & F) {
      // A page-cache page in a private file mapping is the unmodified file page.
      cls = g & F ? SHARED : COPIED;
    } else if (f & X && !(f & H)) {
      // The child's own small page: its bit 56 holds, whatever maps the reference's (a write into the
      // parent's huge page splits the child's mapping and copies one small page, perhaps with the same
      // contents: a content comparison would call it shared).
      cls = COPIED;
    } else if ((f | g) & H) {
      // Bit 56 is wrong inside PMD-mapped THP (kernel 6.15+): only contents can tell.
      cls = SHARED;
      ties.push(i);
    } else if (f & X || g & (X | F)) {
      cls = COPIED;
    } else {
      cls = SHARED;
      if (crowded) ties.push(i);
    }
    classes[i] = cls;
  }
}

/** A function from an address to its page's index in proc.pages (its scanned mappings), or -1. */
export function pageIndexer(proc: ProcessCapture, pageSize: number): (addr: number) => number {
  const starts: number[] = [];
  const ends: number[] = [];
  const offsets: number[] = [];
  let off = 0;
  for (const i of proc.scanned) {
    starts.push(proc.vmas[i].start);
    ends.push(proc.vmas[i].end);
    offsets.push(off);
    off += (proc.vmas[i].end - proc.vmas[i].start) / pageSize;
  }
  return (addr: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (addr < starts[mid]) hi = mid - 1;
      else if (addr >= ends[mid]) lo = mid + 1;
      else return offsets[mid] + Math.floor((addr - starts[mid]) / pageSize);
    }
    return -1;
  };
}

export function pageAddresses(child: ProcessCapture, pageSize: number, indexes: Uint32Array): Float64Array {
  const starts: number[] = [];
  const offsets: number[] = [];
  let off = 0;
  for (const i of child.scanned) {
    starts.push(child.vmas[i].start);
    offsets.push(off);
    off += (child.vmas[i].end - child.vmas[i].start) / pageSize;
  }
  const out = new Float64Array(indexes.length);
  let v = 0;
  for (let k = 0; k < indexes.length; k++) {
    const idx = indexes[k];
    if (k > 0 && idx < indexes[k - 1]) v = 0;
    while (v + 1 < offsets.length && offsets[v + 1] <= idx) v++;
    out[k] = starts[v] + (idx - offsets[v]) * pageSize;
  }
  return out;
}

/** Settles ties with a content comparison: status 1 (differs) makes the page copied. Returns how many
 *  ties could not be compared (unreadable), which keep their bit-56 verdict. */
export function resolveTies(classes: Uint8Array, ties: Uint32Array, status: Uint8Array): number {
  let unresolved = 0;
  for (let k = 0; k < ties.length; k++) {
    if (status[k] === 1) classes[ties[k]] = PageClass.copied;
    else if (status[k] !== 0) unresolved++;
  }
  return unresolved;
}

/** For each child page, the index of the paired reference page, or -1. */
export function alignIndex(child: ProcessCapture, ref: ProcessCapture, pageSize: number): Int32Array {
  const out = new Int32Array(child.pages.flags.length).fill(-1);
  forEachRun(child, ref, pageSize, (c0, r0, n) => {
    if (r0 >= 0) for (let k = 0; k < n; k++) out[c0 + k] = r0 + k;
  });
  return out;
}

/** Exact tier, with a fork-time image as the reference: a page the child still shares with that image
 *  but the parent no longer holds (the parent wrote it, or dropped it) is copiedByParent: in a real
 *  deployment it is memory of the child's own. Returns how many pages changed class. */
export function markCopiedByParent(
  classes: Uint8Array,
  child: ProcessCapture,
  reference: ProcessCapture,
  parent: ProcessCapture,
  pageSize: number,
): number {
  const toRef = alignIndex(child, reference, pageSize);
  const toParent = alignIndex(child, parent, pageSize);
  const pf = parent.pages.flags;
  const pp = parent.pages.pfn;
  const rp = reference.pages.pfn;
  const cf = child.pages.flags;
  let n = 0;
  for (let i = 0; i < classes.length; i++) {
    if (classes[i] !== SHARED || cf[i] & F || toRef[i] < 0) continue;
    const j = toParent[i];
    if (j >= 0 && pf[j] & P && pp[j] === rp[toRef[i]]) continue;
    classes[i] = COPIED_BY_PARENT;
    n++;
  }
  return n;
}

/** Exact tier: a child's page with nothing at its address in the reference (new), yet not exclusive
 *  (bit 56 clear: another mapping holds its frame), is the reference's own page where the reference maps
 *  that frame at another address: the child moved it (mremap; glibc's realloc moves a large block so).
 *  Such pages are shared. The reference's frames are searched only when a page qualifies (a child's new
 *  pages are its own, exclusive, unless it forked in turn). Returns how many pages changed class. */
export function markMovedShared(classes: Uint8Array, child: ProcessCapture, ref: ProcessCapture): number {
  const candidates = sharedNewPages(classes, child.pages.flags);
  if (!candidates.length) return 0;
  const pfn = child.pages.pfn;
  const wanted = new Map<number, number[]>();
  for (const i of candidates) {
    if (!pfn[i]) continue;
    const at = wanted.get(pfn[i]);
    if (at) at.push(i);
    else wanted.set(pfn[i], [i]);
  }
  const rf = ref.pages.flags;
  const rp = ref.pages.pfn;
  let n = 0;
  for (let j = 0; j < rp.length && wanted.size; j++) {
    if (!(rf[j] & P) || rf[j] & F) continue;
    const pages = wanted.get(rp[j]);
    if (!pages) continue;
    for (const i of pages) classes[i] = SHARED;
    n += pages.length;
    wanted.delete(rp[j]);
  }
  return n;
}

/** Exact tier, live parent as the reference (no fork-time image): a copied page that a sibling (another
 *  child of the same parent) still maps at the same frame was not written by either child — two
 *  processes cannot share a frame that one of them wrote after the fork — so the parent wrote it and
 *  they kept the fork-time frame. Such pages are copiedByParent. A page no sibling shares stays copied
 *  (either side may have written it): the count is a lower bound. Returns how many pages changed class. */
export function markWrittenByParent(classes: Uint8Array, child: ProcessCapture, siblings: ProcessCapture[], pageSize: number): number {
  let n = 0;
  // Per page (native/classify.cc): a copied page, present in both, neither page cache, the same frame.
  for (const s of siblings) n += markSharedFrames(classes, child.pages, s.pages, runsOf(child, s, pageSize));
  return n;
}
