// The Ruby runtime adapter: heap map + structure discovery for gather, and the blamer for the engine.

import type { Capture } from '../../native/capture';
import type { Vma } from '../../native/procfs-parse';
import { childChunks } from '../../allocators/glibc/chunks';
import type { HeapMapSource, RuntimeAdapter } from '../adapter';
import { rubyBlamer } from './blamer';
import { discoverRubyStructures, StructLayout } from './discover';
import { ingestRubyHeapMap } from './heap-map';
import { layoutFor } from './layouts';

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
  blamer: rubyBlamer,
};
