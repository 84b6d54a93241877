// Fork strategies side by side: per strategy, the median and spread of what each child copied over
// several runs, the shared ratio, the parent's RSS, the strategy's own time and the top causes; sorted
// best first, with the difference from `none`. This object is the JSON contract (schema
// cowscope.compare/1; sizes in bytes): add fields freely, never rename.

import type { RunReport } from './run-report';
import { savedPages } from '../blame/remedies';

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
  /** bytes copied per child (copied + copiedByParent), over every child of every run */
  copiedPerChild: { median: number; min: number; max: number };
  /** bytes of pages only the child has (new since the fork), median per child */
  newPerChild: number;
  /** shared pages / resident pages of the children's private mappings (median) */
  sharedRatio: number;
  parentRss: number;
  seconds: number;
  /** median pages per child and cause, every cause, most first */
  blame: { cause: string; pages: number }[];
  /** against `none` (null when none was not run): bytes per child less (negative: more) and that in % */
  savedPerChild: number | null;
  savedPercent: number | null;
  /** what blame of the `none` runs predicted this strategy would save per child (bytes; median over
   *  none's children), null without none runs */
  predictedSavedPerChild: number | null;
}

export interface CompareReport {
  schema: 'cowscope.compare/1';
  tier: string;
  pageSize: number;
  runtime: { name: string; version: string; platform: string };
  workers: number;
  strategies: StrategySummary[];
  verdict: string;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return 0;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const MIB = 1024 * 1024;
const mib = (b: number) => `${(b / MIB).toFixed(1)} MiB`;

function summarize(s: StrategyRuns): Omit<StrategySummary, 'savedPerChild' | 'savedPercent' | 'predictedSavedPerChild'> {
  const ps = s.reports[0].pageSize;
  const children = s.reports.flatMap((r) => r.children);
  const copied = children.map((c) => (c.pages.copied + (c.pages.copiedByParent ?? 0)) * ps);
  const ratios = children.map((c) => {
    const resident = c.pages.shared + c.pages.copied + (c.pages.copiedByParent ?? 0) + c.pages.new;
    return resident ? c.pages.shared / resident : 1;
  });
  const causes = new Set(children.flatMap((c) => c.blame.map((b) => b.cause)));
  const blame = [...causes]
    .map((cause) => ({ cause, pages: median(children.map((c) => c.blame.find((b) => b.cause === cause)?.pages ?? 0)) }))
    .filter((b) => b.pages > 0)
    .sort((a, b) => b.pages - a.pages);
  const label = s.reports[0].strategy.label;
  return {
    name: s.name,
    label,
    emulated: /emulated/.test(label),
    runs: s.reports.length,
    copiedPerChild: { median: median(copied), min: Math.min(...copied), max: Math.max(...copied) },
    newPerChild: median(children.map((c) => c.pages.new * ps)),
    sharedRatio: median(ratios),
    parentRss: median(s.reports.map((r) => r.parentMemory.rss)),
    seconds: median(s.reports.map((r) => r.strategy.seconds)),
    blame,
  };
}

/** The saving blame predicts for a strategy from the `none` runs: per child, the pages all of whose causes
 *  the strategy removes; the median over every child of every run, in bytes. */
function predicted(none: StrategyRuns, strategy: string): number {
  const ps = none.reports[0].pageSize;
  if (strategy === 'none') return 0;
  return median(none.reports.flatMap((r) => r.children).map((c) => savedPages(c.causeSets ?? [], strategy) * ps));
}

export function compareReport(runs: StrategyRuns[], workers: number): CompareReport {
  const first = runs[0].reports[0];
  const summaries = runs.map(summarize);
  const none = summaries.find((s) => s.name === 'none');
  const noneRuns = runs.find((r) => r.name === 'none');
  const strategies: StrategySummary[] = summaries
    .map((s) => {
      const saved = none ? none.copiedPerChild.median - s.copiedPerChild.median : null;
      return {
        ...s,
        predictedSavedPerChild: noneRuns ? predicted(noneRuns, s.name) : null,
        savedPerChild: saved,
        savedPercent: none && saved !== null && none.copiedPerChild.median ? (100 * saved) / none.copiedPerChild.median : null,
      };
    })
    .sort((a, b) => a.copiedPerChild.median - b.copiedPerChild.median);
  const best = strategies[0];
  let verdict: string;
  if (!none) verdict = `best: ${best.label} — ${mib(best.copiedPerChild.median)} copied per child (run none too for the difference)`;
  else if (best.name === 'none' || (best.savedPerChild ?? 0) <= 0) verdict = `best: none — no strategy copied less than doing nothing`;
  else
    verdict =
      `best: ${best.label} — ${mib(best.savedPerChild!)} less per child (${best.savedPercent!.toFixed(0)}%) than none; ` +
      `at ${workers} workers that is ${mib(best.savedPerChild! * workers)}`;
  return {
    schema: 'cowscope.compare/1',
    tier: first.tier,
    pageSize: first.pageSize,
    runtime: first.runtime,
    workers,
    strategies,
    verdict,
  };
}
