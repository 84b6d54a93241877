// Human rendering of a child's first writers (fault tracing): per cause, the functions that unshared
// its pages, and the copied pages against time since the child was continued.

import path from 'node:path';
import type { ChildWritersReport, WriterRow } from '../../analyzers/writers';
import { escapeControl as esc } from './escape';
import { renderTable } from './table';

/** Writers shown per cause. */
const TOP = 3;

function label(w: WriterRow): string {
  const file = w.file ? path.basename(w.file) : '?';
  const name = w.function ? `${w.function} (${file})` : `unnamed code in ${file}`;
  return esc(w.approximate ? `${name} ~` : name);
}

export function renderWriters(pid: number, w: ChildWritersReport | null): string[] {
  if (!w || !w.traced) return []; // untraced: the report's notes say why, once
  const out = ['', `First writers of child ${pid} (page faults traced since it was continued: ${w.samples} sampled, ${w.lost} lost)`];
  const rows: (string | number)[][] = [];
  for (const c of w.byCause) {
    const shown = c.writers.slice(0, TOP);
    shown.forEach((x, i) => rows.push([i ? '' : `  ${c.cause}`, label(x), x.pages]));
    const rest = c.writers.slice(TOP).reduce((n, x) => n + x.pages, 0);
    if (rest) rows.push([shown.length ? '' : `  ${c.cause}`, `${c.writers.length - TOP} other functions`, rest]);
    if (c.noFault) rows.push([c.writers.length ? '' : `  ${c.cause}`, 'no fault after the continue (written before it, or the sample was lost)', c.noFault]);
  }
  if (rows.length) out.push(renderTable(['  CAUSE', 'FIRST WRITER', 'PAGES'], rows, [2]));
  if (w.kernelPages) out.push(`  ${w.kernelPages} of these pages were written by the kernel for a system call (the writer named is its caller in user space)`);
  if (w.byCause.some((c) => c.writers.some((x) => x.approximate))) out.push('  ~ named from .dynsym only (the file has no .symtab): the nearest exported function');
  if (w.curve.length)
    out.push(`  copied pages over time since the continue: ${w.curve.map((p) => `${p.pages} by ${p.ms < 10 ? p.ms.toFixed(2) : p.ms.toFixed(0)} ms`).join(', ')}`);
  if (w.requestCurve.length)
    out.push(`  copied pages against requests served: ${w.requestCurve.map((p) => `${p.pages} after ${p.requests}`).join(', ')}`);
  return out;
}
