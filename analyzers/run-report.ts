// The `run` report: each child of a controlled fork against the fork-time image (the reference twin),
// with the Ruby GC heap as a region of its own. This object is also the JSON contract
// (schema cowscope.run/1): add fields freely, never rename.

import type { Capture, ProcessCapture, Tier } from '../native/capture';
import type { Region } from './regions';
import type { ClassCounts } from './sharing';
import { analyzePair } from './sharing';
import { ChildBlame, blameChild } from '../blame/engine';
import { adapterOf } from '../runtimes';
import { ChildWritersReport, childWriters } from './writers';

export interface RunChild {
  pid: number;
  /** Rack requests this child answered (0 for other workloads) */
  requests: number;
  /** GC runs during the workload */
  gcRuns: number;
  /** the full (Ruby: major) GCs among them, where the capture says */
  gcFullRuns?: number;
  /** why each copied page was copied: one primary cause per page, pages add up to pages.copied */
  blame: ChildBlame['blame'];
  byType: ChildBlame['byType'];
  byClass: ChildBlame['byClass'];
  bySite: ChildBlame['bySite'];
  blameByRegion: ChildBlame['byRegion'];
  /** per strategy step, the copied pages it would save (all of their causes are ones it removes) */
  remedies: ChildBlame['remedies'];
  /** copied pages by the set of causes that wrote them (predicted savings of any strategy) */
  causeSets: ChildBlame['causeSets'];
  /** per strategy step, the copied pages it would add (predicted savings subtract them); reports always
   *  carry it */
  costs?: ChildBlame['costs'];
  effects?: ChildBlame['effects'];
  pages: ClassCounts;
  regions: { region: Region; pages: ClassCounts }[];
  unresolvedTies: number;
  /** the first writer of each copied page, per cause (fault tracing); null in captures without it */
  writers: ChildWritersReport | null;
}

export interface RunReport {
  schema: 'cowscope.run/1';
  tier: Tier;
  pageSize: number;
  time: string;
  runtime: { name: string; version: string; platform: string };
  strategy: { name: string; label: string; seconds: number };
  /** the parent's memory after the children ran (bytes, from smaps_rollup) */
  parentMemory: { rss: number; pss: number; uss: number };
  workload: string;
  parent: number;
  reference: number;
  threadsAtFork: { ruby: number; os: number; threads: { name: string; status: string }[] };
  heapMap: { objects: number; free: number; heapPages: number; heapPageSize: number; malformed: number; seconds: number };
  /** the program's state at the fork point, before the strategy ran: GC runs and GC heap pages so far (the
   *  heap pages null where the runtime does not say). A program's boot ends in one of a few heap sizes
   *  (when its GCs ran), and what a child copies depends on it: compare checks predictions on runs that
   *  booted alike */
  boot: { gcCount: number; heapPages: number | null };
  children: RunChild[];
  notes: string[];
}

/** A run analysed once: the report, and what renderers need besides it (page classes, per-page blame). */
export interface RunAnalysis {
  report: RunReport;
  classes: Map<number, Uint8Array>;
  blames: ChildBlame[];
}

/** Blame for every child of a run capture (empty when the capture carries no runtime structures). */
export function blameRun(capture: Capture): ChildBlame[] {
  const adapter = adapterOf(capture);
  if (!adapter || !capture.diffs || !capture.run) return [];
  return capture.run.children.map((pid, i) => blameChild(adapter, capture, capture.diffs!.find((d) => d.pid === pid)!, capture.run!.gcRuns[i] ?? 0));
}

function runPairs(capture: Capture): { child: ProcessCapture; reference: ProcessCapture; parent: ProcessCapture }[] {
  const run = capture.run!;
  const byPid = new Map(capture.processes.map((p) => [p.pid, p]));
  return run.children.map((pid) => ({ child: byPid.get(pid)!, reference: byPid.get(run.reference)!, parent: byPid.get(run.parent)! }));
}

function analyzeRunPair(capture: Capture, p: { child: ProcessCapture; reference: ProcessCapture; parent: ProcessCapture }) {
  const heap = capture.heapMap;
  return analyzePair(capture, p.child, p.reference, {
    parent: p.parent,
    special: heap ? { region: 'ruby-heap', starts: heap.bodies, size: heap.heapPageSize } : undefined,
  });
}

/** RunInfo.workload of a run whose children ran nothing: no --workload file, no Rack or WSGI requests, and
 *  no workload block or function registered by the fork point (one registered after it never runs). */
