// The Python agent's heap map (written at the fork point by a throwaway child, see agent/cowscope.py):
// text lines, one object, code range or buffer each. Only the entries that touch the pages of interest
// are kept, as sorted columns.

import fs from 'node:fs';
import { HeapMapError } from '../ruby/heap-map';
import { describeBytes } from '../../native/regular-file';

export interface PythonHeapMap {
  /** objects, sorted by address (id(o)); an object's extent is [addr - pre, addr + size) */
  objects: { addr: Float64Array; pre: Uint8Array; size: Float64Array; state: Uint8Array; type: Uint16Array };
  /** type names, indexed by objects.type */
  types: string[];
  /** per type: the byte offset of the hash its objects cache on first use (frozenset, datetime's types,
   *  Decimal, and their subclasses), 0 for none (absent in captures made before it was recorded) */
  typeHashWords?: Int32Array;
  /** per type: for str, bytes, dict, list and their subclasses, which of them it is (an index into
   *  TYPE_BASES), 0 for any other type: the words CPython fills lazily in a str or bytes (its hash, a
   *  str's UTF-8 form) lie where they do in the base, and a change to a dict or list is one whatever the
   *  subclass is named (absent in captures made before the map recorded it, where the type's name
   *  decides; dict and list since the map named them) */
  typeBases?: Uint8Array;
  /** code objects' adaptive bytecode: [start, start + bytes), sorted */
  code: { start: Float64Array; bytes: Float64Array };
  /** out-of-line buffers (dict keys tables, list item arrays), sorted by start */
  buffers: { start: Float64Array; bytes: Float64Array; kind: Uint8Array; owner: Float64Array };
  /** per buffer: 1 where its owner was garbage at the fork (STATE.garbage), so it was too (absent in
   *  captures made before the agent found the garbage) */
  garbageBuffers?: Uint8Array;
  /** the pymalloc memory a full collection at the fork would free (the garbage objects' blocks and
   *  the buffers they own, up to pymalloc's 512 bytes), per page of every page, kept or not: the free
   *  blocks a collection before the fork (gc, freeze) would leave in the parent's pools, which a child's
   *  allocations of their size class then fill. blockSize: the class of the blocks on the page (absent
   *  in captures made before it was recorded) */
  garbageSpace?: { page: Float64Array; bytes: Float64Array; blockSize: Uint16Array };
  /** interpreter state ranges (RANGE_KINDS), sorted by start */
  ranges: { start: Float64Array; bytes: Float64Array; kind: Uint8Array };
  /** objects in the whole map, and the permanent generation's size at the fork (gc.freeze) */
  total: number;
  frozen: number;
  /** the permanent generation's size when the agent started (3.12 freezes objects of its own) */
  frozenAtStart: number;
  /** the tracked objects the agent did not search for garbage at the fork (more than it searches),
   *  absent when it searched them all */
  garbageUnsought?: number;
  /** live maps: where each process of the master's family counts its own collections (three words:
   *  the pid they belong to, collections, full ones; the agent's _live_count_collections), or 0 */
  gcCounters?: number;
  /** lines read, malformed ones among them (not kept in a saved capture) */
  lines?: number;
  malformed: number;
}

/** Object state bits of the map. */
export const STATE = { tracked: 1, frozen: 2, type: 4, young: 8, garbage: 16 } as const;
/** typeBases values: none, str, bytes, dict or list (each, or a subclass of it). */
export const TYPE_BASES = ['', 'str', 'bytes', 'dict', 'list'] as const;
export const BUFFER_KINDS = ['dictkeys', 'listitems', 'values', 'bytearray', 'settable', 'array', 'dequeblock', 'bytesio', 'ctypes', 'mmap', 'stringio', 'lock', 'filebuffer', 'odictnode'] as const;
/** typecache: the type attribute cache in the interpreter state; interned: the interned strings' dict
 *  and its keys table (no object of the map refers to them); datastack: a chunk of the frame stack (3.11+) */
export const RANGE_KINDS = ['typecache', 'interned', 'datastack'] as const;
/** pymalloc's largest block and its alignment (the size classes: 16, 32, ... 512) */
const PYMALLOC = { largest: 512, alignment: 16 } as const;

