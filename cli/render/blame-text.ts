// The "why" table under a child's sharing tables (run, and inspect with a live heap map).

import { CAUSE_MEANING, CauseCount } from '../../analyzers/ruby/blame';
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
        CAUSE_MEANING[b.cause] ?? (b.cause.startsWith('mutation.') ? 'the program changed an object of this type' : ''),
      ]),
      [1, 2, 3, 4],
    ),
  ];
}
