// The Capture: everything measured at one moment, as plain data and typed arrays (see
// docs/capture-format.md). This module defines it and gathers it from
// live processes; analyzers/ only ever see the plain data.

import fs from 'node:fs';
import os from 'node:os';
import { MemoryTotals, Vma } from './procfs-parse';
import type { RubyStructures } from '../runtimes/ruby/discover';
import type { PythonStructures } from '../runtimes/python/discover';
import { FamilyColumns, FamilyPair, KpageFlag, PageFlag, ProbeError, ZeroDetection, features, pageSize, readFamilyPagemapsAsync, readKpage } from './probe';
import { ProcessInfo, keepListingAhead, liveFamily, processInfo, readMaps, readRollupAsync, statOf } from './proc';
import { markBss } from './bss';

export type Tier = 'exact' | 'exclusive-bit';
export type Role = 'parent' | 'reference' | 'child' | 'process';

export interface CaptureMeta {
  tool: 'cowscope';
  version: string;
  kernel: string;
  pageSize: number;
  thp: string;
  tier: Tier;
  /** PAGEMAP_SCAN (or kpageflags) told zero pages apart */
  zeroPagesKnown: boolean;
  time: string;
  command: string[];
}

export interface PageColumns {
  flags: Uint16Array;
  pfn: Float64Array;
}

export interface ProcessCapture {
  pid: number;
  ppid: number;
  role: Role;
  comm: string;
  command: string;
  state: string;
  threads: number;
  memory: MemoryTotals;
  vmas: Vma[];
  /** indexes into vmas of the mappings whose pages were read, in address order */
  scanned: number[];
  /** pagemap columns of the scanned mappings, concatenated in that order */
  pages: PageColumns;
}

/** The runtime of a controlled fork, as its agent reported it at the fork point. */
export interface RuntimeInfo {
  name: 'ruby' | 'python';
  version: string;
  platform: string;
  /** bytes of one GC heap page (16 KiB on 3.1, 64 KiB on 3.2+) */
  heapPageSize: number;
  slotSize: number;
}

/** What `cowscope run` did around the fork. */
export interface RunInfo {
  parent: number;
  /** the twin: a stopped fork that keeps the fork-time image */
  reference: number;
  children: number[];
  strategy: string;
  /** what really ran, e.g. "warmup (emulated)" or "nakayoshi (gem 0.0.4)" */
  strategyLabel: string;
  strategySeconds: number;
  heapMapSeconds: number;
  threadsAtFork: { name: string; status: string }[];
  osThreadsAtFork: number;
  gcCountAtFork: number;
  /** the runtime's GC heap pages when the program reached the fork point, before the strategy ran: which
   *  of the few heap sizes a program's boot ends in this run had (Ruby; absent in older captures) */
  heapPagesAtForkPoint?: number;
  workload: string;
  /** per child (same order as children): Rack requests answered */
  requestsServed: number[];
  /** per child (same order as children): GC runs during the workload */
  gcRuns: number[];
  /** per child: full collections among gcRuns (Ruby: major GCs; Python: of the oldest generation); absent
   *  in captures made before they were counted */
  gcFullRuns?: number[];
  /** per child (Ruby): the GCs among gcRuns whose marking ran whole in the child (not one under way at
   *  the fork, nor a major GC's incremental marking under way as it stopped): each aged every young
   *  object it kept; absent in older captures */
  gcMarks?: number[];
  /** per child (Ruby): the compactions among gcRuns (GC.compact, GC.auto_compact); absent in older captures */
  gcCompactions?: number[];
  /** per child (Ruby, a Rack workload of two rounds or more): objects the workload allocated, and those
   *  its later half of the rounds allocated, scaled to every round: what a run after a first allocates,
   *  its one-time work done (a prewarmed child). Absent in older captures and other workloads */
  allocated?: number[];
  allocatedSteady?: number[];
  /** Ruby: the bytes of GC heap the runtime could still add at the fork before a GC had to run (it adds
   *  that room before it collects), and per child the bytes its GC heap grew by: what a child put in new
   *  heap pages while the garbage at the fork waited for its first GC is the lesser. Absent in older
   *  captures */
  heapAllocatableBytesAtFork?: number;
  heapGrownBytes?: number[];
  /** per child (Ruby): 1 where its GC was off as the workload ended (GC.disable); absent in older captures */
  gcOff?: number[];
  /** per child: pymalloc blocks its automatic collections freed (Python; what gc.disable() would keep) */
  gcFreedBlocks?: number[];
  /** per child (Python): the collections among gcRuns the collector started itself (not gc.collect()),
   *  which gc.disable() would not run; absent in older captures */
  gcAutoRuns?: number[];
  /** Ruby, where a marking GC empties every call cache: the call-cache probe, a child that ran a full GC
   *  and then the workload (its finding: ruby.cacheRefill); read, then killed, never a measurement */
  cacheProbe?: number;
}

