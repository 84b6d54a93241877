// The Capture as one file (`--save FILE`, read back by `cowscope report FILE` where the processes no
// longer exist): gzip-compressed JSON, typed arrays as base64 of their little-endian bytes.
//
//   { "format": "cowscope.capture/1", "capture": { …Capture… } }
//   a typed array is written as { "$typed": "Uint16Array", "base64": "…" }
//
// No addon is loaded here, so captures can be read on any machine.

import fs from 'node:fs';
import zlib from 'node:zlib';
import type { Capture } from './capture';
import { writeFileAtomically } from './files';

export const CAPTURE_FORMAT = 'cowscope.capture/1';

const TYPED = {
  Uint8Array,
  Uint16Array,
  Uint32Array,
  Int32Array,
  Float64Array,
  BigUint64Array,
} as const;
type TypedName = keyof typeof TYPED;

export class CaptureFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaptureFileError';
  }
}

function encode(_key: string, value: unknown): unknown {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const name = value.constructor.name as TypedName;
    if (!(name in TYPED)) throw new Error(`cannot save a ${name}`);
    return { $typed: name, base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  return value;
}

function decode(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && '$typed' in value) {
    const { $typed, base64 } = value as { $typed: TypedName; base64: string };
    const Ctor = TYPED[$typed];
    if (!Ctor) throw new CaptureFileError(`unknown array type ${$typed}`);
    const bytes = Buffer.from(base64, 'base64');
    const copy = new ArrayBuffer(bytes.length); // aligned for the element size
    new Uint8Array(copy).set(bytes);
    return new Ctor(copy);
  }
  return value;
}

/** Writes the capture to a temporary file next to `file`, then renames it: never a half-written file. */
export function saveCapture(file: string, capture: Capture): void {
  const data = zlib.gzipSync(JSON.stringify({ format: CAPTURE_FORMAT, capture }, encode), { level: 6 });
  try {
    writeFileAtomically(file, data);
  } catch (e) {
    throw new CaptureFileError(`cannot write ${file}: ${(e as Error).message}`);
  }
}

export function loadCapture(file: string): Capture {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (e) {
    throw new CaptureFileError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}: give the file written by --save`);
  }
  let doc: { format?: string; capture?: Capture };
  try {
    doc = JSON.parse(zlib.gunzipSync(raw).toString('utf8'), decode);
  } catch {
    throw new CaptureFileError(`${file} is not a cowscope capture (write one with cowscope run --save FILE)`);
  }
  if (doc.format !== CAPTURE_FORMAT || !doc.capture)
    throw new CaptureFileError(`${file} has format ${JSON.stringify(doc.format)}, this cowscope reads ${CAPTURE_FORMAT}`);
  return doc.capture;
}
