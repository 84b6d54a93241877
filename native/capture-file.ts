// The Capture as one file (`--save FILE`, read back by `cowscope report FILE` where the processes no
// longer exist): gzip-compressed JSON, typed arrays as base64 of their little-endian bytes.
//
//   { "format": "cowscope.capture/1", "capture": { …Capture… } }
//   a typed array is written as { "$typed": "Uint16Array", "base64": "…" }
//
// No addon is loaded here, so captures can be read on any machine. Reading is bounded (a regular file,
// a size limit before and during decompression) and every field is checked (capture-schema.ts) before
// any analysis sees it.

import { constants as bufferConstants } from 'node:buffer';
import zlib from 'node:zlib';
import type { Capture } from './capture';
import { CAPTURE_FORMAT, CaptureFileError, TypedName, validateCaptureDocument } from './capture-schema';
import { type StagedFile, stageFile } from './files';
import { FileShapeError, describeBytes, readRegularFile } from './regular-file';

export { CAPTURE_FORMAT, CaptureFileError };

const SAVABLE = new Set<string>(['Uint8Array', 'Uint16Array', 'Uint32Array', 'Int32Array', 'Float64Array', 'BigUint64Array'] satisfies TypedName[]);

/** Uncompressed size of a capture that loadCapture reads by default (--max-size, COWSCOPE_MAX_CAPTURE_SIZE). */
export const DEFAULT_MAX_CAPTURE_SIZE = 2 * 1024 ** 3;
/** The JSON text must fit in one string: past this no limit can be raised. */
const MAX_JSON = bufferConstants.MAX_STRING_LENGTH;

