// The Ruby runtime adapter: heap map + structure discovery for gather, and the blamer for the engine.

import type { Capture } from '../../native/capture';
import type { Vma } from '../../native/procfs-parse';
import { MallocChunks, childChunks } from '../../allocators/glibc/chunks';
import { readWords } from '../../native/probe';
import type { HeapMapSource, RuntimeAdapter } from '../adapter';
import { rubyBlamer } from './blamer';
import { AllocatorFound, discoverAllocator, discoverRubyStructures, StructLayout } from './discover';
import { followRubyHeapMap, ingestRubyHeapMap, keepOnPages } from './heap-map';
import type { HeapDumpIngest } from '../../native/probe';
import { layoutFor, vmOwnThreads } from './layouts';
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
  };
}

/** Sorted, distinct addresses of every page some child copied. */
function copiedPagesOf(capture: Capture): Float64Array {
  return Float64Array.from(new Set((capture.diffs ?? []).flatMap((d) => Array.from(d.addrs)))).sort();
}

/** At most this many pages pointed to by the children's new words are added to the heap-map ingest. */
const MAX_POINTED_PAGES = 100_000;

/** The copied pages plus the pages of anonymous memory (where the GC heap lives) that the children's
 *  new words point to, sorted. */
function withPointedPages(capture: Capture, copiedPages: Float64Array, vmas: Vma[]): Float64Array {
  const ps = capture.meta.pageSize;
  const anon = vmas.filter((v) => v.inode === 0 && v.perms === 'rw-p' && !v.path.startsWith('['));
  const starts = Float64Array.from(anon, (v) => v.start);
  const inAnon = (a: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (a < anon[mid].start) hi = mid - 1;
      else if (a >= anon[mid].end) lo = mid + 1;
      else return true;
    }
    return false;
  };
  const pages = new Set<number>(copiedPages);
  let added = 0;
  for (const d of capture.diffs ?? [])
    for (let k = 0; k < d.newWord.length && added < MAX_POINTED_PAGES; k++) {
      const v = Number(d.newWord[k]);
      if (v % 8 || !inAnon(v)) continue;
      const page = v - (v % ps);
      if (!pages.has(page)) {
        pages.add(page);
        added++;
      }
    }
  return Float64Array.from(pages).sort();
}

/** At most this many objects per child are looked up (a bound on the time and the capture's size). */
const MAX_CHILD_OBJECTS = 200_000;

/** Objects the child allocated on GC heap pages it created itself (not in the fork-time image, so not in
 *  the heap map) that its changed words outside the GC heap point to: their flags words, read from the
 *  stopped child, tell what they are (a call cache, say). */
function objectsBornInChild(capture: Capture, child: { pid: number; vmas: Vma[] }, bodies: Float64Array, heapPageSize: number): { address: Float64Array; flags: Uint32Array } {
  const diffs = capture.diffs?.find((d) => d.pid === child.pid);
  if (!diffs) return { address: new Float64Array(), flags: new Uint32Array() };
  const known = (a: number) => {
    const base = a - (a % heapPageSize);
    let lo = 0;
    let hi = bodies.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (bodies[mid] === base) return true;
      if (bodies[mid] < base) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  };
  // anonymous rw-p mappings of the child that the fork-time image does not have whole: GC heap pages
  // the child mapped
  const anon = child.vmas.filter((v) => v.inode === 0 && v.perms === 'rw-p' && !v.path.startsWith('['));
  const inAnon = (a: number) => anon.some((v) => a >= v.start && a < v.end);
  const targets = new Set<number>();
  for (let k = 0; k < diffs.newWord.length && targets.size < MAX_CHILD_OBJECTS; k++) {
    const v = Number(diffs.newWord[k]);
    if (v % 8 || v < 0x10000 || known(diffs.addrs[diffs.wordPage[k]]) || known(v) || !inAnon(v)) continue;
    targets.add(v);
  }
  const address = Float64Array.from(targets).sort();
  const words = readWords(child.pid, address);
  const keep: number[] = [];
  for (let i = 0; i < address.length; i++) if (words.ok[i]) keep.push(i);
  return { address: Float64Array.from(keep, (i) => address[i]), flags: Uint32Array.from(keep, (i) => Number(words.words[i] & 0xffffffffn)) };
}

