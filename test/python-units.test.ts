// The pure parts of the CPython runtime: heap-map ingest (kept entries, malformed lines, chunked
// reading), pool header validation, the version table.

import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ingestPythonHeapMap } from '../runtimes/python/heap-map';
import { validPool } from '../runtimes/python/discover';
import { AGENT_LAYOUTS, pythonLayoutFor } from '../runtimes/python/layouts';
import { PYTHON_AGENT_DIR } from '../runtimes/ruby/driver';
import { tempDir } from './helpers/ruby';
import { testPythons } from './helpers/python';
import { spawnSync } from 'node:child_process';

const tmp = tempDir('pyunit');
test.after(() => tmp.remove());

test('ingest keeps what touches the pages, sorted, and counts malformed lines', () => {
  const file = path.join(tmp.dir, 'map.txt');
  const lines = [
    'T 0 str',
    'T 1 code',
    'O 20010 0 64 0 0', // on page 0x20000
    'O 10020 16 48 1 0', // on page 0x10000, its GC head too
    'O 90000 0 64 0 0', // on no kept page
    'O 1ffff0 0 32 0 0', // ends on page 0x200000
    'O zz 0 32 0 0', // malformed address
    'C 20100 201b8 64', // code on page 0x20000
    'B 10100 80 dictkeys 10020',
    'B 10200 80 nonsense 10020', // unknown kind
    'R a69d78 98304 typecache',
    'X what is this',
    'E 123 7 2',
  ];
  fs.writeFileSync(file, lines.join('\n') + '\n');
  const m = ingestPythonHeapMap(file, Float64Array.from([0x10000, 0x20000, 0x200000]), 4096, 1 << 20);
  assert.equal(Array.from(m.objects.addr), [0x10020, 0x20010, 0x1ffff0]);
  assert.equal(Array.from(m.objects.pre), [16, 0, 0]);
  assert.equal(Array.from(m.objects.state), [1, 0, 0]);
  assert.equal(m.types, ['str', 'code']);
  assert.equal(Array.from(m.code.start), [0x201b8]);
  assert.equal(Array.from(m.buffers.owner), [0x10020]);
  assert.equal(Array.from(m.ranges.start), [0xa69d78]);
  assert.is(m.total, 123);
  assert.is(m.frozen, 7);
  assert.is(m.frozenAtStart, 2);
  assert.is(m.malformed, 3);
});

test('ingest reads the base a type of the str, bytes, dict or list family names, and refuses any other', () => {
  const file = path.join(tmp.dir, 'bases.txt');
  const lines = [
    'T 0 str 0 str',
    'T 1 SafeString 0 str',
    'T 2 Blob 0 bytes',
    'T 3 str', // a program's class named str: no base
    'T 4 Stamp 16',
    'T 5 Counter 0 dict',
    'T 6 Stack 0 list',
    'T 7 Odd 0 int', // no base the map names
    'T 8 Odd 0 str extra',
    'T 9 Odd 0 ', // an empty base
  ];
  fs.writeFileSync(file, lines.join('\n') + '\n');
  const m = ingestPythonHeapMap(file, null, 4096, 1 << 20);
  assert.equal(m.types, ['str', 'SafeString', 'Blob', 'str', 'Stamp', 'Counter', 'Stack']);
  assert.equal(Array.from(m.typeBases!), [1, 1, 2, 0, 0, 3, 4]);
  assert.equal(Array.from(m.typeHashWords!), [0, 0, 0, 0, 16, 0, 0]);
  assert.is(m.malformed, 3);
});

