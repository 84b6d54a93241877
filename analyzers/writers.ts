// First writers per cause: for each child of a run, the functions whose faults unshared its copied
// pages (capture.faults), grouped by the page's primary cause (blame). A writer is an attribute of a
// page: every copied page counts once, under its cause, with its writer or as "no fault seen", so the
// writers of a cause add up to the cause's pages.

import type { Capture } from '../native/capture';
import { WRITER_FRAMES } from '../native/capture';
import type { ChildBlame } from '../blame/engine';

export interface WriterRow {
  /** the function ('' when no symbol covers it) */
  function: string;
  file: string;
  /** named from .dynsym only */
  approximate: boolean;
  pages: number;
}

export interface CauseWriters {
  cause: string;
  /** the cause's copied pages: writers' pages plus noFault */
  pages: number;
  /** pages with no fault after the continue: written before it (the fork path, the agent) or the sample was lost */
  noFault: number;
  /** every writer of the cause's pages, most pages first */
  writers: WriterRow[];
}

export interface ChildWritersReport {
  traced: boolean;
  /** how tracing was allowed, or why it did not run */
  why: string;
  /** faults sampled in the child, and dropped by the kernel */
  samples: number;
  lost: number;
  /** copied pages with a first writer, and without one */
  pagesWithWriter: number;
  pagesWithoutWriter: number;
  /** of pagesWithWriter: written by the kernel for a syscall (the function is the syscall's user side) */
  kernelPages: number;
  byCause: CauseWriters[];
  /** copied pages (with a writer) against ms since the continue: cumulative, up to CURVE_POINTS points */
  curve: { ms: number; pages: number }[];
  /** Rack runs: copied pages (with a writer) first written by the end of request N, up to CURVE_POINTS
   *  points; empty for other workloads */
  requestCurve: { requests: number; ms: number; pages: number }[];
}

const CURVE_POINTS = 12;

/** The first writers of one child; null when the capture has no fault tracing (an older capture). */
export function childWriters(capture: Capture, pid: number, blame: ChildBlame | undefined, copied: number): ChildWritersReport | null {
  const f = capture.faults;
  if (!f) return null;
  const none: ChildWritersReport = { traced: f.traced, why: f.why, samples: 0, lost: 0, pagesWithWriter: 0, pagesWithoutWriter: copied, kernelPages: 0, byCause: [], curve: [], requestCurve: [] };
  const w = f.children.find((c) => c.pid === pid);
  if (!f.traced || !w) return none;
  const writerOf = new Map<number, number>();
  for (let k = 0; k < w.addrs.length; k++) writerOf.set(w.addrs[k], k);
  const causes = new Map<string, { pages: number; noFault: number; writers: Map<number, number> }>();
  const perPage = blame?.perPage;
  let withWriter = 0;
  let kernelPages = 0;
  const times: number[] = [];
  if (perPage)
    for (let p = 0; p < perPage.addr.length; p++) {
      const cause = perPage.cause[p];
      let c = causes.get(cause);
      if (!c) causes.set(cause, (c = { pages: 0, noFault: 0, writers: new Map() }));
      c.pages++;
      const k = writerOf.get(perPage.addr[p]);
      if (k === undefined) {
        c.noFault++;
        continue;
      }
      withWriter++;
      kernelPages += w.kernel[k];
      times.push(w.ns[k]);
      const fn = w.fn[k * WRITER_FRAMES];
      c.writers.set(fn, (c.writers.get(fn) ?? 0) + 1);
    }
  times.sort((a, b) => a - b);
  const curve: { ms: number; pages: number }[] = [];
  for (let j = 1; j <= Math.min(CURVE_POINTS, times.length); j++) {
    const i = Math.ceil((j * times.length) / Math.min(CURVE_POINTS, times.length)) - 1;
    curve.push({ ms: times[i] / 1e6, pages: i + 1 });
  }
  const requestCurve = pointsOf(w.requests ?? [], CURVE_POINTS).map((m) => ({ requests: m.requests, ms: m.ns / 1e6, pages: countAtMost(times, m.ns) }));
  const byCause = [...causes.entries()]
    .map(([cause, c]) => ({
      cause,
      pages: c.pages,
      noFault: c.noFault,
      writers: [...c.writers.entries()]
        .map(([fn, pages]) => {
          const fx = fn >= 0 ? w.functions[fn] : undefined;
          return { function: fx?.name ?? '', file: fx?.file ?? '', approximate: fx?.approximate ?? false, pages };
        })
        .sort((a, b) => b.pages - a.pages || a.function.localeCompare(b.function)),
    }))
    .sort((a, b) => b.pages - a.pages || a.cause.localeCompare(b.cause));
  return {
    traced: true,
    why: f.why,
    samples: w.samples,
    lost: w.lost,
    pagesWithWriter: withWriter,
    pagesWithoutWriter: copied - withWriter,
    kernelPages,
    byCause,
    curve,
    requestCurve,
  };
}

/** At most n of the items, evenly spaced, the last always kept. */
function pointsOf<T>(items: readonly T[], n: number): T[] {
  const k = Math.min(n, items.length);
  return Array.from({ length: k }, (_, j) => items[Math.ceil(((j + 1) * items.length) / k) - 1]);
}

/** How many of the ascending values are <= x. */
function countAtMost(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
