// The heap map ingest on a recorded ObjectSpace.dump_all excerpt (Ruby 3.1.2, full: true, allocation
// tracing on), with an unknown field, an unknown type, a slot straddling into the kept page, a SHAPE
// record as Ruby 3.2+ writes them, and malformed lines added at the end.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { followRubyHeapMap, ingestRubyHeapMap as ingestHeapDump, ingestWholeRubyHeapMap, keepOnPages } from '../runtimes/ruby/heap-map';
import { ROOT } from './helpers/family';
import { tempDir } from './helpers/ruby';

const FILE = path.join(ROOT, 'fixtures', 'heapdump', 'ruby31-sample.jsonl');
const OBJECT = 0x7fccc4fb0bb0;
const keepPage = Float64Array.of(OBJECT - (OBJECT % 4096));

test('counts every line: slots, free slots, malformed lines (ROOT and empty lines are neither)', () => {
  const d = ingestHeapDump(FILE, 16384, keepPage);
  assert.is(d.lines, 15, 'non-empty lines');
  assert.is(d.objects, 10, 'lines with a readable address, SHAPE records not among them');
  assert.is(d.free, 2);
  assert.is(d.malformed, 3, 'bad hex, truncated object, garbage');
  const bodies = Array.from(d.bodies).map((b) => b.toString(16));
  assert.equal(bodies, ['7fccc4fa4000', '7fccc4fac000', '7fccc4fb0000', '7fccc4fc4000', '7fccc57d4000'], 'no body for the SHAPE record');
});

test('keeps the objects on the kept pages, and every class and iseq, with their fields', () => {
  const d = ingestHeapDump(FILE, 16384, keepPage);
  const t = d.table;
  const at = (addr: number) => Array.from(t.address).indexOf(addr);
  const obj = at(OBJECT);
  assert.ok(obj >= 0, 'the object on the kept page');
  assert.is(t.type[obj], 0x01);
  assert.is(t.classAddr[obj], 0x7fccc4fa4f68);
  assert.is(d.sites[t.site[obj]], '-e:4');
  const str = at(0x7fccc4fb0bd8);
  assert.is(t.type[str], 0x05, 'a string on the same page, despite an unknown field');
  assert.is(t.bytesize[str], 12);
  assert.is(t.embedded[str], 1);
  assert.is(t.site[str], -1, 'no allocation site');
  assert.is(t.type[at(0x7fccc4fb0c00)], 0xff, 'an unknown type is kept as unknown');
  assert.ok(at(0x7fccc4faffe8) >= 0, 'a 40-byte slot that starts on the page before and ends on the kept page is kept');
  const iseq = at(0x7fccc57d49e0);
  assert.is(t.imemo[iseq], 7, 'iseqs are kept wherever they are');
  assert.is(t.gcFlags[iseq], 1 | 2 | 4 | 16, 'wb_protected, old, uncollectible, marked');
  assert.is(at(0x7fccc57d4300), -1, 'a method entry off the kept pages is not kept');
  assert.is(at(0x7fccc4fc6528), -1, 'nor is a string');
  assert.equal(d.classNames.name, ['Widget'], 'a "name" key inside a string value is not a class name');
  assert.equal(Array.from(d.classNames.address), [0x7fccc4fa4f68]);
});

