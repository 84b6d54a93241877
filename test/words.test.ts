// AddrMap (blame/words.ts), the address-keyed map of the per-word rules, against Map: the same answers
// and the same iteration order over random operations, with keys as the rules make them (aligned
// addresses near one another, above 2^32, consecutive small numbers) and through growth and clear.
// SortedCursor and RangeCursor against lastAtOrBelow and findRange: the same answer for every lookup,
// in address order (as the blamers ask) and in any order, over repeated starts and nested ranges.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AddrMap, GapCursor, RangeCursor, SortedCursor, findRange, lastAtOrBelow } from '../blame/words';

/** A small deterministic generator (xorshift32), so that a failure replays. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

const KEY_KINDS: [string, (r: () => number) => number][] = [
  ['aligned heap addresses', (r) => 0x7f1234560000 + Math.floor(r() * 4096) * 16],
  ['addresses of two distant mappings', (r) => (r() < 0.5 ? 0x5568845e0000 : 0x7ffd00000000) + Math.floor(r() * 512) * 8],
  ['consecutive block numbers', (r) => 0x55000 + Math.floor(r() * 3000)],
  ['any integer below 2^53', (r) => Math.floor(r() * 2 ** 21) * 2 ** 32 + Math.floor(r() * 2 ** 32)],
];

for (const [kind, keyOf] of KEY_KINDS)
  test(`AddrMap answers as Map does: ${kind}`, () => {
    const r = rng(kind.length * 7919);
    const a = new AddrMap<number>();
    const m = new Map<number, number>();
    for (let i = 0; i < 20_000; i++) {
      const key = keyOf(r);
      const op = r();
      if (op < 0.5) {
        a.set(key, i);
        m.set(key, i);
      } else if (op < 0.9999) {
        assert.is(a.get(key), m.get(key), `get ${key}`);
        assert.is(a.has(key), m.has(key), `has ${key}`);
      } else {
        a.clear();
        m.clear();
      }
      if (i % 5000 === 4999) {
        assert.is(a.size, m.size);
        assert.equal([...a], [...m], 'insertion order');
      }
    }
    assert.ok(m.size > 100, `${m.size} keys in the end`);
  });

test('AddrMap: a missing key, overwrites, and keys that differ only above bit 32', () => {
  const a = new AddrMap<string>();
  assert.is(a.get(0x1000), undefined);
  assert.not.ok(a.has(0));
  a.set(0x1000, 'a').set(0x1000, 'b');
  assert.is(a.get(0x1000), 'b');
  assert.is(a.size, 1);
  a.set(0x1_0000_1000, 'c');
  assert.is(a.get(0x1000), 'b');
  assert.is(a.get(0x1_0000_1000), 'c');
  a.set(0, 'zero');
  assert.is(a.get(0), 'zero');
  assert.equal([...a].map(([k]) => k), [0x1000, 0x1_0000_1000, 0]);
});

/** Sorted starts with repeats and gaps, and ranges that touch, nest or leave gaps. */
function ranges(r: () => number, n: number): { start: Float64Array; end: Float64Array } {
  const start = new Float64Array(n);
  let at = 0x7f0000000000;
  for (let i = 0; i < n; i++) start[i] = at += r() < 0.2 ? 0 : Math.floor(r() * 64) * 8;
  const end = Float64Array.from(start, (s) => s + (r() < 0.3 ? 0 : Math.floor(r() * 128) * 8));
  return { start, end };
}

for (const order of ['address order', 'any order'])
  test(`SortedCursor and RangeCursor answer as lastAtOrBelow and findRange do: ${order}`, () => {
    for (let seed = 1; seed <= 20; seed++) {
      // a small seed's first draws are tiny (xorshift): spread the seed, drop a few
      const r = rng(Math.imul(seed, 0x9e3779b1));
      for (let i = 0; i < 8; i++) r();
      const { start, end } = ranges(r, 1 + Math.floor(r() * 200));
      const lo = start[0] - 256;
      const hi = end.reduce((m, e) => Math.max(m, e), 0) + 256;
      const queries = Array.from({ length: 2000 }, () => lo + Math.floor(r() * ((hi - lo) / 4)) * 4);
      if (order === 'address order') queries.sort((a, b) => a - b);
      const sorted = new SortedCursor(start);
      const range = new RangeCursor(start, end);
      for (const q of queries) {
        assert.is(sorted.at(q), lastAtOrBelow(start, q), `seed ${seed}: lastAtOrBelow of ${q}`);
        assert.is(range.at(q), findRange(start, end, q), `seed ${seed}: findRange of ${q}`);
      }
    }
  });

for (const order of ['address order', 'any order'])
  test(`GapCursor: free exactly where no list's RangeCursor holds the address (three lists, one empty): ${order}`, () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(Math.imul(seed, 0x9e3779b1) ^ 0x5bd1e995);
      for (let i = 0; i < 8; i++) r();
      const lists = [ranges(r, 1 + Math.floor(r() * 50)), ranges(r, 1 + Math.floor(r() * 50)), { start: new Float64Array(), end: new Float64Array() }];
      const lo = 0x7f0000000000 - 256;
      const hi = lists.flatMap((l) => Array.from(l.end)).reduce((m, e) => Math.max(m, e), 0) + 256;
      const queries = Array.from({ length: 2000 }, () => lo + Math.floor(r() * ((hi - lo) / 8)) * 8);
      if (order === 'address order') queries.sort((a, b) => a - b);
      const gaps = new GapCursor(lists.map((l) => new RangeCursor(l.start, l.end)));
      let free = 0;
      for (const q of queries) {
        const expected = lists.every((l) => findRange(l.start, l.end, q) < 0);
        assert.is(gaps.free(q), expected, `seed ${seed}: ${q}`);
        if (expected) free++;
      }
      assert.ok(free > 0 && free < queries.length, `seed ${seed}: addresses in ranges and between them (${free} free)`);
    }
  });

test('SortedCursor over no values, and below and above all of them', () => {
  assert.is(new SortedCursor(new Float64Array()).at(5), -1);
  const c = new SortedCursor(Float64Array.of(10, 20, 20, 30));
  assert.equal([5, 10, 19, 20, 25, 30, 99, 9, 20].map((v) => c.at(v)), [-1, 0, 0, 2, 2, 3, 3, -1, 2]);
});

test.run();
