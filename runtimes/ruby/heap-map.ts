// The heap map (ObjectSpace.dump_all, one JSON object per line) read by the native streaming ingest,
// with CRuby's type codes from the fact tables. A map is read only when it is a regular file (not a
// symlink) no larger than a limit, checked before reading (and again while reading, should it grow).

import fs from 'node:fs';
import { HeapDumpIngest, HeapObjects, ProbeError, followHeapDump, ingestHeapDump } from '../../native/probe';
import { describeBytes } from '../../native/regular-file';
import { IMEMO_CODES, T } from './layouts';
import type { HeapMapFollower } from '../adapter';

export const RUBY_CODES = { types: T as Record<string, number>, imemo: IMEMO_CODES as Record<string, number> };

/** The largest heap map read unless told otherwise (--max-heap-map, COWSCOPE_MAX_HEAP_MAP). */
export const DEFAULT_MAX_HEAP_MAP = 8 * 1024 ** 3;

/** A heap map that is not read: too large, or not a regular file. The message names the fix. */
export class HeapMapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HeapMapError';
  }
}

function tooLarge(file: string, size: number | undefined, maxBytes: number): HeapMapError {
  return new HeapMapError(
    `the heap map ${file} is ${size === undefined ? 'larger than the limit' : describeBytes(size)}, more than the ${describeBytes(maxBytes)} limit: raise it with --max-heap-map (e.g. --max-heap-map ${describeBytes(Math.max(maxBytes * 2, (size ?? 0) * 2)).replace(/ /g, '')}) or COWSCOPE_MAX_HEAP_MAP`,
  );
}

/** Refuses a map that is not a regular file or is larger than maxBytes; returns its size. */
export function checkHeapMap(file: string, maxBytes: number): number {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (e) {
    throw new HeapMapError(`the heap map ${file} cannot be read (${(e as NodeJS.ErrnoException).code}): the agent did not write it; run again`);
  }
  if (!st.isFile()) throw new HeapMapError(`the heap map ${file} is not a regular file (a symlink, folder or device): refusing to read it; run again`);
  if (st.size > maxBytes) throw tooLarge(file, st.size, maxBytes);
  return st.size;
}

/** Objects of the map on the kept pages (plus every class, module and iseq); slotSize is the slot size
 *  of dumps that do not say (3.1). */
export function ingestRubyHeapMap(file: string, heapPageSize: number, keepPages: Float64Array, slotSize = 40, maxBytes = DEFAULT_MAX_HEAP_MAP): HeapDumpIngest {
  // A map that cannot be stat'ed is left to the native open, whose error names the file and the fix.
  if (fs.lstatSync(file, { throwIfNoEntry: false })) checkHeapMap(file, maxBytes);
  try {
    return ingestHeapDump(file, heapPageSize, keepPages, slotSize, RUBY_CODES, { maxBytes });
  } catch (e) {
    if (e instanceof ProbeError && e.code === 'EFBIG') throw tooLarge(file, undefined, maxBytes);
    throw e;
  }
}

/** A map read while the agent's sibling writes it (`cowscope run`); what read() gives is
 *  ingestRubyHeapMap's result for the pages asked for. It gives nothing when following did not work out
 *  or what was read is not the finished file (another inode, another size). */
export function followRubyHeapMap(file: string, heapPageSize: number, slotSize: number, maxBytes: number): HeapMapFollower {
  const f = followHeapDump(file, heapPageSize, slotSize, RUBY_CODES, maxBytes);
  return {
    finish: () => f.finish(),
    read: async () => {
      const read = await f.done;
      const st = fs.lstatSync(file, { throwIfNoEntry: false });
      if (!read || !st?.isFile() || st.ino !== read.ino || st.size !== read.bytes) {
        f.release();
        return undefined;
      }
      return (keepPages: Float64Array) => f.pick(keepPages);
    },
    cancel: async () => {
      f.cancel();
      await f.done;
      f.release();
    },
  };
}

/** Every object of the map (parsed once; see keepOnPages for the per-use view). */
export function ingestWholeRubyHeapMap(file: string, heapPageSize: number, slotSize = 40): HeapDumpIngest {
  return ingestHeapDump(file, heapPageSize, new Float64Array(), slotSize, RUBY_CODES, { keepAll: true });
}

/** What ingestRubyHeapMap(file, …, keepPages) would have returned, cut from a whole-map ingest: the
 *  objects on the kept pages (a slot counts for both pages it may straddle), every class, module, iseq
 *  and block environment. The counts, bodies, class names and sites are the whole map's, as in a filtered ingest. */
export function keepOnPages(whole: HeapDumpIngest, keepPages: Float64Array, pageSize: number, slotSize = 40): HeapDumpIngest {
  const t = whole.table;
  // The objects are sorted by address (the ingest sorts them), so are the pages: one walk through both
  // finds each object's first kept page at or after its own (a Set of pages per object costs more).
  const keep = Float64Array.from(keepPages).sort();
  const rows: number[] = [];
  let k = 0;
  for (let i = 0; i < t.address.length; i++) {
    const type = t.type[i];
    const a = t.address[i];
    const slot = t.slotSize[i] || slotSize;
    const first = a - (a % pageSize);
    const last = a + slot - 1;
    const lastPage = last - (last % pageSize);
    while (k < keep.length && keep[k] < first) k++;
    let j = k;
    if (slot) while (j < keep.length && keep[j] < lastPage) j++;
    if (
      type === T.CLASS ||
      type === T.MODULE ||
      type === T.ICLASS ||
      (type === T.IMEMO && (t.imemo[i] === IMEMO_CODES.iseq || t.imemo[i] === IMEMO_CODES.env)) ||
      keep[k] === first ||
      (slot !== 0 && keep[j] === lastPage)
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