test('lists what a Queue or SizedQueue references (their items, hidden), whatever the pages; no other T_DATA', () => {
  const dir = tempDir('contents');
  try {
    const file = path.join(dir.dir, 'heap.jsonl');
    const lines = [
      // (3.4.5 and 3.1.2 lines, as ObjectSpace.dump writes them)
      '{"address":"0x7fa7b4cb00d0", "type":"DATA", "shape_id":0, "slot_size":40, "class":"0x7fa7b4d29cf0", "struct":"queue", "references":["0x7fa7b4cd5f10"], "memsize":76, "flags":{"wb_protected":true}}',
      '{"address":"0x7f5949ba32a0", "type":"DATA", "class":"0x7f594d0a9800", "struct":"sized_queue", "references":["0x7f5949ba3228"], "memsize":104, "flags":{"wb_protected":true}}',
      '{"address":"0x7fa7b4cde8e0", "type":"DATA", "shape_id":0, "slot_size":40, "class":"0x7fa799b535e0", "struct":"monitor", "references":["0x7fa7b4cde7a0"], "memsize":64}',
      '{"address":"0x7fa7b4cdf178", "type":"DATA", "class":"0x7fa7b4d29930", "struct":"condvar", "memsize":64}',
      // a queue with no references, one whose reference is no address, one with two, a T_DATA of another
      // type whose "struct" and "references" of a queue are inside a string value, and a cut line
      '{"address":"0x7fa7b4cb0100", "type":"DATA", "class":"0x7fa7b4d29cf0", "struct":"queue", "memsize":76}',
      '{"address":"0x7fa7b4cb0128", "type":"DATA", "class":"0x7fa7b4d29cf0", "struct":"queue", "references":["0xzz", "0x7fa7b4cd5f38"]}',
      '{"address":"0x7fa7b4cb0150", "type":"DATA", "class":"0x7fa7b4d29cf0", "struct":"queue", "references":["0x7fa7b4cd5f60", "0x7fa7b4cd5f10"]}',
      '{"address":"0x7fa7b4cb0178", "type":"DATA", "class":"0x7fa7b4d29000", "file":"a\\"struct\\":\\"queue\\", \\"references\\":[\\"0x1\\"]", "struct":"mutex", "references":["0x7fa7b4cd5fb0"]}',
      '{"address":"0x7fa7b4cb01a0", "type":"DATA", "class":"0x7fa7b4d29cf0", "struct":"queue", "references":["0x7fa7b4cd5f88"',
    ];
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const d = ingestHeapDump(file, 16384, new Float64Array());
    assert.equal(
      Array.from(d.contents.address, (a) => a.toString(16)),
      ['7f5949ba3228', '7fa7b4cd5f10', '7fa7b4cd5f10', '7fa7b4cd5f38', '7fa7b4cd5f60'],
      'by address: a SizedQueue\'s, the two queues holding one Array, the address after one that is none',
    );
    assert.equal(Array.from(d.contents.owner, (a) => a.toString(16)), ['7f5949ba32a0', '7fa7b4cb00d0', '7fa7b4cb0150', '7fa7b4cb0128', '7fa7b4cb0150']);
    assert.is(d.malformed, 1, 'the truncated line');
    assert.is(d.table.address.length, 0, 'no object kept for it');
  } finally {
    dir.remove();
  }
});

test('a missing file is an error naming the file', () => {
  assert.throws(() => ingestHeapDump('/nonexistent/heap.jsonl', 16384, new Float64Array()), /ENOENT.*\/nonexistent\/heap\.jsonl/);
  assert.throws(() => ingestHeapDump(FILE, 1000, new Float64Array()), /power of two/);
});

// `cowscope run` reads the map while the agent's sibling writes it (followRubyHeapMap): what it picks
// must be what the ingest of the finished file gives, for any pages asked for.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether this process has the file open (the follower's reader, on the thread pool). */
function openHere(file: string): boolean {
  return fs.readdirSync('/proc/self/fd').some((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false;
    }
  });
}

test('a map followed while it is written in pieces (lines cut anywhere, pauses): the same objects as the ingest of the finished file', async () => {
  const dir = tempDir('follow');
  try {
    const file = path.join(dir.dir, 'heap.jsonl');
    const text = fs.readFileSync(FILE);
    const f = followRubyHeapMap(file, 16384, 40, 1 << 30);
    await sleep(20); // the reader waits for the file to appear
    const fd = fs.openSync(file, 'w');
    for (let at = 0; at < text.length; at += 97) {
      fs.writeSync(fd, text.subarray(at, Math.min(text.length, at + 97)));
      await sleep(3);
    }
    fs.closeSync(fd);
    f.finish();
    const pick = await f.read();
    assert.ok(pick, 'followed to the end');
    assert.equal(pick!(keepPage), ingestHeapDump(FILE, 16384, keepPage));
  } finally {
    dir.remove();
  }
});

