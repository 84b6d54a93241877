// The `inspect` report: processes with their memory totals, and each child's sharing with its parent.
// This object is also the JSON contract (schema cowscope.inspect/1): add fields freely, never rename.

import type { Capture, Role, Tier } from '../native/capture';
import type { MappingSharing, PairSharing } from './sharing';
import type { ChildBlame } from '../blame/engine';

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
  sharing: (Omit<PairSharing, 'mappings'> & { mappings?: MappingSharing[]; blame?: ChildBlame['blame']; blameByRegion?: ChildBlame['byRegion'] })[];
  /** the live agent's heap map used for blame, when there was one */
  liveMap?: { file: string; time: string; ruby: string };
  notes: string[];
}

export const TIER_MEANING: Record<Tier, string> = {
  exact: 'PFNs visible: shared means the same physical page',
  'exclusive-bit': 'PFNs hidden (not root): shared judged by pagemap bit 56, ties settled by comparing contents',
};

export function inspectReport(
  capture: Capture,
  sharing: PairSharing[],
  opts: { mappings: boolean; skipped: string[]; blames?: Map<number, ChildBlame>; liveMap?: InspectReport['liveMap'] },
): InspectReport {
  const notes: string[] = [];
  if (opts.liveMap)
    notes.push(
      `blame against the live master (no twin: the master's own writes since the fork count as copies), with the heap map the agent took at the master's first fork (${opts.liveMap.time})`,
    );
  if (sharing.length)
    notes.push(
      'copied counts pages either side wrote after the fork; which side wrote needs a fork-time baseline (cowscope run), so copiedByParent is null',
    );
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
    processes: capture.processes.map((p) => ({
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
      const withBlame = b ? { ...rest, blame: b.blame, blameByRegion: b.byRegion } : rest;
      return opts.mappings ? { ...withBlame, mappings } : withBlame;
    }),
    liveMap: opts.liveMap,
    notes,
  };
}
