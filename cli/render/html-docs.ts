// What each command puts in its HTML report (cli/render/html.ts draws it): children of one parent that
// are alike folded into one group (min–median–max over them, the page map of the median child), memory per process, what would help,
// and for compare the strategies.

import type { Capture, ProcessCapture } from '../../native/capture';
import type { ClassCounts } from '../../analyzers/sharing';
import type { CompareReport } from '../../analyzers/compare';
import type { InspectReport } from '../../analyzers/inspect-report';
import { pageMap } from '../../analyzers/page-map';
import type { ChildBlame, CauseCount } from '../../blame/engine';
import type { RunAnalysis } from '../../analyzers/run-report';
import { REGIONS } from '../../analyzers/regions';
import type { ChildGroup, HtmlDoc, ProcessRow, Spread } from './html';
import { adapterNamed } from '../../runtimes';

/** The strategy steps of a runtime by name (undefined: every step, Ruby's): a cause's fix names only those. */
const stepsOf = (runtime: string | undefined) => (runtime ? adapterNamed(runtime)?.strategySteps : undefined);

/** Savings of `run` are shown at this many workers (the text report's figure). */
const WORKERS = 8;

/** inspect's workers are real: savings at as many as a parent has (the most of any parent), as the text
 *  report projects them (exec'd children left out). */
function liveWorkers(report: InspectReport): number {
  const perParent = new Map<number, number>();
  for (const s of report.sharing) if (!s.execd) perParent.set(s.parent, (perParent.get(s.parent) ?? 0) + 1);
  return Math.max(1, ...perParent.values());
}

function special(capture: Capture) {
  return capture.heapMap ? { region: 'ruby-heap' as const, starts: capture.heapMap.bodies, size: capture.heapMap.heapPageSize } : undefined;
}

/** min, median (the lower middle, a value some child really has) and max */
export function spread(xs: number[]): Spread {
  if (!xs.length) return { min: 0, median: 0, max: 0 };
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[(s.length - 1) >> 1], max: s[s.length - 1] };
}

/** What a group is folded from: one child's counts, blame and page classes. */
interface ChildFacts {
  pid: number;
  pages: ClassCounts;
  regions: { region: string; pages: ClassCounts }[];
  blame: CauseCount[];
  remedies: { strategy: string; pages: number }[];
  byClass: { class: string; pages: number; words: number }[];
  process: ProcessCapture;
  classes: Uint8Array;
  perPage?: ChildBlame['perPage'];
}

function fold(id: string, title: string, kids: ChildFacts[], capture: Capture, pageSize: number, noBlame?: string): ChildGroup {
  const over = (f: (k: ChildFacts) => number) => spread(kids.map(f));
  const keys = <T>(f: (k: ChildFacts) => T[], key: (t: T) => string) => [...new Set(kids.flatMap((k) => f(k).map(key)))];
  const causes = keys((k) => k.blame, (b) => b.cause)
    .map((cause) => ({ cause, ...over((k) => k.blame.find((b) => b.cause === cause)?.pages ?? 0) }))
    .filter((c) => c.max > 0)
    .sort((a, b) => b.median - a.median || b.max - a.max);
  const regions = REGIONS.map((r) => ({ region: r.region as string, ...over((k) => k.regions.find((g) => g.region === r.region)?.pages.copied ?? 0) })).filter((r) => r.max > 0);
  const help = keys((k) => k.remedies, (r) => r.strategy)
    .map((strategy) => ({ strategy, ...over((k) => k.remedies.find((r) => r.strategy === strategy)?.pages ?? 0) }))
    .filter((h) => h.median > 0)
    .sort((a, b) => b.median - a.median);
  // the median child (by copied pages) stands for the group in the page map
  const rep = [...kids].sort((a, b) => a.pages.copied - b.pages.copied || a.pid - b.pid)[(kids.length - 1) >> 1];
  const known = kids.every((k) => k.pages.copiedByParent !== null);
  return {
    id,
    title,
    pids: kids.map((k) => k.pid).sort((a, b) => a - b),
    copied: over((k) => k.pages.copied),
    copiedByParent: known ? over((k) => k.pages.copiedByParent ?? 0) : null,
    shared: over((k) => k.pages.shared),
    new: over((k) => k.pages.new),
    causes,
    regions,
    help,
    topClasses: rep.byClass.slice(0, 8),
    map: pageMap(rep.process, pageSize, rep.classes, special(capture), rep.perPage, capture.faults?.children.find((w) => w.pid === rep.process.pid)),
    noBlame: causes.length ? undefined : noBlame,
  };
}

