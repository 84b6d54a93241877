// Fault tracing against ground truth: a C child that copies known pages from known functions (the first
// writer of each copied page is that function, page by page), the same with only .dynsym (approximate),
// a Ruby run whose writers add up per cause and survive save/report, and tracing refused (uid 65534,
// perf_event_paranoid 2): the report says so and its totals still add up.

import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FaultTrace, faultTracingAvailability } from '../native/faults';
import { Symbolizer } from '../native/elf-symbols';
import { firstWriters } from '../gather/faults';
import { WRITER_FRAMES } from '../native/capture';
import { loadCapture } from '../native/capture-file';
import { readPagemap, PageFlag } from '../native/probe';
import { readMaps } from '../native/proc';
import { ROOT, isRoot, runCli } from './helpers/family';
import { RUBY_FIXTURES, leftoverRunDirs, rubyFixtureProcesses, runCowscope, tempDir } from './helpers/ruby';
import { AS_NOBODY, Stage, stagePackage } from './helpers/stage';
import { assertRequestCurve } from './helpers/request-curve';

const SRC = path.join(ROOT, 'fixtures', 'fault_writers.c');
const BIN = path.join(ROOT, 'dist', 'fixtures', 'fault_writers');
const BIN_DYNSYM = path.join(ROOT, 'dist', 'fixtures', 'fault_writers_dynsym');
const N = 16; // write_a: even pages < 2N, write_b: odd pages < 2N, read(2): 2N … 2N+N/2-1
const tmp = tempDir('faults');
let stage: Stage | undefined;
const started = new Set<ChildProcess>();

test.before(() => {
  fs.mkdirSync(path.dirname(BIN), { recursive: true });
  const flags = ['-O2', '-fno-omit-frame-pointer', '-Wall', '-Wextra'];
  execFileSync('cc', [...flags, '-static', '-o', BIN, SRC], { stdio: 'inherit' });
  // Dynamic, exported functions (-rdynamic), every section table but .dynsym stripped (-s).
  execFileSync('cc', [...flags, '-rdynamic', '-s', '-o', BIN_DYNSYM, SRC], { stdio: 'inherit' });
});

test.after(() => {
  tmp.remove();
  stage?.remove();
  for (const p of started) p.kill('SIGKILL');
});

interface Info {
  pid: number;
  child: number;
  base: number;
  pageSize: number;
  pages: number;
}

/** Starts the fixture, traces its stopped child from the continue until it reports done and stops
 *  again, and returns the samples with the child's copied pages (by frame: root) and maps. */
async function traceFixture(bin: string) {
  const proc = spawn(bin, [String(N)], { stdio: ['pipe', 'pipe', 'inherit'] });
  started.add(proc);
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      wake?.();
    }
  });
  const line = async (k: number) => {
    while (lines.length <= k) await new Promise<void>((r) => (wake = r));
    return lines[k];
  };
  const info = JSON.parse(await line(0)) as Info;
  const trace = FaultTrace.open(info.child);
  trace.enable();
  process.kill(info.child, 'SIGCONT');
  assert.equal(JSON.parse(await line(1)), { done: true });
  while (fs.readFileSync(`/proc/${info.child}/stat`, 'utf8').split(') ')[1][0] !== 'T') await new Promise((r) => setTimeout(r, 5));
  const samples = trace.collect();
  trace.close();
  const starts = Float64Array.of(info.base);
  const ends = Float64Array.of(info.base + info.pages * info.pageSize);
  const parent = readPagemap(info.pid, starts, ends);
  const child = readPagemap(info.child, starts, ends);
  const copied: number[] = [];
  for (let i = 0; i < info.pages; i++)
    if (parent.flags[i] & PageFlag.present && child.flags[i] & PageFlag.present && parent.pfn[i] !== child.pfn[i]) copied.push(i);
  const maps = readMaps(info.child);
  proc.stdin!.end();
  await new Promise((r) => proc.once('exit', r));
  started.delete(proc);
  return { info, samples, copied, maps };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