test('ingest marks the buffers of garbage at the fork, their owner kept or not', () => {
  const file = path.join(tmp.dir, 'garbage.txt');
  const lines = [
    'T 0 dict',
    'O 10020 16 48 17 0', // tracked and garbage (1 | 16), on page 0x10000
    'B 10100 80 dictkeys 10020',
    'O 90020 16 48 17 0', // garbage, on no kept page
    'B 20100 80 dictkeys 90020', // its keys on page 0x20000
    'O 30020 16 48 1 0', // alive
    'B 20200 80 dictkeys 30020',
    'E 3 0 0 0 0', // every tracked object searched
  ];
  fs.writeFileSync(file, lines.join('\n') + '\n');
  const m = ingestPythonHeapMap(file, Float64Array.from([0x10000, 0x20000]), 4096, 1 << 20);
  assert.equal(Array.from(m.objects.addr), [0x10020]);
  assert.equal(Array.from(m.buffers.start), [0x10100, 0x20100, 0x20200]);
  assert.equal(Array.from(m.garbageBuffers!), [1, 1, 0]);
  assert.is(m.garbageUnsought, undefined);
  // a map whose agent did not search (too many tracked objects) says how many it left
  fs.writeFileSync(file, 'E 3 0 0 0 600000\n');
  assert.is(ingestPythonHeapMap(file, null, 4096, 1 << 20).garbageUnsought, 600000);
  fs.writeFileSync(file, 'E 3 0 0 0 -5\n');
  assert.is(ingestPythonHeapMap(file, null, 4096, 1 << 20).malformed, 1);
});

// The agent finds the garbage of the fork without collecting (a collection would run finalizers in its
// helper fork): the same tracked objects as the collector's own full collection with DEBUG_SAVEALL, on
// every Python of the tests, and the ints and strings only those held; nothing a global still reaches.
for (const { python, version } of testPythons())
  test(`Python ${version}: the agent's garbage is what a full collection frees, and what only it held`, () => {
    const script = `
import gc, sys
sys.path.insert(0, ${JSON.stringify(PYTHON_AGENT_DIR)})
import cowscope
gc.collect()  # what importing left (the planted garbage is all there is)
gc.disable()
alive = []
for i in range(3000):
    a = [(i + 1) * 1000003]; b = {"a": a, "s": "dead %d" % i}; a.append(b)
    c = [i * 1000033]; d = {"c": c, "s": "alive %d" % i}; c.append(d); alive.append(c)
del a, b, c, d
found = cowscope._garbage()
gc.set_debug(gc.DEBUG_SAVEALL)
freed = gc.collect()
tracked = set(map(id, gc.garbage))
held = {id(x) for o in gc.garbage if type(o) is list for x in o if type(x) is int}
held |= {id(v) for o in gc.garbage if type(o) is dict for v in o.values() if type(v) is str}
reached = {id(o) for c in alive for o in (c, c[0], c[1], c[1]["s"])}
print(freed, len(tracked), len(held), found == tracked | held, len(found & reached))
`;
    const r = spawnSync(python, ['-c', script], { encoding: 'utf8', timeout: 60_000 });
    assert.is(r.status, 0, r.stderr);
    // 6,000 tracked objects freed, with 3,000 ints and 3,000 strings
    assert.is(r.stdout.trim(), '6000 6000 6000 True 0');
  });

// The heap map is walked in a helper fork: whatever the helper makes before it takes the GC's objects
// (its file objects, a text layer's encoder, the bound __exit__ of a with statement, cells of the walk's
// closures, the locks Python's after-fork handlers replace, a ctypes function looked up on first use) the
// parent lacks, and the map listed it as a program object where the fork-time image holds free memory.
// Found on a worker whose new objects took such a block: the helper's IncrementalEncoder "changed", 1
// page py.mutation.object (3.11.7, about one run in 30). Every tracked object the map lists is one the
// parent holds after the map is written (threading imported, so that its after-fork handler has locks to
// replace).
for (const { python, version } of testPythons())
  test(`Python ${version}: the heap map lists no object of its helper fork's own`, () => {
    const map = path.join(tmp.dir, `helper-${version}.map`);
    const script = `
import gc, os, sys, threading
sys.path.insert(0, ${JSON.stringify(PYTHON_AGENT_DIR)})
import cowscope
keep = [[i] for i in range(1000)]
cowscope._write_heap_map(${JSON.stringify(map)})
alive = {id(o): type(o).__name__ for o in gc.get_objects()}
names, listed, extra = {}, 0, []
for line in open(${JSON.stringify(map)}):
    f = line.split()
    if f[0] == "T":
        names[f[1]] = f[2]
    elif f[0] == "O" and int(f[4]) & 3 == 1:  # tracked, not frozen (gc.get_objects() leaves those out)
        listed += 1
        if alive.get(int(f[1], 16)) != names[f[5]]:
            extra.append(names[f[5]])
print(listed > len(keep), sorted(extra))
`;
    const r = spawnSync(python, ['-c', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, COWSCOPE_CONFIG: JSON.stringify({ fd: 2 }) } });
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout.trim(), 'True []');
  });

