// The Ruby runtime adapter: heap map + structure discovery for gather, and the blamer for the engine.

import type { Capture } from '../../native/capture';
import type { Vma } from '../../native/procfs-parse';
import { childChunks } from '../../allocators/glibc/chunks';
import type { HeapMapSource, RuntimeAdapter } from '../adapter';
import { rubyBlamer } from './blamer';
import { discoverRubyStructures, StructLayout } from './discover';
import { ingestRubyHeapMap } from './heap-map';
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
  };
}

/** Sorted, distinct addresses of every page some child copied. */
function copiedPagesOf(capture: Capture): Float64Array {
  return Float64Array.from(new Set((capture.diffs ?? []).flatMap((d) => Array.from(d.addrs)))).sort();
}

export const rubyAdapter: RuntimeAdapter = {
  name: 'ruby',
  attach(capture: Capture, map: HeapMapSource, reference: { pid: number; vmas: Vma[] }, children: { pid: number; vmas: Vma[] }[]): void {
    const copiedPages = copiedPagesOf(capture);
    const dump = ingestRubyHeapMap(map.file, map.heapPageSize, copiedPages, map.slotSize);
    capture.runtime = { name: 'ruby', version: map.version, platform: map.platform, heapPageSize: map.heapPageSize, slotSize: map.slotSize };
    capture.heapMap = { heapPageSize: map.heapPageSize, bodies: dump.bodies, objects: dump.objects, free: dump.free, malformed: dump.malformed };
    const ruby = discoverRubyStructures(reference.pid, dump, structLayout(map), reference.vmas, copiedPages, capture.meta.pageSize);
    // Each child's own chunks on its copied pages: memory it freed and carved anew belongs to it.
    ruby.childChunks = children.map((c) => {
      const diffs = capture.diffs?.find((d) => d.pid === c.pid);
      return { pid: c.pid, chunks: childChunks(c.pid, c.vmas, diffs?.addrs ?? new Float64Array(), capture.meta.pageSize, ruby.tcacheKey) };
    });
    capture.ruby = ruby;
    capture.heapMap.bodies = ruby.bodies; // with the GC heap pages found in memory (born after the map)
  },
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
