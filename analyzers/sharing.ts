// Sharing summaries: page classes counted per child, per region and per mapping.

import type { Capture, ClassesRead, ProcessCapture } from '../native/capture';
import { PageFlag } from '../native/page-flags';
import { classifyPair, markCopiedByParent, markMovedShared, markWrittenByParent, resolveTies, siblingsOf } from './classify';
import { CLASS_KEYS, ClassKey, PageClass } from './classify';
import { REGIONS, Region, RegionRanges, regionsOf } from './regions';
import { countClassRanges } from '../native/probe';

export type ClassCounts = Record<Exclude<ClassKey, 'copiedByParent'>, number> & { copiedByParent: number | null };

export interface MappingSharing {
  start: number;
  end: number;
  perms: string;
  path: string;
  region: Region;
  pages: ClassCounts;
}

export interface PairSharing {
  pid: number;
  parent: number;
  pages: ClassCounts;
  regions: { region: Region; pages: ClassCounts }[];
  mappings: MappingSharing[];
  /** ties that no content comparison could settle (exclusive-bit tier) */
  unresolvedTies: number;
}

const CODE_OF: Record<ClassKey, number> = {
  shared: PageClass.shared,
  copied: PageClass.copied,
  copiedByParent: PageClass.copiedByParent,
  new: PageClass.new,
  absent: PageClass.absent,
  swapped: PageClass.swapped,
  zero: PageClass.zero,
};

function emptyCounts(): number[] {
  return new Array(8).fill(0);
}

function toCounts(raw: number[], copiedByParentKnown: boolean): ClassCounts {
  const out = {} as ClassCounts;
  for (const k of CLASS_KEYS) (out as Record<string, number | null>)[k] = raw[CODE_OF[k]];
  if (!copiedByParentKnown) out.copiedByParent = null;
  return out;
}

/** Pages a child holds privately because of the fork: copied by either side, plus new pages. */
export function privatePages(c: ClassCounts): number {
  return c.copied + (c.copiedByParent ?? 0) + c.new;
}

/** Resident pages of the child in the scanned mappings. */
export function residentPages(c: ClassCounts): number {
  return c.shared + c.copied + (c.copiedByParent ?? 0) + c.new;
}

/** The page index ranges [from, to) of a mapping's pages that lie in the special ranges (sorted, of one
 *  size), pushed as pairs onto out; a page in two ranges is listed once. */
function specialRanges(off: number, start: number, pages: number, pageSize: number, special: RegionRanges, out: number[]): void {
  const { starts, size } = special;
  const end = start + pages * pageSize;
  let done = 0; // pages of the mapping before this index are listed or outside every range so far
  for (let r = firstRangeAfter(starts, size, start); r < starts.length && starts[r] < end; r++) {
    const first = Math.max(done, Math.ceil((starts[r] - start) / pageSize));
    const last = Math.min(pages, Math.ceil((starts[r] + size - start) / pageSize));
    if (last > first) out.push(off + first, off + last);
    done = Math.max(done, last);
  }
}

/** First index in sorted `starts` whose range [start, start+size) ends after `addr`. */
function firstRangeAfter(starts: Float64Array, size: number, addr: number): number {
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid] + size <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function summarizePair(
  child: ProcessCapture,
  parent: number,
  classes: Uint8Array,
  pageSize: number,
  copiedByParentKnown: boolean,
  unresolvedTies = 0,
  special?: RegionRanges,
): PairSharing {
  const regionOfVma = regionsOf(child.vmas);
  const total = emptyCounts();
  const byRegion = new Map<Region, number[]>();
  const add = (region: Region, raw: number[]) => {
    if (!byRegion.has(region)) byRegion.set(region, emptyCounts());
    const r = byRegion.get(region)!;
    for (let k = 0; k < raw.length; k++) r[k] += raw[k];
  };
  // Every page range to count, counted at once (native/classify.cc: millions of pages per child): each
  // mapping's pages, and the pages of each mapping inside the special ranges.
  const ranges: number[] = [];
  const inSpecialRanges: number[] = [];
  const inSpecialEnds: number[] = []; // per mapping: where its special ranges end in inSpecialRanges
  let off = 0;
  for (const vi of child.scanned) {
    const v = child.vmas[vi];
    const n = (v.end - v.start) / pageSize;
    ranges.push(off, off + n);
    if (special) specialRanges(off, v.start, n, pageSize, special, inSpecialRanges);
    inSpecialEnds.push(inSpecialRanges.length / 2);
    off += n;
  }
  const counted = countClassRanges(classes, Float64Array.from(ranges));
  const countedSpecial = countClassRanges(classes, Float64Array.from(inSpecialRanges));
  const mappings: MappingSharing[] = [];
  let sr = 0;
  child.scanned.forEach((vi, m) => {
    const v = child.vmas[vi];
    const raw = Array.from(counted.subarray(m * 8, m * 8 + 8));
    const inSpecial = emptyCounts();
    for (; sr < inSpecialEnds[m]; sr++) for (let k = 0; k < 8; k++) inSpecial[k] += countedSpecial[sr * 8 + k];
    const region = regionOfVma[vi];
    add(region, raw.map((x, k) => x - inSpecial[k]));
    if (special && inSpecial.some((x) => x > 0)) add(special.region, inSpecial);
    for (let k = 0; k < raw.length; k++) total[k] += raw[k];
    mappings.push({ start: v.start, end: v.end, perms: v.perms, path: v.path, region, pages: toCounts(raw, copiedByParentKnown) });
  });
  return {
    pid: child.pid,
    parent,
    pages: toCounts(total, copiedByParentKnown),
    regions: REGIONS.filter((r) => byRegion.has(r.region)).map((r) => ({
      region: r.region,
      pages: toCounts(byRegion.get(r.region)!, copiedByParentKnown),
    })),
    mappings,
    unresolvedTies,
  };
}

