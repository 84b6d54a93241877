// The heap map (ObjectSpace.dump_all, one JSON object per line) read by the native streaming ingest,
// with CRuby's type codes from the fact tables. A map is read only when it is a regular file (not a
// symlink) no larger than a limit, checked before reading (and again while reading, should it grow).

import fs from 'node:fs';
import { HeapDumpIngest, HeapObjects, ProbeError, followHeapDump, ingestHeapDump } from '../../native/probe';
import { describeBytes } from '../../native/regular-file';
import { DATA_CONTENTS_STRUCTS, IMEMO_CODES, T } from './layouts';
import type { HeapMapFollower } from '../adapter';

export const RUBY_CODES = { types: T as Record<string, number>, imemo: IMEMO_CODES as Record<string, number>, contents: DATA_CONTENTS_STRUCTS };

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

/** Per table keepOnPages cuts from: the rows kept whatever the pages (every class, module, iseq and block
 *  environment), and the widest slot. Worth keeping for a whole map (cut again at every sample of a
 *  watch while the map is unchanged); a one-shot attach's own cut is asked once. */
const factsOf = new WeakMap<HeapObjects, { always: Int32Array; widest: number }>();

function tableFacts(t: HeapObjects, slotSize: number): { always: Int32Array; widest: number } {
  let facts = factsOf.get(t);
  if (!facts) {
    const always: number[] = [];
    let widest = 0;
    for (let i = 0; i < t.address.length; i++) {
      const type = t.type[i];
      if (type === T.CLASS || type === T.MODULE || type === T.ICLASS || (type === T.IMEMO && (t.imemo[i] === IMEMO_CODES.iseq || t.imemo[i] === IMEMO_CODES.env))) always.push(i);
      if (t.slotSize[i] > widest) widest = t.slotSize[i];
    }
    factsOf.set(t, (facts = { always: Int32Array.from(always), widest }));
  }
  return { always: facts.always, widest: Math.max(facts.widest, slotSize) };
}

/** The first index of the sorted addresses at or above a. */
function firstAtOrAbove(addresses: Float64Array, a: number): number {
  let lo = 0;
  let hi = addresses.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (addresses[mid] < a) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What ingestRubyHeapMap(file, …, keepPages) would have returned, cut from a whole-map ingest: the
 *  objects on the kept pages (a slot counts for both pages it may straddle), every class, module, iseq
 *  and block environment. The counts, bodies, class names and sites are the whole map's, as in a filtered ingest. */
export function keepOnPages(whole: HeapDumpIngest, keepPages: Float64Array, pageSize: number, slotSize = 40): HeapDumpIngest {
  const t = whole.table;
  const { always, widest } = tableFacts(t, slotSize);
  // Page by page (a watch cuts a 200 000-object map at every sample: a walk through all of it took
  // 25-250 ms, a look-up per kept page a few): a slot touches page P when its first or its last byte
  // lies on P, so it starts in [P - widest slot, P + pageSize).
  const keep = Float64Array.from(keepPages).sort();
  const kept = new Uint8Array(t.address.length);
  for (const i of always) kept[i] = 1;
  for (let k = 0; k < keep.length; k++) {
    const page = keep[k];
    if (k && page === keep[k - 1]) continue;
    for (let i = firstAtOrAbove(t.address, page - widest); i < t.address.length && t.address[i] < page + pageSize; i++) {
      const a = t.address[i];
      const slot = t.slotSize[i] || slotSize;
      const last = a + slot - 1;
      if (a - (a % pageSize) === page || (slot !== 0 && last - (last % pageSize) === page)) kept[i] = 1;
    }
  }
  const rows: number[] = [];
  for (let i = 0; i < kept.length; i++) if (kept[i]) rows.push(i);
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
