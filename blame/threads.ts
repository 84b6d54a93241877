// Blame of several children at once, on worker threads: one child's blame is pure CPU work over its own
// diffs and the parent's structures, and a Rails worker's takes about a second, so a 4-worker cluster's
// first `inspect` spends most of its time here, and `inspect --watch` must not hold its samples for it.
//
// Each thread gets a structured clone of the capture with only its children's diffs (tens of MiB for a
// Rails cluster: a few tens of milliseconds) and blames them with the same adapter and engine as the
// main thread, so the result is the same object the sequential path returns. Small jobs stay on the
// main thread: starting a thread and loading the blamers costs ~100 ms.

import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Capture, PageDiffs } from '../native/capture';
import type { RuntimeAdapter } from '../runtimes/adapter';
import { type ChildBlame, blameChild } from './engine';

export interface BlameJob {
  diffs: PageDiffs;
  gcRuns: number;
}

/** What one thread is sent: the capture (its diffs: those of its jobs) and, per job, the child's pid. */
export interface ThreadInput {
  capture: Capture;
  jobs: { pid: number; gcRuns: number }[];
}

/** Below this many changed words in all, threads cost more than they save. */
export const MIN_THREADED_WORDS = 100_000;

/** Threads to use: $COWSCOPE_BLAME_THREADS, else one per CPU (1: a one-shot inspect blames on its own
 *  thread, a watch on one thread beside it). */
export function blameThreads(): number {
  const env = process.env.COWSCOPE_BLAME_THREADS;
  if (env !== undefined && /^\d{1,3}$/.test(env) && Number(env) >= 1) return Number(env);
  return os.availableParallelism();
}

/** Jobs split over n threads, largest first onto the least loaded (changed words measure the work). */
export function splitJobs(jobs: BlameJob[], n: number): number[][] {
  const load = new Array<number>(n).fill(0);
  const parts: number[][] = Array.from({ length: n }, () => []);
  const order = jobs.map((_, i) => i).sort((a, b) => jobs[b].diffs.wordPage.length - jobs[a].diffs.wordPage.length);
  for (const i of order) {
    const t = load.indexOf(Math.min(...load));
    parts[t].push(i);
    load[t] += jobs[i].diffs.wordPage.length + jobs[i].diffs.addrs.length;
  }
  return parts.filter((p) => p.length);
}

/** Threads that blame: started once (each loads the engine and the blamers), then sent captures, one
 *  message per thread per call; its code stays compiled between calls (a thread's first blame is about
 *  twice as slow as the next ones). close() terminates them, busy or not. */
export class BlameThreads {
  private workers: Worker[] = [];
  private replies = new Map<number, { resolve: (b: ChildBlame[]) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private closed = false;

  constructor(readonly size: number) {}

  /** Starts the threads now: they load while the caller does other work. */
  start(): this {
    while (!this.closed && this.workers.length < this.size) this.spawn();
    return this;
  }

  private spawn(): void {
    const worker = new Worker(path.join(__dirname, 'thread-main.js'));
    worker.on('message', (m: { id: number; blames?: ChildBlame[]; error?: string }) => {
      const r = this.replies.get(m.id);
      this.replies.delete(m.id);
      if (m.error !== undefined) r?.reject(new Error(m.error));
      else r?.resolve(m.blames!);
    });
    // a thread that dies takes every call under way with it (which of them it held is not tracked)
    const fail = (e: Error) => {
      for (const r of this.replies.values()) r.reject(e);
      this.replies.clear();
      this.workers = this.workers.filter((w) => w !== worker);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(this.closed ? 'blame aborted' : `a blame thread exited (code ${code})`)));
    this.workers.push(worker);
  }

