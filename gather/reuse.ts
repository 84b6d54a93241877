// What `inspect --watch` keeps from one sample to the next: per forking process, the runtime's
// structures its adapter attached (found by reading the parent's and the children's memory) and the
// children's blames, reused while everything they were computed from is the same.
//
// Sound by construction, not by guessing when a process may have written: attach is a deterministic
// function of
//   - values this module compares whole: the parsed heap map (the same object while its file is
//     unchanged, gather/live-map.ts), the map's facts, the page size, the parent's and each child's pid
//     and mappings, and each child's word diffs against the parent (pages, statuses, offsets, old and new
//     words; hashed, native/reuse.cc);
//   - memory: every page and pointer-scan block it read, each with the hash of the bytes it saw at that
//     read (a read tap, native/reuse.cc).
// A later sample reuses the result only when the values are equal and every tapped read gives the same
// bytes again (readsUnchangedAsync reads them again: about as much memory as attach read, none of its
// work).
//
// A busy worker changes its words at every sample, so the whole result is rarely reusable. An adapter
// whose attach comes in parts (RuntimeAdapter.parts: the parent's structures, a function of the heap
// map, the parent's mappings, the parent's memory and the children's copied pages; then the rest, which
// reads the children and follows their new words) lets a sample keep the parent's part while those are
// the same, its own reads included, and make the rest again: the same result as a fresh attach, for a
// fraction of its cost.
// A blame is a pure function of the structures attached (those shared by the group, and the child's own
// entries in their per-child lists), the parent's and the child's mappings, the child's diffs and the GC
// assumption (always 1 live): reused with its group, and also after a fresh attach (another child
// changed) when all of those hash the same as last time.
//
// Memory that changes while attach reads it (one page read twice with different bytes) keeps nothing:
// the next sample finds everything afresh.
//
// Only --watch holds a Reuse; a one-shot inspect taps nothing.

import { type Capture, type PageDiffs, copiedPagesOf, isPerChild, ownEntries } from '../native/capture';
import type { ChildBlame } from '../blame/engine';
import type { Vma } from '../native/procfs-parse';
import { ReadTap, hashViews, readsUnchangedAsync, tapReadsAsync } from '../native/probe';

/** What attach records in a capture: the parts a reused group gets back. */
type Attached = Pick<Capture, 'runtime' | 'heapMap' | 'ruby' | 'python'>;

interface Entry {
  key: [string, string][];
  /** what the parent's part of attach read (all of attach when not in parts), and the rest */
  reads: { parent: ReadTap; rest: ReadTap };
  /** an attach in parts: the structures after its parent's part */
  parentPart?: Attached;
  attached: Attached;
  /** per child: what its blame depends on (hashed), and the blame once the command made it */
  blames: Map<number, { key: string; blame?: ChildBlame }>;
}

/** A child's blame, kept across samples: get gives the last sample's blame when everything it is
 *  computed from is the same, set records a new one. */
export interface KeptBlames {
  get(pid: number): ChildBlame | undefined;
  set(pid: number, blame: ChildBlame): void;
  /** what the child's blame is computed from, hashed: equal keys, equal blames */
  key(pid: number): string | undefined;
}


/** The typed arrays and the other values of a structure, in a fixed order (what hashViews digests);
 *  per-child lists are left out unless keepPerChild. */
function flatten(v: unknown, views: ArrayBufferView[], text: string[], keepPerChild: boolean): void {
  if (ArrayBuffer.isView(v)) {
    text.push(`#${views.length}:${v.constructor.name}`);
    views.push(v);
  } else if (Array.isArray(v)) {
    if (!keepPerChild && isPerChild(v)) return void text.push('per-child');
    text.push(`[${v.length}`);
    for (const e of v) flatten(e, views, text, keepPerChild);
    text.push(']');
  } else if (v && typeof v === 'object') {
    for (const [k, e] of Object.entries(v)) {
      text.push(k);
      flatten(e, views, text, keepPerChild);
    }
    text.push('}');
  } else text.push(JSON.stringify(v) ?? 'undefined');
}

function digest(v: unknown, keepPerChild = false): string {
  const views: ArrayBufferView[] = [];
  const text: string[] = [];
  flatten(v, views, text, keepPerChild);
  return hashViews([...views, Buffer.from(text.join('\0'))]).toString(16);
}

/** A child's own entries in the per-child lists of the runtime's structures. */
function childDigest(runtime: object, pid: number): string {
  const all = runtime as Record<string, unknown>;
  return digest(Object.entries(ownEntries(all, pid)).filter(([name]) => isPerChild(all[name])), true);
}