const memory = (ps: ProcessCapture[]) => ({
  rss: spread(ps.map((p) => p.memory.rss)),
  pss: spread(ps.map((p) => p.memory.pss)),
  uss: spread(ps.map((p) => p.memory.uss)),
});

/** Children alike enough to show as one: copied counts within a quarter of each other (or 16 pages,
 *  for small counts), and at least half of their copied pages blamed alike (the pages per cause they
 *  have in common, over the larger total; workers of one server differ in which of two close causes
 *  comes first, not in what they copy). */
function alike(a: ChildFacts, b: ChildFacts): boolean {
  const big = Math.max(a.pages.copied, b.pages.copied);
  if (Math.abs(a.pages.copied - b.pages.copied) > Math.max(16, big / 4)) return false;
  const total = (k: ChildFacts) => k.blame.reduce((n, c) => n + c.pages, 0);
  const most = Math.max(total(a), total(b));
  if (!most) return true;
  const common = a.blame.reduce((n, c) => n + Math.min(c.pages, b.blame.find((x) => x.cause === c.cause)?.pages ?? 0), 0);
  return common >= most / 2;
}

/** Children split into runs of alike ones, in order of copied pages (each compared with its run's first). */
function foldAlike(kids: ChildFacts[]): ChildFacts[][] {
  const out: ChildFacts[][] = [];
  for (const k of [...kids].sort((a, b) => a.pages.copied - b.pages.copied || a.pid - b.pid)) {
    const run = out.find((r) => alike(r[0], k));
    if (run) run.push(k);
    else out.push([k]);
  }
  return out;
}

const childrenLabel = (pids: number[]) => (pids.length === 1 ? String(pids[0]) : `${pids.length} children (${pids.join(', ')})`);

export function runHtmlDoc(capture: Capture, { report, classes, blames }: RunAnalysis): HtmlDoc {
  const byPid = new Map(capture.processes.map((p) => [p.pid, p]));
  const kids: ChildFacts[] = report.children.map((c) => {
    const b = blames.find((x) => x.pid === c.pid);
    return { pid: c.pid, pages: c.pages, regions: c.regions, blame: c.blame, remedies: c.remedies, byClass: c.byClass, process: byPid.get(c.pid)!, classes: classes.get(c.pid)!, perPage: b?.perPage };
  });
  const n = kids.length;
  const runs = foldAlike(kids);
  const groups = runs.map((run, i) =>
    fold(
      `run${i}`,
      runs.length === 1 ? `${n} child${n === 1 ? '' : 'ren'} against the fork-time image` : `${run.length === 1 ? `child ${run[0].pid}` : `${run.length} children alike`} of ${n}`,
      run,
      capture,
      report.pageSize,
      'no blame: the capture carries no runtime structures',
    ),
  );
  const steps = [...new Set(groups.flatMap((g) => g.help.map((h) => h.strategy)))];
  const one = (pid: number, role: string): ProcessRow => ({ label: String(pid), role, ...memory([byPid.get(pid)!]) });
  return {
    title: `cowscope run: ${report.runtime.name} ${report.runtime.version}, strategy ${report.strategy.label}`,
    facts: [
      `${n} child${n === 1 ? '' : 'ren'} against the fork-time image (a stopped twin forked with them); tier ${report.tier}; ${report.runtime.platform}`,
      `workload: ${report.workload}`,
      // as the text report says it: a Python map lists objects, with no GC heap pages of Ruby's kind
      report.runtime.name === 'python'
        ? `heap map: ${report.heapMap.objects} objects`
        : `heap map: ${report.heapMap.objects} slots (${report.heapMap.free} free) on ${report.heapMap.heapPages} GC heap pages`,
    ],
    pageSize: report.pageSize,
    workers: WORKERS,
    processes: [
      one(report.parent, 'parent'),
      one(report.reference, 'fork-time image'),
      ...groups.map((g) => ({ label: childrenLabel(g.pids), role: g.pids.length === 1 ? 'child' : 'children', ...memory(g.pids.map((pid) => byPid.get(pid)!)) })),
    ],
    groups,
    measureWith: steps.length ? `cowscope compare --strategies none,${steps.join(',')}` : undefined,
    strategySteps: stepsOf(report.runtime.name),
    notes: report.notes,
  };
}