/** Does [lo, hi) touch one of the sorted pages? */
function touches(pages: Float64Array, pageSize: number, lo: number, hi: number): boolean {
  let a = 0;
  let b = pages.length - 1;
  const first = lo - (lo % pageSize);
  while (a <= b) {
    const m = (a + b) >> 1;
    if (pages[m] < first) a = m + 1;
    else if (pages[m] >= hi) b = m - 1;
    else return true;
  }
  return false;
}

function sortedBy<T extends { [k: string]: number }>(rows: T[], key: keyof T): T[] {
  return rows.sort((x, y) => x[key] - y[key]);
}

function garbageSpaceOf(bytes: Map<number, number>, blockSize: Map<number, number>): NonNullable<PythonHeapMap['garbageSpace']> {
  const pages = [...bytes.keys()].sort((a, b) => a - b);
  return { page: Float64Array.from(pages), bytes: Float64Array.from(pages, (p) => bytes.get(p)!), blockSize: Uint16Array.from(pages, (p) => blockSize.get(p)!) };
}

/** Every line of a file, read in chunks (a map of millions of objects is larger than one string may be). */
function* linesOf(file: string): Generator<string> {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(16 << 20);
    let rest = '';
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const lines = (rest + buf.toString('latin1', 0, n)).split('\n');
      rest = lines.pop()!;
      yield* lines;
    }
    if (rest) yield rest;
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads the map, keeping what touches the sorted pages (null: everything, for live mode, where one
 *  parsed map serves every sample). */
