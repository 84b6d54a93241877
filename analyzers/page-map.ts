// Page maps for the HTML report: every page of a child's writable private regions (GC heap, malloc,
// anonymous memory, stack, file data), in address order, with its class and, for copied pages, the
// blamed cause, the object that owns most of its changed words (when the runtime knows owners) and the
// function that wrote it first (when fault tracing ran).

import { ChildWriters, ProcessCapture, WRITER_FRAMES } from '../native/capture';
import { PageClass } from './classify';
import { RegionRanges, regionsOf } from './regions';
import type { WordOwner } from '../runtimes/adapter';

export interface PageMapRegion {
  region: string;
  /** per page: address, PageClass code, index into causes (-1: none), index into owners (-1: none) */
  addr: number[];
  cls: number[];
  cause: number[];
  owner: number[];
  /** index into writers (-1: no first write traced) */
  writer: number[];
}

export interface PageMap {
  pid: number;
  causes: string[];
  /** owners named once: "Class (type) allocated at site" */
  owners: string[];
  /** first writers named once (fault tracing): "function (file)" */
  writers: string[];
  regions: PageMapRegion[];
}

// Where a child can copy pages: the Ruby GC heap, malloc, other anonymous memory (where a C program's
// data is), the stack and the private data of files (the interpreter's globals). Code is never copied.
const WANTED = ['ruby-heap', 'malloc-heap', 'anon', 'stack', 'file-data'];

const ownerName = (o: WordOwner) =>
  `${o.class}${o.class === o.type || o.type === 'none' ? '' : ` (${o.type})`}${o.field ? `, ${o.field}` : ''}${o.site ? ` allocated at ${o.site}` : ''}`;

export function pageMap(
  child: ProcessCapture,
  pageSize: number,
  classes: Uint8Array,
  special?: RegionRanges,
  perPage?: { addr: Float64Array; cause: string[]; owner?: (WordOwner | undefined)[] },
  traced?: ChildWriters,
): PageMap {
  // The first writer of each traced page: the function of its writing instruction.
  const writers: string[] = [];
  const writerOf = new Map<number, number>();
  if (traced) {
    const index = new Map<number, number>();
    traced.addrs.forEach((a, k) => {
      const f = traced.fn[k * WRITER_FRAMES];
      if (f < 0) return;
      let j = index.get(f);
      if (j === undefined) {
        const fn = traced.functions[f];
        const file = fn.file.slice(fn.file.lastIndexOf('/') + 1);
        index.set(f, (j = writers.push(`${fn.name || 'unnamed code'} (${file})${fn.approximate ? ' ~' : ''}`) - 1));
      }
      writerOf.set(a, j);
    });
  }
  const causes: string[] = [];
  const owners: string[] = [];
  const causeOf = new Map<number, number>();
  const ownerOf = new Map<number, number>();
  const ownerIndex = new Map<string, number>();
  if (perPage)
    perPage.addr.forEach((a, i) => {
      let k = causes.indexOf(perPage.cause[i]);
      if (k < 0) k = causes.push(perPage.cause[i]) - 1;
      causeOf.set(a, k);
      const o = perPage.owner?.[i];
      if (!o) return;
      const name = ownerName(o);
      let j = ownerIndex.get(name);
      if (j === undefined) ownerIndex.set(name, (j = owners.push(name) - 1));
      ownerOf.set(a, j);
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
      if (!out.has(region)) out.set(region, { region, addr: [], cls: [], cause: [], owner: [], writer: [] });
      const g = out.get(region)!;
      g.addr.push(addr);
      g.cls.push(cls);
      g.cause.push(causeOf.get(addr) ?? -1);
      g.owner.push(ownerOf.get(addr) ?? -1);
      g.writer.push(writerOf.get(addr) ?? -1);
    }
    off += n;
  }
  return { pid: child.pid, causes, owners, writers, regions: WANTED.filter((w) => out.has(w)).map((w) => out.get(w)!) };
}
