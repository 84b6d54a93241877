// Sharing summaries: page classes counted per child, per region and per mapping.

import type { Capture, ProcessCapture } from '../native/capture';
import { CLASS_KEYS, ClassKey, PageClass } from './classify';
import { REGIONS, Region, regionsOf } from './regions';

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

export function summarizePair(
  child: ProcessCapture,
  parent: number,
  classes: Uint8Array,
  pageSize: number,
  copiedByParentKnown: boolean,
  unresolvedTies = 0,
): PairSharing {
  const regionOfVma = regionsOf(child.vmas);
  const total = emptyCounts();
  const byRegion = new Map<Region, number[]>();
  const mappings: MappingSharing[] = [];
  let off = 0;
  for (const vi of child.scanned) {
    const v = child.vmas[vi];
    const n = (v.end - v.start) / pageSize;
    const raw = emptyCounts();
    for (let i = off; i < off + n; i++) raw[classes[i]]++;
    off += n;
    const region = regionOfVma[vi];
    if (!byRegion.has(region)) byRegion.set(region, emptyCounts());
    const r = byRegion.get(region)!;
    for (let k = 0; k < raw.length; k++) {
      r[k] += raw[k];
      total[k] += raw[k];
    }
    mappings.push({ start: v.start, end: v.end, perms: v.perms, path: v.path, region, pages: toCounts(raw, copiedByParentKnown) });
  }
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
