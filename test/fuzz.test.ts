// Seeded mutational fuzzing of every file cowscope reads (test/helpers/fuzz.ts): capture files through
// `cowscope report` (in-process, plus ~20 cases through the real CLI under /usr/bin/time), cowscope.json
// configs, heap-map lines, and a property test of the /proc parsers. The seed captures are made here:
// one `cowscope run --save` of fixtures/ruby/noop.rb, and a capture of the C fixture family.
//
// Deterministic: COWSCOPE_FUZZ_SEED (default below) and the case number derive every case; a failure
// prints both and the mutations. `node dist/bench/fuzz.js CASES [SEED]` runs longer.

import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { captureProcesses, checkTarget, Role } from '../native/capture';
import { saveCapture } from '../native/capture-file';
import { ROOT, startFamily, stopAll } from './helpers/family';
import { ParseError, parseMaps, parseSmaps, parseStat } from '../native/procfs-parse';
import { parseSize } from '../cli/budget-config';
import { RUBY_FIXTURES, leftoverRunDirs, runCowscope, rubyFixtureProcesses, tempDir } from './helpers/ruby';
import { assertBounded, runMeasured } from './helpers/measured';
import {
  CaptureSeed,
  FuzzFailure,
  Rng,
  captureCase,
  caseBytes,
  captureSeed,
  checkCaptureInput,
  checkConfigCase,
  checkHeapMapCase,
  checkProcfsCase,
  configCase,
  describeCase,
  heapMapCase,
  procfsCase,
} from './helpers/fuzz';

const SEED = Number(process.env.COWSCOPE_FUZZ_SEED ?? 0x13c0ffee);
const CAPTURE_CASES = 3000;
const CONFIG_CASES = 300;
const HEAP_MAP_CASES = 150;
const PROCFS_CASES = 1000;
const CLI_CASES = 20;

const tmp = tempDir('fuzz');
test.after(async () => {
  await stopAll();
  tmp.remove();
});
test.after.each(() => {
  // (of this checkout: another one on the machine may be running its own)
  assert.equal(rubyFixtureProcesses().filter((p) => p.includes(ROOT)), [], 'no Ruby process left behind');
  assert.equal(leftoverRunDirs(), [], 'no temporary folder left behind');
});

const seeds: CaptureSeed[] = [];
const longest = { ms: 0, what: '' };

function track(ms: number, what: string): void {
  if (ms > longest.ms) Object.assign(longest, { ms, what });
}

/** Runs a case; a property violation fails with the seed, the case and its mutations. */
function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof FuzzFailure) assert.unreachable(`fuzz failure (replay with COWSCOPE_FUZZ_SEED=${SEED}): ${e.message}`);
    throw e;
  }
}

test('seed captures: a run of noop.rb, and the C fixture family as a run', async () => {
  const noop = path.join(tmp.dir, 'noop.cow');
  const r = runCowscope(['run', '--save', noop, path.join(RUBY_FIXTURES, 'noop.rb')]);
  assert.is(r.status, 0, r.stderr);
  seeds.push(captureSeed('run of noop.rb', fs.readFileSync(noop)));

  // The C family: parent, a twin that wrote nothing (the "reference"), children that wrote pages.
  const family = await startFamily(['--pages', '48', '--zero', '4', '--child', '', '--child', '0-9:3', '--child', '20-29/2', '--parent', '40-43']);
  try {
    const [twin, ...children] = family.info.children;
    const roles = new Map<number, Role>([[family.info.pid, 'parent'], [twin, 'reference'], ...children.map((c): [number, Role] => [c, 'child'])]);
    const capture = await captureProcesses([...roles.keys()].map(checkTarget), { roles, command: ['fuzz'] });
    capture.runtime = { name: 'ruby', version: '3.3.0', platform: 'x86_64-linux', heapPageSize: 65536, slotSize: 40 };
    capture.run = {
      parent: family.info.pid,
      reference: twin,
      children,
      strategy: 'none',
      strategyLabel: 'none',
      strategySeconds: 0,
      heapMapSeconds: 0,
      threadsAtFork: [{ name: 'main', status: 'run' }],
      osThreadsAtFork: 1,
      gcCountAtFork: 0,
      workload: 'the C fixture family',
      requestsServed: children.map(() => 0),
      gcRuns: children.map(() => 0),
    };
    const file = path.join(tmp.dir, 'family.cow');
    saveCapture(file, capture);
    seeds.push(captureSeed('C fixture family', fs.readFileSync(file)));
  } finally {
    await family.stop();
  }
  for (const s of seeds) {
    const r0 = checkCaptureInput({ doc: s.doc }, new Rng(1), `the unmutated ${s.name}`);
    assert.ok(r0.accepted, `the unmutated ${s.name} is accepted: ${r0.message}`);
    assert.ok(checkCaptureInput({ gz: s.gz }, new Rng(2), `the unmutated ${s.name} (gzip)`).accepted);
  }
});

