// The answer every text report opens with: how much each child stopped sharing, the top causes, and
// what would help (the strategies whose remedies cover the copied pages), with the saving per child and
// across a number of workers.
import type { ClassCounts } from '../../analyzers/sharing';
import { residentPages } from '../../analyzers/sharing';
import type { CauseCount } from '../../blame/engine';
import { topCauses } from './blame-text';
import { renderTable } from './table';
import { spreadOf } from './spread';
import { formatPercent, formatSize } from './units';

export interface AnswerChild {
  pid?: number;
  pages: ClassCounts;
  /** undefined: no blame for this child (the notes say why) */
  blame?: CauseCount[];
  remedies?: { strategy: string; pages: number }[];
}

export interface AnswerContext {
  /** what the children are compared with: "the fork-time image", "their parent" */
  against: string;
  /** the number of workers the saving is projected to */
  workers: number;
}

const TOP_CAUSES = 3;

/** Pages a child no longer shares: those it copied and those the parent copied under it. */
const stoppedSharing = (c: ClassCounts) => c.copied + (c.copiedByParent ?? 0);

export function renderAnswer(children: AnswerChild[], pageSize: number, o: { bytes: boolean }, ctx: AnswerContext): string[] {
  if (!children.length) return ['Answer: no children, so nothing to compare with.'];
  const size = (pages: number) => formatSize(pages * pageSize, o.bytes);
  const stopped = spreadOf(children.map((c) => stoppedSharing(c.pages)));
  const resident = spreadOf(children.map((c) => residentPages(c.pages))).median;
  const n = children.length;
  const who = n === 1 ? 'the child' : `each of the ${n} children`;
  const range = size(stopped.min) === size(stopped.max) ? '' : ` (median; from ${size(stopped.min)} to ${size(stopped.max)})`;
  const out = [`Answer: ${who} stopped sharing ${size(stopped.median)}${range} of ${ctx.against}: ${formatPercent(stopped.median, resident)} of its resident memory.`];
  const byParent = spreadOf(children.map((c) => c.pages.copiedByParent ?? 0)).median;
  const own = spreadOf(children.map((c) => c.pages.copied)).median;
  if (byParent > 0)
    out.push(`  ${size(own)} it wrote itself; ${size(byParent)} the parent wrote (the child kept the fork-time page: memory of its own all the same).`);
  // blame adds up to the copied pages, so an empty blame of a child that copied is no blame at all
  const blamed = children.filter((c) => c.blame && (c.blame.length > 0 || c.pages.copied === 0));
  if (!blamed.length) {
    out.push('Top causes: none blamed (see the notes for why).');
    return out;
  }
  const copied = spreadOf(blamed.map((c) => c.pages.copied)).median;
  // The causes of one child, the median one by its copies: medians taken cause by cause may come from
  // different children and add up to more than any child copied (QA: 117.8% of the median child's copies
  // for a gunicorn pool whose workers wrote different things).
  const mid = medianChild(blamed);
  const top = topCauses([{ copied: mid.pages.copied, blame: mid.blame! }], TOP_CAUSES);
  const of = `${n === 1 ? '' : ' per child'}${byParent > 0 ? ' (of what it wrote itself)' : ''}`;
  out.push(`Top causes${of}: ${top.length ? top.map((t) => `${t.cause} ${size(t.pages)} (${formatPercent(t.pages, mid.pages.copied)})`).join(', ') : 'none (nothing copied)'}`);
  // Workers that differ (a pool whose one worker did the work): the median child hides the busy one.
  const most = blamed.reduce((a, b) => (b.pages.copied > a.pages.copied ? b : a));
  if (blamed.length > 1 && most.pages.copied > 2 * copied) {
    const its = topCauses([{ copied: most.pages.copied, blame: most.blame! }], TOP_CAUSES);
    out.push(`  The child that copied most${most.pid ? ` (${most.pid})` : ''}, ${size(most.pages.copied)}: ${its.map((t) => `${t.cause} ${size(t.pages)} (${formatPercent(t.pages, most.pages.copied)})`).join(', ')}`);
  }
  out.push(...whatWouldHelp(blamed, copied, size, ctx.workers));
  return out;
}

/** The child whose copied pages are the median (the lower of the two middle ones for an even count). */
function medianChild(children: AnswerChild[]): AnswerChild {
  const sorted = [...children].sort((a, b) => a.pages.copied - b.pages.copied);
  return sorted[(sorted.length - 1) >> 1];
}

/** Strategy steps and the copied memory each would save per child (median over the children, a child
 *  without the step saving nothing), from the causes blamed on each page; `cowscope compare` measures
 *  them. */
function whatWouldHelp(children: AnswerChild[], copied: number, size: (pages: number) => string, workers: number): string[] {
  const steps = [...new Set(children.flatMap((c) => (c.remedies ?? []).map((x) => x.strategy)))];
  const rows = steps
    .map((strategy) => ({ strategy, pages: spreadOf(children.map((c) => c.remedies?.find((x) => x.strategy === strategy)?.pages ?? 0)).median }))
    .filter((x) => x.pages > 0)
    .sort((a, b) => b.pages - a.pages);
  if (!rows.length) return ['What would help: no strategy step removes the causes found.'];
  return [
    `What would help (predicted from the causes; measure with cowscope compare --strategies none,${rows.map((x) => x.strategy).join(',')}):`,
    renderTable(
      ['STRATEGY', 'SAVES PER CHILD', '% OF COPIED', `AT ${workers} WORKER${workers === 1 ? '' : 'S'}`],
      rows.map((x) => [x.strategy, size(x.pages), formatPercent(x.pages, copied), size(workers * x.pages)]),
      [1, 2, 3],
    ),
  ];
}