function encode(_key: string, value: unknown): unknown {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const name = value.constructor.name;
    if (!SAVABLE.has(name)) throw new Error(`cannot save a ${name}`);
    return { $typed: name, base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  return value;
}

/** Writes the capture to a temporary file next to `file`, then renames it: never a half-written file. */
export function saveCapture(file: string, capture: Capture): void {
  stageCapture(file, capture).commit();
}

/** A capture written under its temporary name, not yet renamed into place: `run` commits it once its
 *  other file (--html) is written too, and aborts it if that fails, so a run leaves both or neither (QA:
 *  an --html on a full disk left the --save file). Removed at exit if neither was called (a signal). */
export function stageCapture(file: string, capture: Capture): StagedFile {
  const data = zlib.gzipSync(JSON.stringify({ format: CAPTURE_FORMAT, capture }, encode), { level: 6 });
  const failed = (e: unknown) => new CaptureFileError(`cannot write ${file}: ${(e as Error).message}`);
  let staged: StagedFile;
  try {
    staged = stageFile(file, data);
  } catch (e) {
    throw failed(e);
  }
  return {
    commit: () => {
      try {
        staged.commit();
      } catch (e) {
        throw failed(e);
      }
    },
    abort: () => staged.abort(),
  };
}

export interface LoadOptions {
  /** most bytes of JSON the gzip may hold (default DEFAULT_MAX_CAPTURE_SIZE) */
  maxSize?: number;
}

const HINT = 'give the file written by cowscope run --save FILE';

/** Decompresses and checks the bytes of a capture file (`file` names it in messages). Bounded:
 *  decompression stops past the limit. */
export function decodeCapture(raw: Buffer, file: string, opts: LoadOptions = {}): Capture {
  const maxSize = opts.maxSize ?? DEFAULT_MAX_CAPTURE_SIZE;
  const limit = Math.min(maxSize, MAX_JSON);
  const tooLarge = () =>
    new CaptureFileError(
      limit < maxSize
        ? `${file} holds more JSON than the ${describeBytes(MAX_JSON)} one capture can hold (JSON.parse takes one string): not a capture cowscope wrote`
        : `${file} holds more JSON than the ${describeBytes(limit)} limit (raise it with --max-size SIZE or COWSCOPE_MAX_CAPTURE_SIZE)`,
    );
  if (raw.length < 18 || raw[0] !== 0x1f || raw[1] !== 0x8b) throw new CaptureFileError(`${file} is not a cowscope capture (not gzip-compressed): ${HINT}`);
  // The gzip trailer's ISIZE (the last member's size mod 2^32) cannot be trusted to refuse early: in a
  // truncated file those bytes are deflate data. The memory decompression may take is the limit.
  // It is a hint, though: decompressed into one buffer of that size (held to 16 times the file, which a
  // capture's JSON is not: ~8), the JSON is not copied again out of 1 MiB pieces (~20 ms of a Rails
  // worker's 50 MB); a wrong hint only makes more pieces.
  const isize = raw.readUInt32LE(raw.length - 4);
  const chunkSize = Math.max(1024 * 1024, Math.min(isize + 1, limit, raw.length * 16));
  let json: Buffer;
  try {
    json = zlib.gunzipSync(raw, { maxOutputLength: limit, chunkSize });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err instanceof RangeError || err.code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
    throw new CaptureFileError(`${file} is not a cowscope capture: its gzip data is damaged (${err.message}): ${HINT}`);
  }
  // What JSON.parse builds is bounded by the values outside strings, not by the text: a capture's bulk is
  // base64 strings (a Rails worker's 50 MB: 21,000 commas and colons), where 400 MB of "0," would build an
  // array of 200 million numbers (QA: 4.5 GB, then V8's fatal error, from a 1.8 MB gzip).
  const separators = separatorsOutsideStrings(json, MAX_JSON_SEPARATORS);
  if (separators > MAX_JSON_SEPARATORS)
    throw new CaptureFileError(`${file} holds more than ${MAX_JSON_SEPARATORS.toLocaleString('en-US')} JSON values outside strings: not a capture cowscope wrote (${HINT})`);
  let doc: unknown;
  try {
    doc = JSON.parse(json.toString('utf8'));
  } catch (e) {
    const message = (e as Error).message;
    throw new CaptureFileError(`${file} is not a cowscope capture: the JSON inside is damaged (${message.length > 100 ? `${message.slice(0, 100)}…` : message})`);
  }
  return validateCaptureDocument(doc, file);
}

/** Commas and colons outside strings a capture's JSON may hold: a run's processes list each mapping as
 *  an object of 7 fields (14 of them), so 16 million is ten processes of 100,000 mappings, and JSON.parse
 *  builds at most about 450 MB from them. */
const MAX_JSON_SEPARATORS = 16_000_000;

/** The commas and colons of JSON text outside its strings, counted up to just past `max`. Strings are
 *  skipped with Buffer.indexOf (a capture's strings are long base64 runs without escapes). */
export function separatorsOutsideStrings(json: Buffer, max: number): number {
  const QUOTE = 0x22;
  let n = 0;
  let i = 0;
  while (i < json.length) {
    const q = json.indexOf(QUOTE, i);
    const end = q < 0 ? json.length : q;
    for (; i < end; i++) {
      const c = json[i];
      if ((c === 0x2c || c === 0x3a) && ++n > max) return n;
    }
    if (q < 0) return n;
    // the string's closing quote: one not escaped (an even number of backslashes before it)
    let close = q;
    for (;;) {
      close = json.indexOf(QUOTE, close + 1);
      if (close < 0) return n; // unterminated: JSON.parse says so
      let backslashes = 0;
      while (json[close - 1 - backslashes] === 0x5c) backslashes++;
      if (backslashes % 2 === 0) break;
    }
    i = close + 1;
  }
  return n;
}

/** Reads a capture file: a regular file, at most the limit in size, gzip of the checked JSON. */
export function loadCapture(file: string, opts: LoadOptions = {}): Capture {
  const maxSize = opts.maxSize ?? DEFAULT_MAX_CAPTURE_SIZE;
  let raw: Buffer;
  try {
    // A gzip is never much larger than what it holds.
    raw = readRegularFile(file, Math.min(maxSize, MAX_JSON) + 1024 * 1024);
  } catch (e) {
    if (e instanceof FileShapeError) {
      // the limit is the user's, on the JSON; the file is its gzip, allowed a little more (headers)
      if (e.code === 'EFBIG')
        throw new CaptureFileError(`${file} is ${describeBytes(e.size)}, more than the ${describeBytes(Math.min(maxSize, MAX_JSON))} limit for a capture (raise it with --max-size SIZE or COWSCOPE_MAX_CAPTURE_SIZE)`);
      throw new CaptureFileError(`${file} ${e.message}: ${HINT}`);
    }
    throw new CaptureFileError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}: ${HINT}`);
  }
  return decodeCapture(raw, file, opts);
}