/** Content comparisons that settled exclusive-bit "shared" verdicts for one child (PageStatus per tie,
 *  in the order classifyPair lists the ties). */
export interface TieResults {
  pid: number;
  reference: number;
  status: Uint8Array;
}

/** The GC heap pages found in the heap map (ObjectSpace.dump_all taken at the fork point). */
export interface HeapMap {
  heapPageSize: number;
  /** sorted start addresses of heap page bodies */
  bodies: Float64Array;
  objects: number;
  free: number;
  malformed: number;
}

/** Word-level differences of one child's copied pages against the reference (fork-time image). */
export interface PageDiffs {
  pid: number;
  reference: number;
  addrs: Float64Array;
  status: Uint8Array;
  wordPage: Uint32Array;
  wordOffset: Uint16Array;
  oldWord: BigUint64Array;
  newWord: BigUint64Array;
}

/** A function that wrote pages: a row of ChildWriters.functions. */
export interface WriterFunction {
  /** '' when no symbol covers the instruction */
  name: string;
  /** the mapped file ('[anon]' for anonymous code) */
  file: string;
  /** named from .dynsym only (the file has no .symtab) */
  approximate: boolean;
}

/** One child's first writers: for every copied page that faulted after the child was continued, the
 *  first such fault (the write that unshared it, almost always: a read of a present page does not fault). */
export interface ChildWriters {
  pid: number;
  /** faults sampled in this child, and samples the kernel dropped (a ring was full) */
  samples: number;
  lost: number;
  /** copied pages with a first fault: a subset of the child's diffs addrs, ascending */
  addrs: Float64Array;
  /** ns from the continue to that fault */
  ns: Float64Array;
  /** 1 where the fault was taken in kernel mode (a syscall wrote the page; frames are its user side) */
  kernel: Uint8Array;
  /** WRITER_FRAMES per page: the writing instruction, then its callers; 0 where the callchain ended */
  ips: Float64Array;
  /** WRITER_FRAMES per page: index into functions, -1 where no frame */
  fn: Int32Array;
  functions: WriterFunction[];
  /** Rack runs: after some of the child's requests, how many it had served and the ns since the continue
   *  (on the faults' clock), ascending; absent for other workloads */
  requests?: { requests: number; ns: number }[];
  /** Python runs: when the child's collections ran, on the faults' clock (ns from the continue):
   *  [start, stop, start, stop, ...], ascending; untilNs, where the agent stopped recording, the start of
   *  the first collection left out (later times are not known). Absent where the agent did not say. */
  collections?: { ns: number[]; untilNs?: number };
}

/** Fault tracing of a run's children (perf_event_open page-fault samples from each continue). */
export interface FaultTracing {
  traced: boolean;
  /** how tracing was allowed, or why it did not run */
  why: string;
  children: ChildWriters[];
}

/** Frames kept per first writer (the instruction and up to 3 callers, when the binary keeps frame pointers). */
export const WRITER_FRAMES = 4;