test(`capture files: ${CAPTURE_CASES} mutated captures through load, check and report, in-process`, () => {
  assert.ok(seeds.length === 2, 'seed captures made');
  let accepted = 0;
  const t0 = Date.now();
  for (let n = 0; n < CAPTURE_CASES; n++) {
    const { rng, c } = captureCase(seeds, SEED, n);
    const what = describeCase(SEED, n, c);
    const r = guarded(() => checkCaptureInput(c.input, rng, what));
    if (r.accepted) accepted++;
    track(r.ms, what);
  }
  const seconds = (Date.now() - t0) / 1000;
  console.log(`  capture cases: ${CAPTURE_CASES} in ${seconds.toFixed(1)} s, ${accepted} accepted and reported, ${CAPTURE_CASES - accepted} refused with one line`);
  assert.ok(accepted > CAPTURE_CASES * 0.05, `some mutated captures are still valid and get reported (${accepted})`);
  assert.ok(accepted < CAPTURE_CASES * 0.9, `most mutations are refused (${accepted} accepted)`);
});

test(`budget configs: ${CONFIG_CASES} mutated cowscope.json files`, () => {
  const base = {
    program: path.join(RUBY_FIXTURES, 'noop.rb'),
    children: 2,
    repeat: 1,
    strategy: 'gc',
    workload: path.join(RUBY_FIXTURES, 'noop.rb'),
    budgets: { copiedPerChild: '24MiB', newPerChild: 4096, sharedRatio: 0.9, causes: { 'string.coderange': '1MiB' } },
    baseline: 'baseline.json',
    tolerance: '5%',
  };
  const rack = { rack: { config: path.join(RUBY_FIXTURES, 'rack', 'config.ru'), requests: ['GET /'], count: 3 }, budgets: { sharedRatio: 0.5 }, tolerance: '1MiB' };
  const file = path.join(tmp.dir, 'cowscope.json');
  let accepted = 0;
  for (let n = 0; n < CONFIG_CASES; n++) {
    const c = configCase(n % 3 === 2 ? rack : base, SEED, n);
    const what = `config case ${n} (seed ${SEED}): ${c.ops.join('; ')}`;
    const r = guarded(() => checkConfigCase(file, c.text, what));
    if (r.accepted) accepted++;
    track(r.ms, what);
  }
  console.log(`  config cases: ${CONFIG_CASES}, ${accepted} accepted`);
  assert.ok(accepted > 0 && accepted < CONFIG_CASES);
});

test(`heap maps: ${HEAP_MAP_CASES} mutated ObjectSpace.dump_all files through the ingest`, () => {
  const lines = fs.readFileSync(path.join(ROOT, 'fixtures', 'heapdump', 'ruby31-sample.jsonl'), 'latin1').split('\n');
  const file = path.join(tmp.dir, 'heap.jsonl');
  for (let n = 0; n < HEAP_MAP_CASES; n++) {
    const c = heapMapCase(lines, SEED, n);
    const what = `heap map case ${n} (seed ${SEED}): ${c.ops.join('; ')}`;
    track(guarded(() => checkHeapMapCase(file, c, what)).ms, what);
  }
});