/** The allocator's state in the fork-time image and in each child, on the copied pages. */
interface RubyEarly {
  allocator: AllocatorFound;
  childChunks: { pid: number; chunks: MallocChunks }[];
}

function prepareRuby(capture: Capture, reference: { pid: number; vmas: Vma[] }, children: { pid: number; vmas: Vma[] }[]): RubyEarly {
  const allocator = discoverAllocator(reference.pid, reference.vmas, copiedPagesOf(capture), capture.meta.pageSize);
  // Each child's own chunks on its copied pages: memory it freed and carved anew belongs to it.
  const childChunksOf = children.map((c) => {
    const diffs = capture.diffs?.find((d) => d.pid === c.pid);
    return { pid: c.pid, chunks: childChunks(c.pid, c.vmas, diffs?.addrs ?? new Float64Array(), capture.meta.pageSize, allocator.glibc.tcacheKey) };
  });
  return { allocator, childChunks: childChunksOf };
}

export const rubyAdapter: RuntimeAdapter = {
  name: 'ruby',
  prepare: prepareRuby,
  attach(capture: Capture, map: HeapMapSource, reference: { pid: number; vmas: Vma[] }, children: { pid: number; vmas: Vma[] }[], lap = (_step: string) => undefined as void, early?: unknown): void {
    const found = (early as RubyEarly | undefined) ?? prepareRuby(capture, reference, children);
    lap('allocator');
    const copiedPages = copiedPagesOf(capture);
    // Objects on copied pages, and objects the children's new words point to (a call-cache record's
    // callinfo may live on a page nobody copied): their types say what the pointing words are.
    const keep = withPointedPages(capture, copiedPages, reference.vmas);
    // A map parsed whole once (inspect --watch caches it) is cut to the kept pages: the same objects a
    // filtered ingest would keep, without reading the file again.
    const whole = map.parsed as HeapDumpIngest | undefined;
    // `run` reads the map while the agent writes it, and picks the same objects from what it read.
    const dump = whole
      ? keepOnPages(whole, keep, capture.meta.pageSize, map.slotSize)
      : map.pick
        ? (map.pick(keep) as HeapDumpIngest)
        : ingestRubyHeapMap(map.file, map.heapPageSize, keep, map.slotSize, map.maxBytes);
    capture.runtime = { name: 'ruby', version: map.version, platform: map.platform, heapPageSize: map.heapPageSize, slotSize: map.slotSize };
    capture.heapMap = { heapPageSize: map.heapPageSize, bodies: dump.bodies, objects: dump.objects, free: dump.free, malformed: dump.malformed };
    lap('heap map ingest');
    const ruby = discoverRubyStructures(reference.pid, dump, structLayout(map), reference.vmas, copiedPages, capture.meta.pageSize, found.allocator);
    lap('structures');
    ruby.childChunks = found.childChunks;
    ruby.childObjects = children.map((c) => ({ pid: c.pid, ...objectsBornInChild(capture, c, ruby.bodies, map.heapPageSize) }));
    lap('child objects');
    capture.ruby = ruby;
    capture.heapMap.bodies = ruby.bodies; // with the GC heap pages found in memory (born after the map)
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
      const gcSteps = run.strategy.split('+').filter((st) => ['gc', 'warmup', 'promote', 'nakayoshi', 'compact'].includes(st));
      if (gcSteps.length && layoutFor(version)?.markEmptiesCallCaches)
        notes.push(
          `Ruby ${version} empties every call cache of the iseqs a marking GC visits, and the ${gcSteps.join(', ')} step runs one just before the fork: the children start with cold call caches and refill them (icache.call)`,
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