export function ingestPythonHeapMap(file: string, pages: Float64Array | null, pageSize: number, maxBytes: number): PythonHeapMap {
  const bytes = fs.statSync(file).size;
  if (bytes > maxBytes) throw new HeapMapError(`the heap map is ${describeBytes(bytes)}, more than the ${describeBytes(maxBytes)} cowscope reads: raise --max-heap-map`);
  const keep = (lo: number, hi: number) => pages === null || touches(pages, pageSize, lo, hi);
  const types: string[] = [];
  const hashWords: number[] = [];
  const bases: number[] = [];
  const objs: { addr: number; pre: number; size: number; state: number; type: number }[] = [];
  const code: { start: number; bytes: number }[] = [];
  const bufs: { start: number; bytes: number; kind: number; owner: number }[] = [];
  const ranges: { start: number; bytes: number; kind: number }[] = [];
  // every object garbage at the fork, kept or not: a kept buffer's owner may lie on no page of interest
  const garbage = new Set<number>();
  // the pymalloc blocks of the garbage, by page: bytes, and the page's block size (a page lies in one pool)
  const garbageBytes = new Map<number, number>();
  const garbageClass = new Map<number, number>();
  const addGarbage = (start: number, n: number) => {
    const size = Math.ceil(n / PYMALLOC.alignment) * PYMALLOC.alignment;
    if (size > PYMALLOC.largest) return;
    for (let a = start; a < start + size; a = a - (a % pageSize) + pageSize) {
      const page = a - (a % pageSize);
      garbageBytes.set(page, (garbageBytes.get(page) ?? 0) + Math.min(start + size, page + pageSize) - a);
      garbageClass.set(page, size);
    }
  };
  let total = 0;
  let frozen = 0;
  let frozenAtStart = 0;
  let gcCounters = 0;
  let garbageUnsought = 0;
  let malformed = 0;
  let lines = 0;
  for (const line of linesOf(file)) {
    if (!line) continue;
    lines++;
    const f = line.split(' ');
    switch (f[0]) {
      case 'T': {
        const k = Number(f[1]);
        const hashWord = f.length > 3 ? Number(f[3]) : 0;
        // the base, where named, is one of TYPE_BASES (never the empty name: a type without one has no field)
        const base = f.length > 4 ? TYPE_BASES.indexOf(f[4] as (typeof TYPE_BASES)[number]) : 0;
        const badBase = f.length > 5 || (f.length > 4 && base <= 0);
        if (!(k >= 0 && k < 0x10000) || !f[2] || !(hashWord >= 0 && hashWord < 0x10000 && hashWord % 8 === 0) || badBase) malformed++;
        else {
          types[k] = f[2];
          hashWords[k] = hashWord;
          bases[k] = base;
        }
        break;
      }
      case 'O': {
        const addr = parseInt(f[1], 16);
        const pre = Number(f[2]);
        const size = Number(f[3]);
        // (no object spans a TiB: a size read from the wrong field once spanned petabytes)
        const state = Number(f[4]);
        if (!(addr > 0) || !(size > 0) || size > 2 ** 40 || f.length !== 6) malformed++;
        else {
          if (state & STATE.garbage) {
            garbage.add(addr);
            addGarbage(addr - pre, pre + size);
          }
          if (keep(addr - pre, addr + size)) objs.push({ addr, pre, size, state, type: Number(f[5]) });
        }
        break;
      }
      case 'C': {
        const start = parseInt(f[2], 16);
        const n = Number(f[3]);
        if (!(start > 0) || !(n >= 0)) malformed++;
        else if (n && keep(start, start + n)) code.push({ start, bytes: n });
        break;
      }
      case 'B': {
        const start = parseInt(f[1], 16);
        const n = Number(f[2]);
        const kind = BUFFER_KINDS.indexOf(f[3] as (typeof BUFFER_KINDS)[number]);
        const owner = parseInt(f[4], 16);
        if (!(start > 0) || !(n > 0) || kind < 0) malformed++;
        else {
          // (an object's buffers follow its own line)
          if (garbage.has(owner)) addGarbage(start, n);
          if (keep(start, start + n)) bufs.push({ start, bytes: n, kind, owner });
        }
        break;
      }
      case 'R': {
        const start = parseInt(f[1], 16);
        const n = Number(f[2]);
        const kind = RANGE_KINDS.indexOf(f[3] as (typeof RANGE_KINDS)[number]);
        if (!(start > 0) || !(n > 0) || kind < 0) malformed++;
        else ranges.push({ start, bytes: n, kind });
        break;
      }
      case 'E':
        total = Number(f[1]);
        frozen = Number(f[2]);
        frozenAtStart = Number(f[3] ?? 0);
        gcCounters = f[4] ? parseInt(f[4], 16) : 0;
        if (!Number.isSafeInteger(gcCounters) || gcCounters < 0) {
          malformed++;
          gcCounters = 0;
        }
        garbageUnsought = f[5] ? Number(f[5]) : 0;
        if (!Number.isSafeInteger(garbageUnsought) || garbageUnsought < 0) {
          malformed++;
          garbageUnsought = 0;
        }
        break;
      default:
        malformed++;
    }
  }
  sortedBy(objs, 'addr');
  sortedBy(code, 'start');
  sortedBy(bufs, 'start');
  sortedBy(ranges, 'start');
  return {
    objects: {
      addr: Float64Array.from(objs, (o) => o.addr),
      pre: Uint8Array.from(objs, (o) => o.pre),
      size: Float64Array.from(objs, (o) => o.size),
      state: Uint8Array.from(objs, (o) => o.state),
      type: Uint16Array.from(objs, (o) => o.type),
    },
    types,
    typeHashWords: Int32Array.from({ length: types.length }, (_, k) => hashWords[k] ?? 0),
    typeBases: Uint8Array.from({ length: types.length }, (_, k) => bases[k] ?? 0),
    code: { start: Float64Array.from(code, (c) => c.start), bytes: Float64Array.from(code, (c) => c.bytes) },
    buffers: { start: Float64Array.from(bufs, (b) => b.start), bytes: Float64Array.from(bufs, (b) => b.bytes), kind: Uint8Array.from(bufs, (b) => b.kind), owner: Float64Array.from(bufs, (b) => b.owner) },
    garbageBuffers: Uint8Array.from(bufs, (b) => (garbage.has(b.owner) ? 1 : 0)),
    garbageSpace: garbageSpaceOf(garbageBytes, garbageClass),
    ranges: { start: Float64Array.from(ranges, (r) => r.start), bytes: Float64Array.from(ranges, (r) => r.bytes), kind: Uint8Array.from(ranges, (r) => r.kind) },
    total,
    frozen,
    frozenAtStart,
    ...(gcCounters ? { gcCounters } : {}),
    ...(garbageUnsought ? { garbageUnsought } : {}),
    lines,
    malformed,
  };
}