test(`procfs parsers: ${PROCFS_CASES} random and mutated /proc texts`, () => {
  const dir = path.join(ROOT, 'fixtures', 'proc');
  const samples = fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
  let accepted = 0;
  for (let n = 0; n < PROCFS_CASES; n++) {
    const c = procfsCase(samples, SEED, n);
    const what = `procfs case ${n} (seed ${SEED}): ${c.ops.join('; ')}`;
    const r = guarded(() => checkProcfsCase(c.text, what));
    if (r.accepted) accepted++;
    track(r.ms, what);
  }
  assert.ok(accepted > 0);
});

test(`the real CLI: ${CLI_CASES} mutated captures through cowscope report: exit 0 or 2 as in-process, no stack trace, < 20 s, < 1 GiB`, () => {
  // Half that the in-process check accepted, half that it refused: the CLI must agree.
  const picked: { n: number; accepted: boolean }[] = [];
  for (let n = 1_000_000; picked.length < CLI_CASES && n < 1_010_000; n++) {
    const { rng, c } = captureCase(seeds, SEED, n);
    const r = guarded(() => checkCaptureInput(c.input, rng, describeCase(SEED, n, c)));
    if (picked.filter((p) => p.accepted === r.accepted).length < CLI_CASES / 2) picked.push({ n, accepted: r.accepted });
  }
  assert.is(picked.length, CLI_CASES);
  const file = path.join(tmp.dir, 'case.cow');
  let slowest = 0;
  for (const { n, accepted } of picked) {
    const { c } = captureCase(seeds, SEED, n);
    const what = describeCase(SEED, n, c);
    fs.writeFileSync(file, caseBytes(c));
    const r = runMeasured(tmp.dir, ['report', file]);
    assertBounded(r, what);
    assert.is(r.status, accepted ? 0 : 2, `${what}: the CLI ${r.status === 0 ? 'accepted' : 'refused'} what the in-process check ${accepted ? 'accepted' : 'refused'}: ${r.stderr}`);
    slowest = Math.max(slowest, r.seconds);
  }
  console.log(`  CLI cases: ${CLI_CASES}, slowest ${slowest.toFixed(2)} s`);
  console.log(`  longest in-process case: ${longest.ms.toFixed(0)} ms: ${longest.what.slice(0, 300)}`);
});

test('crashers the fuzzer found stay fixed', () => {
  const stat = fs.readFileSync(path.join(ROOT, 'fixtures', 'proc', 'cow_family.stat'), 'utf8');
  assert.is(parseStat(stat).threads, 1, 'the recorded stat parses');
  // threads 2^64 (was accepted as 18446744073709552000), a pid that is no number (was NaN), 1.5
  assert.throws(() => parseStat(stat.replace(' 20 0 1 0 ', ' 20 0 18446744073709551616 0 ')), (e: Error) => e instanceof ParseError && /a whole number in field 20/.test(e.message));
  assert.throws(() => parseStat(`x${stat}`), (e: Error) => e instanceof ParseError && /a whole number in field 1/.test(e.message));
  assert.throws(() => parseStat(stat.replace(' 1 4124 ', ' 1.5 4124 ')), (e: Error) => e instanceof ParseError);
  // 20 hex digits of address (was 1.2e24), an inode of 400 digits (was Infinity), an unaligned end that rounds to 2^64
  const line = '5587c5136000-5587c5137000 r--p 00000000 fe:00 5309200   /bin/x';
  assert.is(parseMaps(line)[0].start, 0x5587c5136000);
  assert.throws(() => parseMaps(line.replace('5587c5137000', 'fffff5587c5137000000')), (e: Error) => e instanceof ParseError);
  assert.throws(() => parseMaps(line.replace('5309200', '9'.repeat(400))), (e: Error) => e instanceof ParseError);
  assert.throws(() => parseMaps(line.replace('5587c5137000', 'ffffffffffffffff')), (e: Error) => e instanceof ParseError);
  // an smaps field of 400 digits (was Infinity bytes)
  assert.throws(() => parseSmaps(`${line}\nRss: ${'9'.repeat(400)} kB\n`), (e: Error) => e instanceof ParseError && /a size that fits a number/.test(e.message));
  // sizes in cowscope.json: 400 digits were Infinity, a unit named like an Object method was NaN
  assert.equal([parseSize('9'.repeat(400)), parseSize('1constructor'), parseSize('3 hasOwnProperty')], [undefined, undefined, undefined]);
});

test.run();
