// Human rendering of the run report: the answer first (what each child stopped sharing, why, what would
// help), then the details. Children alike within noise share one table per kind (cells min–median–max).
import type { RunChild, RunReport } from '../../analyzers/run-report';
import { TIER_MEANING } from '../../analyzers/inspect-report';
import { Hidden, classTable } from './classes';
import { formatSize } from './units';
import { renderBlame, renderTopNames } from './blame-text';
import { renderAnswer } from './answer';
import { childrenLabel, groupAlike, whoCopied } from './spread';
import { escapeControl as esc } from './escape';
import { renderWriters } from './writers';

/** The number of workers "What would help" projects a run's saving to (compare's --workers default). */
export const RUN_WORKERS = 8;

export interface RunTextOptions {
  bytes: boolean;
  all?: boolean;
}

/** A run child's page counts by name (classes, classes per region, causes): what "alike" compares. */
function countsOf(c: RunChild): Map<string, number> {
  const m = new Map<string, number>();
  const add = (prefix: string, pages: RunChild['pages']) => {
    for (const [k, v] of Object.entries(pages)) m.set(`${prefix}${k}`, v ?? 0);
  };
  add('', c.pages);
  for (const g of c.regions) add(`${g.region}.`, g.pages);
  for (const b of c.blame) m.set(`cause.${b.cause}`, b.pages);
  return m;
}

/** A thread as "name: status". The agent names an unnamed thread by its Thread#inspect, which ends
 *  with the status ("file.rb:3 run", or just "run"): that status is not repeated, and a thread with
 *  nothing left for a name reads "unnamed". */
function threadLabel(t: { name: string; status: string }): string {
  const name = t.name === t.status ? '' : t.name.endsWith(` ${t.status}`) ? t.name.slice(0, -t.status.length - 1) : t.name;
  return `${esc(name || 'unnamed')}: ${esc(t.status)}`;
}

export function renderRunText(r: RunReport, o: RunTextOptions): string {
  const ps = r.pageSize;
  const hidden: Hidden = { zeros: false };
  const out: string[] = [];
  const n = r.children.length;
  out.push(
    `cowscope run: ${esc(r.runtime.name)} ${esc(r.runtime.version)} (${esc(r.runtime.platform)}), strategy ${esc(r.strategy.label)} (${r.strategy.seconds.toFixed(2)} s), ` +
      `${n} child${n === 1 ? '' : 'ren'}, tier ${r.tier} (${TIER_MEANING[r.tier]})`,
  );
  out.push('');
  out.push(...renderAnswer(r.children, ps, o, { against: 'the fork-time image', workers: RUN_WORKERS }));

  out.push('', 'Details');
  out.push(`workload: ${esc(r.workload)}`);
  out.push(`parent ${r.parent}, fork-time image ${r.reference} (a stopped twin forked with the children)`);
  const h = r.heapMap;
  const python = r.runtime.name === 'python';
  out.push(
    python
      ? `heap map: ${h.objects} objects, written in ${h.seconds.toFixed(2)} s by a throwaway child`
      : `heap map: ${h.objects} slots (${h.free} free) on ${h.heapPages} GC heap pages of ${formatSize(h.heapPageSize, o.bytes)}, written in ${h.seconds.toFixed(2)} s by a throwaway sibling`,
  );
  const t = r.threadsAtFork;
  out.push(`threads at the fork point: ${t.ruby} ${python ? 'Python' : 'Ruby'} (${t.threads.map(threadLabel).join(', ')}), ${t.os} OS`);
  out.push('');
  out.push("Sharing with the fork-time image (private mappings; % of the child's resident pages there)");
  out.push(classTable({ lead: ['CHILD'], leadRight: [0], percent: true }, r.children.map((c) => ({ lead: [c.pid], counts: [c.pages] })), ps, o, hidden));
  for (const group of groupAlike(r.children, countsOf)) {
    const who = childrenLabel(group.map((c) => c.pid));
    const folded = group.length > 1 ? ' (alike within noise: min–median–max where they differ)' : '';
    out.push('');
    out.push(`${who} by region${folded}`);
    const regions = [...new Set(group.flatMap((c) => c.regions.map((g) => g.region)))];
    const rows = regions.map((region) => ({ lead: [region], counts: group.map((c) => c.regions.find((g) => g.region === region)?.pages ?? zeroCounts(c.pages)) }));
    out.push(classTable({ lead: ['REGION'] }, rows, ps, o, hidden));
    if (group.some((c) => c.blame.length)) {
      out.push('');
      const gcRuns = group.map((c) => c.gcRuns);
      const gc = Math.min(...gcRuns) === Math.max(...gcRuns) ? `${gcRuns[0]}` : `${Math.min(...gcRuns)}–${Math.max(...gcRuns)}`;
      const copied = group.map((c) => c.pages.copied);
      const pages = Math.min(...copied) === Math.max(...copied) ? `${copied[0]}` : `${Math.min(...copied)}–${Math.max(...copied)}`;
      // the full collections among them, where known: a minor GC leaves old objects alone unless remembered
      const full = group.map((c) => c.gcFullRuns);
      const known = gc !== '0' && full.every((f) => f !== undefined);
      const fullText = !known ? '' : Math.min(...(full as number[])) === Math.max(...(full as number[])) ? `${full[0] || 'none'}` : `${Math.min(...(full as number[]))}–${Math.max(...(full as number[]))}`;
      const title = `Why ${whoCopied(group.map((c) => c.pid))} ${pages} pages (${gc} GC run${gc === '1' ? '' : 's'} during the workload${known ? `, ${fullText} ${python ? 'full' : 'major'}` : ''})`;
      out.push(...renderBlame(title, group.map((c) => ({ copied: c.pages.copied, blame: c.blame })), ps, o, hidden));
      if (group.some((c) => c.byClass.length)) {
        // an object owns the words of its slot and of the buffers it points to (malloc'd, off the GC heap)
        out.push(`  top ${python ? 'types' : 'classes'} (pages by the object with most changed words, in it or its buffers):`);
        out.push(renderTopNames('CLASS', group.map((c) => c.byClass.map((x) => ({ name: x.class, pages: x.pages, words: x.words }))), 5));
      }
      if (group.some((c) => c.bySite.length)) {
        out.push(`  top allocation sites:`);
        out.push(renderTopNames('SITE', group.map((c) => c.bySite.map((x) => ({ name: x.site, pages: x.pages, words: x.words }))), 5));
      }
    }
    // first writers of one child of the group: its alike siblings were written by the same code
    out.push(...renderWriters(group[0].pid, group[0].writers));
  }
  if (r.notes.length || hidden.zeros) out.push('');
  for (const note of r.notes) out.push(`note: ${esc(note)}`);
  if (hidden.zeros) out.push('note: columns, rows and causes that are zero everywhere are left out (--all shows them)');
  return `${out.join('\n')}\n`;
}

/** A region a child has none of: zero pages of every class (copiedByParent stays unknown if it is). */
function zeroCounts(like: RunChild['pages']): RunChild['pages'] {
  return { shared: 0, copied: 0, copiedByParent: like.copiedByParent === null ? null : 0, new: 0, zero: 0, absent: 0, swapped: 0 };
}