/** The names nm gives the address of `symbol` in a binary (read(2)'s wrapper has aliases). */
function aliasesOf(bin: string, symbol: string, dynamic = false): string[] {
  const rows = execFileSync('nm', [...(dynamic ? ['-D'] : []), bin], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((r) => r.length === 3);
  const at = rows.find((r) => r[2] === symbol)?.[0];
  return rows.filter((r) => r[0] === at).map((r) => r[2].replace(/@.*/, ''));
}

test('the first writer of each copied page is the function that wrote it (.symtab: exact)', async () => {
  if (!isRoot()) assert.unreachable('frames (copied pages) and fault tracing need root here (CI runs as root)');
  const { info, samples, copied, maps } = await traceFixture(BIN);
  // Ground truth from the kernel: exactly the planted pages were copied.
  assert.equal(copied, range(0, 2 * N + N / 2));
  assert.is(samples.lost, 0);
  assert.ok(samples.count >= copied.length, `${samples.count} faults sampled`);
  const addrs = Float64Array.from(copied, (i) => info.base + i * info.pageSize);
  const w = firstWriters(info.child, samples, addrs, new Symbolizer(maps), info.pageSize);
  assert.equal(Array.from(w.addrs), Array.from(addrs), 'every copied page has a first fault after the continue');
  const reads = aliasesOf(BIN, 'read');
  for (let k = 0; k < copied.length; k++) {
    const page = copied[k];
    const f = w.functions[w.fn[k * WRITER_FRAMES]];
    assert.is(f.file, fs.realpathSync(BIN), `page ${page}: in the fixture`);
    assert.is(f.approximate, false, `page ${page}: named from .symtab`);
    if (page < 2 * N) {
      assert.is(f.name, page % 2 ? 'write_b' : 'write_a', `page ${page}`);
      assert.is(w.kernel[k], 0, `page ${page}: a user-mode write`);
    } else {
      assert.ok(reads.includes(f.name), `page ${page}: read(2) wrote it, named ${f.name} (nm: ${reads.join(', ')})`);
      assert.is(w.kernel[k], 1, `page ${page}: written by the kernel`);
    }
  }
  // Times count from the continue and follow the order of the writes: write_a's pages, then write_b's.
  const t = (page: number) => w.ns[copied.indexOf(page)];
  assert.ok(t(0) > 0 && t(2 * N - 2) < t(1) && t(2 * N - 1) < t(2 * N), 'first faults in program order');
});

test('with .dynsym only: the same writers, marked approximate', async () => {
  if (!isRoot()) assert.unreachable('frames (copied pages) and fault tracing need root here (CI runs as root)');
  const { info, samples, copied, maps } = await traceFixture(BIN_DYNSYM);
  assert.equal(copied, range(0, 2 * N + N / 2));
  const addrs = Float64Array.from(copied, (i) => info.base + i * info.pageSize);
  const w = firstWriters(info.child, samples, addrs, new Symbolizer(maps), info.pageSize);
  assert.is(w.addrs.length, copied.length);
  for (let k = 0; k < 2 * N; k++) {
    const f = w.functions[w.fn[k * WRITER_FRAMES]];
    assert.equal([f.name, f.approximate, f.file], [k % 2 ? 'write_b' : 'write_a', true, fs.realpathSync(BIN_DYNSYM)], `page ${k}`);
  }
  // read(2)'s pages: the writer is in the C library.
  for (let k = 2 * N; k < copied.length; k++) assert.match(w.functions[w.fn[k * WRITER_FRAMES]].file, /\/libc\.so/, `page ${copied[k]}`);
});

test('availability follows root, CAP_PERFMON and perf_event_paranoid', () => {
  const paranoid = Number(fs.readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8'));
  const a = faultTracingAvailability();
  assert.is(a.paranoid, paranoid);
  if (!isRoot()) return;
  // Root holds CAP_PERFMON where the kernel knows it (5.8+), else CAP_SYS_ADMIN decides.
  const caps = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]}`);
  assert.equal([a.available, a.why], [true, (caps >> 38n) & 1n ? 'CAP_PERFMON (root has it)' : 'CAP_SYS_ADMIN (root has it)']);
});

test('run: writers per cause add up to each cause, and survive save and report', () => {
  if (!isRoot()) assert.unreachable('fault tracing needs root here (CI runs as root)');
  const save = path.join(tmp.dir, 'mutate.cow');
  const planted = path.join(tmp.dir, 'planted.txt');
  const r = runCowscope(['run', '--json', '--save', save, path.join(RUBY_FIXTURES, 'mutate.rb')], { COWSCOPE_FIXTURE_OUT: planted });
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  const capture = loadCapture(save);
  const slotPages = new Set(fs.readFileSync(planted, 'utf8').trim().split('\n').map(Number));
  for (const c of report.children) {
    const w = c.writers;
    assert.ok(w.traced, w.why);
    assert.is(w.pagesWithWriter + w.pagesWithoutWriter, c.pages.copied);
    assert.is(w.byCause.reduce((n: number, x: { pages: number }) => n + x.pages, 0), c.pages.copied, 'causes add up to the copied pages');
    for (const x of w.byCause) {
      assert.is(x.writers.reduce((n: number, y: { pages: number }) => n + y.pages, 0) + x.noFault, x.pages, `${x.cause}: writers and no-fault pages add up`);
      assert.is(x.pages, c.blame.find((b: { cause: string }) => b.cause === x.cause).pages, `${x.cause}: the blame's page count`);
    }
    // The planted string slots are written by the interpreter: appending to the strings (or allocating
    // on their GC heap page) — code of the Ruby binary or its library, never of the C library.
    const cw = capture.faults!.children.find((x) => x.pid === c.pid)!;
    let seen = 0;
    for (let k = 0; k < cw.addrs.length; k++) {
      if (!slotPages.has(cw.addrs[k])) continue;
      seen++;
      assert.match(cw.functions[cw.fn[k * WRITER_FRAMES]].file, /\/(libruby[^/]*\.so[^/]*|ruby)$/, `slot page ${cw.addrs[k]}`);
    }
    assert.ok(seen >= slotPages.size * 0.9, `${seen} of ${slotPages.size} planted pages had a first fault after the continue`);
    const strings = w.byCause.find((x: { cause: string }) => x.cause === 'mutation.string');
    // the slots are written by a String function (rb_str_modify on 3.1); the appended bytes land in the
    // malloc'd buffers through the C library's memcpy: both among the top writers
    const top = strings.writers.slice(0, 3).map((x: { function: string }) => x.function);
    assert.ok(top.some((f: string) => /str/.test(f)), `a String function among ${top.join(', ')}`);
    assert.ok(top.some((f: string) => /memcpy|memmove/.test(f)), `memcpy writing the buffers among ${top.join(', ')}`);
    // the curve: pages never decrease with time, and ends at every page with a writer
    for (let i = 1; i < w.curve.length; i++) assert.ok(w.curve[i].ms >= w.curve[i - 1].ms && w.curve[i].pages > w.curve[i - 1].pages);
    assert.is(w.curve[w.curve.length - 1].pages, w.pagesWithWriter);
  }
  const again = runCli(['report', save, '--json']);
  assert.is(again.status, 0, again.stderr);
  assert.equal(
    JSON.parse(again.stdout).children.map((c: { writers: unknown }) => c.writers),
    report.children.map((c: { writers: unknown }) => c.writers),
  );
  const text = runCli(['report', save]);
  assert.match(text.stdout, /First writers of child \d+ \(page faults traced since it was continued: \d+ sampled, 0 lost\)/);
});

