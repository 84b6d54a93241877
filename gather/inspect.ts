// The Capture of a live family (`cowscope inspect PID`): the target and its live descendants, ties
// settled, and, for every forking process of the family whose runtime agent left a valid heap map (a
// master, Puma's worker 0 with fork_worker, a mold), its children's copied pages diffed against it and
// the runtime's structures attached, one group per forking process. Built once per sample.
//
// A family changes while it is read: a process that exits or is replaced (its pid reused) during the
// scan is left out with a note; only the target's own exit is an error.

import { Laps } from './laps';
import { Capture, ProcessCapture, Role, captureProcesses, checkTarget, unchanged } from '../native/capture';
import { ksmMergedPages, liveFamily } from '../native/proc';
import { familyPairs, offerClassesRead } from '../analyzers/sharing';
import { pairsToClassify } from '../analyzers/classify';
import { MapRuntime, mapRuntime } from '../analyzers/inspect-report';
import { Pair, diffCopiedPagesAsync, settleTies } from './pairs';
import { DEFAULT_MAX_MAP_BYTES, forgetMapsExcept, loadLiveMap } from './live-map';
import type { KeptBlames, Reuse } from './reuse';

// The Ruby adapter (heap map structures, blamer tables) is loaded only for a parent that left a heap
// map: a family without one is read and classified without it (start-up counts, see cli/main.ts).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const adapters = () => require('../runtimes') as typeof import('../runtimes');

/** Is this process an interpreter cowscope has an agent for: Ruby (its executable or libruby mapped)
 *  or CPython (python3.x or libpython mapped)? */
function isAgentRuntime(p: ProcessCapture): boolean {
  return p.vmas.some((v) => /\/libruby[^/]*\.so|\/ruby[^/]*$|\/libpython[^/]*\.so|\/python[\d.]*$/.test(v.path)) || /^(ruby|python)/.test(p.comm);
}

export interface LiveGroup {
  /** the forking process whose heap map blamed its children */
  parent: number;
  /** the family's capture narrowed to this parent and its children, with the runtime attached */
  capture: Capture;
  children: number[];
  /** --watch: the runtime's structures are those of the last sample (nothing they depend on changed) */
  reused: boolean;
  /** --watch: the parent's structures are those of the last sample, the children's part found afresh */
  partlyReused: boolean;
  /** --watch: why they were found afresh (the first sample, which input changed) */
  notReused?: string;
  /** --watch: the children's blames, kept with the group's structures, each reused while its inputs are */
  blames?: KeptBlames;
  /** ruby: the interpreter's version (Ruby's or Python's, as runtime says) */
  map: { file: string; time: string; runtime: string; ruby: string; generation?: number; malformed: number; parsedNow: boolean };
}

export interface InspectGather {
  capture: Capture;
  /** every child with its parent (as reference) */
  pairs: Pair[];
  /** processes skipped, maps refused: one line each */
  notes: string[];
  /** the target's own map (when it forked children with one) */
  liveMap?: { file: string; time: string } & MapRuntime;
  groups: LiveGroup[];
  /** children without blame, and exactly why */
  unblamed: Map<number, string>;
  /** processes that exited or were replaced during the scan */
  vanished: number[];
  /** milliseconds spent per step, for --debug */
  timings: Record<string, number>;
  /** each listed process's start (clock ticks since boot, /proc/PID/stat), as listed: its age is known
   *  even once it has exited (--watch) */
  startTicks: Map<number, number>;
  /** settles once every process's memory totals (smaps_rollup) are in: until then they read zero, and
   *  a process that exits before its totals are read is then left out of capture, pairs, groups and
   *  unblamed, and named in notes and vanished (the pages can be classified meanwhile) */
  memory: Promise<void>;
}

export interface GatherInspectOptions {
  heapMapDir?: string;
  maxHeapMapBytes?: number;
  command: string[];
  /** --watch: what the last sample found, reused where its inputs are unchanged (gather/reuse.ts) */
  reuse?: Reuse;
}

/** The note for a process that exited (or whose pid was reused) while it was being read. */
const exitNote = (pid: number, comm: string) => `process ${pid} (${comm}) exited or was replaced during the scan and was skipped`;

