// AddrMap (blame/words.ts), the address-keyed map of the per-word rules, against Map: the same answers
// and the same iteration order over random operations, with keys as the rules make them (aligned
// addresses near one another, above 2^32, consecutive small numbers) and through growth and clear.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AddrMap } from '../blame/words';

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

test.run();