/** Parent-child pairs inside a captured family: every process whose parent was captured too. */
export function familyPairs(capture: Capture): { child: ProcessCapture; parent: ProcessCapture }[] {
  const byPid = new Map(capture.processes.map((p) => [p.pid, p]));
  const out: { child: ProcessCapture; parent: ProcessCapture }[] = [];
  for (const p of capture.processes) {
    const parent = byPid.get(p.ppid);
    if (parent) out.push({ child: p, parent });
  }
  return out;
}

/** A child is "crowded" when processes other than its reference may share its pages (siblings,
 *  grandchildren, later forks of the parent): then bit 56 alone cannot name the sharer. */
export function isCrowded(capture: Capture): boolean {
  return capture.processes.length > 2;
}

export interface PairOptionsForAnalysis {
  /** with a fork-time reference in the exact tier: the live parent, to find pages it copied */
  parent?: ProcessCapture;
  special?: RegionRanges;
}

/** Classes of a child's pages against its reference, computed once per capture and pair: run, report
 *  and HTML all read the same array. */
const classCache = new WeakMap<Capture, Map<string, { classes: Uint8Array; unresolved: number; byParent: boolean }>>();

/** Classes computed as the pagemaps were read (native/capture.ts classesRead), by child. */
const classesRead = new WeakMap<ProcessCapture, ClassesRead>();

/** Offers classes computed as the pagemaps were read: pairClasses takes them for a pair whose reference,
 *  siblings and zero mask are those they were computed with (the same objects, so the same pages), as
 *  what classifyPair and markWrittenByParent would compute; otherwise it classifies afresh. */
export function offerClassesRead(read: ClassesRead[]): void {
  for (const r of read) classesRead.set(r.child, r);
}

const sameProcesses = (a: ProcessCapture[], b: ProcessCapture[]) => a.length === b.length && a.every((p) => b.includes(p));

function pairClasses(capture: Capture, child: ProcessCapture, reference: ProcessCapture, parent: ProcessCapture | undefined) {
  const key = `${child.pid}/${reference.pid}/${parent?.pid ?? ''}`;
  let cache = classCache.get(capture);
  if (!cache) classCache.set(capture, (cache = new Map()));
  const hit = cache.get(key);
  if (hit) return hit;
  const { tier, pageSize, zeroPagesKnown } = capture.meta;
  // With a fork-time image, the live parent tells which pages it copied. Without one (inspect), pages
  // siblings still share at one frame tell it, where the child has siblings in the capture.
  const siblings = parent ? [] : siblingsOf(capture.processes, child, reference);
  const byParent = tier === 'exact' && (!!parent || siblings.length > 0);
  // Classified as read (exact tier, so no ties): the same rules over the same pages.
  const read = parent ? undefined : classesRead.get(child);
  if (read && tier === 'exact' && read.reference === reference && read.zeroMask === (zeroPagesKnown ? PageFlag.zero : 0) && sameProcesses(read.siblings, siblings)) {
    markMovedShared(read.classes, child, reference);
    const out = { classes: read.classes, unresolved: 0, byParent };
    cache.set(key, out);
    return out;
  }
  const { classes, ties } = classifyPair(child, reference, { tier, pageSize, zeroPagesKnown, crowded: isCrowded(capture) });
  const recorded = capture.ties?.find((t) => t.pid === child.pid && t.reference === reference.pid);
  const unresolved = recorded && recorded.status.length === ties.length ? resolveTies(classes, ties, recorded.status) : ties.length;
  if (tier === 'exact') markMovedShared(classes, child, reference);
  if (byParent && parent) markCopiedByParent(classes, child, reference, parent, pageSize);
  else if (byParent) markWrittenByParent(classes, child, siblings, pageSize);
  const out = { classes, unresolved, byParent };
  cache.set(key, out);
  return out;
}

/** One child against its reference: classification, ties settled from the capture's recorded content
 *  comparisons, copiedByParent when a parent is given (exact tier), summary. Pure: runs offline too.
 *  Ties must be settled (capture.ties) before the first call for a pair. */
export function analyzePair(
  capture: Capture,
  child: ProcessCapture,
  reference: ProcessCapture,
  opts: PairOptionsForAnalysis = {},
): { sharing: PairSharing; classes: Uint8Array } {
  const { classes, unresolved, byParent } = pairClasses(capture, child, reference, opts.parent);
  return { sharing: summarizePair(child, reference.pid, classes, capture.meta.pageSize, byParent, unresolved, opts.special), classes };
}