test('run --rack: copied pages against requests served, exact on a buffer each request copies one page of', () => {
  if (!isRoot()) assert.unreachable('fault tracing needs root here (CI runs as root)');
  const save = path.join(tmp.dir, 'pages.cow');
  const out = path.join(tmp.dir, 'buffer.txt');
  const requests = 40;
  const r = runCowscope(['run', '--json', '--save', save, '--rack', path.join(RUBY_FIXTURES, 'rack', 'pages.ru'), '--request', 'GET /', '--requests', String(requests)], {
    COWSCOPE_FIXTURE_OUT: out,
  });
  assert.is(r.status, 0, r.stderr);
  assertRequestCurve(loadCapture(save), JSON.parse(r.stdout).children, out, requests);
  const text = runCli(['report', save]);
  assert.match(text.stdout, new RegExp(`copied pages against requests served: .* after ${requests}\\n`));
});

test('run --no-trace-faults: no writers, the report says so and still adds up', () => {
  const r = runCowscope(['run', '--json', '--no-trace-faults', path.join(RUBY_FIXTURES, 'mutate.rb')]);
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.ok(report.notes.includes('fault tracing did not run: turned off (--no-trace-faults); copied pages have no first writer'), report.notes.join('\n'));
  for (const c of report.children) {
    assert.equal([c.writers.traced, c.writers.pagesWithWriter, c.writers.pagesWithoutWriter], [false, 0, c.pages.copied]);
    assert.is(c.blame.reduce((n: number, b: { pages: number }) => n + b.pages, 0), c.pages.copied);
  }
});

