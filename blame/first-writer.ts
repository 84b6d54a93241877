// The first write of each copied page of a child (fault tracing, capture.faults): the function and the
// time of the write that unshared the page. Rules of every runtime ask it where a page's words cannot
// tell who wrote it.

import type { Capture, ChildWriters, WriterFunction } from '../native/capture';
import { WRITER_FRAMES } from '../native/capture';
import { indexOf } from './words';

export interface FirstFault {
  /** the writing function, undefined where no frame was named */
  writer: WriterFunction | undefined;
  /** ns from the continue */
  ns: number;
}

/** A child's fault trace, undefined when the capture was not traced. */
export function childTrace(capture: Capture, pid: number): ChildWriters | undefined {
  return capture.faults?.traced ? capture.faults.children.find((c) => c.pid === pid) : undefined;
}

/** The first fault on a child's copied page, by page address; undefined where no fault was seen (the
 *  capture was not traced, or the page was written before the child was continued). */
export function firstFaultOf(capture: Capture, pid: number): (page: number) => FirstFault | undefined {
  const w = childTrace(capture, pid);
  if (!w) return () => undefined;
  return (page) => {
    const k = indexOf(w.addrs, page);
    if (k < 0) return undefined;
    const fn = w.fn[k * WRITER_FRAMES];
    return { writer: fn >= 0 ? w.functions[fn] : undefined, ns: w.ns[k] };
  };
}

/** Could the collector have written at ns (from the continue) in this child: inside one of its
 *  collections, or past what the agent recorded, or no record at all? */
export function inCollection(w: ChildWriters | undefined, ns: number): boolean {
  const c = w?.collections;
  if (!c || (c.untilNs !== undefined && ns >= c.untilNs)) return true;
  // the last start at or before ns, then is ns before its stop
  let lo = 0;
  let hi = c.ns.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (c.ns[2 * mid] <= ns) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && ns <= c.ns[2 * (lo - 1) + 1];
}

/** GCC's names for copies of a function it specialised or split (update_refs.isra.0, gc_aging.part.0). */
const CLONE_SUFFIX = /(\.(lto_priv|constprop|isra|part|cold|localalias)(\.\d+)*)+$/;

/** A function's name without GCC's clone suffixes: the name in the runtime's source. */
export const sourceName = (name: string): string => name.replace(CLONE_SUFFIX, '');

/** The function that first wrote each copied page of a child, by page address. */
export function firstWriterOf(capture: Capture, pid: number): (page: number) => WriterFunction | undefined {
  const of = firstFaultOf(capture, pid);
  return (page) => of(page)?.writer;
}

/** The C library's memory routines (memset, memcpy, memmove and glibc's per-CPU variants such as
 *  __memset_avx512_unaligned_erms): whoever called them wrote the bytes. */
const MEMORY_ROUTINE = /^_*(memset|memcpy|memmove|mempcpy|bzero)(_\w+)?$/;

/** The name (in the source: clone suffixes stripped) of the function that first wrote each copied page,
 *  where it is named exactly (.symtab); undefined where a name would be only the exported symbol before
 *  the instruction (.dynsym alone), or no fault was seen. A C library memory routine names its caller
 *  instead (the next frame), and nothing where the callchain ends there (a binary without frame
 *  pointers): "memset" tells no more than no writer, and rules that read the page's contents where no
 *  writer is named then judge it. */
export function exactFirstWriterOf(capture: Capture, pid: number): (page: number) => string | undefined {
  const w = childTrace(capture, pid);
  if (!w) return () => undefined;
  return (page) => {
    const k = indexOf(w.addrs, page);
    if (k < 0) return undefined;
    for (let f = 0; f < WRITER_FRAMES; f++) {
      const fn = w.fn[k * WRITER_FRAMES + f];
      const frame = fn >= 0 ? w.functions[fn] : undefined;
      if (!frame || frame.approximate || frame.name === '') return undefined;
      const name = sourceName(frame.name);
      if (!MEMORY_ROUTINE.test(name)) return name;
    }
    return undefined;
  };
}
