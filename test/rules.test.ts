// Rule tables per Ruby version: (layout, owner, offset, old word, new word) -> cause, with words taken
// from real processes (flags words and struct heap_page offsets read from 3.1.2, 3.3.8 and 3.4.5 with
// Fiddle and gdb, docs/ruby.md).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { wordOf } from '../blame/words';
import fs from 'node:fs';
import { type Context, callDataCause, compactionCosts, flagsWordCause, freshSlotCause, gcMallocEffects, gcRefillEffects, heapPageWordCause, isBinsChange, isStTableHeaderChange, isThreadStateWord, otherStringFlagsCause, prewarmCosts, programFlagsCause, rebuiltBinsCause, stBinsCause, stTableHeaders, sweptSlotCause, wordListsOf } from '../runtimes/ruby/blamer';
import { AddrMap, type Word, WordValues } from '../blame/words';
import { T, layoutFor } from '../runtimes/ruby/layouts';
import { ARENA_HEAP, arenaHeaps, discoverGlibcHeap, mainHeap } from '../allocators/glibc/chunks';
import { CW, binSorted, chunkWord, classifyChunkWords, freeLinksOn, glibcView, isFreeLink, trimReleases } from '../allocators/glibc/rules';
import { groupCauseSets, netSavedPages, refillCosts, remediesOf, savedPages } from '../blame/remedies';
import { parseMaps } from '../native/procfs-parse';
import { startJsonFamily } from './helpers/family';
import { Rng } from './helpers/fuzz';

const w = (hex: string) => wordOf(hex);

