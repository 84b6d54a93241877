// Page maps for the HTML report: every page of a child's GC heap, malloc and anonymous regions, in address order,
// with its class and, for copied pages, the blamed cause.

import type { ProcessCapture } from '../native/capture';
import { PageClass } from './classify';
import { RegionRanges, regionsOf } from './regions';

export interface PageMapRegion {
  region: string;
  /** per page: address, PageClass code, index into causes (-1: none) */
  addr: number[];
  cls: number[];
  cause: number[];
}

export interface PageMap {
  pid: number;
  causes: string[];
  regions: PageMapRegion[];
}

// The Ruby GC heap, malloc, and other anonymous memory (where a C program's data is).
const WANTED = ['ruby-heap', 'malloc-heap', 'anon'];

export function pageMap(
  child: ProcessCapture,
  pageSize: number,
  classes: Uint8Array,
  special?: RegionRanges,
  perPage?: { addr: Float64Array; cause: string[] },
): PageMap {
  const causes: string[] = [];
  const causeOf = new Map<number, number>();
  if (perPage)
    perPage.addr.forEach((a, i) => {
      let k = causes.indexOf(perPage.cause[i]);
      if (k < 0) k = causes.push(perPage.cause[i]) - 1;
      causeOf.set(a, k);
    });
  const regionOfVma = regionsOf(child.vmas);
  const out = new Map<string, PageMapRegion>();
  let off = 0;
  let r = 0;
  for (const vi of child.scanned) {
    const v = child.vmas[vi];
    const n = (v.end - v.start) / pageSize;
    for (let i = 0; i < n; i++) {
      const cls = classes[off + i];
      if (cls === PageClass.none) continue;
      const addr = v.start + i * pageSize;
      let region = regionOfVma[vi] as string;
      if (special) {
        while (r < special.starts.length && special.starts[r] + special.size <= addr) r++;
        if (r < special.starts.length && special.starts[r] <= addr) region = special.region;
      }
      if (!WANTED.includes(region)) continue;
      if (!out.has(region)) out.set(region, { region, addr: [], cls: [], cause: [] });
      const g = out.get(region)!;
      g.addr.push(addr);
      g.cls.push(cls);
      g.cause.push(causeOf.get(addr) ?? -1);
    }
    off += n;
  }
  return { pid: child.pid, causes, regions: WANTED.filter((w) => out.has(w)).map((w) => out.get(w)!) };
}
