// Tables of page classes (shared, copied, …), shared by the inspect and run renderers. A row may stand
// for a group of alike children (cells min–median–max); columns and rows that are zero everywhere are
// left out unless --all.
import type { ClassCounts } from '../../analyzers/sharing';
import { residentPages } from '../../analyzers/sharing';
import { renderTable } from './table';
import { formatSpread, spreadOf } from './spread';
import { formatPercent, formatSize } from './units';

export interface TextOptions {
  bytes: boolean;
  mappings: boolean;
  /** show all-zero columns and rows, every cause and every mapping */
  all?: boolean;
}

/** What a renderer left out, so the report can say how to see it. */
export interface Hidden {
  zeros: boolean;
}

const CLASS_COLUMNS: { key: keyof ClassCounts; head: string; ofResident: boolean }[] = [
  { key: 'shared', head: 'SHARED', ofResident: true },
  { key: 'copied', head: 'COPIED', ofResident: true },
  { key: 'copiedByParent', head: 'COPIED-BY-PARENT', ofResident: true },
  { key: 'new', head: 'NEW', ofResident: true },
  { key: 'zero', head: 'ZERO', ofResident: false },
  { key: 'absent', head: 'ABSENT', ofResident: false },
  { key: 'swapped', head: 'SWAPPED', ofResident: false },
];

export interface ClassRow {
  /** the cells before the classes (CHILD, REGION, ADDRESS …) */
  lead: (string | number)[];
  /** one member per child of the group this row stands for */
  counts: ClassCounts[];
  /** the cells after the classes (PATH) */
  trail?: (string | number)[];
}

export interface ClassTableShape {
  lead: string[];
  /** lead columns aligned right (numbers) */
  leadRight?: number[];
  trail?: string[];
  /** each size followed by its % of the resident pages (per-child summaries) */
  percent?: boolean;
}

export function classTable(shape: ClassTableShape, rows: ClassRow[], pageSize: number, o: { bytes: boolean; all?: boolean }, hidden: Hidden): string {
  const value = (c: ClassCounts, key: keyof ClassCounts) => (c[key] as number | null) ?? 0;
  // copiedByParent is null where it cannot be told (inspect, exclusive-bit tier): never a column then
  const known = rows.length > 0 && rows.every((r) => r.counts.every((c) => c.copiedByParent !== null));
  const columns = CLASS_COLUMNS.filter((col) => col.key !== 'copiedByParent' || known);
  const shown = o.all ? columns : columns.filter((col) => rows.some((r) => r.counts.some((c) => value(c, col.key) > 0)));
  const kept = o.all ? rows : rows.filter((r) => r.counts.some((c) => shown.some((col) => value(c, col.key) > 0)));
  if (shown.length < columns.length || kept.length < rows.length) hidden.zeros = true;
  const size = (pages: number) => formatSize(pages * pageSize, o.bytes);
  const body = kept.map((r) => {
    const cells = shown.map((col) => {
      const s = spreadOf(r.counts.map((c) => value(c, col.key)));
      const text = formatSpread(s, size);
      if (!shape.percent || !col.ofResident || s.max === 0) return text;
      return `${text} ${formatPercent(s.median, spreadOf(r.counts.map(residentPages)).median)}`;
    });
    return [...r.lead, ...cells, ...(r.trail ?? [])];
  });
  const lead = shape.lead.length;
  const right = [...(shape.leadRight ?? []), ...shown.map((_, i) => lead + i)];
  return renderTable([...shape.lead, ...shown.map((c) => c.head), ...(shape.trail ?? [])], body, right);
}
