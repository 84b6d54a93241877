// Seeded mutational fuzzing of everything cowscope reads from a file: capture files (`cowscope report`),
// budget configs (cowscope.json), heap maps (the heap dump ingest) and /proc text (the procfs parsers).
// Used by test/fuzz.test.ts (a fixed number of cases in CI) and bench/fuzz.ts (longer runs).
//
// Every case is derived from (seed, case number) alone, so a failure names both and replays exactly
// on the same seed inputs. Properties checked:
//   capture  loadCapture/decodeCapture + report either render, or throw CaptureFileError/UsageError
//            whose printed line is one line; never a TypeError, RangeError or "internal error";
//            text output holds no raw control character
//   config   loadBudgetConfig returns sane values, or throws UsageError (one printed line)
//   heap map ingestHeapDump returns consistent columns (or a ProbeError), never crashes
//   procfs   the parsers return well-formed values or throw ParseError

import fs from 'node:fs';
import zlib from 'node:zlib';
import { CaptureFileError, decodeCapture } from '../../native/capture-file';
import { validateCaptureDocument } from '../../native/capture-schema';
import { ProbeError } from '../../native/probe';
import { ingestRubyHeapMap as ingestHeapDump } from '../../runtimes/ruby/heap-map';
import { ParseError, parseMaps, parseSmaps, parseSmapsRollup, parseStat, parseStatus } from '../../native/procfs-parse';
import { analyzeRun } from '../../analyzers/run-report';
import { UsageError, describeError } from '../../cli/errors';
import { loadBudgetConfig } from '../../cli/budget-config';
import { reportOf } from '../../cli/commands/report';
import { escapeControl } from '../../cli/render/escape';
import { renderHtml } from '../../cli/render/html';
import { runHtmlDoc } from '../../cli/render/html-docs';

// ---------------------------------------------------------------- random numbers

/** mulberry32: small, fast, and the same sequence everywhere. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
}

/** The seed of one case: a mix of the run's seed and the case number. */
export function caseSeed(seed: number, n: number): number {
  let h = (seed ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class FuzzFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FuzzFailure';
  }
}

// ---------------------------------------------------------------- JSON document mutations

type Key = string | number;
type Json = unknown;
const DELETE = Symbol('delete');

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTypedNode = (v: unknown): v is { $typed: unknown; base64: unknown } => isObj(v) && '$typed' in v;

const ELEMENT: Record<string, { size: number; make: (b: ArrayBuffer) => ArrayLike<number | bigint> & { [i: number]: number | bigint } }> = {
  Uint8Array: { size: 1, make: (b) => new Uint8Array(b) },
  Uint16Array: { size: 2, make: (b) => new Uint16Array(b) },
  Uint32Array: { size: 4, make: (b) => new Uint32Array(b) },
  Int32Array: { size: 4, make: (b) => new Int32Array(b) },
  Float64Array: { size: 8, make: (b) => new Float64Array(b) },
  BigUint64Array: { size: 8, make: (b) => new BigUint64Array(b) },
};

const CONTROL_STRINGS = ['\x1b[31mred\x1b[0m', 'two\nlines', 'tab\there', '\u009b31m', '\u202eevil', 'bell\x07', 'nul\x00'];
const NUMBERS = [0, -1, 1, -0.5, 0.5, 1.5, 3, 7, 8, 15, 40, 4095, 4096, 4097, 8192, 16384, 65536, 131072, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e15, 1e300, -1e300];
const STRINGS = ['', '0', '4096', 'NaN', 'Infinity', '-1', '9'.repeat(400), `${'9'.repeat(400)}MiB`, `${'9'.repeat(400)}%`, '1.5GiB', '12 parsecs', '5%', 'exact', 'exclusive-bit', 'parent', 'reference', 'child', 'process', 'ruby', 'cowscope', 'cowscope.capture/1', 'ffffffffffffffff', '0x10', 'xyz'];
const TYPE_NAMES = ['Uint8Array', 'Uint16Array', 'Uint32Array', 'Int32Array', 'Float64Array', 'BigUint64Array', 'Int8Array', 'DataView', 'constructor', '__proto__', 'toString', ''];

