// Who wrote each copied page: the children's page faults, traced from the moment they are continued
// (native/faults.ts), reduced to the first fault on each copied page and named by the ELF symbols of
// the child's mappings. A page a child copies takes a write fault (it was present, read-only, shared);
// reads of present pages do not fault, so the first fault on a page that ends up copied is the write
// that unshared it, except where the page was not present at all (swapped out, or never in the child's
// page tables), where the first fault may be a read: the engine reports these writers as approximate
// in that sense too.

import type { Capture, ChildWriters, FaultTracing, WriterFunction } from '../native/capture';
import { WRITER_FRAMES } from '../native/capture';
import { FRAMES, FaultSamples, FaultTrace, faultTracingAvailability } from '../native/faults';
import { SymbolTables, Symbolizer } from '../native/elf-symbols';
import type { GcWindows, RequestMark } from '../runtimes/ruby/driver';

/** How often the rings are emptied while the children run (ms). */
const DRAIN_MS = 20;

/** Fault tracing of a run's children: start right before they are continued, finish once they stopped
 *  again. Never throws: a failure turns tracing off and keeps its reason for the report. */
export class ChildFaultTracing {
  private readonly traces = new Map<number, FaultTrace>();
  private timer: NodeJS.Timeout | undefined;
  private why: string;
  private traced = false;
  private samples = new Map<number, FaultSamples>();
  /** per child: CLOCK_MONOTONIC ns when its trace was enabled (the samples' time base) */
  private enabledAt = new Map<number, number>();

  constructor(private readonly wanted: boolean) {
    this.why = wanted ? 'not started' : 'turned off (--no-trace-faults)';
  }

  /** Opens and enables a trace on each child (still stopped): call right before they are continued. */
  start(children: number[]): void {
    if (!this.wanted) return;
    const can = faultTracingAvailability();
    if (!can.available) {
      this.why = can.why;
      return;
    }
    try {
      for (const pid of children) this.traces.set(pid, FaultTrace.open(pid));
      for (const t of this.traces.values()) t.enable();
    } catch (e) {
      this.close();
      this.why = `perf_event_open on a child failed: ${(e as Error).message}`;
      return;
    }
    this.traced = true;
    this.why = can.why;
    this.timer = setInterval(() => {
      for (const t of this.traces.values()) t.drain();
    }, DRAIN_MS);
  }

  /** Stops sampling (the children have stopped again) and keeps every child's samples. */
  finish(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const [pid, t] of this.traces) {
      this.samples.set(pid, t.collect());
      this.enabledAt.set(pid, t.enabledAtNs);
    }
    this.close();
  }

  /** Releases the events and rings; safe to call more than once. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const t of this.traces.values()) t.close();
    this.traces.clear();
  }

  /** The first writer of every copied page of every child, named from the child's mappings in the
   *  capture (read while the child was stopped after its workload). Needs capture.diffs. `marks`: Rack
   *  children's request marks (CLOCK_MONOTONIC µs, as the faults' clock), put on the faults' time base;
   *  `gcWindows`: when each child's collections ran (the same clock), likewise. */
  writers(capture: Capture, marks?: ReadonlyMap<number, readonly RequestMark[]>, gcWindows?: ReadonlyMap<number, GcWindows>): FaultTracing {
    if (!this.traced) return { traced: false, why: this.why, children: [] };
    const children: ChildWriters[] = [];
    const tables: SymbolTables = new Map(); // the children map the same files: each is read once
    for (const [pid, s] of this.samples) {
      const diffs = capture.diffs?.find((d) => d.pid === pid);
      const proc = capture.processes.find((p) => p.pid === pid);
      if (!diffs || !proc) continue;
      const w = firstWriters(pid, s, diffs.addrs, new Symbolizer(proc.vmas, tables), capture.meta.pageSize);
      const base = this.enabledAt.get(pid)!;
      const requests = (marks?.get(pid) ?? []).map((m) => ({ requests: m.requests, ns: Math.max(0, m.us * 1000 - base) }));
      const gc = gcWindows?.get(pid);
      const collections = gc && { ns: gc.us.map((us) => us * 1000 - base), ...(gc.untilUs !== undefined ? { untilNs: gc.untilUs * 1000 - base } : {}) };
      children.push({ ...w, ...(requests.length ? { requests } : {}), ...(collections ? { collections } : {}) });
    }
    return { traced: true, why: this.why, children };
  }
}

/** For each copied page (ascending addresses), the first fault of process pid on it, named. */
export function firstWriters(pid: number, s: FaultSamples, copied: Float64Array, symbols: Symbolizer, pageSize: number): ChildWriters {
  // The probe keeps the earliest fault per page already; ordering by time keeps this exact for any
  // list of samples (only the child's own: an inherited event also samples whatever it forks).
  const order: number[] = [];
  for (let i = 0; i < s.pid.length; i++) if (s.pid[i] === pid) order.push(i);
  order.sort((a, b) => s.time[a] - s.time[b]);
  const first = new Map<number, number>();
  for (const i of order) {
    const page = s.addr[i] - (s.addr[i] % pageSize);
    if (!first.has(page)) first.set(page, i);
  }
  const hit: number[] = [];
  for (let p = 0; p < copied.length; p++) if (first.has(copied[p])) hit.push(p);
  const functions: WriterFunction[] = [];
  const fnIndex = new Map<number, number>();
  const keyOf = new Map<string, number>();
  const name = (ip: number): number => {
    if (!ip) return -1;
    let k = fnIndex.get(ip);
    if (k === undefined) {
      const sym = symbols.symbolize(ip);
      const key = `${sym.name}\0${sym.file}`;
      k = keyOf.get(key);
      if (k === undefined) {
        k = functions.length;
        functions.push({ name: sym.name, file: sym.file, approximate: sym.approximate });
        keyOf.set(key, k);
      }
      fnIndex.set(ip, k);
    }
    return k;
  };
  const out: ChildWriters = {
    pid,
    samples: s.count,
    lost: s.lost,
    addrs: Float64Array.from(hit, (p) => copied[p]),
    ns: new Float64Array(hit.length),
    kernel: new Uint8Array(hit.length),
    ips: new Float64Array(hit.length * WRITER_FRAMES),
    fn: new Int32Array(hit.length * WRITER_FRAMES),
    functions,
  };
  hit.forEach((p, k) => {
    const i = first.get(copied[p])!;
    out.ns[k] = s.time[i];
    out.kernel[k] = s.kernel[i];
    for (let f = 0; f < WRITER_FRAMES; f++) {
      const ip = f < FRAMES ? s.frames[i * FRAMES + f] : 0;
      out.ips[k * WRITER_FRAMES + f] = ip;
      out.fn[k * WRITER_FRAMES + f] = name(ip);
    }
  });
  return out;
}
