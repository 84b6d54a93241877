// cowscope run with Debian's real Ruby: planted copies are found, a no-op copies little, Rack request
// counts matter, save/report round-trips, and every process and temporary file is cleaned up.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadCapture } from '../native/capture-file';
import { statOf } from '../native/proc';
import { familyOf } from '../native/proc';
import { sweepRunDirs } from '../cli/run-dirs';
import { CLI, ROOT } from './helpers/family';
import { DEBIAN_GEMS, RUBY_FIXTURES, leftoverRunDirs, region, runCowscope, rubyFixtureProcesses, tempDir, testRubies } from './helpers/ruby';

const fixture = (name: string) => path.join(RUBY_FIXTURES, name);
const tmp = tempDir('test');
test.after(() => tmp.remove());

test.after.each(() => {
  assert.equal(rubyFixtureProcesses(), [], 'no Ruby process left behind');
  assert.equal(leftoverRunDirs(), [], 'no temporary folder left behind');
});

test('planted string mutations: every planted GC-heap page is copied in every child', () => {
  const planted = path.join(tmp.dir, 'planted.txt');
  const save = path.join(tmp.dir, 'mutate.cow');
  const r = runCowscope(['run', '--json', '--save', save, fixture('mutate.rb')], { COWSCOPE_FIXTURE_OUT: planted });
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.is(report.schema, 'cowscope.run/1');
  assert.is(report.runtime.name, 'ruby');
  assert.match(report.runtime.version, /^3\.\d+\.\d+$/);
  assert.is(report.children.length, 2);
  const pages = fs.readFileSync(planted, 'utf8').trim().split('\n').map(Number);
  assert.ok(pages.length >= 20, `planted ${pages.length} pages`);
  const capture = loadCapture(save);
  for (const child of report.children) {
    const heap = region(child, 'ruby-heap');
    assert.ok(heap.copied >= pages.length, `child ${child.pid}: ${heap.copied} copied GC-heap pages, planted ${pages.length}`);
    const copied = new Set(Array.from(capture.diffs!.find((d) => d.pid === child.pid)!.addrs));
    const missed = pages.filter((p) => !copied.has(p));
    assert.equal(missed, [], `child ${child.pid}: every planted page is copied`);
    // the strings' malloc'd buffers the appends change are the program's own data (their chunks' owner is
    // a String), in the malloc heap as on the GC heap: mutation.string first in both regions
    for (const name of ['ruby-heap', 'malloc-heap']) {
      const g = child.blameByRegion.find((x: { region: string }) => x.region === name);
      assert.is(g.blame[0].cause, 'mutation.string', `${name}: ${JSON.stringify(g.blame.slice(0, 3))}`);
    }
  }
});

test("the program's output passes through, each line once: the boot's, and every child's workload's", () => {
  const r = runCowscope(['run', '--json', '--children', '3', fixture('prints.rb')]);
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(r.stderr.match(/^booted$/gm), ['booted'], r.stderr);
  const lines = [...r.stderr.matchAll(/^workload of (\d+) read 1000 rows$/gm)].map((m) => Number(m[1]));
  assert.equal(lines.sort(), report.children.map((c: { pid: number }) => c.pid).sort(), r.stderr);
});

test('explicit Cowscope.fork_point with a --workload file', () => {
  const r = runCowscope(['run', '--json', '--children', '3', '--strategy', 'gc', '--workload', fixture('workload_mutate.rb'), fixture('fork_point.rb')]);
  assert.is(r.status, 0, r.stderr);
  assert.not.match(r.stderr, /ran past the fork point/);
  const report = JSON.parse(r.stdout);
  assert.is(report.strategy.name, 'gc');
  assert.is(report.workload, 'load workload_mutate.rb');
  assert.is(report.children.length, 3);
  for (const child of report.children) assert.ok(region(child, 'ruby-heap').copied >= 20, `child ${child.pid} copied its strings' slots`);
});

