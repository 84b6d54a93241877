// What a runtime (Ruby today, CPython next) gives the rest of cowscope. The blame engine, the gather
// layer and the commands talk to runtimes only through this interface, so a new runtime is a new
// folder under runtimes/ plus a line in runtimes/index.ts, without touching the engine.

import type { Laps } from '../gather/laps';
import type { Capture, PageDiffs } from '../native/capture';
import type { Vma } from '../native/procfs-parse';
import type { Remedy } from '../blame/catalog';

/** A heap map read while the agent still writes it. finish() once the agent reported it done; read()
 *  then gives the map's objects on the pages asked for (HeapMapSource.pick), or undefined when following
 *  did not work out (the caller then reads the file the ordinary way, with its checks and messages);
 *  cancel() stops it (safe at any time). */
export interface HeapMapFollower {
  finish(): void;
  read(): Promise<((keepPages: Float64Array) => unknown) | undefined>;
  cancel(): Promise<void>;
}

/** Who owns a changed word (an object slot, say), for the by-type / by-class / by-site tables. */
export interface WordOwner {
  /** one key per owner (its address), so words of one owner count once per page */
  key: number;
  type: string;
  class: string;
  site?: string;
  /** which part of the owner the words are (its buffer, its table), when the runtime can tell */
  field?: string;
}

/** One child's blame, page by page. Made once per child by the runtime; holds no global state. */
export interface PageBlamer {
  /** the region a copied page belongs to (ruby-heap, malloc-heap, anon, file-data, stack, …) */
  regionOf(page: number): string;
  /** causes of the changed words [first, end) of copied page p of the diffs, and for each the key of
   *  the owner of its word (0: none known), word k's at k - first; the engine asks ownerOf for one word
   *  per owner. The arrays are the engine's, reused page after page and longer than a page may need:
   *  written by index, never shortened, they keep their storage (a Rails worker has 674K changed words).
   *  ownerKeys null: the caller shows no owners, and they are not looked up */
  changedWords(p: number, first: number, end: number, causes: string[], ownerKeys: number[] | null): void;
  /** the owner of changed word k, a word of the page changedWords judged last (the description is made
   *  once per owner and page, not per word) */
  ownerOf(k: number): WordOwner | undefined;
  /** the cause of copied page p whose bytes did not change */
  identicalPage(p: number): string;
  /** causes that stored values a page already held, inferred from what lies on it (a GC aging young
   *  objects on 3.3+ leaves their flags as they were): they wrote the page too, so they count as having
   *  touched it, and a strategy must remove them as well to save it. causes: those its words (or, for a
   *  page whose bytes did not change, identicalPage) gave it */
  silentCauses(p: number, causes: readonly string[]): string[];
  /** strategy steps that would release copied page p's memory before the fork, whatever wrote it: the
   *  child's writes there then land on a new page, not a copy (glibc's malloc_trim returns the whole pages
   *  inside free chunks to the kernel). Empty or absent: none. */
  releasedBy?(p: number): readonly Remedy[];
  /** set when the runtime's version is not in its table: only version-independent rules ran */
  unknownVersion?: string;
  /** the strategy steps this runtime's agent has: the predicted savings name only those (absent: every
   *  step of the catalog's remedies, Ruby's). A cause's remedy may be another runtime's step (prewarm
   *  for exec.lazy-bind), which `compare` would refuse for this one. */
  readonly strategySteps?: readonly string[];
  /** pages a strategy step would add to this child's copies: memory the step keeps the child from
   *  reusing (CPython's gc.disable: garbage no collection frees, so later allocations spread over free
   *  blocks of shared pools). Not copied in this run, so no cause of it is on a copied page. */
  costs?(): StepCost[];
  /** causes a step removes from this child beyond the catalog's remedies (see StepEffect); given each
   *  copied page's causes and the steps that release it, in the order of the child's PageDiffs */
  effects?(pageCauses: readonly string[][], pageReleased: readonly (readonly string[] | undefined)[]): StepEffect[];
}

/** Causes a strategy step removes from this child beyond the catalog's remedies, because of what the
 *  child did (Ruby: a prewarm runs the workload, and with it the workload's GCs, in the parent). */
