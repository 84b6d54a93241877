// Human rendering of compare: the verdict first, then the strategies best first. A difference from
// `none` is said in words ("less", "more") in every column and in the verdict, so no sign has to be
// read; sizes are K/M/G (raw bytes with --bytes) as everywhere else.
import { NOISE_PAGES } from '../../analyzers/noise';
import type { CompareAnalysis, StrategySummary } from '../../analyzers/compare';
import { overlap, PREDICTION_TOLERANCE, predictionCheck, unmodelledChanges } from '../../analyzers/compare';
import { renderTable } from './table';
import { formatSpread } from './spread';
import { formatSize } from './units';
import { escapeControl as esc } from './escape';

const TOP_CAUSES = 3;

/** "96.0K less" / "24.0K more" / "the same": a difference from none, saving positive. */
function difference(saved: number, size: (b: number) => string): string {
  if (saved === 0) return 'the same';
  return `${size(Math.abs(saved))} ${saved > 0 ? 'less' : 'more'}`;
}

const runsWord = (n: number) => `${n} run${n === 1 ? '' : 's'}`;

export function verdictText(r: CompareAnalysis, bytes = false): string {
  const size = (b: number) => formatSize(b, bytes);
  const d = r.decision;
  const of = (name: string) => r.strategies.find((s) => s.name === name)!;
  const noGain = (s: StrategySummary, runs: number) =>
    `no gain: ${s.label} copied ${size(s.savedPerChild!)} less per child than none, but its children's new memory (pages of their own) grew by ${size(s.newPerChild - of('none').newPerChild)} per child (${runsWord(runs)} each)`;
  // the strategies that copied less but gave no gain, after the verdict on the next one
  const passedOver = (names: string[] | undefined) => (names ?? []).map((n) => `; ${noGain(of(n), Math.min(of(n).runs, of('none').runs))}`).join('');
  const range = (s: StrategySummary) => `${size(s.copiedPerChild.min)}–${size(s.copiedPerChild.max)}`;
  switch (d.kind) {
    case 'no-none': {
      const best = of(d.strategy);
      return `no verdict without none: ${best.label} copied least, ${size(best.copiedPerChild.median)} per child; run none too to see what a strategy saves`;
    }
    case 'none-best':
      return `best: none — no strategy copied less than doing nothing (${runsWord(d.runs)} each)`;
    case 'unclear': {
      const best = of(d.strategy);
      if (d.why === 'new-memory') return noGain(best, d.runs);
      return (
        `no clear difference at ${runsWord(d.runs)}: ${best.label} copied ${range(best)} per child, none ${range(of('none'))}; ` +
        (d.why === 'noise' ? `within run-to-run noise (${NOISE_PAGES} pages or 5%)` : 'the ranges overlap (more runs, --repeat, may tell)') +
        passedOver(d.passedOver)
      );
    }
    case 'better': {
      const best = of(d.strategy);
      return (
        `best: ${best.label} — ${difference(best.savedPerChild!, size)} per child (${best.savedPercent!.toFixed(0)}%) than none, ` +
        `its range clear of none's over ${runsWord(d.runs)}; at ${r.workers} workers that is ${size(best.savedPerChild! * r.workers)}` +
        passedOver(d.passedOver)
      );
    }
  }
}

/** The predictions that missed the measured saving by more than PREDICTION_TOLERANCE of none's copied
 *  bytes: one line each, with the runs they were checked on (compare --json's notes too). */