export function inspectHtmlDoc(capture: Capture, report: InspectReport, classes: Map<number, Uint8Array>, blames: Map<number, ChildBlame>): HtmlDoc {
  const byPid = new Map(capture.processes.map((p) => [p.pid, p]));
  const info = new Map(report.processes.map((p) => [p.pid, p]));
  // a child that exec'd after its fork shares nothing of its parent's by design (the notes say so)
  const forked = report.sharing.filter((s) => !s.execd);
  const parents = [...new Set(forked.map((s) => s.parent))];
  const groups = parents.flatMap((parent) => {
    const kids: ChildFacts[] = forked
      .filter((s) => s.parent === parent)
      .map((s) => {
        const b = blames.get(s.pid);
        return {
          pid: s.pid,
          pages: s.pages,
          regions: s.regions,
          blame: s.blame ?? [],
          remedies: b?.remedies ?? [],
          byClass: b?.byClass ?? [],
          process: byPid.get(s.pid)!,
          classes: classes.get(s.pid)!,
          perPage: b?.perPage,
        };
      });
    const noBlame = report.sharing.find((s) => s.parent === parent && s.noBlame)?.noBlame;
    return foldAlike(kids).map((run, i) =>
      fold(
        `p${parent}-${i}`,
        run.length === 1 ? `child ${run[0].pid} of ${parent}` : `${run.length} children of ${parent}, alike`,
        run,
        capture,
        report.pageSize,
        noBlame ? `no blame: ${noBlame}` : 'no blame',
      ),
    );
  });
  const children = new Set(report.sharing.map((s) => s.pid));
  const processes: ProcessRow[] = [
    ...report.processes
      .filter((p) => !children.has(p.pid))
      .map((p) => ({ label: String(p.pid), role: p.role, command: p.command, rss: spread([p.rss]), pss: spread([p.pss]), uss: spread([p.uss]) })),
    ...groups.map((g) => {
      const ps = g.pids.map((pid) => info.get(pid)!);
      return {
        label: childrenLabel(g.pids),
        role: g.pids.length === 1 ? info.get(g.pids[0])!.role : 'children',
        command: g.pids.length === 1 ? ps[0].command : undefined,
        rss: spread(ps.map((p) => p.rss)),
        pss: spread(ps.map((p) => p.pss)),
        uss: spread(ps.map((p) => p.uss)),
      };
    }),
  ];
  // the live maps' runtime, where the children were blamed against maps of one runtime only
  const runtimes = [...new Set((report.liveMaps ?? []).map((m) => m.runtime))];
  return {
    title: `cowscope inspect: ${report.processes.length} processes`,
    strategySteps: runtimes.length === 1 ? stepsOf(runtimes[0]) : undefined,
    facts: [`each child against its parent; tier ${report.tier}${report.liveMap ? '; blame against the live master' : ''}`, `kernel ${report.kernel}; transparent huge pages: ${report.thp}`],
    pageSize: report.pageSize,
    workers: liveWorkers(report),
    processes,
    groups,
    notes: report.notes,
  };
}

export function compareHtmlDoc(report: CompareReport): HtmlDoc {
  return {
    title: `cowscope compare: ${report.runtime.name} ${report.runtime.version}`,
    strategySteps: stepsOf(report.runtime.name),
    facts: [`${report.strategies.length} strategies; tier ${report.tier}; copied = copied + copied by parent, per child; savings at ${report.workers} workers in the verdict`],
    pageSize: report.pageSize,
    workers: report.workers,
    processes: [],
    groups: [],
    verdict: report.verdict,
    strategies: report.strategies.map((s) => ({
      label: s.label,
      runs: s.runs,
      copied: s.copiedPerChild,
      measuredSaved: s.name === 'none' ? null : s.savedPerChild,
      predictedSaved: s.name === 'none' ? null : s.predictedSavedPerChild,
      sharedRatio: s.sharedRatio,
      parentRss: s.parentRss,
      seconds: s.seconds,
      causes: s.blame,
    })),
    notes: [],
  };
}