function numberValue(rng: Rng, v: number): Json | typeof DELETE {
  switch (rng.int(8)) {
    case 0:
      return rng.pick(NUMBERS);
    case 1:
      return rng.pick([v + 1, v - 1, v * 2, Math.floor(v / 2), v + 4096, v - 4096, -v, v + 0.5]);
    case 2:
      return rng.pick(['NaN', 'Infinity', String(v), '', '4096']);
    case 3:
      return rng.pick([null, true, false, [], {}, [v]]);
    case 4:
      return DELETE;
    default:
      return rng.pick(NUMBERS);
  }
}

function stringValue(rng: Rng, v: string): Json | typeof DELETE {
  switch (rng.int(7)) {
    case 0:
      return rng.pick(CONTROL_STRINGS) + (rng.chance(0.5) ? v : '');
    case 1:
      return rng.pick(STRINGS);
    case 2:
      return rng.pick([0, 1, -1, null, true, [], {}, [v]]);
    case 3:
      return DELETE;
    case 4:
      return v.slice(0, rng.int(v.length + 1));
    case 5:
      return 'x'.repeat(rng.pick([1, 100, 5000]));
    default:
      return v + rng.pick(CONTROL_STRINGS);
  }
}

function typedValue(rng: Rng, node: { $typed: unknown; base64: unknown }, others: () => Json): { value: Json | typeof DELETE; op: string } {
  const type = typeof node.$typed === 'string' ? node.$typed : '';
  const b64 = typeof node.base64 === 'string' ? node.base64 : '';
  const el = ELEMENT[type];
  const bytes = Buffer.from(b64, 'base64');
  const withBytes = (b: Buffer) => ({ $typed: node.$typed, base64: b.toString('base64') });
  switch (rng.int(14)) {
    case 0:
      return { value: withBytes(bytes.subarray(0, Math.max(0, bytes.length - 1 - rng.int(el ? el.size : 1)))), op: 'truncate bytes' };
    case 1:
      return { value: withBytes(bytes.subarray(0, Math.max(0, bytes.length - (el ? el.size : 1) * (1 + rng.int(3))))), op: 'drop elements' };
    case 2:
      return { value: withBytes(Buffer.concat([bytes, Buffer.alloc((el ? el.size : 1) * (1 + rng.int(3)), rng.int(256))])), op: 'add elements' };
    case 3:
      return { value: { $typed: node.$typed, base64: '' }, op: 'empty' };
    case 4: {
      const t = rng.pick(TYPE_NAMES);
      return { value: { $typed: rng.chance(0.1) ? 5 : t, base64: node.base64 }, op: `retype ${t}` };
    }
    case 5: {
      if (!b64.length) return { value: { $typed: node.$typed, base64: '!' }, op: 'corrupt base64' };
      const at = rng.int(b64.length);
      const c = rng.pick(['!', '-', '_', ' ', '\n', '=', 'é', '*']);
      return { value: { $typed: node.$typed, base64: b64.slice(0, at) + c + b64.slice(at + 1) }, op: `corrupt base64 at ${at} with ${JSON.stringify(c)}` };
    }
    case 6:
      return { value: { $typed: node.$typed, base64: b64.replace(/=+$/, '') + (rng.chance(0.3) ? 'A' : '') }, op: 'strip padding' };
    case 7:
      return { value: rng.pick([0, null, 'AAAA', [], { $typed: node.$typed }, { base64: node.base64 }]), op: 'replace typed array' };
    case 8: {
      if (!el || !bytes.length) return { value: DELETE, op: 'delete' };
      const copy = new ArrayBuffer(bytes.length - (bytes.length % el.size));
      new Uint8Array(copy).set(bytes.subarray(0, copy.byteLength));
      const a = el.make(copy);
      if (!a.length) return { value: DELETE, op: 'delete' };
      const n = 1 + rng.int(3);
      const changes: string[] = [];
      for (let k = 0; k < n; k++) {
        const i = rng.int(a.length);
        if (type === 'BigUint64Array') {
          const v = rng.pick([0n, 1n, 0xffffffffffffffffn, 0x7fffffffffffn, BigInt(rng.int(2 ** 31))]);
          (a as BigUint64Array)[i] = v;
          changes.push(`[${i}]=${v}`);
        } else {
          const cur = Number(a[i]);
          const v = rng.pick([0, -1, 1, 7, 8, 4095, 4096, 65535, 65536, 2 ** 32 - 1, 2 ** 53, 2 ** 64, 1e300, NaN, Infinity, -Infinity, cur + 1, cur - 1, cur + 4096, cur * 2, rng.int(2 ** 31)]);
          (a as Float64Array)[i] = v;
          changes.push(`[${i}]=${v}`);
        }
      }
      return { value: withBytes(Buffer.from(copy)), op: `set elements ${changes.join(' ')}` };
    }
    case 9: {
      if (!el || bytes.length < 2 * (el?.size ?? 1)) return { value: DELETE, op: 'delete' };
      const copy = new ArrayBuffer(bytes.length - (bytes.length % el.size));
      new Uint8Array(copy).set(bytes.subarray(0, copy.byteLength));
      const a = el.make(copy);
      const i = rng.int(a.length);
      const j = rng.int(a.length);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
      return { value: withBytes(Buffer.from(copy)), op: `swap elements ${i} ${j}` };
    }
    case 10: {
      if (!el) return { value: [], op: 'plain array' };
      const copy = new ArrayBuffer(bytes.length - (bytes.length % el.size));
      new Uint8Array(copy).set(bytes.subarray(0, copy.byteLength));
      return { value: Array.from(el.make(copy) as ArrayLike<number>, (x) => (typeof x === 'bigint' ? Number(x) : x)).slice(0, 1000), op: 'plain array' };
    }
    case 11:
      return { value: others(), op: 'graft another typed array' };
    case 12:
      return { value: DELETE, op: 'delete' };
    default:
      return { value: { $typed: node.$typed, base64: b64 + rng.pick(['A', 'AA', 'AAA', 'AAAA', 'AAAAAAAA', '====']) }, op: 'extend base64' };
  }
}