test('a no-op workload copies fewer than 16 GC-heap pages', () => {
  const r = runCowscope(['run', '--json', fixture('noop.rb')]);
  assert.is(r.status, 0, r.stderr);
  for (const child of JSON.parse(r.stdout).children) {
    const heap = region(child, 'ruby-heap');
    assert.ok(heap.copied < 16, `child ${child.pid}: ${heap.copied} copied GC-heap pages`);
    assert.ok(heap.shared > 100, 'the heap map found the GC heap');
  }
});

test('--debug: one line of steps on stderr; the heap map was read while the agent wrote it (same report as without)', () => {
  const r = runCowscope(['run', '--json', '--debug', '--children', '2', fixture('noop.rb')]);
  assert.is(r.status, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('cowscope: '));
  assert.is(lines.length, 1, r.stderr);
  const steps = new Map([...lines[0].matchAll(/(?:\(|, )([a-z][a-z ,()]*?) (\d+)(?=[,)])/g)].map((m) => [m[1], Number(m[2])]));
  for (const step of ['start', 'boot', 'fork', 'workload', 'read', 'diffs', 'allocator', 'heap map wait', 'heap map read, rest', 'structures', 'blame', 'render'])
    assert.ok(steps.has(step), `step "${step}" in: ${lines[0]}`);
  assert.not.match(lines[0], /not followed/, 'the map was parsed as it was written, not read again');
  const report = JSON.parse(r.stdout);
  assert.ok(report.heapMap.objects > 1000 && report.heapMap.heapPages > 0, `the map's ${report.heapMap.objects} objects counted`);
  for (const child of report.children) assert.ok(region(child, 'ruby-heap').shared > 100, 'the heap map found the GC heap');
});

test('--rack: N requests in each child, and more requests copy more pages (1 vs 200); the allocations of the later rounds counted', () => {
  const [saveOne, saveMany] = [path.join(tmp.dir, 'rack-1.cow'), path.join(tmp.dir, 'rack-200.cow')];
  const one = runCowscope(['run', '--json', '--save', saveOne, '--rack', fixture('rack/config.ru'), '--request', 'GET /', '--requests', '1']);
  const many = runCowscope(['run', '--json', '--save', saveMany, '--rack', fixture('rack/config.ru'), '--request', 'GET /', '--requests', '200']);
  assert.is(one.status, 0, one.stderr);
  assert.is(many.status, 0, many.stderr);
  const a = JSON.parse(one.stdout);
  const b = JSON.parse(many.stdout);
  for (const c of a.children) assert.is(c.requests, 1);
  for (const c of b.children) assert.is(c.requests, 200);
  // 200 requests index all 20 000 preloaded strings (>= 195 pages of their slots), one request 100 of them.
  for (let i = 0; i < 2; i++) {
    const h1 = region(a.children[i], 'ruby-heap').copied;
    const h200 = region(b.children[i], 'ruby-heap').copied;
    assert.ok(h200 >= h1 + 150, `GC heap: ${h1} copied pages after 1 request, ${h200} after 200`);
    assert.ok(b.children[i].pages.copied > a.children[i].pages.copied, 'and in total');
  }
  // what the requests allocated, and the later 100 rounds' share scaled to all 200 (prewarm's cost reads
  // it): the first request's one-time work makes the later rounds allocate less than the whole
  assert.is(loadCapture(saveOne).run!.allocated, undefined, 'one round: no later rounds to count');
  const run = loadCapture(saveMany).run!;
  for (let i = 0; i < 2; i++) {
    const [all, steady] = [run.allocated![i], run.allocatedSteady![i]];
    assert.ok(all > 200 && steady > 100 && steady < all, `allocated ${all}, the later rounds ${steady} scaled to every round`);
  }
});

