// Human rendering of the inspect report: the answer first (what each child stopped sharing with its
// parent, why, what would help), then the processes and the details. Children of the same parent that
// are alike within noise share one table per kind (cells min–median–max).
import type { InspectReport } from '../../analyzers/inspect-report';
import { TIER_MEANING } from '../../analyzers/inspect-report';
import type { ClassCounts } from '../../analyzers/sharing';
import { Hidden, TextOptions, classTable } from './classes';
import { renderTable } from './table';
import { renderBlame } from './blame-text';
import { renderAnswer } from './answer';
import { childrenLabel, groupAlike, spreadOf, whoCopied } from './spread';
import { formatAddress, formatSize } from './units';
import { escapeControl } from './escape';

export type { TextOptions };

type Child = InspectReport['sharing'][number];

/** Mappings shown per child (or group) without --all: the most copied ones. */
export const TOP_MAPPINGS = 20;

function countsOf(s: Child): Map<string, number> {
  const m = new Map<string, number>();
  const add = (prefix: string, pages: ClassCounts) => {
    for (const [k, v] of Object.entries(pages)) m.set(`${prefix}${k}`, v ?? 0);
  };
  add('', s.pages);
  for (const g of s.regions) add(`${g.region}.`, g.pages);
  for (const b of s.blame ?? []) m.set(`cause.${b.cause}`, b.pages);
  return m;
}

/** Children grouped for the detail tables: same parent, blamed or not, and alike within noise. */
function groupsOf(sharing: Child[]): Child[][] {
  const byKey = new Map<string, Child[]>();
  for (const s of sharing) {
    const key = `${s.parent} ${s.blame ? 'blamed' : ''}`;
    byKey.set(key, [...(byKey.get(key) ?? []), s]);
  }
  return [...byKey.values()].flatMap((children) => groupAlike(children, countsOf));
}

const ZERO: ClassCounts = { shared: 0, copied: 0, copiedByParent: null, new: 0, zero: 0, absent: 0, swapped: 0 };
const copiedOf = (c: ClassCounts) => c.copied + (c.copiedByParent ?? 0);

