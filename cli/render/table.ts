// Plain, borderless tables in the style of smem/ps (cli-table3 with the box drawing turned off).

import Table from 'cli-table3';
import { escapeControl } from './escape';

const PLAIN = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
  bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '',
  right: '', 'right-mid': '', middle: '  ',
};

/** Renders rows under a header. Columns listed in `right` are right-aligned (numbers). Cells are shown
 *  with control characters escaped (they often hold command lines, paths and names from processes). */
export function renderTable(head: string[], rows: (string | number)[][], right: number[] = []): string {
  const t = new Table({
    head,
    chars: PLAIN,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
    colAligns: head.map((_, i) => (right.includes(i) ? 'right' : 'left')),
  });
  for (const r of rows) t.push(r.map((c) => escapeControl(String(c))));
  return t
    .toString()
    .split('\n')
    .map((l) => `  ${l.trimEnd()}`)
    .join('\n');
}
