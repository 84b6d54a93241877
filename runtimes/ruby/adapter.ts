// The Ruby runtime adapter: heap map + structure discovery for gather, and the blamer for the engine.

import { type Capture, copiedPagesOf } from '../../native/capture';
import type { Vma } from '../../native/procfs-parse';
import { GlibcHeap, MallocChunks, MmappedChunks, childChunksAsync, discoverGlibcHeapAsync, discoverMmappedChunks } from '../../allocators/glibc/chunks';
import { Laps } from '../../gather/laps';
import { bornTargets, pointedPages, readWords } from '../../native/probe';
import type { HeapMapSource, RuntimeAdapter } from '../adapter';
import { rubyBlamer } from './blamer';
import { ST_TABLE_CHUNKS, discoverRubyStructures, StructLayout } from './discover';
import { followRubyHeapMap, ingestRubyHeapMap, keepOnPages } from './heap-map';
import type { HeapDumpIngest } from '../../native/probe';
import { MARKING_GC_STEPS, chunkHoldsOnlyData, layoutFor, ownsNoChunk, vmOwnThreads } from './layouts';
import type { ChildBlame } from '../../blame/engine';

/** The offsets discovery needs; a version outside the table gets the version-independent part (slot
 *  grid from the dump, malloc chunks). */
function structLayout(map: HeapMapSource): StructLayout {
  const L = layoutFor(map.version);
  return {
    heapPageSize: map.heapPageSize,
    slotSize: map.slotSize,
    heapPage: L?.heapPage.size ? L.heapPage : { size: 0, slotSizeOffset: null, startOffset: 0, bitmapsOffset: 0 },
    iseqBody: L?.iseqBody.callData ? L.iseqBody : { pointerOffset: 0, isEntries: 0, callData: 0, isSizes: [], ciSize: 0, callDataEntry: 16, isEntry: 16 },
    env: L?.env ?? null,
    ownsNoChunk: (flagsLo) => ownsNoChunk(L, flagsLo),
    chunkHoldsOnlyData: (flagsLo, shape, slotOffset) => chunkHoldsOnlyData(L, flagsLo, shape, slotOffset),
    classExt: L?.classExt ?? null,
    eltsShared: L?.strShared ?? null,
  };
}

const diffsOf = (capture: Capture, pid: number) => capture.diffs?.find((d) => d.pid === pid);

