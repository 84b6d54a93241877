// Parsers on recorded /proc text (fixtures/proc/, recorded from the C fixture on Linux 6.18), and on
// malformed text: every malformed input must raise ParseError naming the line, never parse partially.

import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import { markBss } from '../native/bss';
import { pageSize } from '../native/probe';
import { readMaps } from '../native/proc';
import * as assert from 'uvu/assert';
import { ParseError, parseMaps, parseSmaps, parseSmapsRollup, parseStat } from '../native/procfs-parse';
import { regionsOf } from '../analyzers/regions';
import { ROOT } from './helpers/family';

const rec = (name: string) => fs.readFileSync(path.join(ROOT, 'fixtures', 'proc', name), 'utf8');

test('maps: every line of a recorded maps file', () => {
  const vmas = parseMaps(rec('cow_family.maps'));
  assert.is(vmas.length, 25);
  assert.equal(vmas[0], {
    start: 0x5587c5136000,
    end: 0x5587c5137000,
    perms: 'r--p',
    offset: 0,
    dev: 'fe:00',
    inode: 5309200,
    path: '/src/cowscope/build/fixtures/cow_family',
  });
  assert.is(vmas[5].path, '[heap]');
  assert.is(vmas[6].path, '', 'anonymous mapping has an empty path');
  assert.is(vmas[24].path, '[vsyscall]');
});

test('maps: paths with spaces and (deleted) are kept whole', () => {
  const [v] = parseMaps('7f0000000000-7f0000001000 rw-s 00000000 00:01 1234    /dev/shm/my file (deleted)\n');
  assert.is(v.path, '/dev/shm/my file (deleted)');
  assert.is(v.perms, 'rw-s');
});

test('maps: malformed lines raise ParseError with the line number', () => {
  for (const bad of [
    '5587c5136000 r--p 00000000 fe:00 5309200 /x', // no end address
    '5587c5136000-5587c5137000 rwzp 00000000 fe:00 1 /x', // bad perms
    '5587c5137000-5587c5136000 r--p 00000000 fe:00 1 /x', // end below start
    'garbage',
    '5587c5136000-5587c5137000 r--p 00000000 fe:00', // truncated
  ]) {
    try {
      parseMaps(`7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n${bad}\n`, '/proc/1/maps');
      assert.unreachable(`accepted: ${bad}`);
    } catch (e) {
      assert.instance(e, ParseError);
      assert.match((e as Error).message, /^\/proc\/1\/maps line 2: expected/);
    }
  }
});

test('smaps: fields in bytes and VmFlags for each mapping', () => {
  const vmas = parseSmaps(rec('cow_family.smaps'));
  assert.is(vmas.length, 25);
  assert.is(vmas[0].fields.Rss, 4 * 1024);
  assert.is(vmas[0].fields.Pss, 2 * 1024);
  assert.is(vmas[0].fields.THPeligible, 0, 'unitless fields stay as they are');
  assert.equal(vmas[0].vmFlags, ['rd', 'mr', 'mw', 'me']);
  const sum = (k: string) => vmas.reduce((n, v) => n + (v.fields[k] ?? 0), 0);
  const rollup = parseSmapsRollup(rec('cow_family.smaps_rollup'));
  assert.is(sum('Rss'), rollup.rss, 'per-mapping Rss adds up to the rollup');
  assert.is(sum('Private_Dirty') + sum('Private_Clean'), rollup.uss);
});

test('smaps_rollup: totals and USS as smem computes it', () => {
  const r = parseSmapsRollup(rec('cow_family.smaps_rollup'));
  assert.is(r.rss, 1704 * 1024);
  assert.is(r.pss, 354 * 1024);
  assert.is(r.uss, (0 + 56) * 1024);
  assert.is(r.swap, 0);
});

test('smaps_rollup: malformed or truncated text is refused', () => {
  const good = rec('cow_family.smaps_rollup');
  assert.throws(() => parseSmapsRollup(''), (e: unknown) => e instanceof ParseError);
  assert.throws(() => parseSmapsRollup(good.split('\n').slice(0, 3).join('\n')), /Private_Clean/);
  assert.throws(() => parseSmapsRollup(good.replace('Pss:                 354 kB', 'Pss: lots')), (e: unknown) => e instanceof ParseError);
  assert.throws(() => parseSmapsRollup(good + good), /exactly one/);
  assert.throws(() => parseSmaps('Rss: 4 kB\n'), /mapping line before/);
});