test('as uid 65534 with perf_event_paranoid 2: tracing unavailable, doctor and run say why, totals add up', () => {
  if (!isRoot()) assert.unreachable('this test switches users with setpriv and needs root (CI runs as root)');
  const paranoid = Number(fs.readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8'));
  if (paranoid <= 1) assert.unreachable(`perf_event_paranoid is ${paranoid}: unprivileged tracing is allowed here, this test needs 2 or more`);
  stage = stagePackage();
  // run needs the agent and a temporary folder nobody may write
  fs.cpSync(path.join(ROOT, 'runtimes', 'ruby', 'agent'), path.join(stage.dir, 'runtimes', 'ruby', 'agent'), { recursive: true });
  fs.chmodSync(path.join(stage.dir, 'runtimes'), 0o755);
  fs.chmodSync(path.join(stage.dir, 'runtimes', 'ruby'), 0o755);
  for (const f of fs.readdirSync(path.join(stage.dir, 'runtimes', 'ruby', 'agent'))) fs.chmodSync(path.join(stage.dir, 'runtimes', 'ruby', 'agent', f), 0o644);
  fs.chmodSync(path.join(stage.dir, 'runtimes', 'ruby', 'agent'), 0o755);
  const program = path.join(stage.dir, 'mutate.rb');
  fs.copyFileSync(path.join(RUBY_FIXTURES, 'mutate.rb'), program);
  fs.chmodSync(program, 0o644);
  const scratch = path.join(stage.dir, 'tmp');
  fs.mkdirSync(scratch, { mode: 0o1777 });
  fs.chmodSync(scratch, 0o1777);
  const asNobody = [...AS_NOBODY, 'env', `TMPDIR=${scratch}`];
  const why = `perf_event_paranoid is ${paranoid} and cowscope has neither root nor CAP_PERFMON: run as root, or sysctl kernel.perf_event_paranoid=1`;

  const doctor = JSON.parse(runCli(['doctor', '--json'], { prefix: asNobody, cli: stage.cli }).stdout);
  assert.equal(doctor.checks.find((c: { check: string }) => c.check === 'fault tracing'), {
    check: 'fault tracing',
    value: 'no',
    meaning: `run reports no first writers: ${why}`,
  });

  const r = runCli(['run', '--json', program], { prefix: asNobody, cli: stage.cli, timeoutMs: 120_000 });
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.is(report.tier, 'exclusive-bit');
  assert.ok(report.notes.includes(`fault tracing did not run: ${why}; copied pages have no first writer`), report.notes.join('\n'));
  for (const c of report.children) {
    assert.equal([c.writers.traced, c.writers.why, c.writers.pagesWithoutWriter], [false, why, c.pages.copied]);
    assert.ok(c.pages.copied > 0);
    assert.is(c.blame.reduce((n: number, b: { pages: number }) => n + b.pages, 0), c.pages.copied, 'the causes still add up to the copied pages');
  }
  const text = runCli(['run', program], { prefix: asNobody, cli: stage.cli, timeoutMs: 120_000 });
  assert.match(text.stdout, new RegExp(`note: fault tracing did not run: perf_event_paranoid is ${paranoid} and cowscope has neither root nor CAP_PERFMON`));
  assert.not.match(text.stdout, /First writers of child/);
});

test.after.each(() => {
  assert.equal(rubyFixtureProcesses(), [], 'no Ruby process left behind');
  assert.equal(leftoverRunDirs(), [], 'no temporary folder left behind');
});

test('symbols are read only from the very file a mapping shows: a FIFO or another file at its path is not read', () => {
  const dir = tempDir('faults-plant');
  try {
    const lib = readMaps(process.pid).find((v) => v.path.includes('libc.so'))!;
    const fifo = path.join(dir.dir, 'libfake.so');
    execFileSync('mkfifo', [fifo]);
    // a mapping whose path now names a FIFO: opening it must not wait for a writer, and nothing is named
    const planted = new Symbolizer([{ ...lib, path: fifo }]);
    assert.equal(planted.symbolize(lib.start), { name: '', file: fifo, approximate: false });
    // the real file, but a device/inode other than the mapping's: not read either
    const moved = new Symbolizer([{ ...lib, inode: lib.inode + 1 }]);
    assert.is(moved.symbolize(lib.start).name, '');
    // the mapping as it is: named
    const real = new Symbolizer([lib]);
    assert.ok(real.symbolize(lib.start + 0x1000).file.includes('libc.so'));
  } finally {
    dir.remove();
  }
});

test.run();
