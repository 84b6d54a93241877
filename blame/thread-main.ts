// A blame thread (blame/threads.ts): blames the child it was sent, with the adapter whose structures the
// capture carries, and posts its blame back.

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

// One message per child: the capture (with only that child's diffs) and its GC runs; the reply carries
// the message's id and the blame, or the error.
parentPort!.on('message', ({ id, capture, gcRuns }: ThreadInput & { id: number }) => {
  try {
    const adapter = adapterOf(capture);
    if (!adapter) throw new Error('a blame thread got a capture of no known runtime');
    parentPort!.postMessage({ id, blame: blameChild(adapter, capture, capture.diffs![0], gcRuns) });
  } catch (e) {
    parentPort!.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
