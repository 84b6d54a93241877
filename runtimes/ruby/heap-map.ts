// The heap map (ObjectSpace.dump_all, one JSON object per line) read by the native streaming ingest,
// with CRuby's type codes from the fact tables.

import { HeapDumpIngest, HeapObjects, ingestHeapDump } from '../../native/probe';
import { IMEMO_CODES, T } from './layouts';

export const RUBY_CODES = { types: T as Record<string, number>, imemo: IMEMO_CODES as Record<string, number> };

/** Objects of the map on the kept pages (plus every class, module and iseq); slotSize is the slot size
 *  of dumps that do not say (3.1). */
export function ingestRubyHeapMap(file: string, heapPageSize: number, keepPages: Float64Array, slotSize = 40): HeapDumpIngest {
  return ingestHeapDump(file, heapPageSize, keepPages, slotSize, RUBY_CODES);
}

/** Every object of the map (parsed once; see keepOnPages for the per-use view). */
export function ingestWholeRubyHeapMap(file: string, heapPageSize: number, slotSize = 40): HeapDumpIngest {
  return ingestHeapDump(file, heapPageSize, new Float64Array(), slotSize, RUBY_CODES, true);
}

/** What ingestRubyHeapMap(file, …, keepPages) would have returned, cut from a whole-map ingest: the
 *  objects on the kept pages (a slot counts for both pages it may straddle), every class, module and
 *  iseq. The counts, bodies, class names and sites are the whole map's, as in a filtered ingest. */
export function keepOnPages(whole: HeapDumpIngest, keepPages: Float64Array, pageSize: number, slotSize = 40): HeapDumpIngest {
  const t = whole.table;
  const keep = new Set<number>(keepPages);
  const rows: number[] = [];
  for (let i = 0; i < t.address.length; i++) {
    const type = t.type[i];
    const a = t.address[i];
    const slot = t.slotSize[i] || slotSize;
    const last = a + slot - 1;
    if (
      type === T.CLASS ||
      type === T.MODULE ||
      type === T.ICLASS ||
      t.imemo[i] === IMEMO_CODES.iseq ||
      keep.has(a - (a % pageSize)) ||
      (slot && keep.has(last - (last % pageSize)))
    )
      rows.push(i);
  }
  const pick = <A extends { length: number }>(col: A, make: (n: number) => A): A => {
    const out = make(rows.length) as unknown as Record<number, number>;
    const src = col as unknown as Record<number, number>;
    for (let k = 0; k < rows.length; k++) out[k] = src[rows[k]];
    return out as unknown as A;
  };
  const table: HeapObjects = {
    address: pick(t.address, (n) => new Float64Array(n)),
    type: pick(t.type, (n) => new Uint8Array(n)),
    imemo: pick(t.imemo, (n) => new Uint8Array(n)),
    gcFlags: pick(t.gcFlags, (n) => new Uint8Array(n)),
    slotSize: pick(t.slotSize, (n) => new Uint16Array(n)),
    bytesize: pick(t.bytesize, (n) => new Float64Array(n)),
    embedded: pick(t.embedded, (n) => new Uint8Array(n)),
    classAddr: pick(t.classAddr, (n) => new Float64Array(n)),
    site: pick(t.site, (n) => new Int32Array(n)),
  };
  return { ...whole, bodies: whole.bodies.slice(), table };
}