/** Lists of per-child entries in a runtime's structures (capture.ruby, capture.python): arrays of
 *  objects with a pid (each child's own chunks, pools, objects). */
export const isPerChild = (v: unknown): v is { pid: number }[] => Array.isArray(v) && v.length > 0 && typeof v[0] === 'object' && v[0] !== null && typeof (v[0] as { pid?: unknown }).pid === 'number';

/** A runtime's structures with every per-child list cut to one child's entries (what that child's blame
 *  reads of them). */
export function ownEntries<T extends object>(structures: T, pid: number): T {
  return Object.fromEntries(Object.entries(structures).map(([k, v]) => [k, isPerChild(v) ? v.filter((e) => e.pid === pid) : v])) as T;
}

/** Sorted, distinct addresses of every page some child copied (the pages a runtime's structures are
 *  found on). */
export function copiedPagesOf(diffs: readonly PageDiffs[] | undefined): Float64Array {
  return Float64Array.from(new Set((diffs ?? []).flatMap((d) => Array.from(d.addrs)))).sort();
}

export interface Capture {
  meta: CaptureMeta;
  processes: ProcessCapture[];
  runtime?: RuntimeInfo;
  run?: RunInfo;
  ties?: TieResults[];
  heapMap?: HeapMap;
  diffs?: PageDiffs[];
  /** the twin's words against the parent's on the pages the fork path copied (run only, exact tier) */
  forkWrites?: PageDiffs;
  /** Ruby structures of the fork-time image, for blame (run only) */
  ruby?: RubyStructures;
  /** the first writer of each copied page (run only; fault tracing) */
  faults?: FaultTracing;
  /** CPython structures of the fork-time image, for blame (run only) */
  python?: PythonStructures;
}

const TOOL_VERSION: string = (() => {
  try {
    return JSON.parse(fs.readFileSync(`${__dirname}/../../package.json`, 'utf8')).version;
  } catch {
    return '0.0.0';
  }
})();

/** A process cowscope cannot inspect, or one that changed under the scan. The message names the fix. */
export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

