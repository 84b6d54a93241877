// Bad capture files through the real CLI: `cowscope report` refuses each with exit 2 and one line that
// names the field (or the file's problem), at once and in bounded memory; and text that came from a
// process or a file is printed with its control characters escaped.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { escapeControl } from '../cli/render/escape';
import { separatorsOutsideStrings } from '../native/capture-file';
import { validateCaptureDocument } from '../native/capture-schema';
import { RUBY_FIXTURES, leftoverRunDirs, runCowscope, rubyFixtureProcesses, tempDir } from './helpers/ruby';
import { MeasuredRun, assertBounded, runMeasured } from './helpers/measured';
import { ROOT } from './helpers/family';

const tmp = tempDir('capture');
test.after(() => tmp.remove());
test.after.each(() => {
  // (of this checkout: another one on the machine may be running its own)
  assert.equal(rubyFixtureProcesses().filter((p) => p.includes(ROOT)), [], 'no Ruby process left behind');
  assert.equal(leftoverRunDirs(), [], 'no temporary folder left behind');
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;
let base: Doc;
const clone = (): Doc => JSON.parse(JSON.stringify(base));

function write(name: string, content: unknown, raw = false): string {
  const file = path.join(tmp.dir, name);
  fs.writeFileSync(file, zlib.gzipSync(raw ? String(content) : JSON.stringify(content), { level: 1 }));
  return file;
}

/** exit 2 with one line matching pattern; fast, small. */
function refused(r: MeasuredRun, pattern: RegExp, what: string, seconds = 10): void {
  assertBounded(r, what, { seconds, rss: 1024 ** 3 });
  assert.is(r.status, 2, `${what}: exit 2, got ${r.status}: ${r.stdout.slice(0, 200)} ${r.stderr}`);
  assert.is(r.stdout, '', `${what}: nothing on stdout`);
  assert.match(r.stderr, /^cowscope: /, what);
  assert.match(r.stderr, pattern, what);
}

function report(file: string, extra: string[] = [], env?: NodeJS.ProcessEnv): MeasuredRun {
  return runMeasured(tmp.dir, ['report', ...extra, file], { env });
}

test('a capture to start from', () => {
  const file = path.join(tmp.dir, 'noop.cow');
  const r = runCowscope(['run', '--save', file, path.join(RUBY_FIXTURES, 'noop.rb')]);
  assert.is(r.status, 0, r.stderr);
  base = JSON.parse(zlib.gunzipSync(fs.readFileSync(file)).toString('utf8'));
  assert.is(report(file).status, 0, 'the capture itself reports');
});

test('pageSize 0, "4096", 1e15; a mapping start of "": exit 2 naming the field', () => {
  for (const pageSize of [0, '4096', 1e15]) {
    const doc = clone();
    doc.capture.meta.pageSize = pageSize;
    refused(report(write('pagesize.cow', doc)), /capture\.meta\.pageSize: must be a power of two from 4096 to 65536, not/, `pageSize ${JSON.stringify(pageSize)}`, 5);
  }
  const doc = clone();
  doc.capture.processes[0].vmas[3].start = '';
  refused(report(write('start.cow', doc)), /capture\.processes\[0\]\.vmas\[3\]\.start: must be a whole number from 0 to below 2\^64, not ""/, 'start ""', 5);
  const end = clone();
  end.capture.processes[1].vmas[2].end = end.capture.processes[1].vmas[2].start;
  refused(report(write('end.cow', end)), /capture\.processes\[1\]\.vmas\[2\]\.end: must be above start/, 'end = start', 5);
});

test('/dev/zero, a directory and a FIFO: exit 2 at once', () => {
  refused(report('/dev/zero'), /\/dev\/zero is a character device, not a regular file/, '/dev/zero', 5);
  refused(report(tmp.dir), /is a directory/, 'a directory', 5);
  const fifo = path.join(tmp.dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  refused(report(fifo), /is a FIFO \(named pipe\), not a regular file/, 'a FIFO', 5);
  fs.rmSync(fifo);
});

/** gzip of `chunks` MiB of zeros, built from one compressed MiB (full flush: blocks stand alone). */
function gzipBomb(chunks: number): Buffer {
  const MiB = 1024 * 1024;
  const zero = Buffer.alloc(MiB);
  const block = zlib.deflateRawSync(zero, { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH });
  let crc = 0;
  for (let i = 0; i < chunks; i++) crc = zlib.crc32(zero, crc);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE((chunks * MiB) % 2 ** 32, 4);
  const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  return Buffer.concat([header, ...new Array(chunks).fill(block), Buffer.from([3, 0]), trailer]);
}

test('a gzip bomb (3 GB inside): exit 2, bounded time and memory (< 1 GiB), whatever its trailer says', () => {
  const bomb = gzipBomb(3000);
  assert.ok(bomb.length < 14 * 1024 * 1024, `${bomb.length} bytes`);
  assert.is(zlib.gunzipSync(gzipBomb(2)).length, 2 * 1024 * 1024, 'the construction is a valid gzip');
  const file = path.join(tmp.dir, 'bomb.cow');
  fs.writeFileSync(file, bomb);
  refused(report(file), /holds more JSON than the 512 MiB one capture can hold/, 'bomb', 20);
  // A lying trailer changes nothing: decompression itself stops at the limit.
  bomb.writeUInt32LE(0, bomb.length - 4);
  fs.writeFileSync(file, bomb);
  refused(report(file), /holds more JSON than the 512 MiB one capture can hold/, 'bomb with ISIZE 0', 20);
  refused(report(file, ['--max-size', '64MiB']), /holds more JSON than the 64 MiB limit \(raise it with --max-size/, 'bomb, --max-size', 10);
  refused(report(file, [], { COWSCOPE_MAX_CAPTURE_SIZE: '16MiB' }), /holds more JSON than the 16 MiB limit/, 'bomb, env', 10);
  refused(report(file, ['--max-size', 'lots']), /--max-size "lots" is not a size/, 'bad --max-size', 10);
  // a file larger than the limit itself is refused before it is read, naming the limit as given
  refused(report(file, ['--max-size', '1MiB']), /bomb\.cow is \d+(\.\d)? MiB, more than the 1 MiB limit for a capture \(raise it with --max-size/, 'file over --max-size', 10);
});

test('a small gzip of a huge array of numbers (what JSON.parse would build, not the text): exit 2, bounded', () => {
  // 200 million "0," in a 1.8 MB gzip: before, 4.5 GB and V8's fatal error after 30 s (QA)
  const file = path.join(tmp.dir, 'arrbomb.cow');
  const gz = zlib.gzipSync(Buffer.concat([Buffer.from('{"format":"cowscope.capture/1","capture":{"processes":['), Buffer.alloc(2 * 200 * 1024 * 1024, '0,'), Buffer.from('0]}}')]), { level: 1 });
  fs.writeFileSync(file, gz);
  refused(report(file), /arrbomb\.cow holds more than 16,000,000 JSON values outside strings: not a capture cowscope wrote/, 'array bomb', 20);
});

test('separatorsOutsideStrings: commas and colons outside strings, escapes and all', () => {
  const n = (text: string, max = 100) => separatorsOutsideStrings(Buffer.from(text), max);
  assert.is(n('{"a":1,"b":[1,2,3]}'), 5);
  assert.is(n('{"a,b:c":"x,y"}'), 1, 'inside strings: not counted');
  assert.is(n(String.raw`["a\\",1,"\\",2]`), 3, 'a string ending in an escaped backslash ends there');
  assert.is(n(String.raw`["a\"b,c",1]`), 1, 'an escaped quote does not end the string');
  assert.is(n('["unterminated,,,'), 0, 'an unterminated string: the rest is inside it');
  assert.is(n('1,'.repeat(1000), 10), 11, 'stops just past max');
});

test('typed arrays of the wrong length, bad base64, negative RSS: exit 2 naming the field', () => {
  const short = clone();
  const flags = short.capture.processes[1].pages.flags;
  flags.base64 = Buffer.from(flags.base64, 'base64').subarray(0, -2).toString('base64');
  refused(report(write('short.cow', short)), /capture\.processes\[1\]\.pages\.flags: has \d+ elements, must have \d+ \(one per page of the scanned mappings/, 'flags short');
  const odd = clone();
  const pfn = odd.capture.processes[0].pages.pfn;
  pfn.base64 = Buffer.from(pfn.base64, 'base64').subarray(0, -3).toString('base64');
  refused(report(write('odd.cow', odd)), /capture\.processes\[0\]\.pages\.pfn: holds \d+ bytes, not a whole number of 8-byte Float64Array elements/, 'pfn odd bytes');
  const b64 = clone();
  b64.capture.diffs[0].addrs.base64 = `!${b64.capture.diffs[0].addrs.base64.slice(1)}`;
  refused(report(write('b64.cow', b64)), /capture\.diffs\[0\]\.addrs\.base64: is not well-formed base64/, 'bad base64');
  // what Node's decoder would skip or take (whitespace, base64url, padding inside, stray bits after the
  // last byte) is refused as well, in process: the same check as the report above
  const text: string = clone().capture.diffs[0].addrs.base64;
  const mid = text.length / 2 - ((text.length / 2) % 4);
  for (const [what, bad] of [
    ['a space', `${text.slice(0, mid)} ${text.slice(mid + 1)}`],
    ['base64url', `${text.slice(0, mid)}-${text.slice(mid + 1)}`],
    ['= inside', `${text.slice(0, mid)}=${text.slice(mid + 1)}`],
    ['stray bits', `${Buffer.from([1]).toString('base64').replace('Q', 'R')}`],
  ]) {
    const doc = clone();
    doc.capture.diffs[0].addrs.base64 = bad;
    assert.throws(() => validateCaptureDocument(doc, 'b64.cow'), /capture\.diffs\[0\]\.addrs\.base64: is not well-formed base64/, what);
  }
  assert.ok(validateCaptureDocument(clone(), 'base.cow').diffs, 'the unchanged document passes');
  const retyped = clone();
  retyped.capture.diffs[0].wordOffset.$typed = 'constructor';
  refused(report(write('retyped.cow', retyped)), /capture\.diffs\[0\]\.wordOffset\.\$typed: must be "Uint16Array", not "constructor"/, '$typed constructor');
  const rss = clone();
  rss.capture.processes[2].memory.rss = -1;
  refused(report(write('rss.cow', rss)), /capture\.processes\[2\]\.memory\.rss: must be a number >= 0, not -1/, 'negative rss');
  const words = clone();
  words.capture.diffs[1].wordPage = { $typed: 'Uint32Array', base64: Buffer.from(Uint32Array.of(0, 999999).buffer).toString('base64') };
  refused(report(write('words.cow', words)), /capture\.diffs\[1\]\.wordOffset: has \d+ elements, must have 2/, 'wordPage length');
  // the words of a page out of address order (two swapped)
  const swapped = clone();
  const d0 = swapped.capture.diffs[0];
  const wp = new Uint32Array(new Uint8Array(Buffer.from(d0.wordPage.base64, 'base64')).buffer);
  const wo = new Uint16Array(new Uint8Array(Buffer.from(d0.wordOffset.base64, 'base64')).buffer);
  const k = wp.findIndex((page, i) => i > 0 && page === wp[i - 1]);
  assert.ok(k > 0, 'the saved capture has a page with two changed words');
  [wo[k - 1], wo[k]] = [wo[k], wo[k - 1]];
  d0.wordOffset.base64 = Buffer.from(wo.buffer).toString('base64');
  refused(report(write('swapped.cow', swapped)), new RegExp(`capture\\.diffs\\[0\\]\\.wordOffset\\[${k}\\]: must be above capture\\.diffs\\[0\\]\\.wordOffset\\[${k - 1}\\] \\(the words of a page are sorted\\)`), 'words of a page unsorted');
  const child = clone();
  child.capture.run.children[1] = 4194303;
  refused(report(write('child.cow', child)), /capture\.run\.children\[1\]: 4194303 names no process in capture\.processes/, 'unknown child');
  const key = clone();
  key.capture.ruby.tcacheKey = 'zz';
  refused(report(write('key.cow', key)), /capture\.ruby\.tcacheKey: must be a 64-bit value in lower-case hex/, 'tcacheKey');
  // the fork path's words (the twin against the parent), checked as a child's diffs are
  assert.ok(base.capture.forkWrites, 'a run of the exact tier saves the words the fork path wrote');
  const fork = clone();
  fork.capture.forkWrites.reference = 4194303;
  refused(report(write('fork.cow', fork)), /capture\.forkWrites\.reference: 4194303 names no process in capture\.processes/, 'forkWrites reference');
  const forkPages = clone();
  forkPages.capture.forkWrites.addrs = { $typed: 'Float64Array', base64: Buffer.from(Float64Array.of(8192, 4096).buffer).toString('base64') };
  refused(report(write('fork-pages.cow', forkPages)), /capture\.forkWrites\.(addrs|status)/, 'forkWrites pages unsorted');
  const unsorted = clone();
  unsorted.capture.ruby.callData.start.base64 = Buffer.from(Float64Array.of(2 ** 40, 4096).buffer).toString('base64');
  refused(report(write('unsorted.cow', unsorted)), /capture\.ruby\.callData\.(start\[1\]: must be at least|end: has)/, 'unsorted ranges');
});

test('gzip of null, of a number, of an array, of {"format"} alone, of another format, of no gzip: exit 2 with a sensible line', () => {
  refused(report(write('null.cow', 'null', true)), /null\.cow is not a cowscope capture: it holds null, not a JSON object \{"format": "cowscope\.capture\/1"/, 'null');
  refused(report(write('num.cow', '42', true)), /it holds 42, not a JSON object/, 'a number');
  refused(report(write('arr.cow', '[]', true)), /it holds an array of 0, not a JSON object/, 'an array');
  refused(
    report(write('format.cow', { format: 'cowscope.capture/1' })),
    /format\.cow: capture: missing: the file says format cowscope\.capture\/1 but holds no "capture" object/,
    'format only',
  );
  refused(report(write('other.cow', { format: 'cowscope.capture/9', capture: {} })), /other\.cow has format "cowscope\.capture\/9", this cowscope reads cowscope\.capture\/1/, 'format 9');
  refused(report(write('noformat.cow', { capture: {} })), /noformat\.cow is not a cowscope capture: it has no "format" field/, 'no format');
  const plain = path.join(tmp.dir, 'plain.cow');
  fs.writeFileSync(plain, JSON.stringify(base));
  refused(report(plain), /plain\.cow is not a cowscope capture \(not gzip-compressed\)/, 'not gzip');
  const truncated = path.join(tmp.dir, 'truncated.cow');
  const gz = zlib.gzipSync(JSON.stringify(base));
  fs.writeFileSync(truncated, gz.subarray(0, gz.length >> 1));
  refused(report(truncated), /truncated\.cow is not a cowscope capture: its gzip data is damaged \(unexpected end of file\)/, 'truncated gzip');
  refused(report(write('json.cow', '{"format":\n\x1b[31m x}', true)), /the JSON inside is damaged \(Unexpected token '\\x1b'/, 'damaged JSON, escaped');
});

test('text from the capture with ANSI escapes is printed escaped by report', () => {
  // a child that writes 50,002 objects (their flags), for the top classes table
  const file = path.join(tmp.dir, 'shareable.cow');
  const run = runCowscope(['run', '--save', file, path.join(RUBY_FIXTURES, 'shareable.rb')]);
  assert.is(run.status, 0, run.stderr);
  const doc = JSON.parse(zlib.gunzipSync(fs.readFileSync(file)).toString('utf8'));
  const red = '\x1b[31mred\x1b[0m';
  doc.capture.run.workload = `${red} workload\nsecond line`;
  doc.capture.run.threadsAtFork[0].name = `${red}main`;
  doc.capture.runtime.platform = `x86_64-\u009b2Jlinux`;
  doc.capture.run.strategyLabel = `none\u202e`;
  // Every heap-map object an instance of the first class, whose name has escapes.
  const objects = doc.capture.ruby.objects;
  const count = Buffer.from(objects.type.base64, 'base64').length;
  objects.type.base64 = Buffer.alloc(count, 1).toString('base64'); // T_OBJECT
  objects.classAddr.base64 = Buffer.from(new Float64Array(count).fill(Buffer.from(doc.capture.ruby.classNames.address.base64, 'base64').readDoubleLE(0)).buffer).toString('base64');
  doc.capture.ruby.classNames.name = doc.capture.ruby.classNames.name.map((n: string) => `${red}${n}`);
  doc.capture.processes[0].comm = red;
  doc.capture.processes[0].command = `ruby ${red}`;
  const r = report(write('ansi.cow', doc));
  assert.is(r.status, 0, r.stderr);
  assert.not.match(r.stdout, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/, 'no raw control character in the output');
  assert.ok(r.stdout.includes('workload: \\x1b[31mred\\x1b[0m workload\\x0asecond line'), r.stdout.slice(0, 600));
  assert.ok(r.stdout.includes('(\\x1b[31mred\\x1b[0mmain: run)'), 'thread names');
  assert.ok(r.stdout.includes('x86_64-\\x9b2Jlinux'), 'platform');
  assert.ok(r.stdout.includes('strategy none\\u202e'), 'bidi override');
  // the two children's counts, or their range when they differ (a CI run under load had them differ)
  assert.match(r.stdout, /\n {4}\\x1b\[31mred\\x1b\[0m\S+ +\d+(–\d+–\d+)? +\d+(–\d+–\d+)?\n/, `class names in the top classes table:\n${r.stdout}`);
  assert.is(escapeControl('plain text, ünïcödé and emoji 🐄'), 'plain text, ünïcödé and emoji 🐄', 'printable text is left alone');
});

test('inspect prints a command line with ANSI escapes escaped', async () => {
  const proc = spawn('sleep', ['30'], { argv0: '\x1b[31mevil\x1b[0m', stdio: 'ignore' });
  try {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const r = runCowscope(['inspect', String(proc.pid)]);
    assert.is(r.status, 0, r.stderr);
    assert.not.match(r.stdout, /\x1b/, 'no raw ESC');
    assert.ok(r.stdout.includes('\\x1b[31mevil\\x1b[0m 30'), r.stdout);
    // no children: the way to its parent (a worker given for its master), in the JSON's notes too
    const hint = `process ${proc.pid} has no children, so there is nothing to compare: if it is a worker, inspect its parent, which forked it: cowscope inspect ${process.pid}`;
    assert.ok(r.stdout.includes(`note: ${hint}`), r.stdout);
    const json = runCowscope(['inspect', String(proc.pid), '--json']);
    assert.ok((JSON.parse(json.stdout).notes as string[]).includes(hint), json.stdout);
  } finally {
    proc.kill('SIGKILL');
    await new Promise((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve(null) : proc.once('exit', resolve)));
  }
});

test.run();