/** Every promise's value once all have settled, or the first one's error: none still runs after. */
async function allSettledOrThrow<T>(promises: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** At most this many pages pointed to by the children's new words are added to the heap-map ingest. */
const MAX_POINTED_PAGES = 100_000;

/** Anonymous read-write mappings (where the GC heap lives), not the named ones ([heap], [stack]). */
const anonymous = (vmas: Vma[]) => vmas.filter((v) => v.inode === 0 && v.perms === 'rw-p' && !v.path.startsWith('['));

/** The copied pages plus the pages of anonymous memory (where the GC heap lives) that the children's
 *  new words point to, sorted. */
function withPointedPages(capture: Capture, copiedPages: Float64Array, vmas: Vma[]): Float64Array {
  const words = (capture.diffs ?? []).map((d) => d.newWord);
  return pointedPages(words, anonymous(vmas), capture.meta.pageSize, copiedPages, MAX_POINTED_PAGES);
}

/** At most this many objects per child are looked up (a bound on the time and the capture's size). */
const MAX_CHILD_OBJECTS = 200_000;

/** Objects the child allocated on GC heap pages it created itself (not in the fork-time image, so not in
 *  the heap map) that its changed words outside the GC heap point to: their flags words, read from the
 *  stopped child, tell what they are (a call cache, say). */
function objectsBornInChild(capture: Capture, child: { pid: number; vmas: Vma[] }, bodies: Float64Array, heapPageSize: number): { address: Float64Array; flags: Uint32Array } {
  const diffs = diffsOf(capture, child.pid);
  if (!diffs) return { address: new Float64Array(), flags: new Uint32Array() };
  // pointers into anonymous rw-p mappings of the child, from words on pages outside the known GC heap,
  // to memory outside it: GC heap pages the child mapped
  const address = bornTargets(diffs, bodies, heapPageSize, anonymous(child.vmas), MAX_CHILD_OBJECTS);
  const words = readWords(child.pid, address);
  const keep: number[] = [];
  for (let i = 0; i < address.length; i++) if (words.ok[i]) keep.push(i);
  return { address: Float64Array.from(keep, (i) => address[i]), flags: Uint32Array.from(keep, (i) => Number(words.words[i] & 0xffffffffn)) };
}

/** Each child's own chunks on its copied pages, walked with the fork-time tcache key (the children
 *  inherited it), all children at once on the thread pool. */
const childChunksOf = (capture: Capture, children: { pid: number; vmas: Vma[] }[], tcacheKey: string) =>
  allSettledOrThrow(children.map(async (c) => ({ pid: c.pid, chunks: await childChunksAsync(c.pid, c.vmas, diffsOf(capture, c.pid)?.addrs ?? new Float64Array(), capture.meta.pageSize, tcacheKey) })));

/** The allocator's state in the fork-time image and in each child, on the copied pages: it needs no heap
 *  map. Walked on the thread pool: the fork-time image's malloc arenas, then, with its tcache key (the
 *  children inherited it), each child's own chunks on its copied pages (memory it freed and carved anew
 *  belongs to it), all children at once. `run` starts it while the agent still writes the map. */
interface RubyEarly {
  glibc: Promise<GlibcHeap>;
  childChunks: Promise<{ pid: number; chunks: MallocChunks }[]>;
  /** the blocks glibc mmapped, found here: the walk needs no heap map, so `run` does it while the map is
   *  written (30-35 ms of a million-object run's end otherwise) */
  mmapped: MmappedChunks;
}

function prepareRuby(capture: Capture, reference: { pid: number; vmas: Vma[] }, children: { pid: number; vmas: Vma[] }[]): RubyEarly {
  const pageSize = capture.meta.pageSize;
  const copied = copiedPagesOf(capture.diffs);
  const glibc = discoverGlibcHeapAsync(reference.pid, reference.vmas, copied, pageSize, ST_TABLE_CHUNKS);
  const childChunks = glibc.then((g) => childChunksOf(capture, children, g.tcacheKey));
  // attach awaits both; a failure before it does is reported there, not as an unhandled rejection
  glibc.catch(() => undefined);
  childChunks.catch(() => undefined);
  return { glibc, childChunks, mmapped: discoverMmappedChunks(reference.pid, reference.vmas, copied, pageSize) };
}

/** The map's objects on the kept pages (RubyKept), every class, module, iseq and block environment
 *  among them. A map parsed whole once (inspect --watch caches it) is cut to them: the same objects a
 *  filtered ingest would keep, without reading the file again; `run` reads the map while the agent writes
 *  it, and picks the same objects from what it read. */
function mapObjects(map: HeapMapSource, keep: Float64Array, pageSize: number): HeapDumpIngest {
  const whole = map.parsed as HeapDumpIngest | undefined;
  if (whole) return keepOnPages(whole, keep, pageSize, map.slotSize);
  return map.pick ? (map.pick(keep) as HeapDumpIngest) : ingestRubyHeapMap(map.file, map.heapPageSize, keep, map.slotSize, map.maxBytes);
}

/** The pages attach keeps the map's objects on: the copied pages, and the pages of anonymous memory the
 *  children's new words point to (a call-cache record's callinfo may live on a page nobody copied: their
 *  types say what the pointing words are). The structures are found from the objects on the copied pages
 *  alone, so that they depend on nothing else of the children (a busy worker's words point to other
 *  pages from one sample to the next; its copied pages stay the same). */
interface RubyKept {
  copied: Float64Array;
  objects: Float64Array;
}

function keptPages(capture: Capture, reference: { vmas: Vma[] }): RubyKept {
  const copied = copiedPagesOf(capture.diffs);
  return { copied, objects: withPointedPages(capture, copied, reference.vmas) };
}

/** The parent's part of attach: the runtime, the GC heap's bodies, and the structures found in the
 *  fork-time image on the copied pages (from the map's objects there, onCopied, and the allocator's state). */
async function attachParent(capture: Capture, map: HeapMapSource, reference: { pid: number; vmas: Vma[] }, onCopied: HeapDumpIngest, copied: Float64Array, glibc: Promise<GlibcHeap>, laps: Laps, mmapped?: MmappedChunks): Promise<void> {
  const pageSize = capture.meta.pageSize;
  capture.runtime = { name: 'ruby', version: map.version, platform: map.platform, heapPageSize: map.heapPageSize, slotSize: map.slotSize };
  const ruby = await discoverRubyStructures(reference.pid, onCopied, structLayout(map), reference.vmas, copied, pageSize, () => laps.wait(glibc), capture.run?.cacheProbe, mmapped);
  laps.lap('structures');
  capture.ruby = ruby;
  // with the GC heap pages found in memory (born after the map)
  capture.heapMap = { heapPageSize: map.heapPageSize, bodies: ruby.bodies, objects: onCopied.objects, free: onCopied.free, malformed: onCopied.malformed };
}

/** The rest of attach, after the parent's part: the map's objects on every kept page, and each child's
 *  own part (its chunks on its copied pages, the objects it allocated on GC heap pages it mapped). */
async function attachRest(capture: Capture, dump: HeapDumpIngest, children: { pid: number; vmas: Vma[] }[], childChunks: Promise<{ pid: number; chunks: MallocChunks }[]>, laps: Laps): Promise<void> {
  const ruby = capture.ruby!;
  ruby.objects = dump.table;
  ruby.childObjects = children.map((c) => ({ pid: c.pid, ...objectsBornInChild(capture, c, ruby.bodies, capture.runtime!.heapPageSize) }));
  laps.lap('born objects');
  ruby.childChunks = await laps.wait(childChunks);
}

export const rubyAdapter: RuntimeAdapter = {
  name: 'ruby',
  prepare: prepareRuby,
  // The same steps as parts.parent then parts.rest, fused: one pass over the map picks the objects of
  // both parts (a `run`'s map is streamed from the file, not cached), and the arenas' walks start early
  // (prepare, beside the diffs).
  async attach(capture: Capture, map: HeapMapSource, reference: { pid: number; vmas: Vma[] }, children: { pid: number; vmas: Vma[] }[], laps = new Laps(), early?: unknown): Promise<void> {
    laps.skip(); // the steps below are attach's own
    const { glibc, childChunks, mmapped } = (early as RubyEarly | undefined) ?? prepareRuby(capture, reference, children);
    try {
      const kept = keptPages(capture, reference);
      const dump = mapObjects(map, kept.objects, capture.meta.pageSize);
      laps.lap('map objects');
      await attachParent(capture, map, reference, keepOnPages(dump, kept.copied, capture.meta.pageSize, map.slotSize), kept.copied, glibc, laps, mmapped);
      await attachRest(capture, dump, children, childChunks, laps);
    } finally {
      // nothing reads on after attach returns or throws (a read tap may be open around it)
      await Promise.allSettled([glibc, childChunks]);
    }
  },
  parts: {
    async parent(capture, map, reference, laps = new Laps()) {
      laps.skip();
      const copied = copiedPagesOf(capture.diffs);
      const glibc = discoverGlibcHeapAsync(reference.pid, reference.vmas, copied, capture.meta.pageSize, ST_TABLE_CHUNKS);
      glibc.catch(() => undefined); // its wait shows as 'waiting for the pool'
      try {
        const onCopied = mapObjects(map, copied, capture.meta.pageSize);
        laps.lap('map objects');
        await attachParent(capture, map, reference, onCopied, copied, glibc, laps);
      } finally {
        await Promise.allSettled([glibc]);
      }
    },
    async rest(capture, map, reference, children, laps = new Laps()) {
      laps.skip();
      const childChunks = childChunksOf(capture, children, capture.ruby!.tcacheKey);
      childChunks.catch(() => undefined);
      try {
        const kept = keptPages(capture, reference);
        laps.lap('pointed pages');
        const dump = mapObjects(map, kept.objects, capture.meta.pageSize);
        laps.lap('map objects');
        await attachRest(capture, dump, children, childChunks, laps);
      } finally {
        await Promise.allSettled([childChunks]);
      }
    },
  },
  followHeapMap: (map) => followRubyHeapMap(map.file, map.heapPageSize, map.slotSize, map.maxBytes),
  present: (capture) => !!capture.ruby && capture.runtime?.name === 'ruby',
  notes(capture: Capture, blames: ChildBlame[]): string[] {
    const notes: string[] = [];
    const version = capture.runtime?.version ?? '';
    const run = capture.run;
    if (run) {
      const rubyThreads = run.threadsAtFork.length;
      if (rubyThreads > 1 || run.osThreadsAtFork - vmOwnThreads(version) > 1)
        notes.push(
          `${rubyThreads} Ruby thread${rubyThreads === 1 ? '' : 's'} (${run.threadsAtFork.map((t) => t.name).join(', ')}) and ${run.osThreadsAtFork} OS threads were alive at the fork point: only the forking thread exists in the children, so a child that waits for another one hangs`,
        );
      // Strategy steps that run a marking GC in the parent just before the fork.
      const gcSteps = run.strategy.split('+').filter((st) => (MARKING_GC_STEPS as readonly string[]).includes(st));
      if (gcSteps.length && layoutFor(version)?.markEmptiesCallCaches)
        notes.push(
          `Ruby ${version} empties every call cache of the iseqs a marking GC visits, and the ${gcSteps.join(', ')} step runs one just before the fork: the children start with cold call caches and refill them (icache.call)`,
        );
      const refill = capture.ruby?.cacheRefill;
      if (refill)
        notes.push(
          `Ruby ${version} empties every call cache on a full GC: the call-cache probe (a throwaway child that ran one, then the workload) filled ${refill.sites} call sites on ${refill.pages.length} pages, and left ${refill.emptied} emptied; the pages a child did not copy are what ${MARKING_GC_STEPS.join(', ')} cost it (counted in the predicted savings)`,
        );
    }
    if (blames.some((b) => b.unknownVersion))
      notes.push(
        `Ruby ${version} is not in cowscope's version table (3.1, 3.3, 3.4 known; 3.2 partly): blame used the version-independent rules only (no age, shape or inline-cache decoding)`,
      );
    return notes;
  },
  blamer: rubyBlamer,
};