function thpMode(): string {
  try {
    return /\[(\w+)\]/.exec(fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unsupported';
  }
}

/** Mappings whose pages are worth reading: private ones that can hold pages. Reservations (---p) can
 *  span terabytes of holes, and [vsyscall] lies above TASK_SIZE (but see scanProtectedOverlaps). */
export function isScanned(vma: Vma): boolean {
  return vma.perms[3] === 'p' && vma.perms !== '---p' && vma.path !== '[vsyscall]';
}

/** The largest PROT_NONE mapping scanProtectedOverlaps reads: 1 GiB (a 2 MiB pagemap read), far above
 *  a region a program protects, far below the reservations a runtime makes. */
const MAX_PROTECTED_SCAN = 1 << 30;

/** A PROT_NONE private mapping (---p) still holds the pages it had: a parent that protects a region
 *  after the fork keeps sharing its frames with the children, and so does a child that protects a range
 *  of its own. Where another process of the family maps the same addresses readable, such a mapping (up
 *  to MAX_PROTECTED_SCAN) is read too, or its partner's pages would pair with nothing ("new", or left
 *  out of every count). Elsewhere (guards, reservations) it is not. */
function scanProtectedOverlaps(family: Mapped[]): void {
  // Does a scanned mapping of o overlap [start, end)? Its scanned mappings are sorted and disjoint: the
  // last one starting below end decides (a family has thousands of mappings, guards among them).
  const overlaps = (o: Mapped, start: number, end: number) => {
    let lo = 0;
    let hi = o.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (o.starts[mid] < end) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && o.ends[hi] > start;
  };
  const adds = family.map((m) =>
    m.vmas.flatMap((v, i) => (v.perms === '---p' && v.end - v.start <= MAX_PROTECTED_SCAN && family.some((o) => o !== m && overlaps(o, v.start, v.end)) ? [i] : [])),
  );
  family.forEach((m, k) => {
    if (!adds[k].length) return;
    m.scanned = [...m.scanned, ...adds[k]].sort((a, b) => a - b);
    m.starts = Float64Array.from(m.scanned, (i) => m.vmas[i].start);
    m.ends = Float64Array.from(m.scanned, (i) => m.vmas[i].end);
  });
}

/** Checks that pid is a process cowscope can read, with a one-line reason when not. */
export function checkTarget(pid: number): ProcessInfo {
  const info = processInfo(pid);
  if (!info) throw new TargetError(`no process ${pid}: check the pid with \`ps -p ${pid}\` or \`pgrep -a NAME\``);
  if (info.kernelThread)
    throw new TargetError(`process ${pid} (${info.comm}) is a kernel thread: it has no user memory; pick a user process`);
  // (QA: a thread of a Python server was reported as a process whose parent was the shell's)
  if (info.tgid !== pid) throw new TargetError(`${pid} is a thread of process ${info.tgid}, not a process: give ${info.tgid} (cowscope inspect ${info.tgid})`);
  if (info.zombie)
    throw new TargetError(
      `process ${pid} (${info.comm}) is a zombie: it exited and its memory is gone; its parent ${info.ppid} has not reaped it yet: inspect the parent (cowscope inspect ${info.ppid})`,
    );
  return info;
}

/** A process that exited (or whose pid now names another process) while it was being read. */
export class ExitedError extends TargetError {
  constructor(readonly pid: number, readonly comm: string) {
    super(`process ${pid} (${comm}) exited during the scan: run again when the process family is stable`);
    this.name = 'ExitedError';
  }
}

function exitedDuringScan(info: ProcessInfo): TargetError {
  return new ExitedError(info.pid, info.comm);
}

/** Still the same live process as when it was listed? (pid reuse shows as a new start time) */
export function unchanged(info: ProcessInfo): boolean {
  let now;
  try {
    now = statOf(info.pid);
  } catch {
    return false; // a stat that cannot be read whole: the process is going away
  }
  return !!now && now.startTime === info.startTime && now.state !== 'Z' && now.state !== 'X';
}

/** A process's mappings, and the ranges of the scanned ones (whose pagemap is read). */
interface Mapped {
  info: ProcessInfo;
  vmas: Vma[];
  scanned: number[];
  starts: Float64Array;
  ends: Float64Array;
}

/** maps is a short read (no page walk): read on the JS thread, before the long reads are queued. */
function mappingsOf(info: ProcessInfo): Mapped {
  const vmas = markBss(readMaps(info.pid), pageSize);
  const scanned: number[] = [];
  vmas.forEach((v, i) => {
    if (isScanned(v)) scanned.push(i);
  });
  return { info, vmas, scanned, starts: Float64Array.from(scanned, (i) => vmas[i].start), ends: Float64Array.from(scanned, (i) => vmas[i].end) };
}

/** One process's capture from its mappings and its two long reads (both walk the page tables). With
 *  memoryLater, it is made once the pagemap is in, its `memory` all zero until `memory` settles (the
 *  rollup read, and the same check that the process is still the one listed). */
async function captureProcess(
  mapped: Mapped | { info: ProcessInfo; error: unknown },
  role: Role,
  reads: () => [Promise<MemoryTotals>, Promise<ReadColumns>],
  memoryLater = false,
): Promise<{ proc: ProcessCapture; zeroScan: boolean; memory?: Promise<void> }> {
  const { info } = mapped;
  // maps of a process that just exited reads empty, pagemap fails with ESRCH, /proc/PID vanishes: all one
  // story. ESRCH comes before the exit shows in stat: a process killed a moment ago has let go of its
  // memory (no mm: the page walks fail) while its state is not yet Z.
  const exitedOr = (e: unknown) => ((e as { code?: string } | undefined)?.code === 'ESRCH' || !unchanged(info) ? exitedDuringScan(info) : e);
  try {
    if ('error' in mapped) throw mapped.error;
    const [memoryRead, pagemapRead] = reads();
    if (memoryLater) memoryRead.catch(() => undefined); // a pagemap that fails first leaves it unawaited
    const [memory, pm] = memoryLater ? [{ ...NO_TOTALS, fields: {} }, await pagemapRead] : await Promise.all([memoryRead, pagemapRead]);
    if (pm.short || !unchanged(info)) throw exitedDuringScan(info);
    const proc: ProcessCapture = {
      pid: info.pid,
      ppid: info.ppid,
      role,
      comm: info.comm,
      command: info.cmdline,
      state: info.state,
      threads: info.threads,
      memory,
      vmas: mapped.vmas,
      scanned: mapped.scanned,
      pages: pm.pages,
    };
    const late = memoryLater
      ? memoryRead.then(
          (m) => {
            if (!unchanged(info)) throw exitedDuringScan(info);
            proc.memory = m;
          },
          (e) => {
            throw exitedOr(e);
          },
        )
      : undefined;
    late?.catch(() => undefined); // settled even when the capture fails for another process
    return { proc, zeroScan: pm.zeroScan, memory: late };
  } catch (e) {
    throw exitedOr(e);
  }
}

/** A process's pagemap as read: its columns (a compact child's PFNs rebuilt when first read). */
interface ReadColumns {
  pages: PageColumns;
  zeroScan: boolean;
  short: boolean;
}

/** A compact child's columns (native/probe.cc FamilyPair): the PFN column is made when first read, from
 *  the reference's PFNs at the paired pages (runs) and the PFNs kept where the child's differ. */
function rebuiltColumns(flags: Uint16Array, runs: Float64Array, changed: { index: Uint32Array; pfn: Float64Array }, reference: () => PageColumns): PageColumns {
  let pfn: Float64Array | undefined;
  const rebuild = () => {
    const from = reference().pfn;
    const out = new Float64Array(flags.length);
    for (let k = 0; k < runs.length; k += 3) if (runs[k + 1] >= 0) out.set(from.subarray(runs[k + 1], runs[k + 1] + runs[k + 2]), runs[k]);
    for (let j = 0; j < changed.index.length; j++) out[changed.index[j]] = changed.pfn[j];
    return out;
  };
  return {
    flags,
    get pfn(): Float64Array {
      return (pfn ??= rebuild());
    },
  };
}

/** A process's totals before its smaps_rollup is read (captureProcesses' memoryLater). */
const NO_TOTALS: MemoryTotals = { rss: 0, pss: 0, uss: 0, swap: 0, swapPss: 0, anonHuge: 0, fields: {} };

/** Marks zero pages through kpageflags, for kernels without PAGEMAP_SCAN (root only). Only present,
 *  non-exclusive anonymous pages can be the zero page. */
function markZeroByKpageflags(proc: ProcessCapture): void {
  const { flags, pfn } = proc.pages;
  const idx: number[] = [];
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i];
    if (f & PageFlag.present && !(f & (PageFlag.exclusive | PageFlag.file))) idx.push(i);
  }
  const kp = readKpage(Float64Array.from(idx, (i) => pfn[i]));
  for (let k = 0; k < idx.length; k++) if (kp.flags[k] & KpageFlag.zeroPage) flags[idx[k]] |= PageFlag.zero;
}