/** Per child, what its blame is computed from: the attached structures shared by the group, the child's
 *  own entries in them, its mappings and its diffs (the last two from the key). */
function blameKeys(attached: Attached, key: [string, string][], children: number[]): Map<number, string> {
  const shared = digest(attached);
  const runtime = (attached.ruby ?? attached.python) as object | undefined;
  const part = (name: string) => key.find(([n]) => n === name)?.[1] ?? '';
  return new Map(
    children.map((pid) => [
      pid,
      JSON.stringify([shared, part(PART.map), part(PART.parentMappings), runtime ? childDigest(runtime, pid) : '', part(PART.childMappings(pid)), part(PART.childDiffs(pid))]),
    ]),
  );
}

/** later: the forking process's entry at the time of a set (a blame computed in the background lands
 *  after later samples attached afresh: it is kept there too when its inputs are the same). */
function kept(blames: Entry['blames'], later: () => Entry | undefined = () => undefined): KeptBlames {
  return {
    get: (pid) => blames.get(pid)?.blame,
    key: (pid) => blames.get(pid)?.key,
    set: (pid, blame) => {
      const e = blames.get(pid);
      if (!e) return;
      e.blame = blame;
      const now = later()?.blames.get(pid);
      if (now && now !== e && now.key === e.key) now.blame = blame;
    },
  };
}

/** The inputs of one group's attach besides memory. */
export interface AttachInputs {
  runtime: string;
  /** the parsed heap map (compared by identity: the map cache hands out the same object while the file is unchanged) */
  parsed: unknown;
  mapFacts: unknown;
  pageSize: number;
  parent: { pid: number; vmas: Vma[] };
  children: { pid: number; vmas: Vma[] }[];
  diffs: PageDiffs[];
}

/** The names of the key's parts, as a --debug line says which one changed; keyOf, the parent's part
 *  and the blame keys find the parts by these. */
const PART = {
  map: 'the heap map',
  parentMappings: "the parent's mappings",
  copied: 'the pages the children copied',
  childMappings: (pid: number) => `child ${pid}'s mappings`,
  childDiffs: (pid: number) => `child ${pid}'s diffs`,
};
/** The parts of the key the parent's part of an attach in parts depends on. */
const PARENT_PARTS = new Set([PART.map, PART.parentMappings, PART.copied]);
const parentParts = (key: [string, string][]) => key.filter(([name]) => PARENT_PARTS.has(name));

const ids = new WeakMap<object, number>();
let nextId = 1;
function identity(o: unknown): number {
  if (!o || typeof o !== 'object') return 0;
  let id = ids.get(o);
  if (id === undefined) ids.set(o, (id = nextId++));
  return id;
}

const vmaKey = (vmas: Vma[]) => vmas.map((v) => `${v.start}-${v.end} ${v.perms} ${v.offset} ${v.dev} ${v.inode} ${v.path} ${v.bss ?? ''}`).join('\n');

/** The key, as named parts (a --debug line says which part changed). */
function keyOf(x: AttachInputs): [string, string][] {
  return [
    [PART.map, JSON.stringify([x.runtime, identity(x.parsed), x.mapFacts, x.pageSize])],
    [PART.parentMappings, `${x.parent.pid}\n${vmaKey(x.parent.vmas)}`],
    ...x.children.map((c): [string, string] => [PART.childMappings(c.pid), vmaKey(c.vmas)]),
    ...x.diffs.map((d): [string, string] => [
      PART.childDiffs(d.pid),
      `${d.reference}:${d.addrs.length}:${d.wordPage.length}:${hashViews([d.addrs, d.status, d.wordPage, d.wordOffset, d.oldWord, d.newWord]).toString(16)}`,
    ]),
    // last: a child's change named first (the union of what they copied follows from theirs)
    [PART.copied, hashViews([copiedPagesOf(x.diffs)]).toString(16)],
  ];
}

/** The first part of the key that differs, or undefined when they are the same. */
function changed(a: [string, string][], b: [string, string][]): string | undefined {
  if (a.length !== b.length || a.some(([name], i) => name !== b[i][0])) return 'the processes';
  return a.find(([, v], i) => v !== b[i][1])?.[0];
}

/** Nothing read (an attach that is not in parts reads everything in its parent part). */
const NO_READS: ReadTap = { pid: new Int32Array(), addr: new Float64Array(), len: new Float64Array(), kind: new Uint8Array(), hash: new BigUint64Array(), conflicted: false };

/** The structures with the per-child parts' objects copied: the rest part sets their fields anew,
 *  and a kept parent part must stay as it was. */
