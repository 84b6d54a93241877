// The `inspect` report: processes with their memory totals, and each child's sharing with its parent.
// This object is also the JSON contract (schema cowscope.inspect/1): add fields freely, never rename.

import type { Capture, ProcessCapture, Role, Tier } from '../native/capture';
import type { MappingSharing, PairSharing } from './sharing';
import type { ChildBlame } from '../blame/engine';
import type { ChildCollections } from '../runtimes/python/discover';

export interface InspectProcess {
  pid: number;
  ppid: number;
  role: Role;
  command: string;
  rss: number;
  pss: number;
  uss: number;
  swap: number;
}

export interface InspectReport {
  schema: 'cowscope.inspect/1';
  tier: Tier;
  pageSize: number;
  kernel: string;
  thp: string;
  zeroPagesKnown: boolean;
  time: string;
  processes: InspectProcess[];
  sharing: (Omit<PairSharing, 'mappings'> & {
    mappings?: MappingSharing[];
    blame?: ChildBlame['blame'];
    blameByRegion?: ChildBlame['byRegion'];
    /** per strategy step, the copied pages it would save (as in the run report) */
    remedies?: ChildBlame['remedies'];
    /** why this child has no blame (no agent or map, map refused, map older than the parent, parent not Ruby) */
    noBlame?: string;
    /** --watch: its blame is being computed beside the samples; a later sample shows it */
    blamePending?: true;
    /** --watch, with blamePending: the blame shown is the last one finished, made for the sample taken
     *  this many seconds into the watch (the child changed since) */
    blameAsOf?: number;
    /** the child or its parent exec'd a program after the fork (a master re-executed by USR2): nothing
     *  of its memory is its parent's, so the answer leaves it out */
    execd?: true;
  })[];
  /** the target's heap map used for blame, when there was one */
  liveMap?: { file: string; time: string } & MapRuntime;
  /** every heap map used: one per forking process (master, Puma's worker 0, a mold) */
  liveMaps?: LiveMapUse[];
  notes: string[];
}

/** Which interpreter wrote a live map: runtime and version; `ruby` (the version) too for Ruby maps, as
 *  the JSON had it before Python maps (fields are never renamed). */
export interface MapRuntime {
  runtime: 'ruby' | 'python';
  version: string;
  ruby?: string;
}

export function mapRuntime(runtime: string, version: string): MapRuntime {
  return runtime === 'python' ? { runtime, version } : { runtime: 'ruby', version, ruby: version };
}

export interface LiveMapUse extends MapRuntime {
  /** the forking process the map is of; its children were blamed against it */
  pid: number;
  file: string;
  time: string;
  generation?: number;
  malformedLines: number;
  children: number[];
  /** Python: each child's collections since its fork, as the agent counted them in the child (children
   *  whose count could not be read are left out) */
  collections?: ChildCollections[];
}

export const TIER_MEANING: Record<Tier, string> = {
  exact: 'PFNs visible: shared means the same physical page',
  'exclusive-bit': 'PFNs hidden (not root): shared judged by pagemap bit 56, ties settled by comparing contents',
};

/** Did the child (or its parent) exec a program after the fork? A forked child keeps its parent's
 *  main-thread stack mapping, whose top (its end) never moves; exec maps a new one, at a random top
 *  (ASLR; with ASLR off the tops agree and an exec goes unnoticed). */
function execdAfterFork(child: ProcessCapture | undefined, parent: ProcessCapture | undefined): boolean {
  const top = (p: ProcessCapture | undefined) => p?.vmas.find((v) => v.path === '[stack]')?.end;
  const [c, q] = [top(child), top(parent)];
  return c !== undefined && q !== undefined && c !== q;
}