/** pairsToClassify of analyzers/classify.ts: which children a family's read classifies, against which
 *  reference and siblings (member indexes). Handed in by the caller (gather/, cli/): the pairing is the
 *  analyzers' rule, this module only reads. */
export type PairsOf = (members: { pid: number; ppid: number; vmas: Vma[]; scanned: number[] }[], pageSize: number, zeroMask: number) => FamilyPair[];

/** A child's pages classified as the family was read (exact tier): classifyExactRuns against reference,
 *  then markSharedFrames against each of siblings, with zeroMask (analyzers/sharing.ts takes them where
 *  its own pair, siblings and zero mask are these). */
export interface ClassesRead {
  child: ProcessCapture;
  reference: ProcessCapture;
  siblings: ProcessCapture[];
  zeroMask: number;
  classes: Uint8Array;
}

export interface GatherOptions {
  roles?: Map<number, Role>;
  command?: string[];
  /** processes that exit (or are replaced) during the scan are left out and listed in `exited`,
   *  except these pids, whose exit is still an error (the target) */
  skipExited?: { except: Set<number> };
  /** resolve once the pagemaps are read, each process's memory totals all zero until `memoryRead`
   *  settles: inspect classifies the pages while the last smaps_rollup is still being read (on a 4 GiB
   *  parent with 3 children, 8% of the whole command's time). A process that exits in between is
   *  skipped by `memoryRead` as by skipExited (it resolves with those), or fails it (the excepted). */
  memoryLater?: boolean;
  /** exact tier: classify the children's pages against their parents (and siblings) as the pagemaps are
   *  read, these pairs (the result's classesRead) */
  classifyWhileReading?: PairsOf;
}