function arrayValue(rng: Rng, a: Json[]): { value: Json | typeof DELETE; op: string } {
  const i = a.length ? rng.int(a.length) : 0;
  switch (rng.int(11)) {
    case 0:
      return { value: [], op: 'empty array' };
    case 1:
      return { value: a.slice(0, -1), op: 'drop last' };
    case 2:
      return { value: a.slice(1), op: 'drop first' };
    case 3:
      return { value: [...a.slice(0, i), ...a.slice(i + 1)], op: `drop [${i}]` };
    case 4:
      return { value: a.length ? [...a.slice(0, i + 1), a[i], ...a.slice(i + 1)] : [null], op: `duplicate [${i}]` };
    case 5:
      return { value: [...a, rng.pick([null, 0, 'x', {}, [], -1])], op: 'append junk' };
    case 6:
      return { value: [...a].reverse(), op: 'reverse' };
    case 7: {
      const j = a.length ? rng.int(a.length) : 0;
      const b = [...a];
      [b[i], b[j]] = [b[j], b[i]];
      return { value: b, op: `swap [${i}] [${j}]` };
    }
    case 8:
      return { value: rng.pick([{}, null, 'x', 0]), op: 'replace array' };
    case 9:
      return { value: a.slice(0, Math.floor(a.length / 2)), op: 'halve' };
    default:
      return { value: DELETE, op: 'delete' };
  }
}

function objectValue(rng: Rng, o: Record<string, unknown>): { value: Json | typeof DELETE; op: string } {
  const keys = Object.keys(o);
  switch (rng.int(7)) {
    case 0:
    case 1: {
      if (!keys.length) return { value: null, op: 'replace with null' };
      const k = rng.pick(keys);
      const { [k]: _drop, ...rest } = o;
      return { value: rest, op: `delete key ${k}` };
    }
    case 2:
      return { value: { ...o, [rng.pick(['extra', '__proto__', 'constructor', '$typed'])]: rng.pick([1, 'x', null, {}]) }, op: 'add key' };
    case 3: {
      if (keys.length < 2) return { value: {}, op: 'empty object' };
      const a = rng.pick(keys);
      const b = rng.pick(keys);
      return { value: { ...o, [a]: o[b], [b]: o[a] }, op: `swap ${a} ${b}` };
    }
    case 4:
      return { value: rng.pick([null, [], '', 0, [o]]), op: 'replace object' };
    case 5:
      return { value: {}, op: 'empty object' };
    default:
      return { value: DELETE, op: 'delete' };
  }
}

/** Every typed array node in doc (to graft one onto another). */
function typedNodes(doc: Json, out: Json[] = [], depth = 0): Json[] {
  if (depth > 12) return out;
  if (isTypedNode(doc)) out.push(doc);
  else if (Array.isArray(doc)) for (const x of doc) typedNodes(x, out, depth + 1);
  else if (isObj(doc)) for (const x of Object.values(doc)) typedNodes(x, out, depth + 1);
  return out;
}