test('run --save F then report F: identical output, text and JSON', () => {
  const save = path.join(tmp.dir, 'noop.cow');
  const text = runCowscope(['run', '--save', save, fixture('noop.rb')]);
  assert.is(text.status, 0, text.stderr);
  const again = runCowscope(['report', save]);
  assert.is(again.status, 0, again.stderr);
  assert.is(again.stdout, text.stdout);
  // the answer first: what each child stopped sharing, then its causes, before the details
  const lines = text.stdout.split('\n');
  assert.match(lines[0], /^cowscope run: ruby 3\.\d+\.\d+ /);
  assert.match(lines[2], /^Answer: each of the 2 children stopped sharing [\d.]+[KM]( \(median; from [\d.]+[KM] to [\d.]+[KM]\))? of the fork-time image: [\d.]+% of its resident memory\.$/);
  assert.ok(lines.findIndex((l) => /^Top causes/.test(l)) < lines.indexOf('Details'), 'top causes before the details');
  assert.match(text.stdout, /threads at the fork point: 1 Ruby \(main: run\), \d+ OS/);
  assert.not.match(text.stdout, /MiB|\b0 0\.0%/, 'K/M/G only; no zero with a percentage');
  const json = runCowscope(['run', '--json', '--save', save, fixture('noop.rb')]);
  assert.is(runCowscope(['report', '--json', save]).stdout, json.stdout);
  assert.ok(fs.statSync(save).size < 512 * 1024, `capture is compact: ${fs.statSync(save).size} bytes`);
});

test('a thread alive at the fork point is reported', () => {
  const r = runCowscope(['run', '--json', fixture('thread_hang.rb')], { COWSCOPE_FIXTURE_WAIT: '0' });
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.is(report.threadsAtFork.ruby, 2);
  assert.ok(report.threadsAtFork.threads.some((t: { name: string }) => t.name === 'waker'));
  assert.ok(report.notes.some((n: string) => /2 Ruby threads \(main, waker\).*a child that waits for another one hangs/.test(n)));
});

test('a child waiting for a thread from before the fork: reported as hung with state and threads, exit 2', () => {
  const r = runCowscope(['run', '--timeout', '3', fixture('thread_hang.rb')]);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /cowscope: child \d+ did not finish the workload within 3 s: state S, \d+ threads? \(\d+ ruby S/);
  assert.match(r.stderr, /a child that waits for a thread started before the fork point hangs/);
  assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  assert.is(r.stderr.trimEnd().split('\n').filter((l) => /^cowscope: (?!warning)/.test(l)).length, 1, `the error is one line: ${r.stderr}`);
  assert.not.match(r.stderr, /\\x0a/, 'its own line breaks are no escaped control characters');
});

test('a workload that starts processes of its own: on timeout they are killed and reaped too', () => {
  const r = runCowscope(['run', '--timeout', '2', fixture('spawning_workload.rb')]);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /did not finish the workload within 2 s[^\n]*; raise --timeout if the workload needs longer/);
  assert.not.match(r.stderr, /\\x0a/, 'one line: no escaped line break');
  assert.not.match(r.stderr, /waits for a thread/, 'one thread at the fork point: no thread hint');
  const sleepers = fs.readdirSync('/proc').filter((n) => {
    try {
      return /^\d+$/.test(n) && fs.readFileSync(`/proc/${n}/cmdline`, 'utf8').includes('cowscope-fixture-sleeper');
    } catch {
      return false;
    }
  });
  assert.equal(sleepers, [], 'no sleeper left');
});