test('a real dump_all followed while Ruby writes it: picks equal the ingest, for the pages of every tenth GC heap page', async () => {
  const dir = tempDir('follow');
  try {
    const file = path.join(dir.dir, 'heap.jsonl');
    const f = followRubyHeapMap(file, 65536, 40, 1 << 30);
    const ruby = spawn(
      process.env.COWSCOPE_RUBY ?? 'ruby',
      ['-robjspace', '-e', `$a = Array.new(200_000) { |i| ["s#{i}"] }; $q = Array.new(100) { |i| Thread::Queue.new << i }; File.open(${JSON.stringify(file)}, 'w') { |o| ObjectSpace.dump_all(output: o, full: true) }`],
      { stdio: 'inherit' },
    );
    const code = await new Promise((r) => ruby.on('exit', r));
    assert.is(code, 0);
    f.finish();
    const pick = await f.read();
    assert.ok(pick, 'followed to the end');
    const whole = ingestHeapDump(file, 65536, new Float64Array());
    assert.ok(whole.objects > 400_000, `${whole.objects} objects`);
    // the GC heap pages' size is the dump's own: 64 KiB covers any Ruby's (16 or 64 KiB)
    const keep = Float64Array.from(Array.from(whole.bodies).filter((_, i) => i % 10 === 0).flatMap((b) => [b, b + 4096, b + 8192]));
    const picked = pick!(keep) as ReturnType<typeof ingestHeapDump>;
    assert.ok(picked.table.address.length > 1000, `${picked.table.address.length} objects picked`);
    assert.equal(picked, ingestHeapDump(file, 65536, keep));
    // every Queue's items: a hidden Array (no class), listed with its Queue whatever the pages
    const all = ingestWholeRubyHeapMap(file, 65536);
    assert.is(picked.contents.address.length, 100);
    for (let i = 0; i < 100; i++) {
      const row = Array.from(all.table.address).indexOf(picked.contents.address[i]);
      assert.ok(row >= 0 && all.table.type[row] === 0x07 && all.table.classAddr[row] === 0, 'a hidden Array');
      const owner = Array.from(all.table.address).indexOf(picked.contents.owner[i]);
      assert.ok(owner >= 0 && all.table.type[owner] === 0x0c, 'held by a T_DATA');
    }
    // A whole map cut to pages (what inspect --watch does at every sample) is the filtered ingest, for
    // those pages, for random pages (the slots straddling into them), and for none.
    const parsed = ingestWholeRubyHeapMap(file, 65536);
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const some = Float64Array.from(Array.from(whole.bodies).flatMap((b) => Array.from({ length: 16 }, (_, i) => b + i * 4096)).filter(() => random() < 0.05));
    for (const pages of [keep, some, new Float64Array()]) assert.equal(keepOnPages(parsed, pages, 4096), ingestHeapDump(file, 65536, pages));
  } finally {
    dir.remove();
  }
});

test('following gives nothing, and never hangs, when it cannot stand for the finished file', async () => {
  const dir = tempDir('follow');
  try {
    const file = path.join(dir.dir, 'heap.jsonl');
    // cancelled while the file is still being written
    const cancelled = followRubyHeapMap(file, 16384, 40, 1 << 30);
    fs.writeFileSync(file, fs.readFileSync(FILE).subarray(0, 500));
    await cancelled.cancel();
    assert.is(await cancelled.read(), undefined);
    // past the size limit
    const small = followRubyHeapMap(file, 16384, 40, 100);
    small.finish();
    assert.is(await small.read(), undefined);
    // replaced by another file once the reader opened it (another inode)
    const replaced = followRubyHeapMap(file, 16384, 40, 1 << 30);
    while (!openHere(file)) await sleep(2);
    fs.copyFileSync(FILE, `${file}.other`);
    fs.renameSync(`${file}.other`, file);
    replaced.finish();
    assert.is(await replaced.read(), undefined);
    // never written: finish() ends the wait for it
    const never = followRubyHeapMap(path.join(dir.dir, 'none.jsonl'), 16384, 40, 1 << 30);
    await sleep(10);
    never.finish();
    assert.is(await never.read(), undefined);
    // not a regular file
    fs.mkdirSync(path.join(dir.dir, 'folder.jsonl'));
    const folder = followRubyHeapMap(path.join(dir.dir, 'folder.jsonl'), 16384, 40, 1 << 30);
    folder.finish();
    assert.is(await folder.read(), undefined);
  } finally {
    dir.remove();
  }
});

test.run();
