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
// bytes again (readsUnchanged reads them again: about as much memory as attach read, none of its work).
// A blame is a pure function of the attached capture, the child's diffs and mappings (in the key) and
// the GC assumption (always 1 live): reused with its group.
//
// Only --watch holds a Reuse; a one-shot inspect taps nothing.

import type { Capture, PageDiffs } from '../native/capture';
import type { ChildBlame } from '../blame/engine';
import type { Vma } from '../native/procfs-parse';
import { ReadTap, hashViews, readsUnchanged, tapReads } from '../native/probe';

/** What attach records in a capture: the parts a reused group gets back. */
type Attached = Pick<Capture, 'runtime' | 'heapMap' | 'ruby' | 'python'>;

interface Entry {
  key: string;
  reads: ReadTap;
  attached: Attached;
  /** blames of the group's children, filled by the command after the first blame */
  blames: Map<number, ChildBlame>;
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

const ids = new WeakMap<object, number>();
let nextId = 1;
function identity(o: unknown): number {
  if (!o || typeof o !== 'object') return 0;
  let id = ids.get(o);
  if (id === undefined) ids.set(o, (id = nextId++));
  return id;
}

const vmaKey = (vmas: Vma[]) => vmas.map((v) => `${v.start}-${v.end} ${v.perms} ${v.offset} ${v.dev} ${v.inode} ${v.path} ${v.bss ?? ''}`).join('\n');

function keyOf(x: AttachInputs): string {
  const diffs = x.diffs.map(
    (d) => `${d.pid}<${d.reference}:${d.addrs.length}:${d.wordPage.length}:${hashViews([d.addrs, d.status, d.wordPage, d.wordOffset, d.oldWord, d.newWord]).toString(16)}`,
  );
  return JSON.stringify([x.runtime, identity(x.parsed), x.mapFacts, x.pageSize, x.parent.pid, vmaKey(x.parent.vmas), x.children.map((c) => [c.pid, vmaKey(c.vmas)]), diffs]);
}

/** Reuse across the samples of one watch: one entry per forking process. */
export class Reuse {
  private entries = new Map<number, Entry>();

  /** Attaches the runtime's structures to capture (fresh, or those of the last sample when nothing they
   *  depend on changed); reused says which. The returned blames map belongs to this group's result. */
  attach(capture: Capture, inputs: AttachInputs, fresh: () => void): { reused: boolean; blames: Map<number, ChildBlame> } {
    const key = keyOf(inputs);
    const last = this.entries.get(inputs.parent.pid);
    if (last && last.key === key && readsUnchanged(last.reads)) {
      for (const [k, v] of Object.entries(last.attached)) if (v !== undefined) Object.assign(capture, { [k]: v });
      return { reused: true, blames: last.blames };
    }
    this.entries.delete(inputs.parent.pid);
    const { reads } = tapReads(fresh);
    const entry: Entry = { key, reads, attached: { runtime: capture.runtime, heapMap: capture.heapMap, ruby: capture.ruby, python: capture.python }, blames: new Map() };
    if (!reads.conflicted) this.entries.set(inputs.parent.pid, entry);
    return { reused: false, blames: entry.blames };
  }

  /** Forgets the groups of forking processes not seen in this sample. */
  keepOnly(parents: Set<number>): void {
    for (const p of this.entries.keys()) if (!parents.has(p)) this.entries.delete(p);
  }
}
