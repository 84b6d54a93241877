// A blame thread (blame/threads.ts): blames the child it was sent, with the adapter whose structures the
// capture carries, and posts its blame back.

import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { adapterOf } from '../runtimes';
import { BlameCancelled, blameChild } from './engine';
import type { ThreadInput } from './threads';

// Linux schedules threads one by one: pid 0 is this thread, so only it yields (blame/threads.ts says why).
// A refusal (another OS, a seccomp filter) leaves the thread at its parent's priority.
const nice = (workerData as { nice?: number }).nice ?? 0;
if (nice)
  try {
    os.setPriority(0, nice);
  } catch {
    /* as it was */
  }

// The id of a blame the parent no longer wants, set by it while this thread runs the blame
// (BlameThreads.cancelRunning): the blame stops at its next look, and the thread stays, warm.
const cancel = new Int32Array((workerData as { cancel: SharedArrayBuffer }).cancel);

// One message per child: the capture as that child's blame reads it (threads.ts forChild) and its GC
// runs; the reply carries the message's id and the blame, or the error, or that it was cancelled.
parentPort!.on('message', ({ id, capture, gcRuns, owners }: ThreadInput & { id: number }) => {
  try {
    const adapter = adapterOf(capture);
    if (!adapter) throw new Error('a blame thread got a capture of no known runtime');
    parentPort!.postMessage({ id, blame: blameChild(adapter, capture, capture.diffs![0], gcRuns, { cancelled: () => Atomics.load(cancel, 0) === id, owners }) });
  } catch (e) {
    if (e instanceof BlameCancelled) parentPort!.postMessage({ id, cancelled: true });
    else parentPort!.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
