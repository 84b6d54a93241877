// The heap map ingest on a recorded ObjectSpace.dump_all excerpt (Ruby 3.1.2, full: true, allocation
// tracing on), with an unknown field, an unknown type, a slot straddling into the kept page, a SHAPE
// record as Ruby 3.2+ writes them, and malformed lines added at the end.

import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ingestRubyHeapMap as ingestHeapDump } from '../runtimes/ruby/heap-map';
import { ROOT } from './helpers/family';

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

test('a missing file is an error naming the file', () => {
  assert.throws(() => ingestHeapDump('/nonexistent/heap.jsonl', 16384, new Float64Array()), /ENOENT.*\/nonexistent\/heap\.jsonl/);
  assert.throws(() => ingestHeapDump(FILE, 1000, new Float64Array()), /power of two/);
});

test.run();
