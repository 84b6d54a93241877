// The CPython runtime adapter: heap map + structure discovery for gather, and the blamer for the engine.

import { type Capture, copiedPagesOf } from '../../native/capture';
import { readWords } from '../../native/probe';
import type { Vma } from '../../native/procfs-parse';
import type { ChildBlame } from '../../blame/engine';
import type { HeapMapSource, RuntimeAdapter } from '../adapter';
import { DEFAULT_MAX_HEAP_MAP } from '../ruby/heap-map';
import { pythonBlamer } from './blamer';
import { type ChildCollections, discoverPythonChildren, discoverPythonParent } from './discover';
import { PythonHeapMap, ingestPythonHeapMap } from './heap-map';
import { LAYOUTS, POOL, PYTHON_STRATEGY_STEPS, pythonLayoutFor } from './layouts';

/** The children with the pages each one copied. */
const withPages = (capture: Capture, children: { pid: number; vmas: Vma[] }[]) => children.map((c) => ({ ...c, pages: capture.diffs?.find((d) => d.pid === c.pid)?.addrs ?? new Float64Array() }));

/** The parent's part of attach: the runtime, and the fork-time image's structures on the copied pages. */
function attachParent(capture: Capture, map: HeapMapSource, reference: { pid: number; vmas: Vma[] }): void {
  const copiedPages = copiedPagesOf(capture.diffs);
  // live mode hands over the whole map, parsed once (gather/live-map.ts)
  const heap = (map.parsed as PythonHeapMap | undefined) ?? ingestPythonHeapMap(map.file, copiedPages, capture.meta.pageSize, map.maxBytes ?? DEFAULT_MAX_HEAP_MAP);
  capture.runtime = { name: 'python', version: map.version, platform: map.platform, heapPageSize: POOL.size, slotSize: POOL.alignment };
  // No GC heap pages of Ruby's kind: pymalloc pools are found in memory and named by the blamer.
  capture.heapMap = { heapPageSize: POOL.size, bodies: new Float64Array(), objects: heap.total, free: 0, malformed: heap.malformed };
  // a controlled run's twin: compare predicts strategies from it (what disable costs); a live master is
  // not walked for it (inspect predicts no strategy)
  capture.python = discoverPythonParent(heap, reference, capture.diffs ?? [], capture.meta.pageSize, capture.run !== undefined);
}

/** The rest: each child's own pools and chunks (in a controlled run, the blocks in pools it made, against
 *  the twin: what gc would cost), and, against a live map, its collections. */
function attachChildren(capture: Capture, children: { pid: number; vmas: Vma[] }[], reference: { pid: number }): void {
  Object.assign(capture.python!, discoverPythonChildren(capture.python!, withPages(capture, children), capture.meta.pageSize, capture.run ? reference.pid : undefined));
  const at = capture.python!.map.gcCounters;
  if (!capture.run && at) capture.python!.liveCollections = children.flatMap((c) => liveCollectionsOf(c.pid, at));
}

/** A live worker's collections since its fork: the three words the agent counts them in, at the same
 *  address in every process of the family (the pid they belong to, collections, full ones). Words of
 *  another pid: the worker has not collected since its fork. Unreadable (the worker exited): unknown. */
function liveCollectionsOf(pid: number, at: number): ChildCollections[] {
  let read;
  try {
    read = readWords(pid, Float64Array.of(at, at + 8, at + 16));
  } catch {
    return [];
  }
  if (!read.ok.every(Boolean)) return [];
  const [owner, runs, full] = Array.from(read.words, Number);
  if (owner !== pid) return [{ pid, runs: 0, full: 0 }];
  return runs >= 0 && full >= 0 && full <= runs ? [{ pid, runs, full }] : [];
}

export const pythonAdapter: RuntimeAdapter = {
  name: 'python',
  strategySteps: PYTHON_STRATEGY_STEPS,
  attach(capture: Capture, map: HeapMapSource, reference: { pid: number; vmas: Vma[] }, children: { pid: number; vmas: Vma[] }[]): void {
    attachParent(capture, map, reference);
    attachChildren(capture, children, reference);
  },
  parts: {
    parent: async (capture, map, reference) => attachParent(capture, map, reference),
    rest: async (capture, _map, reference, children) => attachChildren(capture, children, reference),
  },
  present: (capture) => !!capture.python && capture.runtime?.name === 'python',
  notes(capture: Capture, blames: ChildBlame[]): string[] {
    const notes: string[] = [];
    const version = capture.runtime?.version ?? '';
    const run = capture.run;
    if (run && (run.threadsAtFork.length > 1 || run.osThreadsAtFork > 1))
      notes.push(
        `${run.threadsAtFork.length} Python thread${run.threadsAtFork.length === 1 ? '' : 's'} (${run.threadsAtFork.map((t) => t.name).join(', ')}) and ${run.osThreadsAtFork} OS threads were alive at the fork point: only the forking thread exists in the children, so a child that waits for another one hangs`,
      );
    const map = capture.python?.map;
    if (map && map.frozen > map.frozenAtStart)
      notes.push(`${map.frozen} objects were frozen (gc.freeze) at the fork: collections in the children skip them`);
    if (map?.garbageUnsought)
      notes.push(
        `garbage at the fork was not looked for (${map.garbageUnsought} tracked objects, more than the agent searches): pages a child's collection freed garbage on show as py.obmalloc.free or the program's, and gc's saving on them is not predicted`,
      );
    if (blames.some((b) => b.unknownVersion) || !pythonLayoutFor(version))
      notes.push(
        `Python ${version} is not in cowscope's version table (${LAYOUTS.map((l) => l.version).join(', ')} known): blame used the version-independent rules only (no bytecode or hash-field decoding)`,
      );
    return notes;
  },
  blamer: pythonBlamer,
};