export function predictionFlags(r: CompareAnalysis, size: (b: number) => string): string[] {
  const none = r.strategies.find((s) => s.name === 'none');
  if (!none) return [];
  return r.strategies.flatMap((s) => {
    const check = predictionCheck(s, none);
    if (!check || check.gap <= PREDICTION_TOLERANCE) return [];
    const on = s.sameBoot ? `runs that booted to ${s.sameBoot.heapPages} heap pages (${runsWord(s.sameBoot.noneRuns)} of none, ${runsWord(s.sameBoot.runs)} of ${esc(s.name)})` : 'all runs';
    return [
      `prediction off for ${esc(s.label)}: predicted ${difference(check.predicted, size)}, measured ${difference(check.measured, size)} per child on ${on}, ` +
        `${(100 * check.gap).toFixed(0)}% of none's copied (over ${(100 * PREDICTION_TOLERANCE).toFixed(0)}%): the strategy changes what blame does not model here${unmodelledText(s, none)}`,
    ];
  });
}

/** ": its children ran 2 GCs (no major) against none's 5 GCs (1 major); ..." — what differed from none's runs
 *  that blame of none's children cannot see, or nothing. */
function unmodelledText(s: StrategySummary, none: StrategySummary): string {
  // on the runs the prediction was checked on: those that booted alike, where there are such
  const d = s.sameBoot ? unmodelledChanges(s.sameBoot.gc.strategy, s.sameBoot.gc.none) : unmodelledChanges(s, none);
  const gcs = (g: StrategySummary['childGcs']) =>
    g.runs === 0 ? 'no GC' : `${g.runs} GC${g.runs === 1 ? '' : 's'}${g.major === null ? '' : ` (${g.major === 0 ? 'no' : g.major} major)`}`;
  const facts = [
    d.childGcs && `its children ran ${gcs(d.childGcs.strategy)} against none's ${gcs(d.childGcs.none)}`,
    d.heapPagesAtFork && `its parent's GC heap held ${d.heapPagesAtFork.strategy} heap pages at the fork against none's ${d.heapPagesAtFork.none}`,
  ].filter(Boolean);
  return facts.length ? `: ${facts.join('; ')}` : '';
}

export function renderCompareText(r: CompareAnalysis, bytes: boolean): string {
  const size = (b: number) => formatSize(b, bytes);
  const flags = predictionFlags(r, size);
  const none = r.strategies.find((s) => s.name === 'none');
  const rows = r.strategies.map((s) => {
    const baseline = s.name === 'none';
    const unclear = none && overlap(s.copiedPerChild, none.copiedPerChild) ? ', ranges overlap' : '';
    const measured =
      s.savedPerChild === null ? 'run none too' : baseline ? '(baseline)' : `${difference(s.savedPerChild, size)} (${Math.abs(s.savedPercent!).toFixed(0)}%)${unclear}`;
    const predicted = s.predictedSavedPerChild === null ? 'run none too' : baseline ? '(baseline)' : `${difference(s.predictedSavedPerChild, size)}`;
    return [
      esc(s.label),
      s.runs,
      formatSpread(s.copiedPerChild, size),
      measured,
      predicted,
      `${(100 * s.sharedRatio).toFixed(1)}%`,
      size(s.parentRss),
      `${s.seconds.toFixed(2)} s`,
      s.blame
        .slice(0, TOP_CAUSES)
        .map((b) => `${b.cause} ${size(b.pages * r.pageSize)}`)
        .join(', '),
    ];
  });
  return [
    `cowscope compare: ${esc(r.runtime.name)} ${esc(r.runtime.version)}, tier ${r.tier}, ${r.workers} workers projected`,
    '',
    verdictText(r, bytes),
    '',
    'Strategies, best first (copied per child = copied + copied-by-parent, over every child of every run; vs none: measured, and predicted from none\'s causes, less what the steps cost)',
    renderTable(
      ['STRATEGY', 'RUNS', 'COPIED PER CHILD (MIN–MEDIAN–MAX)', 'MEASURED VS NONE', 'PREDICTED VS NONE', 'SHARED', 'PARENT RSS', 'TIME', 'TOP CAUSES PER CHILD'],
      rows,
      [1, 2, 3, 4, 5, 6, 7],
    ),
    ...(flags.length ? ['', ...flags] : []),
    '',
  ].join('\n');
}