/** The long reads of a list of processes, queued on the thread pool: their maps (read on the JS thread),
 *  the family's pagemaps in one job, each process's smaps_rollup in a job of its own. */
interface StartedReads {
  /** the processes as listed: pid and start time of each, in order */
  key: string;
  tier: Tier;
  zero: ZeroDetection;
  mapped: (Mapped | { info: ProcessInfo; error: unknown })[];
  pagemaps: Promise<(FamilyColumns | ProbeError)[]>;
  rollups: Map<number, Promise<MemoryTotals>>;
  /** the pairs classified as read, by pid: child, reference, siblings; runs and compact as passed */
  pairs: { child: number; reference: number; siblings: number[]; zeroMask: number; runs: Float64Array; compact: boolean }[];
}

const keyOf = (targets: ProcessInfo[]) => targets.map((t) => `${t.pid}@${t.startTime}`).join(' ');

/** Marks the pairs whose child gets no PFN column of its own (compact, rebuilt from the reference's when
 *  read): a child of the target that is no one's reference. Only the target's column is rebuilt from:
 *  the capture fails when the target's read does, so a compact child's reference is always there. (The
 *  addon keeps page indexes in 32 bits.) */
function markCompact(pairs: FamilyPair[], readable: Mapped[], target: ProcessInfo): FamilyPair[] {
  const references = new Set(pairs.map((p) => p.reference));
  const pages = (m: Mapped) => m.starts.reduce((n, start, i) => n + (m.ends[i] - start) / pageSize, 0);
  for (const p of pairs) p.compact = readable[p.reference].info === target && !references.has(p.child) && pages(readable[p.child]) < 2 ** 32;
  return pairs;
}