const copyOf = (a: Attached): Attached => ({ runtime: a.runtime, heapMap: a.heapMap, ruby: a.ruby && { ...a.ruby }, python: a.python && { ...a.python } });
const attachedIn = (capture: Capture): Attached => ({ runtime: capture.runtime, heapMap: capture.heapMap, ruby: capture.ruby, python: capture.python });

/** An attach in two parts (RuntimeAdapter.parts): the parent's, then the rest. */
export interface AttachParts {
  parent(): Promise<void>;
  rest(): Promise<void>;
}

/** Reuse across the samples of one watch: one entry per forking process. */
export class Reuse {
  private entries = new Map<number, Entry>();
  /** forking processes whose last attach saw memory change under it (nothing kept) */
  private unsteady = new Set<number>();

  /** Starts checking, on the thread pool, whether the memory the last attach of this forking process
   *  read is unchanged: that of its parent part, and that of the rest (undefined: nothing kept). Started
   *  before the diffs, so that both run at once. */
  checkReads(parent: number): Promise<{ parent: boolean; rest: boolean }> | undefined {
    const last = this.entries.get(parent);
    if (!last) return undefined;
    const check = (tap: ReadTap) => readsUnchangedAsync(tap).catch(() => false);
    return Promise.all([check(last.reads.parent), check(last.reads.rest)]).then(([p, r]) => ({ parent: p, rest: r }));
  }

  /** Attaches the runtime's structures to capture:
   *  - those of the last sample when its key is the same and so are its reads (readsSame, from
   *    checkReads);
   *  - else, for an attach in parts, when what the parent's part depends on is the same (the heap map,
   *    the parent's mappings, the pages the children copied, the memory the part read), that part of the last
   *    sample and the rest made again;
   *  - else fresh (in parts when there are: the next sample may keep the parent's).
   *  Each part with its own read tap. The blames map belongs to the result: the command fills it, and
   *  gets it back with a reused result. */
  async attach(
    capture: Capture,
    inputs: AttachInputs,
    fresh: () => void | Promise<void>,
    readsSame?: Promise<{ parent: boolean; rest: boolean }>,
    parts?: AttachParts,
  ): Promise<{ reused: boolean; partly: boolean; blames: KeptBlames; why?: string }> {
    const key = keyOf(inputs);
    const parent = inputs.parent.pid;
    const last = this.entries.get(parent);
    const same = (await readsSame) ?? { parent: false, rest: false };
    const differs = last && changed(last.key, key);
    if (last && same.parent && same.rest && !differs) {
      for (const [k, v] of Object.entries(last.attached)) if (v !== undefined) Object.assign(capture, { [k]: v });
      return { reused: true, partly: false, blames: kept(last.blames, () => this.entries.get(parent)), why: undefined };
    }
    const why = last ? (differs ? `${differs} changed` : 'memory it read changed') : this.unsteady.has(parent) ? 'memory changed while the last sample read it' : 'first sample';
    this.entries.delete(parent);
    const keepParent = !!parts && !!last?.parentPart && same.parent && !changed(parentParts(last.key), parentParts(key));
    let reads: Entry['reads'];
    let parentPart: Attached | undefined;
    if (keepParent) {
      parentPart = last!.parentPart!;
      Object.assign(capture, copyOf(parentPart));
      reads = { parent: last!.reads.parent, rest: (await tapReadsAsync(parts!.rest)).reads };
    } else if (parts) {
      const own = (await tapReadsAsync(parts.parent)).reads;
      parentPart = copyOf(attachedIn(capture));
      reads = { parent: own, rest: (await tapReadsAsync(parts.rest)).reads };
    } else reads = { parent: (await tapReadsAsync(async () => fresh())).reads, rest: NO_READS };
    const attached = attachedIn(capture);
    // A child whose blame inputs are all the same as last time keeps its blame (another child changed).
    const blames: Entry['blames'] = new Map();
    for (const [pid, k] of blameKeys(attached, key, inputs.children.map((c) => c.pid))) {
      const before = last?.blames.get(pid);
      blames.set(pid, { key: k, blame: before?.key === k ? before.blame : undefined });
    }
    const conflicted = reads.parent.conflicted || reads.rest.conflicted;
    if (!conflicted) this.entries.set(parent, { key, reads, parentPart, attached, blames });
    if (conflicted) this.unsteady.add(parent);
    else this.unsteady.delete(parent);
    return { reused: false, partly: keepParent, blames: kept(blames, () => this.entries.get(parent)), why };
  }

  /** Forgets the groups of forking processes not seen in this sample. */
  keepOnly(parents: Set<number>): void {
    for (const p of this.entries.keys()) if (!parents.has(p)) this.entries.delete(p);
    for (const p of this.unsteady) if (!parents.has(p)) this.unsteady.delete(p);
  }
}
