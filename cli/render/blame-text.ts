// The "why" table under a child's sharing tables (run, and inspect with a live heap map).

import type { CauseCount } from '../../blame/engine';
import { causeMeaning } from '../../blame/catalog';
import { renderTable } from './table';
import { formatPercent, formatSize } from './units';

export function renderBlame(title: string, copied: number, blame: CauseCount[], pageSize: number, bytes: boolean): string[] {
  return [
    title,
    renderTable(
      ['CAUSE', 'PAGES', 'SIZE', '% OF COPIED', 'WORDS', 'WHAT WROTE'],
      blame.map((b) => [
        b.cause,
        b.pages,
        formatSize(b.pages * pageSize, bytes),
        formatPercent(b.pages, copied),
        b.words,
        causeMeaning(b.cause),
      ]),
      [1, 2, 3, 4],
    ),
  ];
}
