// Fork strategies side by side: per strategy, the median and spread of what each child copied over
// several runs, the shared ratio, the parent's RSS, the strategy's own time and the top causes; sorted
// best first, with the difference from `none` measured and predicted, and a decision that calls a
// strategy better only when its range is clear of none's. This object is the JSON contract (schema
// cowscope.compare/1; sizes in bytes): add fields freely, never rename. The words of the verdict are
// the renderer's (cli/render/compare-text.ts), in the same units as the rest of the text.

import type { RunReport } from './run-report';
import { netSavedPages } from '../blame/remedies';
import { withinNoise } from './noise';

export interface StrategyRuns {
  name: string;
  reports: RunReport[];
}

export interface StrategySummary {
  name: string;
  /** what really ran, e.g. "warmup (emulated)" */
  label: string;
  emulated: boolean;
  runs: number;
  /** bytes copied per child (copied + copiedByParent), over every child of every run; the median is
   *  the lower middle value, one child's own (whole pages) */
  copiedPerChild: { median: number; min: number; max: number };
  /** the median child's bytes copied by its own writes (copied alone: not the pages the parent wrote after
   *  the fork, which the controlled fork's parent writes as it waits, whatever the strategy) */
  ownCopiedPerChild: number;
  /** bytes of pages only the child has (new since the fork), median per child */
  newPerChild: number;
  /** shared pages / resident pages of the children's private mappings (median) */
  sharedRatio: number;
  parentRss: number;
  seconds: number;
  /** median pages per child and cause (lower middle: whole pages), every cause, most first */
  blame: { cause: string; pages: number }[];
  /** against `none` (null when none was not run): bytes per child less (a saving is positive; negative:
   *  more) and that in % of none's */
  savedPerChild: number | null;
  savedPercent: number | null;
  /** savedPerChild of the children's own writes (ownCopiedPerChild): what blame of none's children
   *  predicts, and what the prediction is checked against */
  ownSavedPerChild: number | null;
  /** what blame of the `none` runs predicted this strategy would save per child (bytes; median over
   *  none's children), null without none runs */
  predictedSavedPerChild: number | null;
  /** the prediction checked on runs that booted alike (RunReport.boot): the GC heap size at the fork
   *  point (to within 2%) that none's runs and this strategy's share most runs of, and over those runs
   *  alone the saving predicted from none's and the saving measured. A program's boot ends in one of a few heap sizes,
   *  and what its children copy depends on it (the Rails app on 3.3.8: 179 or 200 pages, ~5,150 or ~5,040
   *  copied pages per child with none): a saving measured between runs of different boots holds that
   *  difference too. null: none was not run, the runtime does not say, or no size is in common. */
  sameBoot: {
    heapPages: number;
    noneRuns: number;
    runs: number;
    predictedSavedPerChild: number;
    savedPerChild: number;
    ownSavedPerChild: number;
    /** the GC facts of those runs alone, the strategy's and none's (what unmodelledChanges compares) */
    gc: { strategy: GcFacts; none: GcFacts };
  } | null;
  /** the median child's GCs during the workload, and the major ones among them (null where the runs do
   *  not say). Blame predicts from what none's children wrote, as if every strategy's children ran the
   *  same GCs: a strategy that changes them (a GC before the fork resets the allocation counters that
   *  start the next one) saves or costs what no cause of none's names */
  childGcs: { runs: number; major: number | null };
  /** the GC heap pages of the parent at the fork, after the strategy ran (the heap map's count; median),
   *  null where the runtime does not say: a GC before the fork can release whole pages, a prewarm grow the heap */
  heapPagesAtFork: number | null;
}

/** What the runs allow to say. `better` only when the best strategy's min–max range (over every child
 *  of every run) lies wholly below none's and the medians differ by more than run-to-run noise (8 pages or
 *  5%: one run each can differ by a page or two); ranges that overlap, or medians within noise
 *  (`why: 'noise'`), are `unclear`; so is a strategy whose children's new memory (pages of their own, not
 *  copied: garbage disable leaves uncollected) grew by more than it saved (`why: 'new-memory'`). */
/** passedOver: strategies that copied less than the one decided on but gave no gain (their children's new
 *  memory grew by more than they saved), best first */