export function inspectReport(
  capture: Capture,
  sharing: PairSharing[],
  opts: {
    mappings: boolean;
    skipped: string[];
    blames?: Map<number, ChildBlame>;
    liveMap?: InspectReport['liveMap'];
    liveMaps?: LiveMapUse[];
    unblamed?: Map<number, string>;
    /** children whose blame is under way (--watch) */
    blamePending?: number[];
    /** of those, the last blame finished and the time (s into the watch) of the sample it was made for */
    staleBlames?: Map<number, { blame: ChildBlame; asOf: number }>;
    self?: number;
  },
): InspectReport {
  const notes: string[] = [];
  const target = capture.processes[0]?.pid;
  if (opts.liveMap)
    notes.push(
      `blame against the live master (no twin: the master's own writes since the fork count as copies), with the heap map the agent took at the master's fork (${opts.liveMap.time})`,
    );
  for (const m of opts.liveMaps ?? []) {
    if (m.pid !== target)
      notes.push(
        `children ${m.children.join(', ')} of process ${m.pid} blamed against their live parent ${m.pid}, with the heap map it took when it forked them (${m.time}${m.generation ? `, fork generation ${m.generation}` : ''})`,
      );
    if (m.collections?.length)
      notes.push(
        `collections since the fork, as the agent counted them in each child of ${m.pid}: ${m.collections.map((c) => `${c.pid} ${c.runs} (${c.full} full)`).join(', ')}; a full one visits every object the parent had tracked and not frozen (py.gc.traverse), a young one only those still young at the fork`,
      );
  }
  for (const [pid, why] of opts.unblamed ?? []) if (sharing.some((s) => s.pid === pid)) notes.push(`child ${pid} has no blame: ${why}`);
  const byPid = new Map(capture.processes.map((p) => [p.pid, p]));
  const execd = new Set(sharing.filter((s) => execdAfterFork(byPid.get(s.pid), byPid.get(s.parent))).map((s) => s.pid));
  for (const pid of execd)
    notes.push(`process ${pid} and its parent run different programs (one of them exec'd after the fork: their stacks differ): nothing of the fork's image is left in it (what it shares with its parent are the files both map), and the answer leaves it out`);
  if (sharing.some((s) => s.pages.copiedByParent !== null))
    notes.push(
      'copiedByParent counts pages a child\'s siblings still share at one frame that their parent no longer maps: the parent wrote them after the fork. copied counts the rest, which either side may have written (a fork-time baseline, cowscope run, tells them apart)',
    );
  if (sharing.some((s) => s.pages.copiedByParent === null))
    notes.push(
      `copied counts pages either side wrote after the fork; which side wrote needs a fork-time baseline (cowscope run) or, in the exact tier, siblings: copiedByParent is null for ${capture.meta.tier !== 'exact' ? 'every child in this tier (run as root for the exact one)' : sharing.length === 1 ? 'this child' : 'children without siblings'}`,
    );
  // a worker given for its master (JSON says so too: its sharing is empty)
  const only = capture.processes.length === 1 ? capture.processes[0] : undefined;
  if (!sharing.length && only && only.ppid > 1)
    notes.push(`process ${only.pid} has no children, so there is nothing to compare: if it is a worker, inspect its parent, which forked it: cowscope inspect ${only.ppid}`);
  if (!capture.meta.zeroPagesKnown) notes.push('zero pages could not be told apart on this kernel (no PAGEMAP_SCAN, not root): they count as shared');
  const unresolved = sharing.reduce((n, s) => n + s.unresolvedTies, 0);
  if (unresolved)
    notes.push(`${unresolved} pages kept their bit-56 verdict "shared" because their contents could not be read (ptrace access denied?)`);
  if (capture.meta.tier === 'exclusive-bit' && capture.processes.some((p) => p.memory.anonHuge > 0))
    notes.push('transparent huge pages in use: bit 56 is unreliable there, so those pages were judged by content');
  notes.push(...opts.skipped);
  return {
    schema: 'cowscope.inspect/1',
    tier: capture.meta.tier,
    pageSize: capture.meta.pageSize,
    kernel: capture.meta.kernel,
    thp: capture.meta.thp,
    zeroPagesKnown: capture.meta.zeroPagesKnown,
    time: capture.meta.time,
    processes: capture.processes.filter((p) => p.pid !== opts.self).map((p) => ({
      pid: p.pid,
      ppid: p.ppid,
      role: p.role,
      command: p.command,
      rss: p.memory.rss,
      pss: p.memory.pss,
      uss: p.memory.uss,
      swap: p.memory.swap,
    })),
    sharing: sharing.map(({ mappings, ...rest }) => {
      const b = opts.blames?.get(rest.pid);
      const why = opts.unblamed?.get(rest.pid);
      const pending = !b && opts.blamePending?.includes(rest.pid);
      const stale = pending ? opts.staleBlames?.get(rest.pid) : undefined;
      const withBlame = b
        ? { ...rest, blame: b.blame, blameByRegion: b.byRegion, remedies: b.remedies }
        : why
          ? { ...rest, noBlame: why }
          : stale
            ? { ...rest, blame: stale.blame.blame, blameByRegion: stale.blame.byRegion, remedies: stale.blame.remedies, blamePending: true as const, blameAsOf: stale.asOf }
            : pending
              ? { ...rest, blamePending: true as const }
              : rest;
      const marked = execd.has(rest.pid) ? { ...withBlame, execd: true as const } : withBlame;
      return opts.mappings ? { ...marked, mappings } : marked;
    }),
    liveMap: opts.liveMap,
    ...(opts.liveMaps?.length ? { liveMaps: opts.liveMaps } : {}),
    notes,
  };
}
