// Human rendering of the inspect report.

import type { InspectReport } from '../../analyzers/inspect-report';
import { TIER_MEANING } from '../../analyzers/inspect-report';
import { TextOptions, classCells, classHead } from './classes';
import { renderTable } from './table';
import { renderBlame } from './blame-text';
import { formatAddress, formatSize } from './units';
import { escapeControl } from './escape';

export type { TextOptions };

export function renderInspectText(r: InspectReport, o: TextOptions): string {
  const ps = r.pageSize;
  const out: string[] = [];
  const n = r.processes.length;
  out.push(`cowscope inspect: ${n} process${n === 1 ? '' : 'es'}, tier ${r.tier} (${TIER_MEANING[r.tier]}), page size ${formatSize(ps)}`);
  out.push('');
  out.push(
    renderTable(
      ['PID', 'PPID', 'ROLE', 'RSS', 'PSS', 'USS', 'SWAP', 'COMMAND'],
      r.processes.map((p) => [
        p.pid,
        p.ppid,
        p.role,
        formatSize(p.rss, o.bytes),
        formatSize(p.pss, o.bytes),
        formatSize(p.uss, o.bytes),
        formatSize(p.swap, o.bytes),
        escapeControl(p.command.length > 60 ? `${p.command.slice(0, 59)}…` : p.command),
      ]),
      [0, 1, 3, 4, 5, 6],
    ),
  );
  if (r.sharing.length) {
    const known = r.sharing[0].pages.copiedByParent !== null;
    out.push('');
    out.push('Sharing with the parent (private mappings; % of the child\'s resident pages there)');
    out.push(
      renderTable(
        ['CHILD', 'PARENT', ...classHead(known)],
        r.sharing.map((s) => [s.pid, s.parent, ...classCells(s.pages, ps, o, true)]),
        [0, 1, 2, 3, 4, 5, 6, 7, 8],
      ),
    );
    for (const s of r.sharing) {
      out.push('');
      out.push(`Child ${s.pid} by region`);
      out.push(
        renderTable(
          ['REGION', ...classHead(known)],
          s.regions.map((g) => [g.region, ...classCells(g.pages, ps, o, false)]),
          [1, 2, 3, 4, 5, 6, 7],
        ),
      );
      if (s.blame?.length) {
        out.push('');
        const against = s.parent === r.processes[0]?.pid ? 'the live master' : `its live parent ${s.parent}`;
        out.push(...renderBlame(`Why child ${s.pid} copied ${s.pages.copied} pages (against ${against})`, s.pages.copied, s.blame, ps, o.bytes));
      }
      if (o.mappings && s.mappings) {
        out.push('');
        out.push(`Child ${s.pid} by mapping (mappings with no resident page omitted)`);
        const rows = s.mappings
          .filter((m) => m.pages.shared + m.pages.copied + m.pages.new + m.pages.zero + m.pages.absent + m.pages.swapped > 0)
          .map((m) => [
            `${formatAddress(m.start)}-${formatAddress(m.end)}`,
            m.perms,
            m.region,
            ...classCells(m.pages, ps, o, false),
            escapeControl(m.path),
          ]);
        out.push(renderTable(['ADDRESS', 'PERMS', 'REGION', ...classHead(known), 'PATH'], rows, [3, 4, 5, 6, 7, 8, 9]));
      }
    }
  }
  if (r.notes.length) {
    out.push('');
    for (const note of r.notes) out.push(`note: ${escapeControl(note)}`);
  }
  return `${out.join('\n')}\n`;
}
