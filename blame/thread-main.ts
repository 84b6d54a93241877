// A blame thread (blame/threads.ts): blames the children it was sent, with the adapter whose structures
// the capture carries, and posts their blames back in the order it got them.

import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { adapterOf } from '../runtimes';
import { blameChild } from './engine';
import type { ThreadInput } from './threads';

// Linux schedules threads one by one: pid 0 is this thread, so only it yields (blame/threads.ts says why).
// A refusal (another OS, a seccomp filter) leaves the thread at its parent's priority.
const nice = (workerData as { nice?: number } | undefined)?.nice ?? 0;
if (nice)
  try {
    os.setPriority(0, nice);
  } catch {
    /* as it was */
  }

// One message per call: the capture (with only this thread's children's diffs) and the jobs; the reply
// carries the call's id and the blames, or the error.
parentPort!.on('message', ({ id, capture, jobs }: ThreadInput & { id: number }) => {
  try {
    const adapter = adapterOf(capture);
    if (!adapter) throw new Error('a blame thread got a capture of no known runtime');
    parentPort!.postMessage({ id, blames: jobs.map((j) => blameChild(adapter, capture, capture.diffs!.find((d) => d.pid === j.pid)!, j.gcRuns)) });
  } catch (e) {
    parentPort!.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
