// Human rendering of the run report.

import type { RunReport } from '../../analyzers/run-report';
import { TIER_MEANING } from '../../analyzers/inspect-report';
import { classCells, classHead } from './classes';
import { renderTable } from './table';
import { formatSize } from './units';
import { renderBlame } from './blame-text';
import { escapeControl as esc } from './escape';

export function renderRunText(r: RunReport, o: { bytes: boolean }): string {
  const opts = { bytes: o.bytes, mappings: false };
  const ps = r.pageSize;
  const out: string[] = [];
  const n = r.children.length;
  out.push(
    `cowscope run: ${esc(r.runtime.name)} ${esc(r.runtime.version)} (${esc(r.runtime.platform)}), strategy ${esc(r.strategy.label)} (${r.strategy.seconds.toFixed(2)} s), ` +
      `${n} child${n === 1 ? '' : 'ren'}, tier ${r.tier} (${TIER_MEANING[r.tier]})`,
  );
  out.push(`workload: ${esc(r.workload)}`);
  out.push(`parent ${r.parent}, fork-time image ${r.reference} (a stopped twin forked with the children)`);
  const h = r.heapMap;
  const python = r.runtime.name === 'python';
  out.push(
    python
      ? `heap map: ${h.objects} objects, written in ${h.seconds.toFixed(2)} s by a throwaway child`
      : `heap map: ${h.objects} slots (${h.free} free) on ${h.heapPages} GC heap pages of ${formatSize(h.heapPageSize)}, written in ${h.seconds.toFixed(2)} s by a throwaway sibling`,
  );
  const t = r.threadsAtFork;
  out.push(`threads at the fork point: ${t.ruby} ${python ? 'Python' : 'Ruby'} (${t.threads.map((x) => `${esc(x.name)} ${esc(x.status)}`).join(', ')}), ${t.os} OS`);
  const known = r.children.length > 0 && r.children[0].pages.copiedByParent !== null;
  const help = whatWouldHelp(r, o.bytes);
  if (help.length) out.push('', ...help);
  out.push('');
  out.push("Sharing with the fork-time image (private mappings; % of the child's resident pages there)");
  out.push(renderTable(['CHILD', ...classHead(known)], r.children.map((c) => [c.pid, ...classCells(c.pages, ps, opts, true)]), [0, 1, 2, 3, 4, 5, 6, 7]));
  for (const c of r.children) {
    out.push('');
    out.push(`Child ${c.pid} by region`);
    out.push(renderTable(['REGION', ...classHead(known)], c.regions.map((g) => [g.region, ...classCells(g.pages, ps, opts, false)]), [1, 2, 3, 4, 5, 6, 7]));
    if (c.blame.length) {
      out.push('');
      out.push(
        ...renderBlame(`Why child ${c.pid} copied ${c.pages.copied} pages (${c.gcRuns} GC run${c.gcRuns === 1 ? '' : 's'} during the workload)`, c.pages.copied, c.blame, ps, o.bytes),
      );
      if (c.byClass.length) {
        out.push(`  top ${python ? 'types (pages' : 'classes (GC heap pages'} by the object with most changed words):`);
        out.push(renderTable(['  CLASS', 'PAGES', 'WORDS'], c.byClass.slice(0, 5).map((x) => [`  ${x.class}`, x.pages, x.words]), [1, 2]));
      }
      if (c.bySite.length) {
        out.push(`  top allocation sites:`);
        out.push(renderTable(['  SITE', 'PAGES', 'WORDS'], c.bySite.slice(0, 5).map((x) => [`  ${x.site}`, x.pages, x.words]), [1, 2]));
      }
    }
  }
  if (r.notes.length) {
    out.push('');
    for (const note of r.notes) out.push(`note: ${esc(note)}`);
  }
  return `${out.join('\n')}\n`;
}

/** Strategy steps and the copied memory each would save per child (median over the children), from the
 *  causes blamed on each page; `cowscope compare` measures them. */
function whatWouldHelp(r: RunReport, bytes: boolean): string[] {
  const steps = new Map<string, number[]>();
  for (const c of r.children) for (const x of c.remedies) steps.set(x.strategy, [...(steps.get(x.strategy) ?? []), x.pages]);
  if (!steps.size) return [];
  const med = (xs: number[]) => {
    const s = [...xs, ...new Array(r.children.length - xs.length).fill(0)].sort((a, b) => a - b);
    return s[Math.floor((s.length - 1) / 2)];
  };
  const rows = [...steps.entries()]
    .map(([strategy, pages]) => ({ strategy, pages: med(pages) }))
    .filter((x) => x.pages > 0)
    .sort((a, b) => b.pages - a.pages);
  if (!rows.length) return [];
  const copied = med(r.children.map((c) => c.pages.copied));
  return [
    `What would help (predicted from the causes; measure with cowscope compare --strategies none,${rows.map((x) => x.strategy).join(',')}):`,
    renderTable(
      ['STRATEGY', 'SAVES PER CHILD', '% OF COPIED', 'AT 8 WORKERS'],
      rows.map((x) => [x.strategy, `${x.pages} pages, ${formatSize(x.pages * r.pageSize, bytes)}`, `${copied ? ((100 * x.pages) / copied).toFixed(0) : 0}%`, formatSize(8 * x.pages * r.pageSize, bytes)]),
      [1, 2, 3],
    ),
  ];
}
