// Rule tables per Ruby version: (layout, owner, offset, old word, new word) -> cause, with words taken
// from real processes (flags words and struct heap_page offsets read from 3.1.2, 3.3.8 and 3.4.5 with
// Fiddle and gdb, docs/ruby.md).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { wordOf } from '../blame/words';
import { callDataCause, flagsWordCause, heapPageWordCause } from '../runtimes/ruby/blamer';
import { layoutFor } from '../runtimes/ruby/layouts';

const w = (hex: string) => wordOf(hex);

/** [series, old flags, new flags, cause] */
const FLAGS: [string, string, string, string][] = [
  // 3.1: age in flags bits 5-6 (FL_PROMOTED0/1); age 3 = old
  ['3.1', '1', '21', 'gc.age'],
  ['3.1', '21', '41', 'gc.age'],
  ['3.1', '41', '61', 'gc.promote'],
  ['3.1', '2005', '202005', 'string.coderange'],
  ['3.1', '61', '261', 'object.id'],
  ['3.1', '61', '861', 'object.freeze'],
  // 3.3: only "old" (bit 5) in the flags; shape id in the high word
  ['3.3', '500002001', '500002021', 'gc.promote'],
  ['3.3', '500002001', '500002201', 'object.id'],
  ['3.3', '500002001', '1300002801', 'object.freeze'],
  ['3.3', '200110028', '202110028', 'hash.iteration'],
  ['3.3', 'e900000001', 'ea00000001', 'object.ivar'],
  ['3.3', '500002001', '0', 'gc.sweep'],
  ['3.3', '0', '500002001', 'alloc.free-slot'],
  // 3.4
  ['3.4', '300002001', '300002021', 'gc.promote'],
  ['3.4', '300002001', '300002201', 'object.id'],
  ['3.4', '300002001', 'd00002801', 'object.freeze'],
  ['3.4', '110028', '2110028', 'hash.iteration'],
];

for (const [series, o, n, cause] of FLAGS)
  test(`${series} flags ${o} -> ${n}: ${cause}`, () => {
    assert.is(flagsWordCause(layoutFor(`${series}.0`), w(o), w(n)), cause);
  });

test('an age change in the flags is not age on 3.3+ (the age lives in struct heap_page there)', () => {
  assert.is.not(flagsWordCause(layoutFor('3.3.8'), w('500002001'), w('500002041')), 'gc.age');
});

/** [series, struct heap_page offset, gcRuns, cause] */
const HEAP_PAGE: [string, number, number, string][] = [
  ['3.3', 1312, 1, 'gc.age'], // age_bits[0]
  ['3.3', 1312 + 408, 1, 'gc.age'],
  ['3.3', 1304, 1, 'gc.bitmap'], // pinned_bits, just before
  ['3.3', 1312 + 416, 1, 'gc.bitmap'], // past age_bits: outside the table, bitmaps
  ['3.4', 1320, 1, 'gc.age'],
  ['3.4', 1312, 1, 'gc.bitmap'], // 3.4's pinned_bits end at 1320
  ['3.3', 896, 0, 'gc.remember'], // remembered_bits, no GC
  ['3.3', 896, 1, 'gc.bitmap'],
  ['3.4', 904, 0, 'gc.remember'],
  ['3.1', 232, 0, 'gc.remember'],
  ['3.3', 8, 0, 'gc.remember'], // has_remembered_objects
  ['3.3', 16, 0, 'alloc.free-slot'], // counts, free-list head
  ['3.3', 16, 1, 'gc.sweep'],
  ['3.4', 272, 1, 'gc.bitmap'], // mark_bits
  ['3.1', 100, 1, 'gc.bitmap'],
];

for (const [series, off, gcRuns, cause] of HEAP_PAGE)
  test(`${series} struct heap_page +${off} (gcRuns ${gcRuns}): ${cause}`, () => {
    const O = w('0');
    const N = off === 8 ? w('2') : w('10');
    assert.is(heapPageWordCause(layoutFor(`${series}.0`), off, O, N, gcRuns), cause);
  });

test('call sites: a first call fills the cache; a marking GC storing the empty cache is the GC', () => {
  const empty = w('7f0911a6f260');
  const cc = w('7f0911b00040');
  assert.is(callDataCause({ gcRuns: 0, vmEmptyCc: empty }, empty, cc), 'icache.call');
  assert.is(callDataCause({ gcRuns: 1, vmEmptyCc: empty }, cc, empty), 'gc.iseq-mark');
  assert.is(callDataCause({ gcRuns: 0, vmEmptyCc: empty }, cc, empty), 'icache.call');
});

test('version rows: the facts each version differs in', () => {
  const [v31, v33, v34] = ['3.1.2', '3.3.8', '3.4.5'].map((v) => layoutFor(v)!);
  assert.equal([v31.ageBits, v33.ageBits, v34.ageBits], [null, { offset: 1312, bytes: 416 }, { offset: 1320, bytes: 416 }]);
  assert.equal([v31.transientHeapSizes.length > 0, v33.transientHeapSizes.length > 0], [true, false]);
  assert.equal([v31.timerThread, v33.timerThread, v34.timerThread], [false, true, true]);
  assert.equal([v33.markEmptiesCallCaches, v34.markEmptiesCallCaches], [false, true]);
  assert.is(layoutFor('9.9.0'), undefined);
});

test.run();