/** [series, old flags, new flags, cause] */
const FLAGS: [string, string, string, string][] = [
  // 3.1: age in flags bits 5-6 (FL_PROMOTED0/1); age 3 = old
  ['3.1', '1', '21', 'gc.age'],
  ['3.1', '21', '41', 'gc.age'],
  // promoted: from age 2 (one GC short of old at the fork: a GC before it would have promoted it), or younger
  ['3.1', '41', '61', 'gc.promote-next'],
  ['3.1', '1', '61', 'gc.promote'],
  ['3.1', '21', '61', 'gc.promote'],
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

// A slot free at the fork filled with a call or constant cache (T_IMEMO 0x1a, imemo type in bits 12-15:
// 12 callcache, 13 constcache, 6 a method entry): the call site's fill where caches are most of what the
// child put in free slots (a prewarm leaves those slots free), else the allocation's (other objects fill
// them all the same).
test('a free slot filled with a cache: icache.new-slot where caches fill most free slots, else alloc.free-slot', () => {
  const most = { caches: 90, slots: 100 };
  const few = { caches: 10, slots: 100 };
  assert.is(freshSlotCause(most, w('c01a')), 'icache.new-slot');
  assert.is(freshSlotCause(most, w('d01a')), 'icache.new-slot');
  assert.is(freshSlotCause(most, w('601a')), 'alloc.free-slot');
  assert.is(freshSlotCause(most, w('500002001')), 'alloc.free-slot');
  assert.is(freshSlotCause(few, w('c01a')), 'alloc.free-slot');
  assert.is(freshSlotCause({ caches: 50, slots: 100 }, w('c01a')), 'icache.new-slot');
});

for (const [series, o, n, cause] of FLAGS)
  test(`${series} flags ${o} -> ${n}: ${cause}`, () => {
    assert.is(flagsWordCause(layoutFor(`${series}.0`), w(o), w(n)), cause);
  });

test('every layout with a transient heap has blocks of a power-of-two size (transientFill finds a block by masking the address)', () => {
  let rows = 0;
  for (const series of ['3.1', '3.2', '3.3', '3.4']) {
    const b = layoutFor(`${series}.0`)?.transientBlock;
    if (!b) continue;
    rows++;
    assert.ok(b.size > 0 && b.size <= 2 ** 31 && (b.size & (b.size - 1)) === 0, `${series}: block size ${b.size}`);
  }
  assert.is(rows, 1, 'only 3.1 has a transient heap');
});

test('3.3+: a promotion by the age the object had at the fork (struct heap_page age bits)', () => {
  for (const series of ['3.3', '3.4']) {
    const L = layoutFor(`${series}.0`);
    const [o, n] = series === '3.3' ? ['500002001', '500002021'] : ['300002001', '300002021'];
    assert.is(flagsWordCause(L, w(o), w(n), () => 2), 'gc.promote-next', `${series}: age 2 at the fork`);
    assert.is(flagsWordCause(L, w(o), w(n), () => 1), 'gc.promote', `${series}: age 1`);
    assert.is(flagsWordCause(L, w(o), w(n), () => 0), 'gc.promote', `${series}: age 0`);
    assert.is(flagsWordCause(L, w(o), w(n), () => undefined), 'gc.promote', `${series}: age bits unchanged, not in the capture`);
  }
});

// QA (round 13): a String the child's GC promoted whose coderange the child computed was gc.promote
// alone (the first rule that matched), and gc and promote were said to save its page, which the
// coderange kept copied: 13-23% more predicted than they saved on a Rack app.
test('a flags word the GC promoted and the program wrote too: the GC\'s cause, and the program\'s beside it', () => {
  for (const [series, o, n, only] of [
    ['3.1', '2005', '102065', '2065'],
    ['3.3', '500002005', '500102025', '500002025'],
    ['3.4', '300002005', '300102025', '300002025'],
  ]) {
    const L = layoutFor(`${series}.0`);
    assert.match(flagsWordCause(L, w(o), w(n), () => 1, 3), /^gc\.promote/, `${series}: the word is the GC's`);
    assert.is(programFlagsCause(L, w(o), w(n)), 'string.coderange', `${series}: and the coderange the program computed`);
    assert.is(programFlagsCause(L, w(o), w(only)), undefined, `${series}: promoted only`);
  }
  // a shape change beside a promotion (3.3+: the shape id is the upper half): an ivar added
  assert.is(programFlagsCause(layoutFor('3.3.0'), w('500002001'), w('600002021')), 'object.ivar');
  // a page holding both is saved by no step that removes one of them only
  const sets = groupCauseSets([['gc.promote', 'string.coderange']]);
  assert.is(savedPages(sets, 'promote'), 0);
  assert.is(savedPages(sets, 'promote+coderange'), 1);
});

test("a String's flags word: its coderange, STR_SHARED, and what else the program wrote there", () => {
  // QA's words: 3.1 0x450065 -> 0x550465 (coderange 7bit and FL_EXIVAR); 3.4 0x400025 -> 0xfb00500425 (the
  // same, and the shape id in the upper half)
  const L31 = layoutFor('3.1.2');
  const L34 = layoutFor('3.4.5');
  assert.is(flagsWordCause(L31, w('450065'), w('550465')), 'string.coderange');
  assert.is(otherStringFlagsCause(L31, w('450065'), w('550465')), 'object.ivar');
  assert.is(flagsWordCause(L34, w('400025'), w('fb00500425')), 'string.coderange');
  assert.is(otherStringFlagsCause(L34, w('400025'), w('fb00500425')), 'object.ivar');
  // the coderange alone: nothing else
  assert.is(otherStringFlagsCause(L34, w('400025'), w('500025')), undefined);
  // scrub! of invalid bytes (QA's words): 3.1 0x430065 -> 0x640065 (the coderange and the embedded length,
  // 12 -> 16), 3.4 0x400025 -> 0x606025 (out of the slot: NOEMBED and STR_SHARED): the program rewrote it;
  // the coderange alone is its computation, unless the length or bytes changed beside it
  assert.is(flagsWordCause(L31, w('430065'), w('640065')), 'mutation.string');
  assert.is(flagsWordCause(L34, w('400025'), w('606025')), 'mutation.string');
  assert.is(flagsWordCause(L34, w('400025'), w('600025')), 'string.coderange');
  assert.is(flagsWordCause(L34, w('400025'), w('600025'), undefined, undefined, true), 'mutation.string');
  // a substring to its end: STR_SHARED and the coderange (3.4: 0x1000), the sharing's alone
  assert.is(flagsWordCause(L34, w('402025'), w('503025')), 'string.shared');
  assert.is(otherStringFlagsCause(L34, w('402025'), w('503025')), undefined);
  // 3.1's rb_fstring hands a new Hash key's buffer to its copy and clears the coderange: not string.shared
  assert.is(flagsWordCause(L31, w('506065'), w('406065')), 'string.coderange-cleared');
  // 3.1 keeps an embedded String's length in the flags from FL_USER2 up: 20 bytes given a 21st sets 0x4000,
  // STR_SHARED's bit, in a String with no buffer of its own (NOEMBED clear): the program's change
  assert.is(flagsWordCause(L31, w('450065'), w('454065')), 'mutation.string');
  // STR_SHARED is FL_USER2 before 3.4
  assert.is(flagsWordCause(layoutFor('3.3.8'), w('502025'), w('506025')), 'string.shared');
  // a page holding the coderange and the ivar is saved by no step that removes one of them only
  const sets = groupCauseSets([['object.ivar', 'string.coderange']]);
  assert.is(savedPages(sets, 'coderange'), 0);
});

test("3.1: a promotion of a younger object by fewer marking GCs than aging takes is one GC's (it was reached through an old object)", () => {
  const L = layoutFor('3.1.2');
  assert.ok(L?.oneGcPromotes);
  // age 0 at the fork (flags ...01), old now (age bits 3: ...61); age 1 (...21)
  assert.is(flagsWordCause(L, w('1'), w('61'), undefined, 1), 'gc.promote-next', 'age 0, one marking GC');
  assert.is(flagsWordCause(L, w('1'), w('61'), undefined, 2), 'gc.promote-next', 'age 0, two marking GCs');
  assert.is(flagsWordCause(L, w('1'), w('61'), undefined, 3), 'gc.promote', 'age 0, three: aged old, or made old at once, not told');
  assert.is(flagsWordCause(L, w('21'), w('61'), undefined, 1), 'gc.promote-next', 'age 1, one marking GC');
  assert.is(flagsWordCause(L, w('21'), w('61'), undefined, 2), 'gc.promote', 'age 1, two');
  assert.is(flagsWordCause(L, w('1'), w('61')), 'gc.promote', 'marks unknown (a live child)');
  // 3.3+ age one GC at a time: the marks change nothing there
  assert.is(flagsWordCause(layoutFor('3.3.8'), w('500002001'), w('500002021'), () => 0, 1), 'gc.promote');
});

test("a slot live at the fork that the child's GC freed: swept, moved, or refilled by a new object", () => {
  const { STRING } = T;
  const string = w('500002005'), array = w('500002007'), free = w('0'), moved = w('1e');
  // still the fork-time object (same type): the other rules judge it
  assert.is(sweptSlotCause(STRING, 0, string, string), undefined);
  // free at the fork (T_NONE) or unknown: not this rule's
  assert.is(sweptSlotCause(0, 0, array, array), undefined);
  assert.is(sweptSlotCause(-1, 0, array, array), undefined);
  assert.is(sweptSlotCause(STRING, 0, array, undefined), undefined);
  // freed: flags 0, a free-list link in the next word
  assert.is(sweptSlotCause(STRING, 0, free, free), 'gc.sweep');
  assert.is(sweptSlotCause(STRING, 8, w('7f0012345678'), free), 'gc.sweep');
  // moved away by compaction: the flags word says T_MOVED, the others are the forwarding record
  assert.is(sweptSlotCause(STRING, 0, moved, moved), 'gc.compact');
  assert.is(sweptSlotCause(STRING, 8, w('7f0012345678'), moved), 'gc.sweep');
  // another type lives there now: the child allocated into the slot its sweep freed, every word of it
  assert.is(sweptSlotCause(STRING, 0, array, array), 'alloc.swept-slot');
  assert.is(sweptSlotCause(STRING, 16, w('3'), array), 'alloc.swept-slot');
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

// A heap page's counts and free-list head after a GC, where the fork held little garbage (the parent
// collected before forking): the child's own allocations and frees, which a GC before the fork leaves.
// The same with garbage enough: half as many fork-time objects gone as slots filled, or more.
test('struct heap_page +16 after a GC: gc.sweep where the fork held garbage enough, else alloc.free-slot', () => {
  for (const series of ['3.1', '3.3', '3.4']) {
    const L = layoutFor(`${series}.0`);
    assert.is(heapPageWordCause(L, 16, w('0'), w('10'), 1, [], { objectsGone: 30, slotsFilled: 3616 }), 'alloc.free-slot', series);
    assert.is(heapPageWordCause(L, 16, w('0'), w('10'), 1, [], { objectsGone: 1808, slotsFilled: 3616 }), 'gc.sweep', series);
    assert.is(heapPageWordCause(L, 16, w('0'), w('10'), 1, [], { objectsGone: 1807, slotsFilled: 3616 }), 'alloc.free-slot', series);
  }
});

// Age bits, 2 a slot: raised by a GC marking a young object, set back to 0 when a sweep frees the slot
// (values measured on 3.4.5's gc_lone_garbage: 0xdd..dd -> 0xcc..cc, every other slot 1 -> 0). A word
// with a slot aged and another freed is the aging's; an age that fell on a slot whose object is still
// there (its flags word unchanged) is a demotion, not a sweep. [old, new, gcRuns, slots whose flags word
// changed (offsets in the body: slot n of the word's 32 at 40 n), cause]
const EVERY_OTHER = Array.from({ length: 16 }, (_, i) => 40 * 2 * i);
const AGE_WORDS: [string, string, number, number[], string][] = [
  ['dddddddddddddddd', 'cccccccccccccccc', 1, EVERY_OTHER, 'gc.sweep'],
  ['dddddddddddddddd', 'cccccccccccccccc', 1, EVERY_OTHER.slice(1), 'gc.age'], // slot 0's object still there
  ['ffffffff7fffffff', 'ffffffff3fffffff', 1, [40 * 15], 'gc.sweep'],
  ['ffffffff7fffffff', 'ffffffff3fffffff', 1, [40 * 14], 'gc.age'], // not the slot whose age fell
  ['0', '1111111111111111', 1, [], 'gc.age'],
  ['dddddddddddddddd', 'ccccccccccccccce', 1, EVERY_OTHER, 'gc.age'], // slot 0 aged from 1 to 2, the others freed
  ['1000000000000000', '0', 1, [40 * 30], 'gc.sweep'], // in the high half
  // no GC ran: not a sweep's, but the child's allocations into those slots (newobj sets their ages; QA: an
  // autoload run in the child, GC off, 3 pages of gc.age first written by newobj_alloc, 3.3.8/3.4.5)
  ['dddddddddddddddd', 'cccccccccccccccc', 0, EVERY_OTHER, 'alloc.free-slot'],
  ['0', '1111111111111111', 0, [], 'gc.age'], // no GC ran, and ages rose on slots the child did not fill
];
for (const series of ['3.3', '3.4'])
  for (const [O, N, gcRuns, changed, cause] of AGE_WORDS)
    test(`${series} age bits ${O} -> ${N} (gcRuns ${gcRuns}, ${changed.length} slots changed): ${cause}`, () => {
      const L = layoutFor(`${series}.0`)!;
      // the word of slots 32-63: their offsets in the body 32 * 40 further on
      assert.is(heapPageWordCause(L, L.ageBits!.offset + 8, w(O), w(N), gcRuns, changed.map((off) => off + 32 * 40)), cause);
    });

test('call sites: a first call fills the cache; a marking GC storing the empty cache is the GC', () => {
  const empty = w('7f0911a6f260');
  const cc = w('7f0911b00040');
  for (const old of [false, true]) {
    assert.is(callDataCause({ gcRuns: 0, gcFullRuns: 0, vmEmptyCc: empty }, empty, cc, old), 'icache.call');
    assert.is(callDataCause({ gcRuns: 0, gcFullRuns: 0, vmEmptyCc: empty }, cc, empty, old), 'icache.call');
    // a major GC marks every iseq; so does a GC of a child whose GC kinds are not known
    assert.is(callDataCause({ gcRuns: 2, gcFullRuns: 1, vmEmptyCc: empty }, cc, empty, old), 'gc.iseq-mark');
    assert.is(callDataCause({ gcRuns: 1, gcFullRuns: undefined, vmEmptyCc: empty }, cc, empty, old), 'gc.iseq-mark');
  }
  // minor GCs only: a young iseq is marked by any of them, an old one only once a write barrier remembered it
  assert.is(callDataCause({ gcRuns: 3, gcFullRuns: 0, vmEmptyCc: empty }, cc, empty, false), 'gc.iseq-mark');
  assert.is(callDataCause({ gcRuns: 3, gcFullRuns: 0, vmEmptyCc: empty }, cc, empty, true), 'gc.iseq-remembered');
  // ... unless the parent's write barrier had remembered the iseq before the fork: a GC there clears that
  assert.is(callDataCause({ gcRuns: 3, gcFullRuns: 0, vmEmptyCc: empty }, cc, empty, true, true), 'gc.remembered-at-fork');
  assert.is(callDataCause({ gcRuns: 3, gcFullRuns: 1, vmEmptyCc: empty }, cc, empty, true, true), 'gc.iseq-mark');
});

test('version rows: the facts each version differs in', () => {
  const [v31, v33, v34] = ['3.1.2', '3.3.8', '3.4.5'].map((v) => layoutFor(v)!);
  assert.equal([v31.ageBits, v33.ageBits, v34.ageBits], [null, { offset: 1312, bytes: 416 }, { offset: 1320, bytes: 416 }]);
  assert.equal([v31.transientHeapSizes.length > 0, v33.transientHeapSizes.length > 0], [true, false]);
  assert.equal([v31.timerThread, v33.timerThread, v34.timerThread], [false, true, true]);
  assert.equal([v33.markEmptiesCallCaches, v34.markEmptiesCallCaches], [false, true]);
  assert.is(layoutFor('9.9.0'), undefined);
});

// Words of st_table bins (16-bit entry indexes), of pointers and of counters, from a Puma fork_worker
// capture (Ruby 3.1.2): a lane filled by an insert, a lane emptied (the live parent filled it after the
// fork), and words that are no bins.
const BINS: [string, string, boolean][] = [
  ['414c0000000038ac', '414c4246000038ac', true], // a lane filled
  ['40fd227300000000', '227300000000', true], // a lane emptied
  ['0', '415600000000', true],
  ['41750000', '0', true],
  ['7fe18c0127e0', '7fe18c01d350', false], // a pointer moved
  ['9', 'b', false], // a counter
  ['5', '0', false], // a small count cleared
  ['0', '4', false], // a small count set
];
for (const [o, n, bins] of BINS)
  test(`bins ${o} -> ${n}: ${bins ? '' : 'not '}an index change`, () => {
    assert.is(isBinsChange(w(o), w(n)), bins);
  });

// st_table headers whose counts a child changed, from a Rails capture (Ruby 3.3.8): [num_entries old,
// new], [entries_bound old, new], the first word (entry_power, bin_power, size_ind, rebuilds_num) when it
// changed; and words that are no such header.
const ST_HEADERS: [[string, string], [string, string], [string, string] | undefined, boolean][] = [
  [['4', '5'], ['4', '5'], ['1f7000302', '2f7000403'], true], // an insert that grew the table
  [['122', '11d'], ['122', '3c2'], ['7f7010a09', '8f7010b0a'], true], // deletes, then a rebuild
  [['6', '7'], ['9', 'a'], undefined, true], // an insert, the powers as they were
  [['4', '5'], ['4', '5'], ['55555555a320', '5555578a37f0'], false], // a pointer where the powers are
  [['4', '5'], ['4', '5'], ['7fe18c120210', '7fe18c130308'], false], // a pointer whose low two bytes could be powers (size_ind 0x12, 0x13 cannot)
  [['7', '8'], ['4', '5'], undefined, false], // more entries than the bound
  [['55555618ef30', '14'], ['4', '5'], undefined, false], // a pointer where the count is
];
for (const [num, bound, powers, header] of ST_HEADERS)
  test(`st_table header ${num.join('->')}, bound ${bound.join('->')}: ${header ? '' : 'not '}a header`, () => {
    const pair = (p: [string, string]): [ReturnType<typeof w>, ReturnType<typeof w>] => [w(p[0]), w(p[1])];
    assert.is(isStTableHeaderChange(pair(num), pair(bound), powers && pair(powers)), header);
  });

test("a free chunk's first words: a safe-linked next pointer at user +0, the tcache key at +8; a malloc's data is neither", () => {
  const H = 0x5555_5555_0000;
  const view = glibcView({ chunks: { start: new Float64Array(), size: new Float64Array(), inUse: new Uint8Array() }, heapStart: H, tcacheKey: '9f3c2a1b5d6e7f80' }, undefined, { start: H, end: H + 0x21000 });
  const word = (v: bigint) => ({ lo: Number(v & 0xffffffffn), hi: Number(v >> 32n) });
  const at = H + 0x1230;
  const link = (next: number) => word(BigInt(Math.floor(at / 4096)) ^ BigInt(next));
  assert.ok(isFreeLink(view, at, 0, link(0)), 'the end of a list');
  assert.ok(isFreeLink(view, at, 0, link(H + 0x2040)), 'the next chunk of the heap');
  assert.not.ok(isFreeLink(view, at, 0, link(H + 0x2048)), 'not 16-byte aligned');
  assert.not.ok(isFreeLink(view, at, 0, link(H + 0x30000)), 'outside the heap');
  assert.not.ok(isFreeLink(view, at, 0, word(0x31n)), "a malloc's small number");
  assert.ok(isFreeLink(view, at + 8, 8, word(0x9f3c2a1b5d6e7f80n)), 'the tcache key');
  assert.not.ok(isFreeLink(view, at + 8, 8, word(0x1234n)), 'another value at +8');
  assert.not.ok(isFreeLink(view, at + 16, 16, link(0)), 'past +8');
});

test('malloc_trim releases the whole pages inside a free chunk, past its struct malloc_chunk: the pages it would have saved', () => {
  const H = 0x5555_5555_0000;
  // a chunk in use (one page and a bit), a free chunk of three pages and a bit, a small free one (tcache)
  const fork = { start: [H, H + 0x1010, H + 0x4020], size: [0x1010, 0x3010, 0x40], inUse: [1, 0, 0] };
  const view = glibcView(
    { chunks: { start: Float64Array.from(fork.start), size: Float64Array.from(fork.size), inUse: Uint8Array.from(fork.inUse) }, heapStart: H, tcacheKey: '0' },
    undefined,
    { start: H, end: H + 0x21000 },
  );
  const released = [0, 1, 2, 3, 4].map((i) => trimReleases(view, H + i * 0x1000, 0x1000));
  // page 0: in use; page 1 holds the free chunk's header (and the used chunk's end); pages 2 and 3 lie
  // inside it; page 4 holds its end and the small chunk
  assert.equal(released, [false, false, true, true, false]);
});

test('the links of chunks free at the fork, which glibc sorts out of its unsorted bin: pages holding +16 and +24 of a free chunk', () => {
  const H = 0x5555_5555_0000;
  // in use (to 0xff0), free with its header on page 0 and its links (+16) on page 1, in use, free (links at
  // 0x1830), a free chunk of three pages whose links lie on page 1 only, and the top chunk (the walk says
  // in use). Chunks start 16-aligned: a chunk's two links share a page.
  const fork = {
    start: [H, H + 0xff0, H + 0x1400, H + 0x1820, H + 0x1900, H + 0x4a00],
    size: [0xff0, 0x410, 0x420, 0xe0, 0x3100, 0x1000],
    inUse: [1, 0, 1, 0, 0, 1],
  };
  const view = glibcView(
    { chunks: { start: Float64Array.from(fork.start), size: Float64Array.from(fork.size), inUse: Uint8Array.from(fork.inUse) }, heapStart: H, tcacheKey: '0' },
    undefined,
    { start: H, end: H + 0x21000 },
  );
  // page 0 ends with the free chunk's header only; page 1 holds its links and the others'; pages 2 to 4
  // hold the large chunk's inside, its end, and the top chunk
  assert.equal([0, 1, 2, 3, 4].map((i) => freeLinksOn(view, H + i * 0x1000, 0x1000)), [false, true, false, false, false]);
  // sorted there: the links' page, copied by the fork path with the parent's bytes or first written by a
  // malloc that may sort the bin (clone suffixes too); not by free, nor by a writer known only roughly
  const page1 = H + 0x1000;
  assert.ok(binSorted(view, page1, 0x1000, true, undefined));
  for (const w of ['malloc', '_int_malloc', 'calloc', '__libc_realloc', '_int_malloc.constprop.0']) assert.ok(binSorted(view, page1, 0x1000, false, w), w);
  for (const w of [undefined, 'free', '_int_free', 'malloc_consolidate', 'memcpy', 'xmalloc']) assert.not.ok(binSorted(view, page1, 0x1000, false, w), String(w));
  // no such links on page 2: not bin-sort, whoever wrote it
  assert.not.ok(binSorted(view, H + 0x2000, 0x1000, true, 'malloc'));
});

test('a page a step releases is saved by it whatever its causes; grouped apart from pages of the same causes', () => {
  const sets = groupCauseSets([['alloc.malloc'], ['alloc.malloc'], ['alloc.malloc', 'icache.call'], ['icache.call']], [['trim', 'warmup'], undefined, ['trim', 'warmup'], undefined]);
  assert.equal(sets.length, 4);
  assert.is(savedPages(sets, 'trim'), 2);
  assert.is(savedPages(sets, 'gc+trim'), 2);
  assert.is(savedPages(sets, 'warmup'), 2);
  // prewarm removes icache.call, no step removes alloc.malloc where nothing releases the page
  assert.is(savedPages(sets, 'prewarm'), 1);
  assert.is(savedPages(sets, 'trim+prewarm'), 3);
  assert.is(savedPages(sets, 'gc'), 0);
});

test('compaction that keeps its emptied pages costs the slots the child filled, packed; remedies net of costs', () => {
  const filled = 10_000 * 40; // 10,000 slots of 40 bytes: 98 pages packed
  // 3.3's Process.warmup frees the emptied pages: only GC.compact (the compact step) keeps them
  assert.equal(compactionCosts(layoutFor('3.3.8'), filled, 4096).map((c) => [c.step, c.pages]), [['compact', 98]]);
  // 3.4.5's warmup and 3.1's emulation (GC.compact) keep them
  assert.equal(compactionCosts(layoutFor('3.4.5'), filled, 4096).map((c) => [c.step, c.pages]), [['compact', 98], ['warmup', 98]]);
  assert.equal(compactionCosts(layoutFor('3.1.2'), filled, 4096).map((c) => c.step), ['compact', 'warmup']);
  assert.equal(compactionCosts(layoutFor('3.4.5'), 0, 4096), [], 'nothing filled, nothing to pay');
  // 150 pages of slots the child filled (compact and warmup remove alloc.free-slot), 98 packed again
  const sets = [{ causes: ['alloc.free-slot'], pages: 150 }];
  const pagesOf = (costs: { step: string; pages: number }[]) => Object.fromEntries(remediesOf(sets, 4096, [], costs).map((r) => [r.strategy, r.pages]));
  assert.equal(pagesOf(compactionCosts(layoutFor('3.4.5'), filled, 4096)), { compact: 52, warmup: 52 });
  assert.equal(pagesOf(compactionCosts(layoutFor('3.3.8'), filled, 4096)), { warmup: 150, compact: 52 });
});

test("prewarm's cost: the child's new pages, scaled to what a run after the first allocates where the run says", () => {
  const pagesOf = (costs: { pages: number }[]) => costs.map((c) => c.pages);
  assert.equal(pagesOf(prewarmCosts(1056, 55)), [1056], 'no allocation counts (a workload block, an older capture): all of them');
  // a Rack run whose later rounds allocated 56,000 of the 913,000 objects, scaled to every round
  assert.equal(pagesOf(prewarmCosts(1056, 55, { all: 913_000, steady: 56_000 })), [65]);
  // a share over 1 (the later rounds allocating more) is capped: never more than the new pages
  assert.equal(pagesOf(prewarmCosts(100, 3, { all: 1000, steady: 1500 })), [100]);
  assert.equal(prewarmCosts(1056, 0, { all: 913_000, steady: 56_000 }), [], 'no GC in the child: none of the garbage is freed');
  assert.equal(prewarmCosts(0, 5), []);
  assert.equal(prewarmCosts(1056, 55, { all: 913_000, steady: 0 }), [], 'nothing allocated after the first run');
  assert.match(prewarmCosts(1056, 55, { all: 913_000, steady: 56_000 })[0].why, /1056 pages of new memory in this child, scaled to what a run after the first allocates: 56000 of its 913000 objects/);
});

/** stTableHeaders over changed words on pages pageBody says (-1: off the GC heap), the word lists made as
 *  the blamer makes them */
const tableHeaders = (ctx: Context, diffs: Parameters<typeof stTableHeaders>[1], pageBody: Int32Array, v: WordValues) =>
  stTableHeaders({ ...ctx, lists: wordListsOf(ctx.cw, diffs.wordPage, pageBody) } as Context, diffs, v);

test('st_table headers found among changed words: the fields at their chunk offsets, chunks in use at the fork of 64 bytes only, a table of known cause keeps it', () => {
  const H = 0x5555_5555_0000;
  // tcache_perthread_struct, a 64-byte chunk (an st_table: 56 bytes asked), an 80-byte one, another 64
  const fork = { start: [H, H + 0x290, H + 0x2d0, H + 0x320], size: [0x290, 0x40, 0x50, 0x40], inUse: [1, 1, 1, 1] };
  const view = glibcView(
    { chunks: { start: Float64Array.from(fork.start), size: Float64Array.from(fork.size), inUse: Uint8Array.from(fork.inUse) }, heapStart: H, tcacheKey: '0' },
    undefined,
    { start: H, end: H + 0x21000 },
  );
  const [, st, other, known] = fork.start;
  // an insert that grew the table: powers (+16 from the chunk's start), count (+32) and bound (+56)
  const insert = (c: number): [number, bigint, bigint][] => [
    [c + 16, 0x1f7000302n, 0x2f7000403n],
    [c + 32, 4n, 5n],
    [c + 56, 4n, 5n],
  ];
  const words = [...insert(st), ...insert(other), ...insert(known)];
  const addrs = Float64Array.from(words, (x) => x[0]);
  const oldWord = BigUint64Array.from(words, (x) => x[1]);
  const newWord = BigUint64Array.from(words, (x) => x[2]);
  const ctx = {
    cw: classifyChunkWords(view, addrs, oldWord, newWord),
    wordAddr: addrs, // the changed words' addresses, as contextFor gives them
    ruby: { chunkOwners: undefined },
    ownerMemo: { start: -1, index: -1 },
    contentChunkCause: new AddrMap<string>().set(known, 'object.id'),
  } as unknown as Context;
  const diffs = { wordPage: new Uint32Array(words.length), wordOffset: Uint16Array.from(addrs, (a) => a - H), addrs: Float64Array.of(H) } as unknown as Parameters<typeof stTableHeaders>[1];
  const v = new WordValues({ oldWord, newWord });
  assert.equal([...tableHeaders(ctx, diffs, Int32Array.of(-1), v).headers], [[st, 'mutation.hash-table'], [known, 'object.id']], 'the 64-byte chunks alone');
  // a header whose new pointers lead to memory the child allocated, and no table of known cause
  ctx.contentChunkCause.set(known, 'alloc.malloc');
  assert.is(tableHeaders(ctx, diffs, Int32Array.of(-1), v).headers.get(known), 'mutation.hash-table');
  ctx.contentChunkCause.set(known, 'object.id');
  // on a GC heap page: the slot rules' words, not a chunk's
  assert.is(tableHeaders(ctx, diffs, Int32Array.of(0), v).headers.size, 0);
  // the bound unchanged (a delete): not told apart from a counter
  const noBound = words.filter((x) => x[0] !== st + 56);
  const ctx2 = { ...ctx, wordAddr: Float64Array.from(noBound, (x) => x[0]), cw: classifyChunkWords(view, Float64Array.from(noBound, (x) => x[0]), BigUint64Array.from(noBound, (x) => x[1]), BigUint64Array.from(noBound, (x) => x[2])) } as Context;
  const v2 = new WordValues({ oldWord: BigUint64Array.from(noBound, (x) => x[1]), newWord: BigUint64Array.from(noBound, (x) => x[2]) });
  assert.not.ok(tableHeaders(ctx2, { ...diffs, wordPage: new Uint32Array(noBound.length) }, Int32Array.of(-1), v2).headers.has(st));
  // tables of up to 16 entries have no bins: no indexes to look for
  assert.equal(tableHeaders(ctx, diffs, Int32Array.of(-1), v).indexes.lo, []);

  // A table of 2^8 entries (512 bins of 16 bits, 1 KiB) that grew from 200 entries to 203 without a
  // rebuild (the powers word as it was): its bins now hold indexes 200-202, stored as 202-204.
  const grown: [number, bigint, bigint][] = [
    [st + 32, 200n, 203n],
    [st + 56, 200n, 203n],
  ];
  const headersOf = (ws: [number, bigint, bigint][]) =>
    tableHeaders(
      { ...ctx, wordAddr: Float64Array.from(ws, (x) => x[0]), cw: classifyChunkWords(view, Float64Array.from(ws, (x) => x[0]), BigUint64Array.from(ws, (x) => x[1]), BigUint64Array.from(ws, (x) => x[2])) } as Context,
      { ...diffs, wordPage: new Uint32Array(ws.length) },
      Int32Array.of(-1),
      new WordValues({ oldWord: BigUint64Array.from(ws, (x) => x[1]), newWord: BigUint64Array.from(ws, (x) => x[2]) }),
    );
  const { indexes } = headersOf(grown);
  assert.equal(indexes, { lo: [200], hi: [203], laneBits: [16], minBytes: [1024], cause: ['mutation.hash-table'] });
  // a rebuild (its count in the powers word up by one) writes new bins elsewhere: none to look for
  assert.ok(headersOf([[st + 16, 0x1f7010908n, 0x2f7010908n], ...grown]).headers.has(st));
  assert.equal(headersOf([[st + 16, 0x1f7010908n, 0x2f7010908n], ...grown]).indexes.lo, []);
  // its new bins and entries pointers (+40, +64): the fork-time chunks they led to (16 bytes before, at
  // the chunk's start) were freed by the rebuild, and are the table's
  const rebuilt = headersOf([[st + 16, 0x1f7010908n, 0x2f7010908n], ...grown.slice(0, 1), [st + 40, 0x5555_5556_0010n, 0x5555_5557_0010n], grown[1], [st + 64, 0x5555_5558_0010n, 0x5555_5558_0010n]]);
  assert.equal([...rebuilt.released], [[0x5555_5556_0000, 'mutation.hash-table']], 'the bins that moved; not the entries, whose pointer stayed');
  const bins = (O: Word, N: Word, size = 1040) => stBinsCause(indexes, size, O, N);
  // an empty 16-bit lane (the third) filled with 202 + 2, the others as they were
  assert.is(bins(w('0000000000480007'), w('000000cc00480007')), 'mutation.hash-table');
  // ... or a deleted bin (1) reused
  assert.is(bins(w('0001000000000000'), w('00cc000000000000')), 'mutation.hash-table');
  // a chunk smaller than the table's bins is not them
  assert.is(bins(w('0001000000000000'), w('00cc000000000000'), 512), undefined);
  // an index the child's inserts did not store, a lane that held another index, a counter: not these bins
  assert.is(bins(w('0'), w('00000000000000cf')), undefined);
  assert.is(bins(w('0000000000000031'), w('00000000000000cc')), undefined);
  assert.is(bins(w('00000000000000cb'), w('00000000000000cc')), undefined);
  // lanes of the table's width: 0xcc00 in the first 16-bit lane is no index of these, its high byte one in 8-bit lanes
  assert.is(bins(w('0'), w('000000000000cc00')), undefined);
  assert.is(stBinsCause({ ...indexes, laneBits: [8] }, 1040, w('0'), w('000000000000cc00')), 'mutation.hash-table');
  // a table of 100 entries has 256 bins of 8 bits; of 20, 64 of 8; of 16 or fewer, none
  assert.equal(headersOf([[st + 32, 90n, 100n], [st + 56, 90n, 100n]]).indexes.laneBits, [8]);
  assert.equal(headersOf([[st + 32, 90n, 100n], [st + 56, 90n, 100n]]).indexes.minBytes, [256]);
  assert.equal(headersOf([[st + 32, 19n, 20n], [st + 56, 19n, 20n]]).indexes.minBytes, [64]);
  assert.equal(headersOf([[st + 32, 15n, 16n], [st + 56, 15n, 16n]]).indexes.lo, []);
});

test('the bins of a rebuilt table: a chunk the child allocated of their size, lanes of entry indexes each once, spread over the lanes', () => {
  // a table rebuilt from 2^2 to 2^12 entries: at 2^12, its bins are 2^13 lanes of 16 bits (16 KiB)
  const rebuilds = [{ fromPower: 2, toPower: 12, cause: 'object.id' }];
  const power = 12;
  const bytes = 2 ** (power + 1) * 2;
  // every word of the chunk: four 16-bit lanes, indexes 2^12 - 1 downwards (plus 2), every third lane empty
  let next = 2 ** power - 1;
  const lane = (i: number) => (i % 3 === 2 ? 0 : next-- + 2);
  const words: Word[] = [];
  for (let k = 0; k < 1000; k++) {
    const l = [lane(4 * k), lane(4 * k + 1), lane(4 * k + 2), lane(4 * k + 3)];
    words.push({ lo: (l[0] | (l[1] << 16)) >>> 0, hi: (l[2] | (l[3] << 16)) >>> 0 });
  }
  const offs = words.map((_, k) => 16 + 8 * k);
  assert.is(rebuiltBinsCause(rebuilds, bytes + 16, false, offs, words), 'object.id');
  // another size in use: not these bins; a free chunk that size or larger (merged after it was freed): the bins at its start
  assert.is(rebuiltBinsCause(rebuilds, bytes + 32, false, offs, words), undefined);
  assert.is(rebuiltBinsCause(rebuilds, 3 * bytes, true, offs, words), 'object.id');
  assert.is(rebuiltBinsCause(rebuilds, bytes, true, offs, words), undefined);
  // too few of the bins' words changed (under a quarter)
  assert.is(rebuiltBinsCause(rebuilds, bytes + 16, false, offs.slice(0, 400), words.slice(0, 400)), undefined);
  // an index twice, or past the table's 2^12 entries: not bins
  assert.is(rebuiltBinsCause(rebuilds, bytes + 16, false, offs, [...words.slice(0, 999), words[0]]), undefined);
  assert.is(rebuiltBinsCause(rebuilds, bytes + 16, false, offs, [...words.slice(0, 999), { lo: 2 ** 12 + 2, hi: 0 }]), undefined);
  // an array of small numbers (Fixnums 2n + 1, each in a word's first lane only): not bins
  const fixnums = words.map((_, k) => ({ lo: 2 * k + 1, hi: 0 }));
  assert.is(rebuiltBinsCause(rebuilds, bytes + 16, false, offs, fixnums), undefined);
  // tables smaller than 2^10 entries are not looked for; two tables of other causes whose bins fit: neither
  assert.is(rebuiltBinsCause([{ fromPower: 2, toPower: 9, cause: 'object.id' }], 2 ** 10 + 16, false, offs.slice(0, 128), words.slice(0, 128)), undefined);
  assert.is(rebuiltBinsCause([...rebuilds, { fromPower: 12, toPower: 12, cause: 'mutation.hash-table' }], bytes + 16, false, offs, words), undefined);
});

test('refilled effects: of the pages a step saves that a cause the effect removes wrote, up to the refilled pages are a cost', () => {
  // 6 pages only the sweep wrote, 3 the sweep and an allocation (not removed), 2 a cache fill alone
  const sets = [
    { causes: ['gc.sweep'], pages: 6 },
    { causes: ['alloc.swept-slot', 'gc.sweep'], pages: 3 },
    { causes: ['icache.call'], pages: 2 },
  ];
  const sweep = (pages: number) => ({ step: 'prewarm', removes: ['gc.sweep'], refilled: { pages, why: 'refilled' } });
  assert.equal(refillCosts(sets, [sweep(4)]), [{ step: 'prewarm', pages: 4, why: 'refilled', shared: 'refilled gc.sweep' }]);
  // never more than the effect saves
  assert.equal(refillCosts(sets, [sweep(50)]), [{ step: 'prewarm', pages: 6, why: 'refilled', shared: 'refilled gc.sweep' }]);
  assert.equal(refillCosts(sets, [sweep(0)]), []);
  // a page saved only when another effect of the step removes its other cause is saved by the two
  assert.equal(refillCosts([{ causes: ['gc.sweep', 'gc.age'], pages: 5 }], [sweep(9), { step: 'prewarm', removes: ['gc.age'] }]), [{ step: 'prewarm', pages: 5, why: 'refilled', shared: 'refilled gc.sweep' }]);
  assert.is(netSavedPages(sets, refillCosts(sets, [sweep(4)]), 'prewarm', [sweep(4)]), 6 + 2 - 4);
  // a step whose catalog row removes the cause already (gc removes gc.sweep): the same pages count
  const gcSweep = (pages: number) => ({ step: 'gc', removes: ['gc.sweep'], refilled: { pages, why: 'refilled' } });
  assert.equal(refillCosts(sets, [gcSweep(50)]), [{ step: 'gc', pages: 6, why: 'refilled', shared: 'refilled gc.sweep' }]);
  assert.is(netSavedPages(sets, refillCosts(sets, [gcSweep(4)]), 'gc', [gcSweep(4)]), 6 - 4);
  // pages the step saves that the cause did not write are not refilled
  assert.equal(refillCosts([{ causes: ['gc.promote-next'], pages: 7 }], [gcSweep(5)]), []);
  // two steps that free the same garbage (gc and promote): the same pages refilled, once in a strategy
  // of both, the larger count where they differ; another cause's refill adds to it
  const promoteSweep = { step: 'promote', removes: ['gc.sweep'], refilled: { pages: 3, why: 'refilled' } };
  const both = [gcSweep(4), promoteSweep];
  assert.is(netSavedPages(sets, refillCosts(sets, both), 'gc', both), 6 - 4);
  assert.is(netSavedPages(sets, refillCosts(sets, both), 'promote', both), 6 - 3);
  assert.is(netSavedPages(sets, refillCosts(sets, both), 'gc+promote', both), 6 - 4);
  const mallocSets = [...sets, { causes: ['alloc.malloc'], pages: 5 }];
  const withMalloc = [...both, { step: 'promote', removes: ['alloc.malloc'], refilled: { pages: 2, why: 'refilled' } }];
  assert.is(netSavedPages(mallocSets, refillCosts(mallocSets, withMalloc), 'gc+promote', withMalloc), 6 + 5 - 4 - 2);
});

test("a GC before the fork: a child whose GCs were all minor mallocs into the garbage's chunks, not the large chunks free at the fork", () => {
  const L = layoutFor('3.3.8');
  const refilledOf = (effects: { step: string; refilled?: { pages: number } }[]) => Object.fromEntries(effects.map((e) => [e.step, e.refilled?.pages ?? 0]));
  // the pages with alloc.malloc: 120 + 37 of them hold nothing else (glibc's headers and links beside
  // the mallocs go with them), 21 a call cache too; 110 + 30 of the 157 hold mallocs that all split a
  // large free chunk, the rest filled small holes
  const malloc = [{ causes: ['alloc.malloc', 'malloc.meta'], pages: 120 }, { causes: ['alloc.malloc'], pages: 37 }, { causes: ['alloc.malloc', 'icache.call'], pages: 21 }];
  const splitSets = [{ causes: ['alloc.malloc', 'malloc.meta'], pages: 110 }, { causes: ['alloc.malloc'], pages: 30 }, { causes: ['alloc.malloc', 'icache.call'], pages: 9 }];
  // the second Rack app on 3.3.8: 1.8 MB of garbage chunks, more than the 544 KB split: all that split
  // moves; the 17 pages of holes stay
  const rack = gcMallocEffects(L, 0, 1_847_008, { split: 543_616, malloc, splitSets });
  assert.equal(refilledOf(rack), { gc: 17, promote: 17, compact: 17, warmup: 17, nakayoshi: 17 });
  assert.ok(rack.every((e) => e.removes.join() === 'alloc.malloc' && e.alongside?.join() === 'malloc.meta'));
  const sets = [...malloc, { causes: ['malloc.meta'], pages: 5 }];
  assert.is(savedPages(sets, 'gc', rack), 157, "not glibc's own pages (malloc.meta alone), not a call cache's");
  assert.is(netSavedPages(sets, refillCosts(sets, rack), 'gc', rack), 140);
  assert.is(savedPages(sets, 'prewarm', rack), 0, 'not a step that frees the garbage');
  // less garbage than the mallocs split: that share of the split pages, 140 * 100 / 400 = 35, moves
  const less = gcMallocEffects(L, 0, 100_000, { split: 400_000, malloc, splitSets });
  assert.is(less[0].refilled!.pages, 157 - 35);
  assert.is(netSavedPages(sets, refillCosts(sets, less), 'gc', less), 35);
  // pages a step releases before the fork (warmup's trim) are saved whoever writes them: not refilled
  const released = [{ causes: ['alloc.malloc'], pages: 12, releasedBy: ['warmup'] }];
  const trimmed = gcMallocEffects(L, 0, 100_000, { split: 400_000, malloc: [...malloc, ...released], splitSets: [...splitSets, ...released] });
  assert.is(trimmed.find((e) => e.step === 'warmup')!.refilled!.pages, 157 - 35);
  assert.is(netSavedPages([...sets, ...released], refillCosts([...sets, ...released], trimmed), 'warmup', trimmed), 35 + 12);
  assert.is(trimmed.find((e) => e.step === 'gc')!.refilled!.pages, 169 - Math.floor((152 * 100) / 400));
  // no page whose mallocs all split (Rails on 3.4.5 fills holes): nothing moves
  assert.equal(gcMallocEffects(L, 0, 1_847_008, { split: 384_144, malloc, splitSets: [{ causes: ['alloc.malloc', 'icache.call'], pages: 9 }] }), []);
  assert.equal(gcMallocEffects(L, 1, 1_847_008, { split: 543_616, malloc, splitSets }), [], 'a full GC in the child (3.4.5 here): it mallocs as the other child does after it');
  assert.equal(gcMallocEffects(L, undefined, 1_847_008, { split: 543_616, malloc, splitSets }), [], 'full GCs not known');
  assert.equal(gcMallocEffects(L, 0, 0, { split: 543_616, malloc, splitSets }), [], 'no garbage chunk freed');
  assert.equal(gcMallocEffects(L, 0, 1_847_008, { split: 0, malloc, splitSets: [] }), [], 'nothing split from a large free chunk');
  assert.equal(gcMallocEffects(undefined, 0, 1_847_008, { split: 543_616, malloc, splitSets }), [], 'a Ruby of unknown layout');
});

test('costs two steps share (both collect) count once in a strategy of both, each step\'s own cost in full', () => {
  const sets = [{ causes: ['py.gc.traverse'], pages: 10 }];
  const costs = [
    { step: 'gc', pages: 4, why: 'refill', shared: 'collect' },
    { step: 'freeze', pages: 4, why: 'refill', shared: 'collect' },
    { step: 'disable', pages: 3, why: 'kept garbage' },
  ];
  // py.gc.traverse: freeze removes it (the catalog), gc does not
  assert.is(netSavedPages(sets, costs, 'gc'), -4);
  assert.is(netSavedPages(sets, costs, 'freeze'), 10 - 4);
  assert.is(netSavedPages(sets, costs, 'gc+freeze'), 10 - 4);
  assert.is(netSavedPages(sets, costs, 'freeze+disable'), 10 - 4 - 3);
  // without the shared key two steps' costs add up
  assert.is(netSavedPages(sets, costs.map(({ shared: _, ...c }) => c), 'gc+freeze'), 10 - 8);
});

test("a GC before the fork: what the child put in new heap pages before its first GC refills the slots it freed", () => {
  const pagesOf = (effects: { step: string; refilled?: { pages: number } }[]) => Object.fromEntries(effects.map((e) => [e.step, e.refilled?.pages]));
  // 40 OS pages grown before the first GC; the child's sweep freed 1.6M of garbage over 780 pages
  // (2,051 bytes a page): spread, 80 pages; packed by a compaction, 40
  const swept = { bytes: 40_000 * 40, pages: 780 };
  assert.equal(pagesOf(gcRefillEffects(layoutFor('3.1.2'), 40 * 4096, swept, 4096)), { gc: 80, promote: 80, nakayoshi: 80, compact: 40, warmup: 40 });
  // 3.3's Process.warmup returns the pages it emptied: the child takes that room new, as before
  assert.equal(Object.keys(pagesOf(gcRefillEffects(layoutFor('3.3.8'), 40 * 4096, swept, 4096))), ['gc', 'promote', 'compact', 'nakayoshi']);
  // never more than the garbage there is: 4.8M grown against 0.2M swept over 700 pages refills those 700
  assert.equal(pagesOf(gcRefillEffects(layoutFor('3.1.2'), 4_816_896, { bytes: 212_100, pages: 700 }, 4096)).gc, 700);
  assert.equal(pagesOf(gcRefillEffects(layoutFor('3.1.2'), 4_816_896, { bytes: 212_100, pages: 700 }, 4096)).compact, 52);
  // garbage denser than a page's worth a page (a slot straddling two) counts a page a page at most
  assert.equal(pagesOf(gcRefillEffects(layoutFor('3.4.5'), 8192, { bytes: 10 * 4096, pages: 5 }, 4096)).gc, 2);
  assert.equal(gcRefillEffects(layoutFor('3.1.2'), 0, swept, 4096), [], 'nothing grown before the first GC');
  assert.equal(gcRefillEffects(layoutFor('3.1.2'), 40 * 4096, { bytes: 0, pages: 0 }, 4096), [], 'no garbage swept');
  assert.equal(gcRefillEffects(undefined, 40 * 4096, swept, 4096), [], 'a Ruby of unknown layout');
  assert.ok(gcRefillEffects(layoutFor('3.1.2'), 40 * 4096, swept, 4096).every((e) => e.removes.join() === 'gc.sweep'));
});

test("thread state: stack bounds cleared, a list head linking a waiter on the thread's stack", () => {
  const stacks = { start: Float64Array.from([0x7fe194ab4000, 0x7ffd04e05000]), end: Float64Array.from([0x7fe194cb4000, 0x7ffd04e26000]) };
  // rb_thread_t of a thread that did not survive the fork: its machine stack bounds cleared
  assert.ok(isThreadStateWord(stacks, 0x55f2f0baa5d0, 608, w('7fe194bb2c50'), w('0')));
  // an empty list head (pointing to itself) now linking a node on the main thread's stack
  assert.ok(isThreadStateWord(stacks, 0x55f2f0a89610, 48, w('55f2f0a89620'), w('7ffd04e24888')));
  assert.ok(isThreadStateWord(stacks, 0, 0, w('7ffd04e24888'), w('7fe194bb2c50')));
  // a stack address replaced by a pointer elsewhere, or no stack address at all: not thread state
  assert.not.ok(isThreadStateWord(stacks, 0x55f2f0a89610, 48, w('7ffd04e24888'), w('55f2f0b00000')));
  assert.not.ok(isThreadStateWord(stacks, 0x55f2f0a89610, 48, w('0'), w('55f2f0a89620')));
});

test('glibc thread arenas of a real Ruby process: heap_info found, chunks walked to the heap end, header words glibc\'s', async () => {
  // A thread's mallocs go to an arena of its own (a heap glibc mmaps at a 64 MiB-aligned address).
  const script = 'q = Queue.new; Thread.new { $k = Array.new(3000) { |i| "x#{i}" * 30 }; q << 1; sleep }; q.pop; puts "{\\"pid\\":#{$$}}"; $stdout.flush; sleep';
  const fam = await startJsonFamily<{ pid: number }>('/usr/bin/ruby', ['-e', script]);
  try {
    const vmas = parseMaps(fs.readFileSync(`/proc/${fam.info.pid}/maps`, 'utf8'));
    const heaps = arenaHeaps(fam.info.pid, vmas);
    assert.ok(heaps.length >= 1, 'a thread arena heap');
    const h = heaps[0];
    assert.is(h.base % ARENA_HEAP.maxSize, 0);
    const pages: number[] = [];
    for (let a = h.base; a < h.end; a += 4096) pages.push(a);
    const g = discoverGlibcHeap(fam.info.pid, vmas, Float64Array.from(pages), 4096);
    const c = g.chunks;
    const i0 = c.start.indexOf(h.base);
    assert.ok(i0 >= 0, 'the header listed as a chunk at the base');
    assert.is(c.size[i0], h.first - h.base);
    // the chunks tile the heap from the first chunk to its end (the top chunk ends it)
    let at = h.first;
    for (let i = i0 + 1; i < c.start.length && c.start[i] < h.end; i++) {
      assert.is(c.start[i], at, `chunk ${i} follows the one before`);
      at += c.size[i];
    }
    assert.is(at, h.end, 'the walk reached the heap end');
    assert.ok(c.start.length - i0 > 100, 'the thread\'s strings are chunks of its arena');
    const view = glibcView(g, undefined, mainHeap(vmas));
    // malloc_state's next_free and attached_threads, in the arena's first heap
    const zero = w('0');
    assert.is(chunkWord(view, h.base + 16, zero, w('21000'))?.kind, 'meta');
    assert.is(chunkWord(view, h.first - 32, zero, w('1'))?.kind, 'meta');
    // a word of a string buffer in use is the chunk's content
    const inUse = Array.from(c.start.keys()).find((i) => i > i0 && c.inUse[i] && c.size[i] >= 64);
    assert.ok(inUse !== undefined);
    assert.is(chunkWord(view, c.start[inUse!] + 32, w('1'), w('2'))?.kind, 'content');
  } finally {
    await fam.stop();
  }
});

test('glibc words (native/chunkwords.cc): every kind, from a hand-made heap, one word at a time and in one batch', () => {
  // [heap] at 0x1000000: tcache_perthread_struct, then chunks A (in use), B (in use; the child freed it),
  // C (free at the fork), D (in use; the child carved it into two), E and F (in use), G and I (in use;
  // the child freed both, merged into one free chunk), J (in use; the child shrank it, the remainder merged
  // with K, free at the fork).
  const H = 0x1000000;
  const fork = {
    start: [H, H + 0x290, H + 0x2d0, H + 0x710, H + 0x750, H + 0x850, H + 0x890, H + 0x8d0, H + 0x910, H + 0x950, H + 0x990],
    size: [0x290, 0x40, 0x440, 0x40, 0x100, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40],
    inUse: [1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0],
  };
  const [tcache, A, B, C, D, E, F, G, I, J, K] = fork.start;
  // the child: B freed (a large chunk: its nextsize links too), C allocated whole, D split at +0x80, G and I
  // freed and merged, J shrunk to 0x20 and its remainder merged with K
  const child = {
    start: [B, C, D, D + 0x80, G, J, J + 0x20],
    size: [0x440, 0x40, 0x80, 0x80, 0x80, 0x20, 0x60],
    inUse: [0, 1, 1, 1, 0, 1, 0],
  };
  const key = 0x1234_5678_9abcn;
  const view = glibcView(
    {
      chunks: { start: Float64Array.from(fork.start), size: Float64Array.from(fork.size), inUse: Uint8Array.from(fork.inUse) },
      heapStart: tcache,
      tcacheKey: key.toString(16),
    },
    { start: Float64Array.from(child.start), size: Float64Array.from(child.size), inUse: Uint8Array.from(child.inUse) },
    { start: H, end: H + 0x21000 },
  );
  const safeLink = (addr: number, next: number) => BigInt(Math.floor(addr / 4096)) ^ BigInt(next);
  // [address, old, new, kind, start, size, off]
  const cases: [number, bigint, bigint, number, number, number, number][] = [
    [tcache + 0x80, 0n, 1n, CW.META, 0, 0, 0], // tcache counts and heads
    [A + 8, 0x41n, 0x41n | 0x100n, CW.META, 0, 0, 0], // a size word
    [A + 0x20, 1n, 2n, CW.CONTENT, A, 0x40, 0x20], // user data of a chunk in use at the fork
    [F, 5n, 6n, CW.CONTENT, E, 0x40, 0x40], // F's prev_size: E's last usable word while E is in use
    [B, 5n, 6n, CW.META, 0, 0, 0], // B's: the child's view (no chunk of its before B) makes it B's header
    [B + 0x10, 0n, 0x55n, CW.META, 0, 0, 0], // freed by the child: fd
    [B + 0x28, 0n, 0x55n, CW.META, 0, 0, 0], // and bk_nextsize (a large chunk)
    [B + 0x30, 7n, 8n, CW.CONTENT, B, 0x440, 0x30], // freed, but not a link: the old contents
    [C + 0x10, 0n, 9n, CW.FRESH, C, 0, 0x10], // free at the fork, allocated by the child
    [C + 0x18, 0n, key, CW.META, 0, 0, 0], // the tcache key
    [C + 8, 0x41n, 0x41n, CW.META, 0, 0, 0], // a header word of the child's chunk
    [D + 0x90, 3n, 4n, CW.FRESH, D + 0x80, 0, 0x10], // D carved anew: the second piece is the child's
    [E + 8, 0x40n, 0x41n, CW.PREV_IN_USE, D, 0, 0], // only PREV_INUSE of E's size word flipped
    [E + 0x10, 0n, safeLink(E + 0x10, A + 0x10), CW.META, 0, 0, 0], // a safe-linked tcache next
    [E + 0x10, 0n, 0x10n, CW.CONTENT, E, 0x40, 0x10], // any other value there
    // I's header and links, which its free wrote before the merge made it part of G's free chunk (QA, 3.1:
    // garbage buffers a lazy sweep freed in the child, 3,204 pages a child taken for its allocations)
    [I + 8, 0x41n, 0x40n, CW.META, 0, 0, 0],
    [I + 0x10, 0n, 0x55n, CW.META, 0, 0, 0],
    [I + 0x18, 0n, 0x56n, CW.META, 0, 0, 0],
    [I + 0x20, 1n, 2n, CW.FRESH, G, 0, 0x60], // anything else there: memory the child used, then freed
    // K's links, which glibc rewrote while K sat in its bin, before the merge left them inside the child's
    // free chunk, leading to a chunk's start or nowhere (QA, 3.1: Strings frozen in the child, ~400 pages
    // a child taken for its allocations)
    [K + 8, 0x41n, 0x40n, CW.META, 0, 0, 0],
    [K + 0x10, BigInt(B), BigInt(A), CW.META, 0, 0, 0],
    [K + 0x18, BigInt(A), 0n, CW.META, 0, 0, 0],
    // the same words holding another value: data of a chunk the child allocated there and freed
    [K + 0x10, BigInt(B), 0x7f00_0000_1234n, CW.FRESH, J + 0x20, 0, 0x30],
    [K + 0x20, 1n, 2n, CW.FRESH, J + 0x20, 0, 0x40], // anything else there: memory the child used, then freed
    [H - 8, 0n, 1n, CW.NONE, 0, 0, 0], // before every chunk
    [K + 0x40, 0n, 1n, CW.NONE, 0, 0, 0], // after them
  ];
  const rows = classifyChunkWords(view, Float64Array.from(cases, (c) => c[0]), BigUint64Array.from(cases, (c) => c[1]), BigUint64Array.from(cases, (c) => c[2]));
  cases.forEach(([addr, o, n, kind, start, size, off], k) => {
    const what = `0x${addr.toString(16)}: ${o.toString(16)} -> ${n.toString(16)}`;
    assert.is(rows.kind[k], kind, what);
    if (kind === CW.FRESH || kind === CW.CONTENT || kind === CW.PREV_IN_USE) assert.is(rows.start(k), start, `${what}: start`);
    if (kind === CW.CONTENT) assert.is(rows.size(k), size, `${what}: size`);
    if (kind === CW.FRESH || kind === CW.CONTENT) assert.is(rows.off(k), off, `${what}: offset`);
    // one word alone gives the same (the lookups' cursor is no part of the answer)
    const one = chunkWord(view, addr, wordOf(o.toString(16)), wordOf(n.toString(16)));
    assert.is(one?.kind, [undefined, 'meta', 'prev-in-use', 'fresh', 'content'][kind], `${what} alone`);
  });
  // backwards: the same rows
  const back = [...cases].reverse();
  const rev = classifyChunkWords(view, Float64Array.from(back, (c) => c[0]), BigUint64Array.from(back, (c) => c[1]), BigUint64Array.from(back, (c) => c[2]));
  assert.equal(Array.from(rev.kind).reverse(), Array.from(rows.kind));
  // targets: where values point (a value is its own old and new word), rows to skip left NONE
  const values = BigUint64Array.of(BigInt(A + 0x20), BigInt(C + 0x10), 0x41n, BigInt(A + 0x28));
  const t = classifyChunkWords(view, null, values, values, Uint8Array.of(0, 0, 0, 1));
  assert.equal(Array.from(t.kind), [CW.CONTENT, CW.FRESH, CW.NONE, CW.NONE]);
  assert.equal([t.start(0), t.off(0), t.start(1), t.off(1)], [A, 0x20, C, 0x10]);
  // bad arguments: a type error naming the argument, nothing written
  assert.throws(() => classifyChunkWords(view, Float64Array.of(1, 2), BigUint64Array.of(1n), BigUint64Array.of(1n)), /one address per word/);
  assert.throws(() => classifyChunkWords(view, null, BigUint64Array.of(1n), BigUint64Array.of(1n, 2n)), /as many/);
  assert.throws(() => classifyChunkWords(view, null, BigUint64Array.of(1n), BigUint64Array.of(1n), Uint8Array.of(1, 1)), /skip must be/);
});

test('glibc words in a batch equal one word at a time, on random heaps, in any order (the lookups\' cursor, its galloping and the targets\' sort are no part of the answer)', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const rng = new Rng(seed);
    // [heap] with a tcache_perthread_struct first, then runs of chunks with gaps between runs (arenas, mmaps)
    const H = 0x5500_0000_0000 + rng.int(1 << 20) * 4096;
    const fork = { start: [H] as number[], size: [0x290] as number[], inUse: [1] as number[] };
    let at = H + 0x290;
    for (let i = 0; i < 400; i++) {
      if (rng.int(40) === 0) at += (1 + rng.int(64)) * 4096; // a gap
      const size = (2 + rng.int(rng.int(8) === 0 ? 200 : 8)) * 16;
      fork.start.push(at);
      fork.size.push(size);
      fork.inUse.push(rng.int(4) ? 1 : 0);
      at += size;
    }
    // the child: some chunks kept, some freed, some carved in two
    const child = { start: [] as number[], size: [] as number[], inUse: [] as number[] };
    for (let i = 1; i < fork.start.length; i++) {
      const r = rng.int(6);
      if (r === 0 && fork.size[i] >= 64) {
        const half = Math.floor(fork.size[i] / 32) * 16;
        child.start.push(fork.start[i], fork.start[i] + half);
        child.size.push(half, fork.size[i] - half);
        child.inUse.push(1, rng.int(2));
      } else if (r === 1) {
        child.start.push(fork.start[i]);
        child.size.push(fork.size[i]);
        child.inUse.push(1 - fork.inUse[i]);
      }
    }
    const view = glibcView(
      { chunks: { start: Float64Array.from(fork.start), size: Float64Array.from(fork.size), inUse: Uint8Array.from(fork.inUse) }, heapStart: H, tcacheKey: '1234' },
      { start: Float64Array.from(child.start), size: Float64Array.from(child.size), inUse: Uint8Array.from(child.inUse) },
      { start: H, end: at + 0x1000 },
    );
    // words anywhere in and around the chunks, 8-aligned, some repeated; values small, random or chunk addresses
    const n = 1500;
    const addrs = Array.from({ length: n }, () => H - 64 + rng.int((at - H + 128) / 8) * 8).sort((a, b) => a - b);
    const value = () => BigInt(rng.int(3) ? H - 64 + rng.int((at - H + 128) / 8) * 8 : rng.int(1 << 20));
    const olds = addrs.map(() => value());
    const news = addrs.map(() => value());
    const skip = Uint8Array.from(addrs, () => (rng.int(5) === 0 ? 1 : 0));
    const order = [...addrs.keys()].sort(() => rng.next() - 0.5);
    const pick = <T>(xs: T[], ks: number[]) => ks.map((k) => xs[k]);
    const rowOf = (rows: ReturnType<typeof classifyChunkWords>, k: number) => {
      const kind = rows.kind[k];
      return [kind, kind >= CW.PREV_IN_USE ? rows.start(k) : 0, kind === CW.CONTENT ? rows.size(k) : 0, kind >= CW.FRESH ? rows.off(k) : 0];
    };
    for (const ks of [[...addrs.keys()], order]) {
      const a = Float64Array.from(pick(addrs, ks));
      const words = classifyChunkWords(view, a, BigUint64Array.from(pick(olds, ks)), BigUint64Array.from(pick(news, ks)));
      const vs = BigUint64Array.from(pick(news, ks));
      const targets = classifyChunkWords(view, null, vs, vs, Uint8Array.from(pick(Array.from(skip), ks)));
      ks.forEach((k, i) => {
        const one = classifyChunkWords(view, Float64Array.of(addrs[k]), BigUint64Array.of(olds[k]), BigUint64Array.of(news[k]));
        assert.equal(rowOf(words, i), rowOf(one, 0), `seed ${seed}: word at 0x${addrs[k].toString(16)}`);
        const v = BigUint64Array.of(news[k]);
        const alone = classifyChunkWords(view, null, v, v);
        assert.equal(rowOf(targets, i), skip[k] ? [CW.NONE, 0, 0, 0] : rowOf(alone, 0), `seed ${seed}: target 0x${news[k].toString(16)}`);
      });
    }
  }
});

test.run();