function startReads(targets: ProcessInfo[], pairsOf?: PairsOf): StartedReads {
  const feat = features();
  const tier: Tier = feat.pfnVisible ? 'exact' : 'exclusive-bit';
  // Exact tier: the zero page is known by its frame. Otherwise PAGEMAP_SCAN flags it (6.7+).
  const zero: ZeroDetection = tier === 'exact' && feat.zeroPfn ? { scan: false, zeroPfn: feat.zeroPfn } : { scan: feat.pagemapScan, zeroPfn: 0 };
  // Maps first, on the JS thread; then every long read at once on the thread pool: the family's pagemaps
  // in one job, in step (native/probe.cc says why), beside each process's smaps_rollup in a job of its own.
  const mapped = targets.map((info) => {
    try {
      return mappingsOf(info);
    } catch (error) {
      return { info, error };
    }
  });
  const readable = mapped.filter((m): m is Mapped => !('error' in m));
  scanProtectedOverlaps(readable);
  // Classified as read only where the frames decide and the read itself finds the zero pages: by their
  // frame, or by PAGEMAP_SCAN window by window (a kernel whose read faults map no zero page gives no
  // frame to know it by). Where the scan fails after all, kpageflags marks them once the read is done,
  // and the classes read are dropped (captureProcesses).
  const members = readable.map((m) => ({ pid: m.info.pid, ppid: m.info.ppid, vmas: m.vmas, scanned: m.scanned }));
  const pairs = pairsOf && tier === 'exact' && (zero.zeroPfn || zero.scan) ? markCompact(pairsOf(members, pageSize, PageFlag.zero), readable, targets[0]) : [];
  const pagemaps = readFamilyPagemapsAsync(readable.map((m) => ({ pid: m.info.pid, starts: m.starts, ends: m.ends })), zero, pairs);
  const rollups = new Map(readable.map((m) => [m.info.pid, readRollupAsync(m.info.pid)]));
  const pid = (i: number) => readable[i].info.pid;
  return {
    key: keyOf(targets),
    tier,
    zero,
    mapped,
    pagemaps,
    rollups,
    pairs: pairs.map((p) => ({
      child: pid(p.child),
      reference: pid(p.reference),
      siblings: p.siblings.map((s) => pid(s.member)),
      zeroMask: p.zeroMask,
      runs: p.runs,
      compact: !!p.compact,
    })),
  };
}

/** Reads started ahead of their captureProcesses call (readFamilyAhead), waiting to be taken over. */
let ahead: StartedReads | undefined;

/** Starts the long reads of pid's live family (liveFamily) now, for the captureProcesses call that will
 *  list the same processes (the listing is kept for the next liveFamily of pid, so it does): cli/main.ts
 *  calls it first thing for `inspect PID`, so that the thread pool reads while the analyzers load
 *  (start-up is measured against smem). Nothing is reported here: an error, or a family that changed
 *  in between, is met by that call, which then reads afresh. Returns the pids whose reads were started
 *  (undefined when none were). With pairsOf, the children's pages are classified as they are read
 *  (GatherOptions.classifyWhileReading). */
export function readFamilyAhead(pid: number, pairsOf?: PairsOf): number[] | undefined {
  ahead = undefined;
  keepListingAhead(undefined);
  try {
    const listing = liveFamily(checkTarget(pid));
    const family = listing.family;
    const started = startReads(family, pairsOf);
    // Settled here too: reads that no call takes over must not end the program as unhandled rejections.
    started.pagemaps.catch(() => undefined);
    for (const r of started.rollups.values()) r.catch(() => undefined);
    ahead = started;
    keepListingAhead(listing);
    return family.map((p) => p.pid);
  } catch {
    return undefined;
  }
}

/** The reads started ahead for exactly these processes (each taken over once), or undefined. */
function takeAhead(targets: ProcessInfo[]): StartedReads | undefined {
  const started = ahead;
  ahead = undefined;
  keepListingAhead(undefined); // a listing not taken by now is not this capture's
  return started && started.key === keyOf(targets) ? started : undefined;
}

/** Reads maps, smaps_rollup and pagemap of each listed process (all must be checked targets): the
 *  rollups and the pagemaps of all processes at once on the thread pool, each read once. */
