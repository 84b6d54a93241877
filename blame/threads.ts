// Blame of several children at once, on worker threads: one child's blame is pure CPU work over its own
// diffs and the parent's structures, and a Rails worker's takes about a second, so a 4-worker cluster's
// first `inspect` spends most of its time here, and `inspect --watch` must not hold its samples for it.
//
// Children are queued, one message each: the capture as that child's blame reads it (forChild: its
// diffs, its processes, its own entries of the per-child lists; ~30 MiB for a Rails worker), its large
// arrays in shared memory (sharedMessage), blamed with the same adapter and engine as the main thread,
// so the result is the same object the sequential path returns. Small jobs stay on
// the main thread: starting a thread and loading the blamers costs ~100 ms.

import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { type Capture, type PageDiffs, ownEntries } from '../native/capture';
import type { RuntimeAdapter } from '../runtimes/adapter';
import { type ChildBlame, blameChild } from './engine';

export interface BlameJob {
  diffs: PageDiffs;
  gcRuns: number;
  /** false: a blame without owners (BlameOptions) */
  owners?: boolean;
}

/** What a thread is sent for one child: the capture with only that child's diffs, and its GC runs. */
export interface ThreadInput {
  capture: Capture;
  gcRuns: number;
  owners?: boolean;
}

/** Below this many changed words in all, threads cost more than they save. */
export const MIN_THREADED_WORDS = 100_000;

/** The niceness of a watch's blame threads (Linux: per thread; raising it needs no privilege). */
const WATCH_BLAME_NICE = 10;

/** Threads to use: $COWSCOPE_BLAME_THREADS, else one per CPU (1: a one-shot inspect blames on its own
 *  thread, a watch on one thread beside it). */
export function blameThreads(): number {
  const env = process.env.COWSCOPE_BLAME_THREADS;
  if (env !== undefined && /^\d{1,3}$/.test(env) && Number(env) >= 1) return Number(env);
  return os.availableParallelism();
}

/** The capture as one child's blame reads it: that child's diffs, the processes a blamer looks at (the
 *  child, its reference, a controlled run's parent), and the runtime's per-child lists cut to its own
 *  entries. A 4-worker Rails cluster's message is 30% smaller (25-26 -> 18 MiB): every worker's chunks
 *  and page flags went to every thread. */
export function forChild(capture: Capture, diffs: PageDiffs): Capture {
  const keep = new Set([diffs.pid, diffs.reference, capture.run?.parent, capture.run?.reference]);
  const own = <T extends object>(structures: T | undefined): T | undefined => structures && ownEntries(structures, diffs.pid);
  return { ...capture, processes: capture.processes.filter((p) => keep.has(p.pid)), diffs: [diffs], ruby: own(capture.ruby), python: own(capture.python) };
}

/** Typed arrays at least this large go to a thread in shared memory rather than copied. */
const SHARED_MIN_BYTES = 64 * 1024;

/** The shared copy of each large array sent so far: a parent's structures go to every child's blame, and
 *  to every sample's of a watch, and are copied into shared memory once (and kept while the original
 *  is: a watch holds a kept parent's large arrays twice). */
const sharedCopies = new WeakMap<ArrayBufferView, ArrayBufferView>();

type TypedArray = Float64Array | Float32Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array | BigUint64Array | BigInt64Array;

/** The message as sent: its large typed arrays backed by SharedArrayBuffers, which postMessage shares
 *  instead of copying. A Rails worker's message is ~30 MiB (its diffs, its parent's structures): a
 *  structured clone took ~20 ms to write here and ~15-25 ms to read on the thread, for every blame.
 *  The blame only reads them. */
export function sharedMessage<T>(value: T): T {
  if (ArrayBuffer.isView(value)) {
    // a small view goes as it is (its whole buffer with it: none in a capture is a part of a larger one)
    if (value.byteLength < SHARED_MIN_BYTES || value instanceof DataView || Buffer.isBuffer(value) || value.buffer instanceof SharedArrayBuffer) return value;
    let copy = sharedCopies.get(value);
    if (!copy) {
      const a = value as unknown as TypedArray;
      const Ctor = a.constructor as new (b: SharedArrayBuffer) => TypedArray;
      const c = new Ctor(new SharedArrayBuffer(a.byteLength));
      (c as Uint8Array).set(a as Uint8Array);
      sharedCopies.set(value, (copy = c));
    }
    return copy as T;
  }
  if (Array.isArray(value)) return value.map(sharedMessage) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sharedMessage(v)])) as T;
  return value;
}

