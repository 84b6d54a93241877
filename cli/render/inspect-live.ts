// Renderers for watching live processes: one line per worker per sample, the curve of copied memory
// over the samples, and node_exporter textfile metrics.

import type { InspectReport } from '../../analyzers/inspect-report';
import { formatSize } from './units';
import { escapeControl } from './escape';

const BARS = '▁▂▃▄▅▆▇█';
/** One line per worker of a sample taken t seconds into the watch; ages: seconds each worker had run at
 *  the sample's start (the last sample may wait seconds for its blames), where known. */
export function renderWatchSample(t: number, r: InspectReport, previous?: InspectReport, ages?: ReadonlyMap<number, number>): string {
  const lines = r.sharing.map((s) => {
    const copied = (s.pages.copied + (s.pages.copiedByParent ?? 0)) * r.pageSize;
    const before = previous?.sharing.find((p) => p.pid === s.pid);
    const delta = before ? copied - (before.pages.copied + (before.pages.copiedByParent ?? 0)) * r.pageSize : 0;
    const resident = s.pages.shared + s.pages.copied + (s.pages.copiedByParent ?? 0) + s.pages.new;
    const age = ages?.get(s.pid);
    const causes = (s.blame ?? []).slice(0, 3).map((b) => b.cause).join(', ');
    const top = !s.blamePending ? causes : s.blameAsOf !== undefined ? `${causes} (as of ${s.blameAsOf.toFixed(1)}s; blame under way)` : '(blame under way)';
    const fresh = previous && !before ? ' (new)' : '';
    return (
      `[${t.toFixed(1).padStart(6)}s] child ${s.pid}${fresh}: copied ${formatSize(copied).padStart(7)} (${delta >= 0 ? '+' : '-'}${formatSize(Math.abs(delta))}), ` +
      `shared ${resident ? ((100 * s.pages.shared) / resident).toFixed(1) : '100.0'}%` +
      `${age !== undefined ? `, ${age.toFixed(0)} s since fork` : ''}${top ? `, top: ${top}` : ''}`
    );
  });
  // workers that went away since the previous sample (exited, or replaced by the server)
  for (const p of previous?.sharing ?? [])
    if (!r.sharing.some((s) => s.pid === p.pid)) lines.push(`[${t.toFixed(1).padStart(6)}s] child ${p.pid}: gone`);
  return `${(lines.length ? lines : [`[${t.toFixed(1).padStart(6)}s] no children`]).join('\n')}\n`;
}

/** Copied memory per worker across the samples, as a one-line chart each, all on one scale from zero to
 *  the most any worker copied: rows scaled each on its own drew a worker that grew by 8K as one that grew
 *  fourfold (QA). */
export function renderWatchCurve(samples: { t: number; report: InspectReport }[]): string {
  if (samples.length < 2) return '';
  const pids = [...new Set(samples.flatMap((s) => s.report.sharing.map((x) => x.pid)))];
  const rows = pids.map((pid) =>
    samples.map((s) => {
      const x = s.report.sharing.find((y) => y.pid === pid);
      return x ? (x.pages.copied + (x.pages.copiedByParent ?? 0)) * s.report.pageSize : NaN;
    }),
  );
  const hi = Math.max(0, ...rows.flat().filter((v) => !Number.isNaN(v)));
  const out = [`\ncopied memory per child over ${samples.length} samples (${samples[samples.length - 1].t.toFixed(1)} s; one scale, ${BARS[0]} 0 to ${BARS[BARS.length - 1]} ${formatSize(hi)}):`];
  rows.forEach((values, i) => {
    const known = values.filter((v) => !Number.isNaN(v));
    const bars = values.map((v) => (Number.isNaN(v) ? ' ' : BARS[hi > 0 ? Math.round((v / hi) * (BARS.length - 1)) : 0])).join('');
    out.push(`  ${String(pids[i]).padStart(7)} ${bars}  ${formatSize(known[0])} -> ${formatSize(known[known.length - 1])}`);
  });
  return `${out.join('\n')}\n`;
}

const label = (v: string | number) => `"${escapeControl(String(v)).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

/** node_exporter textfile collector format (text exposition format 0.0.4). */
export function renderPrometheus(r: InspectReport | undefined, scrapeErrors: Record<string, number> = {}): string {
  const out: string[] = [];
  const metric = (name: string, help: string, rows: [Record<string, string | number>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labels, value] of rows)
      out.push(`${name}{${Object.entries(labels).map(([k, v]) => `${k}=${label(v)}`).join(',')}} ${value}`);
  };
  metric(
    'cowscope_scrape_errors',
    'Problems in this scrape by kind: failed (no report: the other metrics are missing), vanished (processes that exited or were replaced during it), map_refused (heap maps refused), no_blame (children without blame).',
    Object.entries({ failed: 0, vanished: 0, map_refused: 0, no_blame: 0, ...scrapeErrors }).map(([kind, n]) => [{ kind }, n]),
  );
  if (!r) return `${out.join('\n')}\n`;
  const proc = (p: InspectReport['processes'][number]) => ({ pid: p.pid, role: p.role, command: p.command.split(' ')[0] });
  metric('cowscope_process_rss_bytes', 'Resident set size of the process (smaps_rollup Rss).', r.processes.map((p) => [proc(p), p.rss]));
  metric('cowscope_process_pss_bytes', 'Proportional set size of the process (smaps_rollup Pss).', r.processes.map((p) => [proc(p), p.pss]));
  metric('cowscope_process_uss_bytes', 'Unique set size of the process (Private_Clean + Private_Dirty).', r.processes.map((p) => [proc(p), p.uss]));
  metric('cowscope_process_swap_bytes', 'Swapped-out memory of the process.', r.processes.map((p) => [proc(p), p.swap]));
  const classes = ['shared', 'copied', 'new'] as const;
  for (const c of classes)
    metric(
      `cowscope_child_${c}_bytes`,
      `Bytes of a child's private mappings that are ${c === 'new' ? 'new since the fork' : c === 'copied' ? 'copied since the fork (by either side)' : 'still shared with its parent'}.`,
      r.sharing.map((s) => [{ pid: s.pid, parent: s.parent }, s.pages[c] * r.pageSize]),
    );
  const blamed = r.sharing.filter((s) => s.blame?.length);
  if (blamed.length)
    metric(
      'cowscope_child_copied_by_cause_bytes',
      'Copied bytes of a child by the cause cowscope blamed (one primary cause per page).',
      blamed.flatMap((s) => s.blame!.map((b): [Record<string, string | number>, number] => [{ pid: s.pid, parent: s.parent, cause: b.cause }, b.pages * r.pageSize])),
    );
  if (blamed.length)
    metric(
      'cowscope_child_blame_stale',
      '1 when the by-cause bytes of a child are the last blame finished, of an earlier sample (--watch: the child changed since, a newer blame is under way); else 0.',
      blamed.map((s) => [{ pid: s.pid, parent: s.parent }, s.blameAsOf !== undefined ? 1 : 0]),
    );
  return `${out.join('\n')}\n`;
}
