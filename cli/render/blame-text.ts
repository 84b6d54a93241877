// The "why" tables of a child, or of a group of alike children (cells min–median–max): causes, and the
// classes and allocation sites on the copied pages (run, and inspect with a live heap map).
import type { CauseCount } from '../../blame/engine';
import { causeMeaning } from '../../blame/catalog';
import type { Hidden } from './classes';
import { renderTable } from './table';
import { formatSpread, spreadOf } from './spread';
import { formatPercent, formatSize } from './units';

export interface BlameMember {
  /** the child's copied pages (what its blame adds up to) */
  copied: number;
  blame: CauseCount[];
}

interface Counted {
  name: string;
  pages: number;
  words: number;
}

/** Per name, the spread of pages and words over the members (a name a member lacks counts 0 there),
 *  most pages first (by median, then max). */
function spreadByName(members: Counted[][]) {
  const names = [...new Set(members.flatMap((m) => m.map((x) => x.name)))];
  const of = (m: Counted[], name: string) => m.find((x) => x.name === name);
  return names
    .map((name) => ({
      name,
      pages: spreadOf(members.map((m) => of(m, name)?.pages ?? 0)),
      words: spreadOf(members.map((m) => of(m, name)?.words ?? 0)),
    }))
    .sort((a, b) => b.pages.median - a.pages.median || b.pages.max - a.pages.max || b.words.median - a.words.median);
}

const asCounted = (blame: CauseCount[]): Counted[] => blame.map((b) => ({ name: b.cause, pages: b.pages, words: b.words }));

/** The causes with most copied pages (median over the members), causes of no page left out. */
export function topCauses(members: BlameMember[], n: number): { cause: string; pages: number }[] {
  return spreadByName(members.map((m) => asCounted(m.blame)))
    .filter((x) => x.pages.median > 0)
    .slice(0, n)
    .map((x) => ({ cause: x.name, pages: x.pages.median }));
}

export function renderBlame(title: string, members: BlameMember[], pageSize: number, o: { bytes: boolean; all?: boolean }, hidden: Hidden): string[] {
  const copied = spreadOf(members.map((m) => m.copied)).median;
  const all = spreadByName(members.map((m) => asCounted(m.blame)));
  const rows = o.all ? all : all.filter((x) => x.pages.max > 0);
  if (rows.length < all.length) hidden.zeros = true;
  const count = (n: number) => String(n);
  return [
    title,
    renderTable(
      ['CAUSE', 'PAGES', 'SIZE', '% OF COPIED', 'WORDS', 'WHAT WROTE'],
      rows.map((x) => [
        x.name,
        formatSpread(x.pages, count),
        formatSize(x.pages.median * pageSize, o.bytes),
        formatPercent(x.pages.median, copied),
        formatSpread(x.words, count),
        causeMeaning(x.name),
      ]),
      [1, 2, 3, 4],
    ),
  ];
}

/** The top rows of a per-class or per-site breakdown (GC heap pages by the object with most changed
 *  words; allocation sites), spread over the members. */
export function renderTopNames(head: string, members: Counted[][], limit: number): string {
  const rows = spreadByName(members)
    .filter((x) => x.pages.max > 0)
    .slice(0, limit);
  const count = (n: number) => String(n);
  return renderTable([`  ${head}`, 'PAGES', 'WORDS'], rows.map((x) => [`  ${x.name}`, formatSpread(x.pages, count), formatSpread(x.words, count)]), [1, 2]);
}