test('the program raises while it boots: its error is shown, exit 2', () => {
  const r = runCowscope(['run', fixture('boot_raise.rb')]);
  assert.is(r.status, 2);
  assert.match(r.stderr, /planted boot failure \(ArgumentError\)/, "the program's own error output");
  assert.match(r.stderr, /cowscope: the program raised ArgumentError: planted boot failure \(.*boot_raise\.rb:3/);
});

test('a syntax error in the program: its place and text in the one line, exit 2', () => {
  const file = path.join(tmp.dir, 'syntax_error.rb');
  fs.writeFileSync(file, 'def x(\n  puts 1\n');
  // Debian's Ruby 3.1 prints the place and text itself and raises "compile error"
  const r = runCowscope(['run', '--', '/usr/bin/ruby', file]);
  assert.is(r.status, 2, r.stderr);
  const line = r.stderr.trimEnd().split('\n').pop()!;
  assert.match(line, /^cowscope: the program raised SyntaxError: .*syntax error.* \(.*syntax_error\.rb:2\)$/);
});

test('an exception whose message has several lines (KeyError and its "Did you mean?"): one line, no escaped line break', () => {
  const r = runCowscope(['run', '--', 'ruby', '-e', 'raise ArgumentError, "first line\\n  second line\\n"']);
  assert.is(r.status, 2, r.stderr);
  const line = r.stderr.trimEnd().split('\n').pop()!;
  assert.match(line, /^cowscope: the program raised ArgumentError: first line; second line \(-e:1/);
  assert.not.match(r.stderr, /\\x0a/, 'no escaped line break');
  const child = runCowscope(['run', '--children', '1', '--', 'ruby', '-e', 'Cowscope.workload { ENV.fetch("COWSCOPE_FIXTURE_NO_SUCH_KEY") }']);
  assert.is(child.status, 2, child.stderr);
  assert.match(child.stderr.trimEnd().split('\n').pop()!, /^cowscope: child \d+ raised KeyError: key not found: "COWSCOPE_FIXTURE_NO_SUCH_KEY"/);
  assert.not.match(child.stderr, /\\x0a/, 'no escaped line break');
});

test('--rack with a Ruby that has no rack gem: the error names the gem path to give it', () => {
  // A Ruby of its own (the /opt/rubies ones) does not search Debian's gem folder unless GEM_PATH says so.
  const other = testRubies().find((r) => r.ruby !== '/usr/bin/ruby');
  if (!other) return;
  const r = runCowscope(['run', '--ruby', other.ruby, '--rack', path.join(RUBY_FIXTURES, 'rack', 'config.ru')], { GEM_PATH: '' });
  assert.is(r.status, 2);
  const line = r.stderr.trimEnd().split('\n').pop()!;
  const fix = fs.existsSync(path.join(DEBIAN_GEMS, 'gems')) && fs.readdirSync(path.join(DEBIAN_GEMS, 'gems')).some((g) => /^rack-\d/.test(g)) ? `run with GEM_PATH=${DEBIAN_GEMS} ` : 'gem install rack';
  const config = path.join(RUBY_FIXTURES, 'rack', 'config.ru');
  assert.ok(line.startsWith(`cowscope: --rack ${config}: cannot load such file -- rack: it needs the rack gem where ${other.ruby} looks for gems: ${fix}`), line);
  // that line alone: no backtrace of the agent's before it
  assert.not.match(r.stderr, /\bfrom .*cowscope\.rb:\d+/, r.stderr);
});

test('the program exits before the fork point: clear message, exit 2', () => {
  const r = runCowscope(['run', fixture('early_exit.rb')]);
  assert.is(r.status, 2);
  assert.match(r.stderr, /cowscope: the program called exit \(status 3\) before the fork point/);
  const r2 = runCowscope(['run', '--', 'ruby', '-e', 'exit!(4)']);
  assert.is(r2.status, 2);
  assert.match(r2.stderr, /cowscope: the program exited with status 4 before the fork point/);
});

// Twice: a small heap (the heap-map sibling has usually finished when the children start), and a heap
// of a million strings, whose map the sibling is still writing when SIGINT comes.
for (const ballast of [0, 1_000_000]) {
  test(`SIGINT to cowscope mid-workload (${ballast} ballast strings): every process is killed and reaped`, async () => {
    const marks = tempDir('marks');
    const proc = spawn(process.execPath, [CLI, 'run', '--children', '3', path.join(RUBY_FIXTURES, 'slow_workload.rb')], {
      env: { ...process.env, COWSCOPE_FIXTURE_MARKS: marks.dir, COWSCOPE_FIXTURE_BALLAST: String(ballast) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (fs.readdirSync(marks.dir).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.is(fs.readdirSync(marks.dir).length, 3, 'all three children started the workload');
      // ruby parent, twin, three children, and the heap-map sibling while it is still writing the map (the
      // children start their workload without waiting for it)
      const family = familyOf(proc.pid!).slice(1);
      if (ballast) assert.is(family.length, 6, `cowscope's descendants, the sibling still writing: ${family}`);
      else assert.ok(family.length === 5 || family.length === 6, `cowscope's descendants: ${family}`);
      proc.kill('SIGINT');
      assert.is(await exited, 130);
      assert.match(stderr, /interrupted by SIGINT: every process it started was killed and reaped/);
      for (const pid of family) assert.is(statOf(pid), undefined, `process ${pid} is gone`);
    } finally {
      // a failed assertion above left cowscope running: kill it, and sweep its run folder as its next run
      // would, so that this failure is not counted again by every later test's leftover check
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
        sweepRunDirs();
      }
      marks.remove();
    }
  });
}

test('SIGINT as run ends, its report written whole: exit 0, no "interrupted" line (node\'s teardown gave SIGINT its default action: 130, no line)', async () => {
  const out = path.join(tmp.dir, 'report-then-sigint.json');
  for (let i = 0; i < 3; i++) {
    const fd = fs.openSync(out, 'w');
    const proc = spawn(process.execPath, [CLI, 'run', '--json', '--children', '1', fixture('noop.rb')], { stdio: ['ignore', fd, 'pipe'] });
    fs.closeSync(fd);
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<[number | null, string | null]>((resolve) => proc.on('exit', (code, signal) => resolve([code, signal])));
    // the report is one write, the last thing run does: the signal comes as soon as it is there
    while (fs.statSync(out).size === 0 && proc.exitCode === null && proc.signalCode === null) await new Promise((r) => setTimeout(r, 1));
    proc.kill('SIGINT');
    assert.equal(await exited, [0, null], `exit code 0, not killed; stderr: ${stderr}`);
    assert.not.match(stderr, /interrupted/);
    assert.is(JSON.parse(fs.readFileSync(out, 'utf8')).schema, 'cowscope.run/1', 'the report is whole');
  }
});

test('a program that registers no workload before the fork point (or one after it): a warning, a note, the workload says none', () => {
  for (const late of ['', '1']) {
    const r = runCowscope(['run', '--json', '--children', '1', fixture('no_workload.rb')], { COWSCOPE_FIXTURE_LATE: late });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stderr, /^cowscope: warning: the program registered no workload before the fork point: the children run nothing \(register Cowscope\.workload \{ … \} before Cowscope\.fork_point/m);
    const report = JSON.parse(r.stdout);
    assert.is(report.workload, 'none: the program registered no workload before the fork point');
    assert.ok(report.notes.some((n: string) => /^the children ran no workload/.test(n)), JSON.stringify(report.notes));
  }
  // a block registered: no warning
  const r = runCowscope(['run', '--json', '--children', '1', fixture('noop.rb')]);
  assert.is(r.status, 0, r.stderr);
  assert.not.match(r.stderr, /registered no workload/);
  assert.is(JSON.parse(r.stdout).workload, 'the Cowscope.workload block of the program');
  // ... or registered by the strategy's custom step, which runs after the fork point
  const before = path.join(tmp.dir, 'register-workload.rb');
  fs.writeFileSync(before, 'Cowscope.workload { $strings.each(&:upcase!) }\n');
  const custom = runCowscope(['run', '--json', '--children', '1', '--strategy', 'custom', '--before-fork', before, fixture('no_workload.rb')]);
  assert.is(custom.status, 0, custom.stderr);
  assert.not.match(custom.stderr, /registered no workload/);
  const report = JSON.parse(custom.stdout);
  assert.is(report.workload, 'the Cowscope.workload block of the program');
  assert.ok(report.children[0].pages.copied > 20, 'the block ran: 2,000 strings upcased');
});

test('run --rack: a request the app answers 404 (a mistyped route) stops the run with one line, exit 2, as --wsgi does', () => {
  const r = runCowscope(['run', '--rack', fixture('rack/posts.ru'), '--request', 'GET /no/such/page', '--requests', '2']);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /^cowscope: child \d+ raised RuntimeError: GET \/no\/such\/page answered 404 /m);
  assert.is(r.stderr.trimEnd().split('\n').filter((l) => l.startsWith('cowscope:')).length, 1, r.stderr);
});

test('a program that forks workers of its own before the fork point, and a workload that forks: they end their own ways (return, exit, raise, TERM), the run goes on', () => {
  // before: a worker that returned ran the fork point itself (the run timed out), and a worker's exit or
  // raise was taken for the program's
  const r = runCowscope(['run', '--json', '--children', '2', fixture('prefork.rb')]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /^workers ended: 0 0 3 1 15$/m);
  // the processes each child's workload forked: one returned from it (before: it reported done and
  // stopped itself), one raised, and Ruby printed its error
  assert.is((r.stderr.match(/grandchild crashed \(RuntimeError\)/g) ?? []).length, 2, r.stderr);
  assert.is(JSON.parse(r.stdout).children.length, 2);
});

test("run passes its stdin on when it is a pipe or a file; a program reading it gets what was given", () => {
  const r = spawnSync(process.execPath, [CLI, 'run', '--json', '--children', '1', fixture('stdin.rb')], { encoding: 'utf8', input: 'x'.repeat(100_000), timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /^read 100000 bytes$/m);
  const file = path.join(tmp.dir, 'stdin.txt');
  fs.writeFileSync(file, 'y'.repeat(1234));
  const fd = fs.openSync(file, 'r');
  try {
    const f = spawnSync(process.execPath, [CLI, 'run', '--json', '--children', '1', fixture('stdin.rb')], { encoding: 'utf8', stdio: [fd, 'pipe', 'pipe'], timeout: 120_000 });
    assert.is(f.status, 0, f.stderr);
    assert.match(f.stderr, /^read 1234 bytes$/m);
  } finally {
    fs.closeSync(fd);
  }
});

test('an interpreter the agent never loads in (--ruby naming a Python, --python naming a Ruby): the last line says which and what to give, exit 2', () => {
  // before: "the program exited with status 2 before the fork point ... at Cowscope.fork_point"
  for (const [args, pattern] of [
    [['--ruby', 'python3', fixture('noop.rb')], /^cowscope: python3 exited with status \d+ before cowscope's agent loaded .*: check that it is a Ruby interpreter \(--ruby PATH, or -- ruby app\.rb\)$/],
    [['--python', '/usr/bin/ruby', path.join(ROOT, 'fixtures', 'python', 'hello.py')], /^cowscope: \/usr\/bin\/ruby exited with status \d+ before cowscope's agent loaded .*: check that it is a CPython 3\.8 or newer interpreter/],
  ] as [string[], RegExp][]) {
    const r = runCowscope(['run', '--children', '1', ...args]);
    assert.is(r.status, 2, r.stderr);
    assert.match(r.stderr.trimEnd().split('\n').pop()!, pattern);
  }
});

test('bad arguments to run and report: one line, exit 2', () => {
  const cases: [string[], RegExp][] = [
    [['run'], /give a program to run/],
    [['run', '/nonexistent/app.rb'], /the program \/nonexistent\/app\.rb does not exist/],
    [['run', '--rack', fixture('rack/config.ru'), fixture('noop.rb')], /either a program or --rack/],
    [['run', '--rack', fixture('rack/config.ru'), '--request', 'fetch everything'], /is not METHOD \/path/],
    [['run', '--children', '0', fixture('noop.rb')], /--children must be a whole number from 1 to 64/],
    [['run', '--strategy', 'magic', fixture('noop.rb')], /unknown strategy step "magic"/],
    [['run', '--strategy', 'gc+custom', fixture('noop.rb')], /strategy custom needs --before-fork FILE\.rb/],
    [['run', '--before-fork', fixture('noop.rb'), fixture('noop.rb')], /--before-fork .* runs only with the custom step: add it \(--strategy custom, or none\+custom\)/],
    [['run', path.join(RUBY_FIXTURES, 'rails')], /the program .* is a folder: name a file/],
    [['run', fixture('noop.rb'), '-x', '--foo'], /^cowscope: unknown options -x, --foo \(if they are the program's own, put them after --: cowscope run \[options\] -- PROGRAM -x --foo\)/],
    [['compare', '--before-fork', fixture('noop.rb'), '--strategies', 'none,gc', fixture('noop.rb')], /--before-fork .* runs only with the custom step: add it \(--strategies none,gc,custom\)/],
    // --prewarm without the prewarm step was ignored: the runs measured another strategy than the one meant
    [['run', '--prewarm', '3', fixture('noop.rb')], /^cowscope: --prewarm 3 runs only with the prewarm step: add it \(--strategy prewarm, or none\+prewarm\)$/m],
    [['run', '--prewarm', '2', '--strategy', 'gc', fixture('noop.rb')], /^cowscope: --prewarm 2 runs only with the prewarm step: add it \(--strategy prewarm, or gc\+prewarm\)$/m],
    [['compare', '--prewarm', '3', fixture('noop.rb')], /^cowscope: --prewarm 3 runs only with the prewarm step: add it \(--strategies none,gc,nakayoshi,warmup,prewarm\)$/m],
    // compare without a program named run's command line
    [['compare'], /^cowscope: give a program to compare strategies on \(cowscope compare -- ruby app\.rb\), a Rack app \(cowscope compare --rack config\.ru\), or --example for the bundled example$/m],
    [['compare', '--', 'python3'], /^cowscope: give the Python script to compare strategies on \(cowscope compare -- python3 app\.py\) or a WSGI app/],
    [['compare', fixture('rack/config.ru')], /is a Rack app: compare strategies on it with cowscope compare --rack .*rack\/config\.ru$/m],
    [['compare', '--strategies', 'none,gc,gc', fixture('noop.rb')], /--strategies names gc twice: name each once/],
    [['compare', '--strategies', 'none,,gc', fixture('noop.rb')], /--strategies none,,gc has an empty entry/],
    [['report', '/nonexistent.cow'], /cannot read \/nonexistent\.cow: ENOENT/],
    [['report', fixture('noop.rb')], /is not a cowscope capture/],
  ];
  for (const [args, pattern] of cases) {
    const r = runCowscope(args);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
  }
});

// QA (round 10): outputs that named an input or each other were written over it (a capture report read,
// the program run), a --timeout past Node's timers (2^31 ms) made every wait a 1 ms loop with a warning a
// line, and --watch without seconds took one sample.
test('outputs that name an input or each other, and values past the limits: one line, exit 2, nothing written', () => {
  const program = path.join(tmp.dir, 'outputs.rb');
  fs.copyFileSync(fixture('noop.rb'), program);
  const before = fs.readFileSync(program);
  const out = path.join(tmp.dir, 'outputs-both');
  const cases: [string[], RegExp][] = [
    [['run', '--children', '1', '--html', program, program], /^cowscope: --html names .*outputs\.rb, which this command also reads: write the output to another file$/],
    [['run', '--children', '1', '--save', program, program], /^cowscope: --save names .*outputs\.rb, which this command also reads/],
    [['run', '--children', '1', '--save', out, '--html', out, program], /^cowscope: --save and --html both name .*outputs-both: give each output its own file$/],
    [['run', '--children', '1', '--timeout', '1e7', program], /^cowscope: --timeout must be a number of seconds above 0, at most 86400 \(a day\), not 10000000$/],
    [['compare', '--workers', '1e300', program], /^cowscope: --workers must be a whole number from 1 to 100000, not 1e\+300$/],
    [['inspect', String(process.pid), '--watch'], /^cowscope: --watch needs a value: see cowscope inspect --help$/],
  ];
  for (const [args, pattern] of cases) {
    const r = runCowscope(args);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trimEnd(), pattern);
  }
  assert.ok(fs.readFileSync(program).equals(before), 'the program as it was');
  assert.not.ok(fs.existsSync(out), 'no output written');
});

// fixtures/ruby/marking_at_fork.rb: the fork point while a major GC marks incrementally, still marking when
// the children are done. Before, the child reported gcMarks -1 (GC.count counts a GC when it starts: the
// parent's was left out twice), which cowscope refused as a malformed message: such a program could not be
// measured at all (3.1.2 and 3.3.8 here).
for (const { ruby, version } of testRubies())
  test(`Ruby ${version}: a fork point while a GC marks, still marking at the end: measured, the GC one the children ran but none they marked whole`, () => {
    const save = path.join(tmp.dir, `marking-${version}.cow`);
    const r = runCowscope(['run', '--json', '--children', '2', '--save', save, '--', ruby, fixture('marking_at_fork.rb')]);
    assert.is(r.status, 0, r.stderr);
    const run = loadCapture(save).run!;
    assert.equal({ runs: run.gcRuns, full: run.gcFullRuns, marks: run.gcMarks }, { runs: [1, 1], full: [1, 1], marks: [0, 0] });
  });

test.run();
