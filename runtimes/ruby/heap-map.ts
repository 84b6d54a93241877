// The heap map (ObjectSpace.dump_all, one JSON object per line) read by the native streaming ingest,
// with CRuby's type codes from the fact tables.

import { HeapDumpIngest, ingestHeapDump } from '../../native/probe';
import { IMEMO_CODES, T } from './layouts';

export const RUBY_CODES = { types: T as Record<string, number>, imemo: IMEMO_CODES as Record<string, number> };

/** Objects of the map on the kept pages (plus every class, module and iseq); slotSize is the slot size
 *  of dumps that do not say (3.1). */
export function ingestRubyHeapMap(file: string, heapPageSize: number, keepPages: Float64Array, slotSize = 40): HeapDumpIngest {
  return ingestHeapDump(file, heapPageSize, keepPages, slotSize, RUBY_CODES);
}