export interface StepEffect {
  step: Remedy;
  removes: string[];
  why: string;
  /** causes removed only on the pages where a cause in removes is too (glibc's headers and links that an
   *  allocation the step moves wrote with it) */
  alongside?: string[];
  /** up to this many of the pages the step saves that a cause in removes wrote are written again all the
   *  same (a cost the engine counts once the pages' cause sets are known: refillCosts) */
  refilled?: { pages: number; why: string };
}

/** Copied pages a strategy step would add to a child, and why. */
export interface StepCost {
  step: Remedy;
  pages: number;
  why: string;
  /** the action the cost comes of, where more than one step takes it (CPython's gc and freeze steps both
   *  collect first): a strategy of several such steps counts it once */
  shared?: string;
}

/** Fork-time map of the runtime's heap, as the agent wrote it. */
export interface HeapMapSource {
  file: string;
  version: string;
  platform: string;
  heapPageSize: number;
  slotSize: number;
  /** the largest map to read (bytes); default DEFAULT_MAX_HEAP_MAP */
  maxBytes?: number;
  /** the whole map already parsed by the runtime's ingest (a cache); file is then not read again */
  parsed?: unknown;
  /** the map already read while it was written (cowscope run, HeapMapFollower): the objects on the given
   *  pages, as the runtime's ingest of the file would give them */
  pick?: (keepPages: Float64Array) => unknown;
}

export interface RuntimeAdapter {
  name: string;
  /** the strategy steps this runtime's agent has (absent: every step, Ruby's); the blamer's
   *  strategySteps, for what renders a report without a blamer (a cause's fix) */
  readonly strategySteps?: readonly string[];
  /** Reads the heap map and discovers the runtime's structures in the fork-time image (referencePid)
   *  and each child's allocator state, keeping only what touches copied pages; records it in the
   *  capture so that blame can run again offline. May read on the thread pool (a promise): nothing
   *  reads on once it has settled. `laps`, when given, gets the time of each step (--debug); `early`
   *  is what prepare returned, when it ran. */
  attach(capture: Capture, map: HeapMapSource, reference: { pid: number; vmas: Vma[] }, children: { pid: number; vmas: Vma[] }[], laps?: Laps, early?: unknown): void | Promise<void>;
  /** attach in two parts, for a watch (gather/reuse.ts): parent, the structures found in the parent
   *  (a function of the heap map, the parent's mappings, the parent's memory, and of the children only
   *  through the pages they copied, copiedPagesOf); then rest, what depends on the children (their own allocator state,
   *  the objects their words point to). parent then rest leaves the capture as attach does. A watch keeps
   *  the parent's part while its inputs are the same, and runs rest alone: a busy worker changes its
   *  words at every sample, rarely its copied pages. */
  parts?: {
    parent(capture: Capture, map: HeapMapSource, reference: { pid: number; vmas: Vma[] }, laps?: Laps): Promise<void>;
    rest(capture: Capture, map: HeapMapSource, reference: { pid: number; vmas: Vma[] }, children: { pid: number; vmas: Vma[] }[], laps?: Laps): Promise<void>;
  };
  /** What attach needs that no heap map does (the allocator's state on the copied pages), started once
   *  the capture has its diffs: `run` calls it while the agent still writes the map, and gives the
   *  result to attach (which waits for what runs on the thread pool). */
  prepare?(capture: Capture, reference: { pid: number; vmas: Vma[] }, children: { pid: number; vmas: Vma[] }[]): unknown;
  /** Starts parsing the heap map while the agent still writes it (`cowscope run`), where the runtime
   *  can; its result goes to attach as map.parsed. */
  followHeapMap?(map: { file: string; heapPageSize: number; slotSize: number; maxBytes: number }): HeapMapFollower;
  /** true when the capture carries this runtime's structures */
  present(capture: Capture): boolean;
  blamer(capture: Capture, diffs: PageDiffs, gcRuns: number): PageBlamer;
  /** what a reader of the report must know about this runtime's capture (threads at the fork, version
   *  behaviour that changes the numbers, versions outside the table) */
  notes(capture: Capture, blames: { unknownVersion?: string }[]): string[];
}