  /** Blame for each job, in the jobs' order, split over the threads. */
  blame(capture: Capture, jobs: BlameJob[]): Promise<ChildBlame[]> {
    if (this.closed) return Promise.reject(new Error('blame aborted'));
    this.start();
    const parts = splitJobs(jobs, Math.min(this.workers.length, jobs.length));
    const results = parts.map((part, t) => {
      const input: ThreadInput = {
        capture: { ...capture, diffs: part.map((i) => jobs[i].diffs) },
        jobs: part.map((i) => ({ pid: jobs[i].diffs.pid, gcRuns: jobs[i].gcRuns })),
      };
      const id = this.nextId++;
      const reply = new Promise<ChildBlame[]>((resolve, reject) => this.replies.set(id, { resolve, reject }));
      this.workers[t].postMessage({ id, ...input });
      return reply;
    });
    return Promise.all(results).then((blames) => {
      const out = new Array<ChildBlame>(jobs.length);
      parts.forEach((part, t) => part.forEach((i, k) => (out[i] = blames[t][k])));
      return out;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
  }
}

/** Blame for each job, in the jobs' order: on worker threads when there are several jobs, cores and
 *  enough words (offMain: always, so that this thread stays free), else here. A thread's error or an
 *  abort rejects the whole call (no thread outlives it). */
export async function blameChildren(
  adapter: RuntimeAdapter,
  capture: Capture,
  jobs: BlameJob[],
  opts: { threads?: number; minWords?: number; signal?: AbortSignal; offMain?: boolean } = {},
): Promise<ChildBlame[]> {
  const { threads = blameThreads(), minWords = MIN_THREADED_WORDS, signal, offMain = false } = opts;
  const words = jobs.reduce((n, j) => n + j.diffs.wordPage.length, 0);
  const n = Math.max(1, Math.min(threads, jobs.length));
  if (!jobs.length || (!offMain && (n === 1 || words < minWords))) return jobs.map((j) => blameChild(adapter, capture, j.diffs, j.gcRuns));
  const pool = new BlameThreads(n);
  const onAbort = () => void pool.close();
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await pool.blame(capture, jobs);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await pool.close();
  }
}

/** `inspect --watch`: blames computed on threads beside the samples, which do not wait for them (a Rails
 *  worker's takes about a second; the samples keep to the interval). A finished blame is handed to the
 *  sample's kept blames, so the next sample whose inputs are the same shows it; a blame that failed is
 *  forgotten (the next sample starts it again). */
export class BackgroundBlames {
  /** per child, the blame under way: what it is computed from (KeptBlames.key) and its end */
  private pending = new Map<number, { key: string | undefined; done: Promise<void> }>();
  /** started with the watch, so that they have loaded when the first sample has found its structures,
   *  and kept: a later blame (a worker that served requests) runs on compiled code */
  private threads = new BlameThreads(blameThreads()).start();
  /** the error of the last blame that failed (the watch reports it once) */
  failed?: unknown;
  private stopped = false;

  /** Is this child's blame, from inputs with this key, under way? */
  isPending(pid: number, key: string | undefined): boolean {
    const p = this.pending.get(pid);
    return !!p && p.key === key;
  }

  /** Starts blaming these children (keys: what each is computed from); each result goes to done. */
  start(capture: Capture, jobs: BlameJob[], keys: (string | undefined)[], done: (pid: number, blame: ChildBlame) => void): void {
    const work = this.threads.blame(capture, jobs).then(
      (blames) => blames.forEach((b, i) => done(jobs[i].diffs.pid, b)),
      (e) => {
        if (!this.stopped) this.failed = e;
      },
    );
    const settled = work.finally(() => jobs.forEach((j) => this.pending.get(j.diffs.pid)?.done === settled && this.pending.delete(j.diffs.pid)));
    jobs.forEach((j, i) => this.pending.set(j.diffs.pid, { key: keys[i], done: settled }));
  }

  /** Resolves when every blame started so far has finished (or failed). */
  async settle(): Promise<void> {
    await Promise.all([...this.pending.values()].map((p) => p.done));
  }

  /** Terminates the threads, busy or not. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.threads.close();
  }
}