export type Decision =
  | { kind: 'better'; strategy: string; runs: number; passedOver?: string[] }
  | { kind: 'unclear'; strategy: string; runs: number; why?: 'noise' | 'new-memory'; passedOver?: string[] }
  | { kind: 'none-best'; runs: number }
  | { kind: 'no-none'; strategy: string; runs: number };

export interface CompareAnalysis {
  schema: 'cowscope.compare/1';
  tier: string;
  pageSize: number;
  runtime: { name: string; version: string; platform: string };
  workers: number;
  strategies: StrategySummary[];
  decision: Decision;
}

export interface CompareReport extends CompareAnalysis {
  /** the decision in words (as the text prints it, sizes in K/M/G) */
  verdict: string;
  /** what the text says below its table, in its words: each prediction off by more than
   *  PREDICTION_TOLERANCE */
  notes: string[];
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return 0;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The lower middle value: always one of xs (a child's own count, so whole pages), unlike median(). */
export function lowerMedian(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[(s.length - 1) >> 1] : 0;
}

/** Do the ranges [a.min, a.max] and [b.min, b.max] share a value? */
export function overlap(a: { min: number; max: number }, b: { min: number; max: number }): boolean {
  return a.min <= b.max && b.min <= a.max;
}

/** Bytes copied per child, every child of the reports. */
function copiedOf(reports: RunReport[]): number[] {
  return reports.flatMap((r) => r.children.map((c) => (c.pages.copied + (c.pages.copiedByParent ?? 0)) * r.pageSize));
}

/** Bytes each child of the reports copied by its own writes (StrategySummary.ownCopiedPerChild). */
function ownCopiedOf(reports: RunReport[]): number[] {
  return reports.flatMap((r) => r.children.map((c) => c.pages.copied * r.pageSize));
}

/** What a strategy's runs did that blame of none's children cannot see: the children's GCs (median
 *  runs, major ones where told) and the parent's GC heap at the fork (the heap map's count). */
export type GcFacts = Pick<StrategySummary, 'childGcs' | 'heapPagesAtFork'>;

function gcFacts(reports: RunReport[]): GcFacts {
  const children = reports.flatMap((r) => r.children);
  return {
    childGcs: {
      runs: lowerMedian(children.map((c) => c.gcRuns)),
      major: children.every((c) => c.gcFullRuns !== undefined) ? lowerMedian(children.map((c) => c.gcFullRuns!)) : null,
    },
    heapPagesAtFork: reports.every((r) => r.heapMap?.heapPages > 0) ? lowerMedian(reports.map((r) => r.heapMap.heapPages)) : null,
  };
}

function summarize(s: StrategyRuns): Omit<StrategySummary, 'savedPerChild' | 'savedPercent' | 'ownSavedPerChild' | 'predictedSavedPerChild' | 'sameBoot'> {
  const ps = s.reports[0].pageSize;
  const children = s.reports.flatMap((r) => r.children);
  const copied = copiedOf(s.reports);
  const ratios = children.map((c) => {
    const resident = c.pages.shared + c.pages.copied + (c.pages.copiedByParent ?? 0) + c.pages.new;
    return resident ? c.pages.shared / resident : 1;
  });
  const causes = new Set(children.flatMap((c) => c.blame.map((b) => b.cause)));
  const blame = [...causes]
    .map((cause) => ({ cause, pages: lowerMedian(children.map((c) => c.blame.find((b) => b.cause === cause)?.pages ?? 0)) }))
    .filter((b) => b.pages > 0)
    .sort((a, b) => b.pages - a.pages);
  const label = s.reports[0].strategy.label;
  return {
    name: s.name,
    label,
    emulated: /emulated/.test(label),
    runs: s.reports.length,
    copiedPerChild: { median: lowerMedian(copied), min: Math.min(...copied), max: Math.max(...copied) },
    ownCopiedPerChild: lowerMedian(ownCopiedOf(s.reports)),
    newPerChild: lowerMedian(children.map((c) => c.pages.new * ps)),
    sharedRatio: median(ratios),
    parentRss: median(s.reports.map((r) => r.parentMemory.rss)),
    seconds: median(s.reports.map((r) => r.strategy.seconds)),
    blame,
    ...gcFacts(s.reports),
  };
}

/** The saving blame predicts for a strategy from the `none` runs: per child, the pages all of whose causes
 *  the strategy removes, less the pages its steps would add (the runtime's costs); the median over every
 *  child of every run, in bytes. */
function predicted(none: RunReport[], strategy: string): number {
  const ps = none[0].pageSize;
  if (strategy === 'none') return 0;
  return lowerMedian(none.flatMap((r) => r.children).map((c) => netSavedPages(c.causeSets ?? [], c.costs ?? [], strategy, c.effects ?? []) * ps));
}

/** Heap sizes at the fork point this close (a share of the size) count as one boot state: a boot's last
 *  GCs can leave a page or two more or less (Rails on 3.1.2: 428 or 429 pages; 3.3.8: 179-184 or 199-200). */
const SAME_BOOT_SHARE = 0.02;

/** StrategySummary.sameBoot: of the heap sizes at the fork point that none's runs and the strategy's both
 *  come near (within SAME_BOOT_SHARE), the one with most runs of both near it (then the larger size), and
 *  the prediction and the saving over those runs alone. */
function sameBoot(none: RunReport[], s: StrategyRuns): StrategySummary['sameBoot'] {
  const sizeOf = (r: RunReport) => r.boot?.heapPages;
  const near = (reports: RunReport[], h: number) => reports.filter((r) => typeof sizeOf(r) === 'number' && Math.abs(sizeOf(r)! - h) <= SAME_BOOT_SHARE * h);
  const candidates = [...new Set([...none, ...s.reports].map(sizeOf).filter((h): h is number => typeof h === 'number'))];
  const best = candidates
    .map((h) => ({ h, none: near(none, h), runs: near(s.reports, h) }))
    .filter((c) => c.none.length && c.runs.length)
    .sort((a, b) => b.none.length + b.runs.length - (a.none.length + a.runs.length) || b.h - a.h)[0];
  if (!best) return null;
  return {
    heapPages: best.h,
    noneRuns: best.none.length,
    runs: best.runs.length,
    predictedSavedPerChild: predicted(best.none, s.name),
    savedPerChild: lowerMedian(copiedOf(best.none)) - lowerMedian(copiedOf(best.runs)),
    ownSavedPerChild: lowerMedian(ownCopiedOf(best.none)) - lowerMedian(ownCopiedOf(best.runs)),
    gc: { strategy: gcFacts(best.runs), none: gcFacts(best.none) },
  };
}

/** How far a prediction may be from the measured saving, as a share of none's copied bytes per child,
 *  before the text flags it. */
export const PREDICTION_TOLERANCE = 0.1;

/** A strategy's prediction against its measured saving of the children's own writes (bytes per child;
 *  ownSavedPerChild, savedPerChild in a report made before it was kept): over the runs that booted
 *  alike where the runs say (sameBoot), else over all; gap: |predicted − measured| as a share of none's
 *  copied bytes per child. null without a prediction (none not run, or none itself). */
export function predictionCheck(
  s: Pick<StrategySummary, 'name' | 'predictedSavedPerChild' | 'savedPerChild'> & { ownSavedPerChild?: number | null; sameBoot?: StrategySummary['sameBoot'] },
  none: { copiedPerChild: { median: number } },
): { predicted: number; measured: number; gap: number } | null {
  if (s.name === 'none' || s.predictedSavedPerChild === null || s.savedPerChild === null) return null;
  // the children's own writes: the pages the parent wrote after the fork are the controlled fork's (its
  // wait for the release), no cause of the children's, and differ by a few pages from strategy to
  // strategy (prewarm's parent runs call sites the workload ran before; object_ids.rb on 3.4.5: 13 pages
  // with none, 22 with prewarm)
  const [predicted, measured] = s.sameBoot
    ? [s.sameBoot.predictedSavedPerChild, s.sameBoot.ownSavedPerChild ?? s.sameBoot.savedPerChild]
    : [s.predictedSavedPerChild, s.ownSavedPerChild ?? s.savedPerChild];
  return { predicted, measured, gap: none.copiedPerChild.median ? Math.abs(predicted - measured) / none.copiedPerChild.median : 0 };
}

/** What the strategy's runs did differently from none's that blame of none's children cannot see: the
 *  children's GCs (runs, major ones), the parent's GC heap size at the fork (off by more than
 *  SAME_BOOT_SHARE). Said where a prediction misses, as the likely reasons. */
export function unmodelledChanges(
  s: Pick<StrategySummary, 'childGcs' | 'heapPagesAtFork'>,
  none: Pick<StrategySummary, 'childGcs' | 'heapPagesAtFork'>,
): { childGcs?: { strategy: StrategySummary['childGcs']; none: StrategySummary['childGcs'] }; heapPagesAtFork?: { strategy: number; none: number } } {
  const out: ReturnType<typeof unmodelledChanges> = {};
  const [a, b] = [s.childGcs, none.childGcs];
  if (a.runs !== b.runs || (a.major !== null && b.major !== null && a.major !== b.major)) out.childGcs = { strategy: a, none: b };
  const [p, q] = [s.heapPagesAtFork, none.heapPagesAtFork];
  if (p !== null && q !== null && Math.abs(p - q) > SAME_BOOT_SHARE * Math.max(p, q)) out.heapPagesAtFork = { strategy: p, none: q };
  return out;
}

function decide(strategies: StrategySummary[], pageSize: number): Decision {
  const none = strategies.find((s) => s.name === 'none');
  if (!none) return { kind: 'no-none', strategy: strategies[0].name, runs: strategies[0].runs };
  // the strategies that copied less than none, least first (strategies is sorted so)
  const gains = strategies.filter((s) => s.name !== 'none' && (s.savedPerChild ?? 0) > 0);
  if (!gains.length) return { kind: 'none-best', runs: Math.min(strategies[0].runs, none.runs) };
  // Copying less is no gain when the children fill as much more memory of their own (found: disable
  // saved 108K of copies per child and grew each child's new pages by 32M): the verdict is the next
  // strategy's, naming those passed over (QA: disable copied 7.9M less and filled 61.9M more, and the
  // headline named only it, "no gain", where freeze saved 7.8M)
  const fills = (s: StrategySummary) => s.newPerChild - none.newPerChild >= (s.savedPerChild ?? 0);
  const at = gains.findIndex((s) => !fills(s));
  if (at < 0) return { kind: 'unclear', strategy: gains[0].name, runs: Math.min(gains[0].runs, none.runs), why: 'new-memory' };
  const best = gains[at];
  const passed = at ? { passedOver: gains.slice(0, at).map((s) => s.name) } : {};
  const runs = Math.min(best.runs, none.runs);
  if (overlap(best.copiedPerChild, none.copiedPerChild)) return { kind: 'unclear', strategy: best.name, runs, ...passed };
  if (withinNoise(best.copiedPerChild.median / pageSize, none.copiedPerChild.median / pageSize)) return { kind: 'unclear', strategy: best.name, runs, why: 'noise', ...passed };
  return { kind: 'better', strategy: best.name, runs, ...passed };
}

/** The comparison of the strategies' runs: everything of the report but the verdict's words, which
 *  the command adds (cli/render/compare-text.ts verdictText) so that they match the text's units. */
export function compareReport(runs: StrategyRuns[], workers: number): CompareAnalysis {
  const first = runs[0].reports[0];
  const summaries = runs.map(summarize);
  const none = summaries.find((s) => s.name === 'none');
  const noneRuns = runs.find((r) => r.name === 'none');
  const strategies: StrategySummary[] = summaries
    .map((s) => {
      const saved = none ? none.copiedPerChild.median - s.copiedPerChild.median : null;
      return {
        ...s,
        predictedSavedPerChild: noneRuns ? predicted(noneRuns.reports, s.name) : null,
        sameBoot: noneRuns && s.name !== 'none' ? sameBoot(noneRuns.reports, runs.find((r) => r.name === s.name)!) : null,
        savedPerChild: saved,
        savedPercent: none && saved !== null && none.copiedPerChild.median ? (100 * saved) / none.copiedPerChild.median : null,
        ownSavedPerChild: none ? none.ownCopiedPerChild - s.ownCopiedPerChild : null,
      };
    })
    .sort((a, b) => a.copiedPerChild.median - b.copiedPerChild.median);
  return {
    schema: 'cowscope.compare/1',
    tier: first.tier,
    pageSize: first.pageSize,
    runtime: first.runtime,
    workers,
    strategies,
    decision: decide(strategies, first.pageSize),
  };
}
