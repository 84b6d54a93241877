// Page-class columns shared by the inspect and run renderers.

import type { ClassCounts } from '../../analyzers/sharing';
import { residentPages } from '../../analyzers/sharing';
import { formatPercent, formatSize } from './units';

export interface TextOptions {
  bytes: boolean;
  mappings: boolean;
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

export function classCells(c: ClassCounts, pageSize: number, o: TextOptions, withPercent: boolean): string[] {
  const resident = residentPages(c);
  return CLASS_COLUMNS.filter((col) => col.key !== 'copiedByParent' || c.copiedByParent !== null).map((col) => {
    const pages = c[col.key] as number;
    const size = formatSize(pages * pageSize, o.bytes);
    return withPercent && col.ofResident ? `${size} ${formatPercent(pages, resident)}` : size;
  });
}

export function classHead(known: boolean): string[] {
  return CLASS_COLUMNS.filter((c) => c.key !== 'copiedByParent' || known).map((c) => c.head);
}

