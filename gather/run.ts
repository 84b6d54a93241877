// The Capture of a controlled fork (`cowscope run`): parent, stopped twin and children read while they
// are quiescent, ties settled, copied pages diffed word by word, and the runtime's heap map and
// structures attached. Built once; every analysis and renderer reads this one object.

import { Capture, Role, captureProcesses, checkTarget } from '../native/capture';
import type { RubySession } from '../runtimes/ruby/driver';
import { adapterNamed } from '../runtimes';
import { diffCopiedPagesAsync, diffForkPathAsync, settleTies } from './pairs';
import type { ChildFaultTracing } from './faults';
import { Laps } from './laps';
import type { HeapMapFollower } from '../runtimes/adapter';

/** Once the twin and children are forked: the runtime's parse of the heap map, started while the agent's
 *  sibling still writes it (where the runtime can), so that little of it is left after the workload.
 *  Give it to gatherRun; cancel it when the run fails. */
export function followHeapMap(session: RubySession): HeapMapFollower | undefined {
  const fp = session.forkPoint!;
  return adapterNamed(session.runtime)!.followHeapMap?.({ file: session.heapMapPath, heapPageSize: fp.heapPageSize, slotSize: fp.slotSize, maxBytes: session.maxHeapMapBytes });
}

/** `mapRead`, when given, is told as soon as the heap map file is no longer needed (it may be hundreds of
 *  MB: removing it takes a while, which can overlap what follows). */
export async function gatherRun(
  session: RubySession,
  workload: string,
  command: string[],
  faults?: ChildFaultTracing,
  laps = new Laps(),
  follower?: HeapMapFollower,
  mapRead = () => undefined as void,
): Promise<Capture> {
  const fp = session.forkPoint!;
  const parent = session.proc.pid!;
  // The call-cache probe (where the agent forked one) runs its workload while the family is read.
  const probed = session.runCacheProbe();
  probed.catch(() => undefined); // awaited before attach; a failure is reported there
  const roles = new Map<number, Role>([[parent, 'parent'], [session.twin, 'reference'], ...session.children.map((c): [number, Role] => [c, 'child'])]);
  const capture = await captureProcesses([...roles.keys()].map(checkTarget), { roles, command });
  laps.lap('read');
  capture.run = {
    parent,
    reference: session.twin,
    children: session.children,
    strategy: session.strategy!.name,
    strategyLabel: session.strategy!.label,
    strategySeconds: session.strategy!.seconds,
    heapMapSeconds: 0, // below, once the map is done
    threadsAtFork: fp.threads,
    osThreadsAtFork: fp.osThreads,
    gcCountAtFork: fp.gcCount,
    ...(fp.heapPages !== undefined ? { heapPagesAtForkPoint: fp.heapPages } : {}),
    workload,
    requestsServed: session.children.map((c) => session.requestsServed.get(c) ?? 0),
    gcRuns: session.children.map((c) => session.gcRuns.get(c) ?? 0),
    ...(session.gcFullRuns.size ? { gcFullRuns: session.children.map((c) => session.gcFullRuns.get(c) ?? 0) } : {}),
    ...(session.gcMarks.size ? { gcMarks: session.children.map((c) => session.gcMarks.get(c) ?? 0) } : {}),
    ...(session.gcCompactions.size ? { gcCompactions: session.children.map((c) => session.gcCompactions.get(c) ?? 0) } : {}),
    ...(session.allocated.size
      ? { allocated: session.children.map((c) => session.allocated.get(c)?.all ?? 0), allocatedSteady: session.children.map((c) => session.allocated.get(c)?.steady ?? 0) }
      : {}),
    ...(session.heapGrown.size && session.heapAllocatableAtFork !== undefined
      ? { heapGrownBytes: session.children.map((c) => session.heapGrown.get(c) ?? 0), heapAllocatableBytesAtFork: session.heapAllocatableAtFork }
      : {}),
    ...(session.gcOff.size ? { gcOff: session.children.map((c) => session.gcOff.get(c) ?? 0) } : {}),
    ...(session.gcFreedBlocks.size ? { gcFreedBlocks: session.children.map((c) => session.gcFreedBlocks.get(c) ?? 0) } : {}),
    ...(session.gcAutoRuns.size ? { gcAutoRuns: session.children.map((c) => session.gcAutoRuns.get(c) ?? 0) } : {}),
    ...(session.cacheProbe ? { cacheProbe: session.cacheProbe } : {}),
  };
  const byPid = new Map(capture.processes.map((p) => [p.pid, p]));
  const twin = byPid.get(session.twin)!;
  const pairs = session.children.map((c) => ({ child: byPid.get(c)!, reference: twin, parent: byPid.get(parent)! }));
  settleTies(capture, pairs);
  laps.lap('ties');
  await Promise.all([diffCopiedPagesAsync(capture, pairs), diffForkPathAsync(capture, twin, byPid.get(parent)!)]);
  laps.lap('diffs');
  // The first writer of each copied page, from the faults traced since the children were continued.
  if (faults) capture.faults = faults.writers(capture, session.requestMarks, session.gcWindows);
  laps.lap('first writers');
  const adapter = adapterNamed(session.runtime)!;
  const children = pairs.map((p) => ({ pid: p.child.pid, vmas: p.child.vmas }));
  const early = adapter.prepare?.(capture, { pid: twin.pid, vmas: twin.vmas }, children);
  laps.lap('allocator');
  // The agent's sibling writes the heap map while the children run and all of the above is read.
  const map = await session.heapMapDone();
  capture.run.heapMapSeconds = map.seconds;
  laps.lap('heap map wait');
  follower?.finish();
  const followed = await follower?.read();
  const pick = followed
    ? (keep: Float64Array) => {
        const picked = followed(keep);
        mapRead();
        return picked;
      }
    : undefined;
  laps.lap(`heap map read, rest${followed ? '' : ' (not followed)'}`);
  await probed;
  laps.lap('call-cache probe');
  await adapter.attach(
    capture,
    { file: map.path, version: fp.python ?? fp.ruby, platform: fp.platform, heapPageSize: fp.heapPageSize, slotSize: fp.slotSize, maxBytes: session.maxHeapMapBytes, pick },
    { pid: twin.pid, vmas: twin.vmas },
    children,
    laps,
    early,
  );
  if (!pick) mapRead();
  return capture;
}