test('stat: comm with spaces and parentheses, and the fields cowscope uses', () => {
  const s = parseStat(rec('cow_family.stat'));
  assert.equal(
    { pid: s.pid, comm: s.comm, state: s.state, ppid: s.ppid, threads: s.threads, startTime: s.startTime },
    { pid: 4129, comm: 'cow_family', state: 'S', ppid: 1, threads: 1, startTime: 54292 },
  );
  const odd = rec('cow_family.stat').replace('(cow_family)', '(a) b (c))');
  assert.is(parseStat(odd).comm, 'a) b (c)');
  assert.is(parseStat(odd).ppid, 1);
  assert.throws(() => parseStat('4129 cow_family S 1'), (e: unknown) => e instanceof ParseError);
  assert.throws(() => parseStat('4129 (x) S 1 2 3'), /at least 22 fields/);
});

test('regions: heap, anon, stack, .data/.bss/relro and text from a recorded maps file', () => {
  const vmas = parseMaps(rec('cow_family.maps'));
  const regions = regionsOf(vmas);
  const at = (i: number) => `${vmas[i].perms} ${vmas[i].path || '(anon)'} -> ${regions[i]}`;
  assert.is(at(1), 'r-xp /src/cowscope/build/fixtures/cow_family -> file-text');
  assert.is(at(3), 'r--p /src/cowscope/build/fixtures/cow_family -> file-data', 'relro: the r--p just before rw-p');
  assert.is(at(4), 'rw-p /src/cowscope/build/fixtures/cow_family -> file-data');
  assert.is(at(5), 'rw-p [heap] -> malloc-heap');
  assert.is(at(11), 'rw-p /usr/lib/x86_64-linux-gnu/libc.so.6 -> file-data');
  assert.is(at(12), 'rw-p (anon) -> file-data', 'libc .bss follows its .data');
  assert.is(at(13), 'rw-p (anon) -> anon');
  assert.is(at(23), 'rw-p [stack] -> stack');
});

test('regions: a glibc arena (64 MiB-aligned rw-p + ---p rest of the reservation) is malloc heap', () => {
  const vmas = parseMaps(
    ['7f1c00000000-7f1c00021000 rw-p 00000000 00:00 0', '7f1c00021000-7f1c04000000 ---p 00000000 00:00 0', '7f1c08000000-7f1c08001000 rw-p 00000000 00:00 0'].join('\n'),
  );
  assert.equal(regionsOf(vmas), ['malloc-heap', 'anon', 'anon']);
});

test('.bss: the anonymous mapping after libc\'s data is its .bss as far as its ELF headers say, and a mapping merged onto it is split there', () => {
  const maps = readMaps(process.pid);
  const i = maps.findIndex((v, k) => k > 0 && v.inode === 0 && v.path === '' && v.perms === 'rw-p' && maps[k - 1].path.includes('libc.so') && maps[k - 1].perms === 'rw-p' && maps[k - 1].end === v.start);
  assert.ok(i > 0, "libc's .bss mapping found in this process's maps");
  const [data, found] = [maps[i - 1], maps[i]];
  // The kernel may already have merged another anonymous mapping onto it in this process (node's own
  // mmaps land there now and then): then the mapping found is split where the headers end the .bss.
  const first = markBss([data, found], pageSize);
  assert.equal(first[0], data);
  assert.equal(first[1], { ...found, end: first[1].end, bss: true }, 'the .bss from the mapping found');
  if (first.length === 3) assert.equal(first[2], { ...found, start: first[1].end, offset: 0, bss: false }, 'the mapping merged onto it');
  else assert.is(first.length, 2);
  const bss = { ...found, end: first[1].end };
  // as the loader mapped it: all .bss
  assert.equal(markBss([data, bss], pageSize), [data, { ...bss, bss: true }]);
  // another anonymous mapping the kernel merged onto it (a malloc'd block placed right after): split at
  // the loader's end, the rest is plain anonymous memory
  const merged = { ...bss, end: bss.end + (1 << 20) };
  const marked = markBss([data, merged], pageSize);
  assert.equal(marked, [data, { ...bss, bss: true }, { ...bss, start: bss.end, end: merged.end, bss: false }]);
  assert.equal(regionsOf(marked), ['file-data', 'file-data', 'anon']);
  // past the .bss altogether (a library whose .bss fits in its last file page): anonymous
  const after = { ...bss, start: bss.end, end: bss.end + 4 * pageSize };
  assert.equal(markBss([{ ...data, end: bss.end }, after], pageSize)[1].bss, false);
});

test.run();