export async function gatherInspect(pid: number, opts: GatherInspectOptions): Promise<InspectGather> {
  const timings: Record<string, number> = {};
  let t0 = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = (timings[name] ?? 0) + (now - t0);
    t0 = now;
  };
  const target = checkTarget(pid);
  const { family, skipped } = liveFamily(target);
  lap('list');
  const roles = new Map<number, Role>(family.map((p) => [p.pid, p.pid === target.pid ? (family.length > 1 ? 'parent' : 'process') : 'child']));
  const raw = await captureProcesses(family, { roles, command: opts.command, skipExited: { except: new Set([target.pid]) }, memoryLater: true, classifyWhileReading: pairsToClassify });
  const { exited, memoryRead, classesRead, ...capture } = raw;
  if (classesRead) offerClassesRead(classesRead);
  lap('pagemaps');
  const notes = [...skipped];
  // KSM merges identical pages of any processes: a merged page looks shared, and a copy two children
  // made alike sits on one frame, as a page only the parent wrote does (copiedByParent).
  const ksm = family.length > 1 ? ksmMergedPages(family.map((p) => p.pid)) : { pages: 0, scope: 'family' };
  if (ksm.pages > 0)
    notes.push(
      `KSM merged ${ksm.pages} page${ksm.pages === 1 ? '' : 's'} ${ksm.scope === 'family' ? 'of this family (/proc/PID/ksm_merging_pages)' : 'on this machine (/sys/kernel/mm/ksm/pages_shared)'}: pages it merged count as shared, and copies two children made alike may count as copied by the parent`,
    );
  const infos = new Map(family.map((p) => [p.pid, p]));
  const vanished = new Set<number>((exited ?? []).map((p) => p.pid));
  for (const p of exited ?? []) notes.push(exitNote(p.pid, p.comm));
  // A child whose parent was left out is left out too: it has nothing to be compared with.
  const gone = (pid: number) => vanished.has(pid) || !capture.processes.some((p) => p.pid === pid);

  const dropIfGone = (pids: number[]): boolean => {
    let dropped = false;
    for (const p of pids) {
      const info = infos.get(p);
      if (p !== target.pid && info && !gone(p) && !unchanged(info)) {
        vanished.add(p);
        capture.processes = capture.processes.filter((x) => x.pid !== p);
        notes.push(exitNote(p, info.comm));
        dropped = true;
      }
    }
    return dropped;
  };

  let pairs: Pair[] = familyPairs(capture).map(({ child, parent }) => ({ child, reference: parent }));
  const settled: Pair[] = [];
  for (const pair of pairs) {
    try {
      settleTies(capture, [pair]);
      settled.push(pair);
    } catch (e) {
      if (!dropIfGone([pair.child.pid, pair.reference.pid])) throw e;
    }
  }
  pairs = settled.filter((p) => !gone(p.child.pid) && !gone(p.reference.pid));
  lap('ties');

  const groups: LiveGroup[] = [];
  const unblamed = new Map<number, string>();
  const byParent = new Map<number, Pair[]>();
  for (const p of pairs) {
    if (!byParent.has(p.reference.pid)) byParent.set(p.reference.pid, []);
    byParent.get(p.reference.pid)!.push(p);
  }
  const mapsSeen = new Set<string>();
  for (const [parentPid, groupPairs0] of byParent) {
    const parent = groupPairs0[0].reference;
    const info = infos.get(parentPid)!;
    const verdict = loadLiveMap(parentPid, info.uid, { dir: opts.heapMapDir, maxBytes: opts.maxHeapMapBytes ?? DEFAULT_MAX_MAP_BYTES });
    lap('maps');
    if (!verdict.map) {
      const why =
        verdict.kind === 'none' && !isAgentRuntime(parent)
          ? `parent ${parentPid} (${parent.comm}) is not a Ruby or Python process: no heap map, no blame`
          : verdict.reason;
      for (const p of groupPairs0) unblamed.set(p.child.pid, why);
      continue;
    }
    const map = verdict.map;
    mapsSeen.add(map.file);
    if (verdict.warning) notes.push(verdict.warning);
    let groupPairs = groupPairs0;
    // Diffs and the runtime's structures go into a capture of this parent and its children only: each
    // group is blamed with its own map. A child that exits meanwhile is dropped and the group retried.
    for (let attempt = 0; attempt < 3 && groupPairs.length; attempt++) {
      // the whole family's processes and ties: a child's pages classify the same as in the report
      const sub: Capture = { meta: capture.meta, processes: capture.processes, ties: capture.ties };
      // --watch: whether the memory the last attach read is unchanged, checked while the diffs are taken
      const readsSame = opts.reuse?.checkReads(parentPid);
      try {
        await diffCopiedPagesAsync(sub, groupPairs);
        lap('diffs');
        const { meta } = map;
        const source = { file: map.file, version: meta.version, platform: meta.platform, heapPageSize: meta.heapPageSize, slotSize: meta.slotSize };
        const reference = { pid: parent.pid, vmas: parent.vmas };
        const children = groupPairs.map((w) => ({ pid: w.child.pid, vmas: w.child.vmas }));
        // the adapter's own steps, for --debug: "attach.STEP"
        const attachSteps = new Laps();
        // the adapter of the runtime whose agent wrote the map
        const adapter = adapters().adapterNamed(meta.runtime)!;
        const attach = () => adapter.attach(sub, mapSource, reference, children, attachSteps);
        const parts = adapter.parts;
        const mapSource = { ...source, parsed: map.parsed };
        const kept =
          opts.reuse &&
          (await opts.reuse.attach(
            sub,
            { runtime: meta.runtime, parsed: map.parsed, mapFacts: source, pageSize: capture.meta.pageSize, parent: reference, children, diffs: sub.diffs ?? [] },
            attach,
            readsSame,
            parts && { parent: () => parts.parent(sub, mapSource, reference, attachSteps), rest: () => parts.rest(sub, mapSource, reference, children, attachSteps) },
          ));
        if (!kept) await attach();
        lap(kept?.reused ? 'reused' : kept?.partly ? 'attach, the parent\'s part kept' : 'attach');
        for (const [step, ms] of Object.entries(attachSteps.steps)) timings[`attach.${step}`] = (timings[`attach.${step}`] ?? 0) + ms;
        groups.push({
          parent: parentPid,
          capture: sub,
          children: groupPairs.map((p) => p.child.pid),
          reused: kept?.reused ?? false,
          partlyReused: kept?.partly ?? false,
          ...(kept?.why ? { notReused: kept.why } : {}),
          blames: kept?.blames,
          map: { file: map.file, time: meta.time, runtime: meta.runtime, ruby: meta.version, generation: meta.generation, malformed: map.malformed, parsedNow: map.fresh },
        });
        break;
      } catch (e) {
        if (!infos.has(parentPid) || !unchanged(info)) {
          if (parentPid === target.pid) throw e;
          dropIfGone([parentPid]);
          groupPairs = [];
          break;
        }
        if (!dropIfGone(groupPairs.map((p) => p.child.pid))) {
          for (const p of groupPairs) unblamed.set(p.child.pid, `blame failed: ${(e as Error).message}`);
          groupPairs = [];
          break;
        }
        groupPairs = groupPairs.filter((p) => !gone(p.child.pid));
      }
    }
  }
  forgetMapsExcept(mapsSeen);
  opts.reuse?.keepOnly(new Set(groups.map((g) => g.parent)));
  pairs = pairs.filter((p) => !gone(p.child.pid) && !gone(p.reference.pid));
  for (const p of [...unblamed.keys()]) if (gone(p)) unblamed.delete(p);

  // The whole family's capture carries every group's diffs, and the target's group's runtime (the
  // HTML page maps read it).
  capture.diffs = groups.flatMap((g) => g.capture.diffs ?? []);
  const own = groups.find((g) => g.parent === target.pid) ?? groups[0];
  if (own) {
    capture.runtime = own.capture.runtime;
    capture.heapMap = own.capture.heapMap;
    capture.ruby = own.capture.ruby;
    capture.python = own.capture.python;
  }
  const targetGroup = groups.find((g) => g.parent === target.pid);
  const result: InspectGather = {
    capture,
    pairs,
    notes,
    liveMap: targetGroup ? { file: targetGroup.map.file, time: targetGroup.map.time, ...mapRuntime(targetGroup.map.runtime, targetGroup.map.ruby) } : undefined,
    groups,
    unblamed,
    vanished: [...vanished],
    timings,
    startTicks: new Map(family.map((p) => [p.pid, p.startTime])),
    memory: Promise.resolve(),
  };
  // Processes gone before their totals were read go as those gone before their pagemaps did.
  result.memory = (memoryRead ?? Promise.resolve([])).then((late) => {
    if (!late.length) return;
    for (const p of late) {
      vanished.add(p.pid);
      notes.push(exitNote(p.pid, p.comm));
    }
    capture.processes = capture.processes.filter((x) => !vanished.has(x.pid));
    result.pairs = result.pairs.filter((p) => !gone(p.child.pid) && !gone(p.reference.pid));
    result.groups = result.groups.filter((g) => !gone(g.parent)).map((g) => ({ ...g, children: g.children.filter((c) => !gone(c)) }));
    for (const p of [...unblamed.keys()]) if (gone(p)) unblamed.delete(p);
    result.vanished = [...vanished];
  });
  result.memory.catch(() => undefined); // awaited by the caller, unless it fails first
  return result;
}