export function renderInspectText(r: InspectReport, o: TextOptions): string {
  const ps = r.pageSize;
  const hidden: Hidden = { zeros: false };
  const out: string[] = [];
  const n = r.processes.length;
  out.push(`cowscope inspect: ${n} process${n === 1 ? '' : 'es'}, tier ${r.tier} (${TIER_MEANING[r.tier]}), page size ${formatSize(ps, o.bytes)}`);
  out.push('');
  // the workers are real here: the saving is projected to as many as there are. Children of different
  // parents (a server re-executed by USR2 beside the old one, Puma's workers forked from worker 0) get
  // an answer each: a median over both generations describes neither.
  // A child that exec'd after its fork (the notes say so) shares nothing of its parent's by design.
  const forked = r.sharing.filter((s) => !s.execd);
  const parents = [...new Set(forked.map((s) => s.parent))];
  if (parents.length <= 1) {
    const execd = r.sharing.filter((s) => s.execd);
    if (!forked.length && execd.length) {
      // children there are, but each runs another program: nothing of the fork's image is left in them
      const who = execd.length === 1 ? `its child ${execd[0].pid} runs another program` : `its ${execd.length} children (${execd.map((s) => s.pid).join(', ')}) run other programs`;
      out.push(`Answer: ${who} (exec'd after the fork): no copy-on-write to measure; what ${execd.length === 1 ? 'it shares' : 'they share'} with the parent are the files both map (see the tables).`);
    } else out.push(...renderAnswer(forked, ps, o, { against: 'its parent', workers: Math.max(forked.length, 1) }));
  } else
    for (const parent of parents) {
      const children = forked.filter((s) => s.parent === parent);
      const p = r.processes.find((x) => x.pid === parent);
      const command = p ? ` (${escapeControl(p.command.length > 40 ? `${p.command.slice(0, 39)}…` : p.command)})` : '';
      out.push(`Children of ${parent}${command}:`);
      // every line indented, a table's too (renderTable gives one string of lines)
      out.push(...renderAnswer(children, ps, o, { against: 'its parent', workers: children.length }).flatMap((l) => l.split('\n')).map((l) => `  ${l}`));
    }
  out.push('', 'Details');
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
    out.push('');
    out.push("Sharing with the parent (private mappings; % of the child's resident pages there)");
    out.push(classTable({ lead: ['CHILD', 'PARENT'], leadRight: [0, 1], percent: true }, r.sharing.map((s) => ({ lead: [s.pid, s.parent], counts: [s.pages] })), ps, o, hidden));
    for (const group of groupsOf(r.sharing)) {
      const who = childrenLabel(group.map((s) => s.pid));
      const folded = group.length > 1 ? ' (alike within noise: min–median–max where they differ)' : '';
      out.push('');
      out.push(`${who} by region${folded}`);
      const regions = [...new Set(group.flatMap((s) => s.regions.map((g) => g.region)))];
      out.push(classTable({ lead: ['REGION'] }, regions.map((region) => ({ lead: [region], counts: group.map((s) => s.regions.find((g) => g.region === region)?.pages ?? ZERO) })), ps, o, hidden));
      const parent = group[0].parent;
      if (group.every((s) => s.blame?.length)) {
        out.push('');
        const against = parent === r.processes[0]?.pid ? 'the live master' : `its live parent ${parent}`;
        const copied = spreadOf(group.map((s) => s.pages.copied));
        const pages = copied.min === copied.max ? `${copied.min}` : `${copied.min}–${copied.max}`;
        const title = `Why ${whoCopied(group.map((s) => s.pid))} ${pages} pages (against ${against})`;
        out.push(...renderBlame(title, group.map((s) => ({ copied: s.pages.copied, blame: s.blame! })), ps, o, hidden));
      }
      if (o.mappings && group.every((s) => s.mappings)) out.push('', ...renderMappings(who, group, ps, o, hidden));
    }
  }
  if (r.notes.length || hidden.zeros) out.push('');
  for (const note of r.notes) out.push(`note: ${escapeControl(note)}`);
  if (hidden.zeros) out.push('note: columns, rows and causes that are zero everywhere are left out (--all shows them)');
  return `${out.join('\n')}\n`;
}

/** The group's mappings (the same address range and file in each child), most copied first: the top
 *  TOP_MAPPINGS of those with a resident page, or with --all every one. */
function renderMappings(who: string, group: Child[], ps: number, o: TextOptions, hidden: Hidden): string[] {
  const rows = new Map<string, { start: number; end: number; perms: string; region: string; path: string; counts: ClassCounts[] }>();
  group.forEach((s, i) => {
    for (const m of s.mappings!) {
      const key = `${m.start} ${m.end} ${m.path}`;
      const row = rows.get(key) ?? { start: m.start, end: m.end, perms: m.perms, region: m.region, path: m.path, counts: group.map(() => ZERO) };
      row.counts[i] = m.pages;
      rows.set(key, row);
    }
  });
  const resident = (c: ClassCounts) => c.shared + c.copied + (c.copiedByParent ?? 0) + c.new + c.zero + c.absent + c.swapped > 0;
  const all = [...rows.values()]
    .filter((m) => o.all || m.counts.some(resident))
    .sort((a, b) => spreadOf(b.counts.map(copiedOf)).median - spreadOf(a.counts.map(copiedOf)).median || a.start - b.start);
  const shown = o.all ? all : all.slice(0, TOP_MAPPINGS);
  const which = shown.length < all.length ? `the ${shown.length} of ${all.length} with most copied (--all shows every mapping)` : `most copied first${o.all ? '' : ', mappings with no resident page left out'}`;
  return [
    `${who} by mapping: ${which}`,
    classTable(
      { lead: ['ADDRESS', 'PERMS', 'REGION'], trail: ['PATH'] },
      shown.map((m) => ({ lead: [`${formatAddress(m.start)}-${formatAddress(m.end)}`, m.perms, m.region], counts: m.counts, trail: [escapeControl(m.path)] })),
      ps,
      o,
      hidden,
    ),
  ];
}
