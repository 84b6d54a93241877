// The Capture of a controlled fork (`cowscope run`): parent, stopped twin and children read while they
// are quiescent, ties settled, copied pages diffed word by word, and the runtime's heap map and
// structures attached. Built once; every analysis and renderer reads this one object.

import { Capture, Role, captureProcesses, checkTarget } from '../native/capture';
import type { RubySession } from '../runtimes/ruby/driver';
import { adapterNamed } from '../runtimes';
import { diffCopiedPages, settleTies } from './pairs';
import type { ChildFaultTracing } from './faults';
import { Laps } from './laps';

export async function gatherRun(session: RubySession, workload: string, command: string[], faults?: ChildFaultTracing, laps = new Laps()): Promise<Capture> {
  const fp = session.forkPoint!;
  const parent = session.proc.pid!;
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
    heapMapSeconds: session.heapMap!.seconds,
    threadsAtFork: fp.threads,
    osThreadsAtFork: fp.osThreads,
    gcCountAtFork: fp.gcCount,
    workload,
    requestsServed: session.children.map((c) => session.requestsServed.get(c) ?? 0),
    gcRuns: session.children.map((c) => session.gcRuns.get(c) ?? 0),
    ...(session.gcFullRuns.size ? { gcFullRuns: session.children.map((c) => session.gcFullRuns.get(c) ?? 0) } : {}),
    ...(session.gcFreedBlocks.size ? { gcFreedBlocks: session.children.map((c) => session.gcFreedBlocks.get(c) ?? 0) } : {}),
  };
  const byPid = new Map(capture.processes.map((p) => [p.pid, p]));
  const twin = byPid.get(session.twin)!;
  const pairs = session.children.map((c) => ({ child: byPid.get(c)!, reference: twin, parent: byPid.get(parent)! }));
  settleTies(capture, pairs);
  laps.lap('ties');
  diffCopiedPages(capture, pairs);
  laps.lap('diffs');
  adapterNamed(session.runtime)!.attach(
    capture,
    { file: session.heapMap!.path, version: fp.python ?? fp.ruby, platform: fp.platform, heapPageSize: fp.heapPageSize, slotSize: fp.slotSize, maxBytes: session.maxHeapMapBytes },
    { pid: twin.pid, vmas: twin.vmas },
    pairs.map((p) => ({ pid: p.child.pid, vmas: p.child.vmas })),
    (step) => laps.lap(step),
  );
  // The first writer of each copied page, from the faults traced since the children were continued.
  if (faults) capture.faults = faults.writers(capture, session.requestMarks);
  laps.lap('first writers');
  return capture;
}