export const NO_WORKLOAD = 'none: the program registered no workload before the fork point';

/** How a program of the runtime registers its workload (the no-workload warning and note say it). */
export function workloadHint(runtime: string): string {
  return `${registerHint(runtime)}, or give --workload FILE`;
}

/** How a program of the runtime registers its workload in its own code. */
export function registerHint(runtime: string): string {
  return runtime === 'python' ? 'call cowscope.workload(fn) before cowscope.fork_point()' : 'register Cowscope.workload { … } before Cowscope.fork_point';
}

export function runReport(capture: Capture): RunReport {
  return analyzeRun(capture).report;
}

/** `lap`, when given, is told the end of the blame and of the page classes (--debug). */
export function analyzeRun(capture: Capture, lap = (_step: string) => undefined as void): RunAnalysis {
  const run = capture.run;
  const runtime = capture.runtime;
  if (!run || !runtime) throw new Error('not a capture of cowscope run');
  const blames = blameRun(capture);
  lap('blame');
  const classes = new Map<number, Uint8Array>();
  const children = runPairs(capture).map((p, i) => {
    const { sharing, classes: c } = analyzeRunPair(capture, p);
    classes.set(sharing.pid, c);
    const b = blames.find((x) => x.pid === sharing.pid);
    return {
      pid: sharing.pid,
      requests: run.requestsServed[i] ?? 0,
      gcRuns: run.gcRuns[i] ?? 0,
      ...(run.gcFullRuns?.[i] !== undefined ? { gcFullRuns: run.gcFullRuns[i] } : {}),
      pages: sharing.pages,
      regions: sharing.regions,
      unresolvedTies: sharing.unresolvedTies,
      blame: b?.blame ?? [],
      byType: b?.byType ?? [],
      byClass: b?.byClass ?? [],
      bySite: b?.bySite ?? [],
      blameByRegion: b?.byRegion ?? [],
      remedies: b?.remedies ?? [],
      causeSets: b?.causeSets ?? [],
      costs: b?.costs ?? [],
      effects: b?.effects ?? [],
      writers: childWriters(capture, sharing.pid, b, sharing.pages.copied),
    };
  });
  lap('classes and writers');
  const rubyThreads = run.threadsAtFork.length;
  const notes: string[] = [...(adapterOf(capture)?.notes(capture, blames) ?? [])];
  if (capture.meta.tier === 'exclusive-bit')
    notes.push('not root: copiedByParent cannot be told (null), and shared pages were confirmed by comparing contents with the fork-time image');
  if (capture.faults && !capture.faults.traced) notes.push(`fault tracing did not run: ${capture.faults.why}; copied pages have no first writer`);
  if (capture.heapMap?.malformed) notes.push(`${capture.heapMap.malformed} malformed lines in the heap map were skipped`);
  if (!adapterOf(capture))
    notes.push(`no blame: the capture holds no ${runtime.name} structures (its ${runtime.name} section is missing: a capture edited or cut short), so copied pages have no cause`);
  if (run.workload === NO_WORKLOAD)
    notes.push(
      `the children ran no workload: the program registered none before the fork point (${workloadHint(runtime.name)}); what they copied is the fork's and their exit's own`,
    );
  const report: RunReport = {
    schema: 'cowscope.run/1',
    tier: capture.meta.tier,
    pageSize: capture.meta.pageSize,
    time: capture.meta.time,
    runtime: { name: runtime.name, version: runtime.version, platform: runtime.platform },
    strategy: { name: run.strategy, label: run.strategyLabel ?? run.strategy, seconds: run.strategySeconds },
    parentMemory: (({ rss, pss, uss }) => ({ rss, pss, uss }))(capture.processes.find((p) => p.pid === run.parent)!.memory),
    workload: run.workload,
    parent: run.parent,
    reference: run.reference,
    threadsAtFork: { ruby: rubyThreads, os: run.osThreadsAtFork, threads: run.threadsAtFork },
    heapMap: {
      objects: capture.heapMap?.objects ?? 0,
      free: capture.heapMap?.free ?? 0,
      heapPages: capture.heapMap?.bodies.length ?? 0,
      heapPageSize: runtime.heapPageSize,
      malformed: capture.heapMap?.malformed ?? 0,
      seconds: run.heapMapSeconds,
    },
    boot: { gcCount: run.gcCountAtFork, heapPages: run.heapPagesAtForkPoint ?? null },
    children,
    notes,
  };
  return { report, classes, blames };
}