test('ingest refuses a map over the size limit, naming the option', () => {
  const file = path.join(tmp.dir, 'big.txt');
  fs.writeFileSync(file, 'E 0 0\n'.repeat(100));
  assert.throws(() => ingestPythonHeapMap(file, new Float64Array(), 4096, 64), /raise --max-heap-map/);
});

test('ingest reads maps larger than its read chunk, lines split across chunks included', () => {
  const file = path.join(tmp.dir, 'long.txt');
  const n = 700_000; // about 20 MiB: more than one 16 MiB chunk
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, 'T 0 float\n');
  let text = '';
  for (let i = 0; i < n; i++) {
    text += `O ${(0x100000 + i * 32).toString(16)} 0 24 0 0\n`;
    if (text.length > 1 << 20) {
      fs.writeSync(fd, text);
      text = '';
    }
  }
  fs.writeSync(fd, `${text}E ${n} 0\n`);
  fs.closeSync(fd);
  const pages = Float64Array.from({ length: Math.ceil((n * 32) / 4096) }, (_, i) => 0x100000 + i * 4096);
  const m = ingestPythonHeapMap(file, pages, 4096, 1 << 30);
  assert.is(m.objects.addr.length, n);
  assert.is(m.malformed, 0);
  assert.is(m.total, n);
});

test('pool headers: a real header validates, anything else does not', () => {
  // szidx 1 (32-byte blocks), arena 5; nextoffset 48 + 10 blocks, maxnextoffset 16384 - 32
  const sz = (szidx: number, arena = 5) => (BigInt(szidx) << 32n) | BigInt(arena);
  const offs = (next: number, max: number) => (BigInt(max) << 32n) | BigInt(next);
  assert.equal(validPool(sz(1), offs(48 + 320, 16384 - 32)), { blockSize: 32, nextOffset: 368 });
  assert.equal(validPool(sz(31), offs(48, 16384 - 512)), { blockSize: 512, nextOffset: 48 });
  assert.is(validPool(sz(32), offs(48, 16384 - 528)), undefined); // no 33rd size class
  assert.is(validPool(sz(1), offs(50, 16384 - 32)), undefined); // not a block boundary
  assert.is(validPool(sz(1), offs(48, 16384 - 48)), undefined); // max does not match the class
  assert.is(validPool(0n, 0n), undefined);
});

test('version table: 3.11 to 3.13 by minor version, others outside', () => {
  assert.is(pythonLayoutFor('3.11.2')?.codeAdaptive, 184);
  assert.is(pythonLayoutFor('3.12.1')?.refcount, 'u32');
  assert.is(pythonLayoutFor('3.13.0')?.codeAdaptive, 200);
  assert.is(pythonLayoutFor('3.10.13'), undefined);
  assert.is(pythonLayoutFor('3.14.0'), undefined);
});

test('the live agent\'s layouts.json is the version table the run agent gets in its config', () => {
  // live mode has no config: the agent reads this copy (regenerate it from AGENT_LAYOUTS when the table changes)
  assert.equal(JSON.parse(fs.readFileSync(path.join(PYTHON_AGENT_DIR, 'layouts.json'), 'utf8')), AGENT_LAYOUTS);
});

test('a whole-map ingest (pages null, live mode) keeps every entry and counts lines', () => {
  const tmp = tempDir('pywhole');
  try {
    const file = path.join(tmp.dir, 'map');
    fs.writeFileSync(file, 'T 0 dict\nO 10000 16 64 1 0\nO 900000 0 32 8 0\nB 20000 100 dictkeys 10000\nbad line\nE 2 0 0\n');
    const m = ingestPythonHeapMap(file, null, 4096, 1 << 20);
    assert.equal(Array.from(m.objects.addr), [0x10000, 0x900000]);
    assert.equal(Array.from(m.objects.state), [1, 8]);
    assert.is(m.buffers.start.length, 1);
    assert.is(m.lines, 6);
    assert.is(m.malformed, 1);
  } finally {
    tmp.remove();
  }
});

test.run();