export async function captureProcesses(
  targets: ProcessInfo[],
  opts: GatherOptions = {},
): Promise<Capture & { exited?: ProcessInfo[]; memoryRead?: Promise<ProcessInfo[]>; classesRead?: ClassesRead[] }> {
  const { tier, zero, mapped, pagemaps, rollups, pairs } = takeAhead(targets) ?? startReads(targets, opts.classifyWhileReading);
  const readable = mapped.filter((m): m is Mapped => !('error' in m));
  // the processes read, by pid (for compact children's columns, rebuilt from their reference's)
  const captured = new Map<number, ProcessCapture>();
  const compactPair = new Map(pairs.filter((p) => p.compact).map((p) => [p.child, p]));
  const pagemapOf = (m: Mapped): Promise<ReadColumns> =>
    pagemaps.then((r) => {
      const pm = r[readable.indexOf(m)];
      if (pm instanceof Error) throw pm;
      const compact = compactPair.get(m.info.pid);
      const reference = () => {
        const ref = compact && captured.get(compact.reference);
        if (!ref) throw new TargetError(`process ${m.info.pid}: its PFNs cannot be rebuilt without its parent's, which was not read`);
        return ref.pages;
      };
      const pages = compact ? rebuiltColumns(pm.flags, compact.runs, pm.pfnChanged!, reference) : { flags: pm.flags, pfn: pm.pfn! };
      return { pages, zeroScan: pm.zeroScan, short: pm.short };
    });
  const settled = await Promise.allSettled(
    mapped.map((m) => captureProcess(m, opts.roles?.get(m.info.pid) ?? 'process', () => [rollups.get(m.info.pid)!, pagemapOf(m as Mapped)], opts.memoryLater)),
  );
  const skipped = (e: unknown, info: ProcessInfo) => opts.skipExited && e instanceof ExitedError && !opts.skipExited.except.has(info.pid);
  const results: { proc: ProcessCapture; zeroScan: boolean; memory?: Promise<void>; info: ProcessInfo }[] = [];
  const exited: ProcessInfo[] = [];
  settled.forEach((r, i) => {
    if (r.status === 'fulfilled') results.push({ ...r.value, info: targets[i] });
    else if (skipped(r.reason, targets[i])) exited.push(targets[i]);
    else throw r.reason;
  });
  // memoryLater: the processes that exited before their totals were read (or the first other failure)
  const memoryRead = opts.memoryLater
    ? Promise.allSettled(results.map((r) => r.memory)).then((late) =>
        late.flatMap((r, i) => {
          if (r.status === 'fulfilled') return [];
          if (skipped(r.reason, results[i].info)) return [results[i].info];
          throw r.reason;
        }),
      )
    : undefined;
  memoryRead?.catch(() => undefined);
  const processes = results.map((r) => r.proc);
  for (const p of processes) captured.set(p.pid, p);
  // the read marked the zero pages itself (by their frame, or PAGEMAP_SCAN over every page)
  const zeroByRead = zero.zeroPfn !== 0 || results.every((r) => r.zeroScan);
  let zeroPagesKnown = zeroByRead;
  if (!zeroPagesKnown && features().kpageflags) {
    for (const p of processes) markZeroByKpageflags(p);
    zeroPagesKnown = true;
  }
  // The classes read with the pagemaps, for the pairs whose processes were all captured, where the flags
  // they were computed from are final (no kpageflags pass marked zero pages after the read).
  const classesRead: ClassesRead[] = [];
  if (pairs.length && zeroByRead) {
    const columns = await pagemaps;
    const classesOf = new Map(readable.map((m, i) => [m.info.pid, columns[i]]));
    for (const p of pairs) {
      const pm = classesOf.get(p.child);
      const [child, reference] = [captured.get(p.child), captured.get(p.reference)];
      const siblings = p.siblings.map((s) => captured.get(s));
      if (!child || !reference || !pm || pm instanceof Error || !pm.classes || !siblings.every((s): s is ProcessCapture => !!s)) continue;
      classesRead.push({ child, reference, siblings, zeroMask: p.zeroMask, classes: pm.classes });
    }
  }
  return {
    meta: {
      tool: 'cowscope',
      version: TOOL_VERSION,
      kernel: os.release(),
      pageSize,
      thp: thpMode(),
      tier,
      zeroPagesKnown,
      time: new Date().toISOString(),
      command: opts.command ?? [],
    },
    processes,
    ...(opts.skipExited ? { exited } : {}),
    ...(memoryRead ? { memoryRead } : {}),
    ...(classesRead.length ? { classesRead } : {}),
  };
}

export { ProbeError };