function update(root: Json, path: Key[], value: Json | typeof DELETE): Json {
  if (!path.length) return value === DELETE ? undefined : value;
  const [k, ...rest] = path;
  if (Array.isArray(root)) {
    const copy = root.slice();
    const v = update(root[k as number], rest, value);
    if (v === undefined && !rest.length && value === DELETE) copy.splice(k as number, 1);
    else copy[k as number] = v;
    return copy;
  }
  const copy = { ...(root as Record<string, unknown>) };
  const v = update((root as Record<string, unknown>)[k as string], rest, value);
  if (v === undefined && !rest.length && value === DELETE) delete copy[k as string];
  else copy[k as string] = v;
  return copy;
}

const pathText = (path: Key[]) => path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('').replace(/^\./, '') || '(root)';

/** One mutation at a random place: a random walk from the root, stopping at a leaf or (sometimes) at a
 *  container. Only the nodes on the path are copied; the rest is shared with the input. */
export function mutateOnce(doc: Json, rng: Rng, typedPool: () => Json[]): { doc: Json; op: string } {
  const path: Key[] = [];
  let node = doc;
  if (rng.chance(0.01)) {
    const v = rng.pick([null, [], 5, 'cowscope', true, {}, { format: 'cowscope.capture/1' }, { format: 'cowscope.capture/2', capture: {} }]);
    return { doc: v, op: `(root) := ${JSON.stringify(v)}` };
  }
  for (;;) {
    if (isTypedNode(node)) {
      if (rng.chance(0.9)) break;
    } else if (!(Array.isArray(node) || isObj(node))) break;
    const keys: Key[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    if (!keys.length || (path.length > 0 && rng.chance(0.12))) break;
    const k = rng.pick(keys);
    path.push(k);
    node = (node as Record<Key, Json>)[k];
  }
  let value: Json | typeof DELETE;
  let op: string;
  if (isTypedNode(node)) ({ value, op } = typedValue(rng, node, () => rng.pick(typedPool())));
  else if (Array.isArray(node)) ({ value, op } = arrayValue(rng, node));
  else if (isObj(node)) ({ value, op } = objectValue(rng, node));
  else if (typeof node === 'number') {
    value = numberValue(rng, node);
    op = value === DELETE ? 'delete' : `:= ${JSON.stringify(value)}`;
  } else if (typeof node === 'string') {
    value = stringValue(rng, node);
    op = value === DELETE ? 'delete' : `:= ${JSON.stringify(value).slice(0, 60)}`;
  } else if (typeof node === 'boolean') {
    value = rng.pick([!node, 'true', 0, 1, null, DELETE]);
    op = value === DELETE ? 'delete' : `:= ${JSON.stringify(value)}`;
  } else {
    value = rng.pick([0, '', {}, [], DELETE]);
    op = value === DELETE ? 'delete' : `:= ${JSON.stringify(value)}`;
  }
  if (!path.length && value === DELETE) value = null;
  return { doc: update(doc, path, value), op: `${pathText(path)}: ${op}` };
}

export function mutateDocument(doc: Json, rng: Rng, typedPool: () => Json[]): { doc: Json; ops: string[] } {
  const n = rng.chance(0.6) ? 1 : 2 + rng.int(3);
  const ops: string[] = [];
  let d = doc;
  for (let i = 0; i < n; i++) {
    const m = mutateOnce(d, rng, typedPool);
    d = m.doc;
    ops.push(m.op);
  }
  return { doc: d, ops };
}

// ---------------------------------------------------------------- byte-level mutations (gzip)

export function mutateBytes(raw: Buffer, rng: Rng): { bytes: Buffer; op: string } {
  const at = rng.int(raw.length);
  switch (rng.int(7)) {
    case 0:
      return { bytes: raw.subarray(0, at), op: `truncate to ${at} bytes` };
    case 1: {
      const b = Buffer.from(raw);
      b[at] ^= 1 << rng.int(8);
      return { bytes: b, op: `flip a bit of byte ${at}` };
    }
    case 2:
      return { bytes: Buffer.concat([raw, Buffer.from('trailing garbage\n')]), op: 'append garbage' };
    case 3: {
      const b = Buffer.from(raw);
      b.writeUInt32LE(rng.pick([0, 0xffffffff, 2 ** 31]), b.length - 4);
      return { bytes: b, op: 'rewrite the ISIZE trailer' };
    }
    case 4:
      return { bytes: Buffer.concat([raw, raw]), op: 'two gzip members' };
    case 5:
      return { bytes: raw.subarray(0, rng.int(20)), op: 'a stub' };
    default: {
      const b = Buffer.from(raw);
      for (let k = 0; k < 8; k++) b[rng.int(b.length)] = rng.int(256);
      return { bytes: b, op: 'scribble 8 bytes' };
    }
  }
}

// ---------------------------------------------------------------- capture cases

export interface CaseResult {
  accepted: boolean;
  message?: string;
  ms: number;
}

const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

/** The property of an error: what the CLI prints is one line, from an expected error class. */
export function checkError(e: unknown, what: string, allowed: (e: unknown) => boolean): string {
  if (!allowed(e)) throw new FuzzFailure(`${what}: threw ${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message ?? String(e)}\n${(e as Error)?.stack ?? ''}`);
  const line = escapeControl(describeError(e));
  if (line.includes('\n') || /^internal error/.test(line)) throw new FuzzFailure(`${what}: printed ${JSON.stringify(line)}`);
  return line;
}

const captureErrors = (e: unknown) => e instanceof CaptureFileError || e instanceof UsageError;

/** One capture input through everything `cowscope report` does (HTML rendered but not written). */
export function checkCaptureInput(input: { doc: Json } | { gz: Buffer }, rng: Rng, what: string): CaseResult {
  const t0 = performance.now();
  try {
    const capture = 'gz' in input ? decodeCapture(input.gz, 'fuzz.cow') : validateCaptureDocument(input.doc, 'fuzz.cow');
    const json = rng.chance(0.4);
    const out = reportOf(capture, 'fuzz.cow', { json, bytes: rng.chance(0.3) });
    if (typeof out !== 'string' || !out.length) throw new FuzzFailure(`${what}: report printed nothing`);
    if (!json && RAW_CONTROL.test(out)) throw new FuzzFailure(`${what}: the text report holds a raw control character: ${JSON.stringify(out.match(/.*[\x00-\x09\x0b-\x1f\x7f-\x9f].*/)?.[0])}`);
    if (rng.chance(0.15)) renderHtml(runHtmlDoc(capture, analyzeRun(capture)));
    return { accepted: true, ms: performance.now() - t0 };
  } catch (e) {
    if (e instanceof FuzzFailure) throw e;
    return { accepted: false, message: checkError(e, what, captureErrors), ms: performance.now() - t0 };
  }
}

export interface CaptureSeed {
  name: string;
  doc: Json;
  gz: Buffer;
}

export function captureSeed(name: string, gz: Buffer): CaptureSeed {
  return { name, gz, doc: JSON.parse(zlib.gunzipSync(gz).toString('utf8')) };
}

export interface CaptureCase {
  seed: CaptureSeed;
  ops: string[];
  input: { doc: Json } | { gz: Buffer };
}

/** Case n of a run: which seed capture, and its mutations (5% on the gzip bytes). */
export function captureCase(seeds: CaptureSeed[], seed: number, n: number): { rng: Rng; c: CaptureCase } {
  const rng = new Rng(caseSeed(seed, n));
  const s = rng.pick(seeds);
  const pools = new Map<CaptureSeed, Json[]>();
  const pool = () => {
    if (!pools.has(s)) pools.set(s, typedNodes(s.doc));
    return pools.get(s)!;
  };
  if (rng.chance(0.05)) {
    const m = mutateBytes(s.gz, rng);
    return { rng, c: { seed: s, ops: [m.op], input: { gz: m.bytes } } };
  }
  const m = mutateDocument(s.doc, rng, pool);
  return { rng, c: { seed: s, ops: m.ops, input: { doc: m.doc } } };
}

export function describeCase(seed: number, n: number, c: CaptureCase): string {
  return `capture case ${n} (seed ${seed}, from ${c.seed.name}): ${c.ops.join('; ')}`;
}

/** The case as a file, as `cowscope report` would read it. */
export function caseBytes(c: CaptureCase): Buffer {
  return 'gz' in c.input ? c.input.gz : zlib.gzipSync(JSON.stringify(c.input.doc) ?? 'null', { level: 1 });
}

// ---------------------------------------------------------------- budget configs

export function configCase(base: Record<string, unknown>, seed: number, n: number): { text: string; ops: string[] } {
  const rng = new Rng(caseSeed(seed ^ 0x5bd1e995, n));
  const m = mutateDocument(base, rng, () => [{ $typed: 'Uint8Array', base64: 'AA==' }]);
  let text = JSON.stringify(m.doc, null, rng.pick([0, 2])) ?? 'null';
  const ops = [...m.ops];
  if (rng.chance(0.3)) {
    const at = rng.int(text.length + 1);
    const insert = rng.pick(['// a comment\n', '//', '"', '\\', '{', '}', ',', '\x1b[31m', '/* no */', '\n', '\u0000', 'é']);
    text = rng.chance(0.3) ? text.slice(0, at) : text.slice(0, at) + insert + text.slice(at);
    ops.push(`text edit at ${at}`);
  }
  return { text, ops };
}

/** The config file's case, through loadBudgetConfig. */
export function checkConfigCase(file: string, text: string, what: string): CaseResult {
  const t0 = performance.now();
  fs.writeFileSync(file, text);
  try {
    const cfg = loadBudgetConfig(file);
    const finite = (x: unknown) => x === undefined || (typeof x === 'number' && Number.isFinite(x) && x >= 0);
    const b = cfg.budgets;
    const t = cfg.tolerance as { percent?: number; bytes?: number };
    const ok =
      Number.isInteger(cfg.children) && cfg.children >= 1 && cfg.children <= 64 &&
      Number.isInteger(cfg.repeat) && cfg.repeat >= 1 && cfg.repeat <= 50 &&
      typeof cfg.strategy === 'string' &&
      cfg.program.every((p) => typeof p === 'string') &&
      (cfg.program.length > 0) !== !!cfg.rack &&
      finite(b.copiedPerChild) && finite(b.newPerChild) && finite(b.sharedRatio) && Object.values(b.causes).every(finite) &&
      finite(t.percent) && finite(t.bytes);
    if (!ok) throw new FuzzFailure(`${what}: accepted a config with values out of range: ${JSON.stringify(cfg)}`);
    return { accepted: true, ms: performance.now() - t0 };
  } catch (e) {
    if (e instanceof FuzzFailure) throw e;
    return { accepted: false, message: checkError(e, what, (x) => x instanceof UsageError), ms: performance.now() - t0 };
  }
}

// ---------------------------------------------------------------- heap map lines

const HEAP_SNIPPETS = [
  '"slot_size":99999999999999999999999',
  '"slot_size":0',
  '"slot_size":-40',
  '"address":"0xffffffffffffffff"',
  '"address":"0x10000000000000000"',
  '"address":"0x"',
  '"address":"',
  '"type":"',
  '"type":"SHAPE"',
  '"type":"IMEMO", "imemo_type":"iseq"',
  '"type":"CLASS", "name":"\x1b[31mEvil\\"',
  '"line":99999999999999999999999999999',
  '"file":"\\',
  '"flags":{"old":true',
  '"bytesize":1e999',
  '\\',
  '"',
  '}',
  '{',
  '\n',
];

export function heapMapCase(lines: string[], seed: number, n: number): { text: string; ops: string[]; heapPageSize: number; keep: Float64Array; slot: number } {
  const rng = new Rng(caseSeed(seed ^ 0x27d4eb2f, n));
  const out = [...lines];
  const ops: string[] = [];
  const k = 1 + rng.int(4);
  for (let i = 0; i < k; i++) {
    const at = rng.int(out.length);
    const line = out[at] ?? '';
    const pos = rng.int(line.length + 1);
    switch (rng.int(8)) {
      case 0:
        out[at] = line.slice(0, pos);
        ops.push(`truncate line ${at} at ${pos}`);
        break;
      case 1:
        out[at] = line.slice(0, pos) + rng.pick(HEAP_SNIPPETS) + line.slice(pos);
        ops.push(`insert into line ${at}`);
        break;
      case 2:
        out[at] = `{${rng.pick(HEAP_SNIPPETS)}, ${rng.pick(HEAP_SNIPPETS)}}`;
        ops.push(`replace line ${at}`);
        break;
      case 3:
        out.splice(at, 0, line);
        ops.push(`duplicate line ${at}`);
        break;
      case 4:
        out[at] = line.replace(/0x[0-9a-f]+/g, () => `0x${rng.pick(['0', 'f'.repeat(16), '7fff00000000', 'g1', ''])}`);
        ops.push(`rewrite addresses of line ${at}`);
        break;
      case 5:
        out[at] = `${line.slice(0, pos)}${'x'.repeat(rng.pick([1000, 70000]))}${line.slice(pos)}`;
        ops.push(`lengthen line ${at}`);
        break;
      case 6:
        out.splice(at, 1);
        ops.push(`drop line ${at}`);
        break;
      default: {
        const b = Buffer.from(line);
        if (b.length) b[rng.int(b.length)] = rng.int(256);
        out[at] = b.toString('latin1');
        ops.push(`scribble line ${at}`);
      }
    }
  }
  const heapPageSize = rng.pick([16384, 65536, 4096]);
  const keep = rng.chance(0.5) ? Float64Array.of(0x7fccc4fb0000) : Float64Array.from({ length: rng.int(4) }, () => rng.int(2 ** 20) * 4096);
  const slot = rng.pick([40, 0, 1, 80, 2 ** 40]);
  return { text: out.join(rng.chance(0.1) ? '\r\n' : '\n'), ops, heapPageSize, keep, slot };
}

export function checkHeapMapCase(file: string, c: ReturnType<typeof heapMapCase>, what: string): CaseResult {
  const t0 = performance.now();
  fs.writeFileSync(file, c.text, 'latin1');
  let d;
  try {
    d = ingestHeapDump(file, c.heapPageSize, c.keep, c.slot);
  } catch (e) {
    if (!(e instanceof ProbeError)) throw new FuzzFailure(`${what}: threw ${(e as Error).name}: ${(e as Error).message}`);
    return { accepted: false, message: (e as Error).message, ms: performance.now() - t0 };
  }
  const t = d.table;
  const n = t.address.length;
  const columns = [t.type, t.imemo, t.gcFlags, t.slotSize, t.bytesize, t.embedded, t.classAddr, t.site];
  const bad: string[] = [];
  if (columns.some((col) => col.length !== n)) bad.push('columns of different lengths');
  for (let i = 1; i < n; i++) if (!(t.address[i] >= t.address[i - 1])) bad.push(`address[${i}] not sorted`);
  for (let i = 0; i < n; i++) if (t.site[i] < -1 || t.site[i] >= d.sites.length) bad.push(`site[${i}] = ${t.site[i]} out of range`);
  for (let i = 1; i < d.bodies.length; i++) if (!(d.bodies[i] > d.bodies[i - 1])) bad.push(`bodies[${i}] not sorted`);
  for (const b of d.bodies) if (b % c.heapPageSize) bad.push(`body ${b} not aligned`);
  if (d.classNames.address.length !== d.classNames.name.length) bad.push('class names of different lengths');
  if (!(d.objects <= d.lines && d.free <= d.objects && d.malformed <= d.lines)) bad.push(`counts ${JSON.stringify([d.lines, d.objects, d.free, d.malformed])}`);
  if (bad.length) throw new FuzzFailure(`${what}: ${bad.slice(0, 3).join('; ')}`);
  return { accepted: true, ms: performance.now() - t0 };
}

// ---------------------------------------------------------------- /proc text

const PROC_ALPHABET = '0123456789abcdef-: ()\n\t/[]rwxsp_ABCZkB.';

export function procfsCase(samples: string[], seed: number, n: number): { text: string; ops: string[] } {
  const rng = new Rng(caseSeed(seed ^ 0x165667b1, n));
  if (rng.chance(0.2)) {
    const len = rng.int(300);
    let s = '';
    for (let i = 0; i < len; i++) s += PROC_ALPHABET[rng.int(PROC_ALPHABET.length)];
    return { text: s, ops: [`random text of ${len}`] };
  }
  let text = rng.pick(samples);
  const ops: string[] = [];
  const k = 1 + rng.int(4);
  for (let i = 0; i < k; i++) {
    const at = rng.int(text.length + 1);
    switch (rng.int(7)) {
      case 0:
        text = text.slice(0, at);
        ops.push(`truncate at ${at}`);
        break;
      case 1: {
        const ins = rng.pick(['9'.repeat(400), 'ffffffffffffffffffff', '-', ' ', '\n', ')', '(', '\x1b[31m', ' kB', ':', '0', '-1', '1e999', 'NaN']);
        text = text.slice(0, at) + ins + text.slice(at);
        ops.push(`insert ${JSON.stringify(ins.slice(0, 20))} at ${at}`);
        break;
      }
      case 2:
        text = text.slice(0, at) + text.slice(at + 1 + rng.int(10));
        ops.push(`delete at ${at}`);
        break;
      case 3:
        text = text.replace(/\d+/g, (m) => (rng.chance(0.1) ? rng.pick(['9'.repeat(400), '0', '18446744073709551616', '']) : m));
        ops.push('rewrite numbers');
        break;
      case 4:
        text = text.replace(/[0-9a-f]{6,}/g, (m) => (rng.chance(0.2) ? rng.pick(['f'.repeat(20), 'f'.repeat(16), '0', 'g']) : m));
        ops.push('rewrite hex');
        break;
      case 5: {
        const lines = text.split('\n');
        const i = rng.int(lines.length);
        lines.splice(i, 0, lines[rng.int(lines.length)]);
        text = lines.join('\n');
        ops.push(`duplicate a line at ${i}`);
        break;
      }
      default:
        text = text.slice(0, at) + String.fromCharCode(rng.int(256)) + text.slice(at + 1);
        ops.push(`replace a char at ${at}`);
    }
  }
  return { text, ops };
}

/** Every parser on the text: each returns well-formed values or throws ParseError. */
export function checkProcfsCase(text: string, what: string): CaseResult {
  const t0 = performance.now();
  const bad: string[] = [];
  let accepted = 0;
  const isNum = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  const isInt = (x: unknown, max = 2 ** 64) => isNum(x) && Number.isInteger(x) && (x as number) < max;
  const attempt = (name: string, fn: () => void) => {
    try {
      fn();
      accepted++;
    } catch (e) {
      if (!(e instanceof ParseError)) bad.push(`${name} threw ${(e as Error).name}: ${(e as Error).message}`);
      else if ((e as Error).message.includes('\n')) bad.push(`${name}: a ParseError message of more than one line`);
    }
  };
  const checkVma = (name: string, v: { start: number; end: number; perms: string; offset: number; inode: number; path: string; dev: string }) => {
    if (!isInt(v.start) || !isInt(v.end) || !(v.end > v.start)) bad.push(`${name}: start/end ${v.start}-${v.end}`);
    if (!/^[r-][w-][x-][ps]$/.test(v.perms)) bad.push(`${name}: perms ${JSON.stringify(v.perms)}`);
    if (!isInt(v.offset) || !isInt(v.inode)) bad.push(`${name}: offset/inode ${v.offset} ${v.inode}`);
    if (typeof v.path !== 'string' || v.path.includes('\n') || typeof v.dev !== 'string') bad.push(`${name}: path/dev`);
  };
  attempt('parseMaps', () => parseMaps(text).forEach((v) => checkVma('parseMaps', v)));
  attempt('parseSmaps', () =>
    parseSmaps(text).forEach((v) => {
      checkVma('parseSmaps', v);
      for (const [k, x] of Object.entries(v.fields)) if (!isNum(x)) bad.push(`parseSmaps: field ${k} = ${x}`);
      if (!v.vmFlags.every((f) => typeof f === 'string' && f.length > 0)) bad.push('parseSmaps: vmFlags');
    }),
  );
  attempt('parseSmapsRollup', () => {
    const m = parseSmapsRollup(text);
    for (const k of ['rss', 'pss', 'uss', 'swap', 'swapPss', 'anonHuge'] as const) if (!isNum(m[k])) bad.push(`parseSmapsRollup: ${k} = ${m[k]}`);
  });
  attempt('parseStat', () => {
    const s = parseStat(text);
    for (const k of ['pid', 'ppid', 'flags', 'threads', 'startTime'] as const) if (!isInt(s[k], 2 ** 53)) bad.push(`parseStat: ${k} = ${s[k]}`);
    if (typeof s.comm !== 'string' || typeof s.state !== 'string' || !s.state) bad.push('parseStat: comm/state');
  });
  attempt('parseStatus', () => {
    const s = parseStatus(text);
    for (const [k, v] of Object.entries(s)) if (typeof v !== 'string' || k.includes('\n')) bad.push('parseStatus: a key or value');
  });
  if (bad.length) throw new FuzzFailure(`${what}: ${[...new Set(bad)].slice(0, 3).join('; ')}`);
  return { accepted: accepted > 0, ms: performance.now() - t0 };
}
