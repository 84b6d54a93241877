// A blame thread (blame/threads.ts): blames the children it was sent, with the adapter whose structures
// the capture carries, and posts their blames back in the order it got them.

import { parentPort, workerData } from 'node:worker_threads';
import { adapterOf } from '../runtimes';
import { blameChild } from './engine';
import type { ThreadInput } from './threads';

const { capture, jobs } = workerData as ThreadInput;
const adapter = adapterOf(capture);
if (!adapter) throw new Error('a blame thread got a capture of no known runtime');
parentPort!.postMessage(jobs.map((j) => blameChild(adapter, capture, capture.diffs!.find((d) => d.pid === j.pid)!, j.gcRuns)));