/** One child's blame, waiting for a thread or running on one. */
interface Task {
  id: number;
  input: ThreadInput;
  words: number;
  pid: number;
  /** undefined: superseded before it started (BlameThreads.drop) */
  resolve: (b: ChildBlame | undefined) => void;
  reject: (e: Error) => void;
}

/** Threads that blame: started once (each loads the engine and the blamers), then sent one child at a
 *  time from a queue, the largest of a call first, to whichever thread is free (a Rails worker's blame
 *  takes about a second, a small child's a few milliseconds). close() terminates them, busy or not. */
export class BlameThreads {
  private idle: Worker[] = [];
  private running = new Map<Worker, Task>();
  private queue: Task[] = [];
  private nextId = 1;
  private closed = false;
  /** per thread, the id of the blame it must stop (shared memory the thread looks at) */
  private cancelFlags = new Map<Worker, Int32Array>();

  /** nice: the threads' scheduling niceness (0: as this thread's; a watch's blames yield to its samples) */
  constructor(
    readonly size: number,
    private readonly nice = 0,
  ) {}

  /** Starts the threads now: they load while the caller does other work. */
  start(): this {
    while (!this.closed && this.idle.length + this.running.size < this.size) this.spawn();
    return this;
  }

  private spawn(): void {
    const cancel = new SharedArrayBuffer(4);
    const worker = new Worker(path.join(__dirname, 'thread-main.js'), { workerData: { nice: this.nice, cancel } });
    this.cancelFlags.set(worker, new Int32Array(cancel));
    worker.on('message', (m: { id: number; blame?: ChildBlame; error?: string; cancelled?: true }) => {
      // a thread replies only to the task it runs
      const task = this.running.get(worker);
      if (!task) return;
      this.running.delete(worker);
      this.idle.push(worker);
      if (task.id === m.id) {
        if (m.error !== undefined) task.reject(new Error(m.error));
        else task.resolve(m.cancelled ? undefined : m.blame);
      }
      this.dispatch();
    });
    // a thread that dies fails the blame it was running; the others go on (close: all of them fail)
    const fail = (e: Error) => {
      this.running.get(worker)?.reject(e);
      this.running.delete(worker);
      this.cancelFlags.delete(worker);
      this.idle = this.idle.filter((w) => w !== worker);
      if (this.closed || this.idle.length + this.running.size === 0) for (const t of this.queue.splice(0)) t.reject(e);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(this.closed ? 'blame aborted' : `a blame thread exited (code ${code})`)));
    this.idle.push(worker);
  }

  private dispatch(): void {
    while (this.idle.length && this.queue.length) {
      const task = this.queue.shift()!;
      const worker = this.idle.pop()!;
      this.running.set(worker, task);
      worker.postMessage({ id: task.id, ...task.input });
    }
  }

  /** Blame for each job, each as it is done (undefined: dropped before it started, or cancelled). */
  blameEach(capture: Capture, jobs: BlameJob[]): Promise<ChildBlame | undefined>[] {
    if (this.closed) return jobs.map(() => Promise.reject(new Error('blame aborted')));
    this.start();
    const tasks: Task[] = [];
    const results = jobs.map(
      (job) =>
        new Promise<ChildBlame | undefined>((resolve, reject) =>
          tasks.push({
            id: this.nextId++,
            // its large arrays in shared memory (the parent's copied once for all its children)
            input: { capture: sharedMessage(forChild(capture, job.diffs)), gcRuns: job.gcRuns, owners: job.owners },
            pid: job.diffs.pid,
            words: job.diffs.wordPage.length + job.diffs.addrs.length,
            resolve,
            reject,
          }),
        ),
    );
    // largest first: the last to finish is then a small one (blames queued by earlier calls keep their turn)
    this.queue.push(...tasks.sort((a, b) => b.words - a.words));
    this.dispatch();
    return results;
  }

  /** Blame for each job, in the jobs' order. */
  async blame(capture: Capture, jobs: BlameJob[]): Promise<ChildBlame[]> {
    const blames = await Promise.all(this.blameEach(capture, jobs));
    return blames.map((b) => b ?? assert.fail('a blame was dropped'));
  }

  /** Drops the queued (not yet running) blames of this child: they resolve undefined. */
  drop(pid: number): void {
    const [gone, kept] = [this.queue.filter((t) => t.pid === pid), this.queue.filter((t) => t.pid !== pid)];
    this.queue = kept;
    for (const t of gone) t.resolve(undefined);
  }

  /** Cancels the running blames of this child: each stops at its next look at the flag (every few
   *  hundred pages) and resolves undefined; the thread stays, warm. For blames no one will wait for: a
   *  newer one of the same child is what the caller needs (the last sample of a watch), and these would
   *  hold the threads. */
  cancelRunning(pid: number): void {
    for (const [worker, task] of this.running) if (task.pid === pid) Atomics.store(this.cancelFlags.get(worker)!, 0, task.id);
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = [...this.idle, ...this.running.keys()];
    await Promise.all(workers.map((w) => w.terminate()));
    for (const t of this.queue.splice(0)) t.reject(new Error('blame aborted'));
    this.idle = [];
    this.running.clear();
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
  if (!jobs.length || (!offMain && (n === 1 || words < minWords))) return jobs.map((j) => blameChild(adapter, capture, j.diffs, j.gcRuns, { owners: j.owners }));
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
   *  and kept: a later blame (a worker that served requests) runs on compiled code. Niced: a sample's own
   *  work (its diffs, a fresh attach when a worker changed) comes first, the blames take the CPU it
   *  leaves. Measured on 2 CPUs, a 4-worker Rails cluster whose workers ran at every sample (each sample
   *  attaches afresh and re-blames), alternating: samples 2-4 took 1.1-2.0 s niced, 2.1-3.1 s not;
   *  `--watch 1 --count 5` 10.2-11.4 s against 12.8-16.1 s. */
  private threads = new BlameThreads(blameThreads(), WATCH_BLAME_NICE).start();
  /** per child, the last blame that finished and the time of the sample whose inputs it was made from:
   *  shown, marked, while a newer one is under way (a worker serving requests changes at every sample) */
  private latest = new Map<number, { blame: ChildBlame; t: number }>();
  /** the error of the last blame that failed (the watch reports it once) */
  failed?: unknown;
  private stopped = false;

  /** Is this child's blame, from inputs with this key, under way? */
  isPending(pid: number, key: string | undefined): boolean {
    const p = this.pending.get(pid);
    return !!p && p.key === key;
  }

  /** Starts blaming these children (keys: what each is computed from); each result goes to done. A
   *  blame of the same child still waiting for a thread is dropped: its inputs are out of date (a live
   *  worker's own writes change its diffs at almost every sample, even with no request to serve). last:
   *  the caller waits for these (the last sample), and one of the same child still running is stopped. */
  start(capture: Capture, jobs: BlameJob[], keys: (string | undefined)[], t: number, done: (pid: number, blame: ChildBlame) => void, last = false): void {
    for (const j of jobs) {
      this.threads.drop(j.diffs.pid);
      // the last sample waits for these blames: an older blame of the same child still running would
      // only hold a thread (measured on a busy 4-worker cluster: 2 of the 6 blames the last one waited for)
      if (last) this.threads.cancelRunning(j.diffs.pid);
    }
    this.threads.blameEach(capture, jobs).forEach((blame, i) => {
      const pid = jobs[i].diffs.pid;
      const settled: Promise<void> = blame
        .then(
          (b) => {
            if (!b) return;
            if ((this.latest.get(pid)?.t ?? -1) <= t) this.latest.set(pid, { blame: b, t });
            done(pid, b);
          },
          (e) => {
            if (!this.stopped) this.failed = e;
          },
        )
        .finally(() => this.pending.get(pid)?.done === settled && this.pending.delete(pid));
      this.pending.set(pid, { key: keys[i], done: settled });
    });
  }

  /** The last blame of this child that finished, and the time of the sample it was made for. */
  lastFinished(pid: number): { blame: ChildBlame; t: number } | undefined {
    return this.latest.get(pid);
  }

  /** Forgets the last blames of children not in this sample (workers that went away). */
  keepOnly(pids: Set<number>): void {
    for (const pid of this.latest.keys()) if (!pids.has(pid)) this.latest.delete(pid);
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
