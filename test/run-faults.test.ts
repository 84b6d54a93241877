// cowscope run when things die or go wrong, against real processes: a child that exits or is killed
// during the workload, the heap map's writer killed or failing, the Ruby parent killed, signals to
// cowscope (INT is in run.test.ts), cowscope SIGKILLed (its family dies by itself, its folder is swept by
// the next run), a workload that kills its parent, and an agent that speaks another protocol or sends
// malformed or oversized messages.

import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { reap, setChildSubreaper } from '../native/probe';
import { statOf } from '../native/proc';
import { OWNERLESS_AGE_MS, sweepRunDirs } from '../cli/run-dirs';
import { CLI, ROOT } from './helpers/family';
import { RUBY_FIXTURES, leftoverRunDirs, runCowscope, rubyFixtureProcesses, tempDir, testRubies } from './helpers/ruby';

const fixture = (name: string) => path.join(RUBY_FIXTURES, name);
const AGENT = path.join(ROOT, 'runtimes', 'ruby', 'agent', 'cowscope.rb');
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
/** Timings, for the record (stderr of the test run). */
const note = (text: string) => process.stderr.write(`    [run-faults] ${text}\n`);

test.after.each(() => {
  assert.equal(rubyFixtureProcesses(), [], 'no Ruby process left behind');
  assert.equal(leftoverRunDirs(), [], 'no temporary folder left behind');
});

function assertOneLine(stderr: string, pattern: RegExp): void {
  const ours = stderr.split('\n').filter((l) => l.startsWith('cowscope: '));
  assert.is(ours.length, 1, `one line of cowscope's own:\n${stderr}`);
  assert.match(ours[0], pattern, ours[0]);
  assert.not.match(stderr, /\n\s+at /, 'no stack trace');
}

/** A cowscope run of slow_workload.rb, once every child started its workload. */
interface SlowRun {
  proc: ChildProcess;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  parent: number;
  twin: number;
  children: number[];
  marks: { dir: string; remove(): void };
}

async function startSlowRun(children = 2): Promise<SlowRun> {
  const marks = tempDir('marks');
  const proc = spawn(process.execPath, [CLI, 'run', '--children', String(children), fixture('slow_workload.rb')], {
    env: { ...process.env, COWSCOPE_FIXTURE_MARKS: marks.dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  proc.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const deadline = Date.now() + 30_000;
  while (fs.readdirSync(marks.dir).length < children && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const kids = fs.readdirSync(marks.dir).map(Number);
  assert.is(kids.length, children, `every child started the workload; stderr: ${stderr}`);
  const parent = statOf(kids[0])!.ppid;
  assert.is(statOf(parent)!.ppid, proc.pid, 'the Ruby parent is a child of cowscope');
  // The heap-map sibling writes the map while the children run: once it is gone, the twin is the one
  // other child of the parent.
  const others = () =>
    fs
      .readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .filter((p) => statOf(p)?.ppid === parent && !kids.includes(p) && statOf(p)?.state !== 'Z');
  let twin = others();
  while (twin.length > 1 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    twin = others();
  }
  const siblings = [...kids, ...twin];
  assert.is(twin.length, 1, `one twin beside the children: ${siblings}`);
  return { proc, stderr: () => stderr, exited, parent, twin: twin[0], children: kids, marks };
}

async function waitGone(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = pids.filter((p) => statOf(p) && statOf(p)!.state !== 'Z');
    if (!left.length || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('the child calls exit! during the workload: reported at once (not after --timeout), status and phase, no thread hint', () => {
  const started = Date.now();
  const r = runCowscope(['run', fixture('exit_bang_workload.rb')]);
  const took = Date.now() - started;
  note(`exit! in the workload: reported after ${seconds(took)} (the whole run, --timeout 60)`);
  assert.is(r.status, 2, r.stderr);
  assertOneLine(r.stderr, /^cowscope: child \d+ exited with status 7 during the workload: the workload must return normally/);
  assert.not.match(r.stderr, /waits for a thread/, 'one thread at the fork: no thread hint');
  assert.ok(took < 10_000, `took ${seconds(took)}`);
});

test('a child SIGKILLed during the workload: reported at once, which child, how, when; all reaped', async () => {
  const run = await startSlowRun();
  try {
    const killedAt = Date.now();
    process.kill(run.children[1], 'SIGKILL');
    const { code, at } = await run.exited;
    note(`child SIGKILLed mid-workload: cowscope exited ${seconds(at - killedAt)} after the kill`);
    assert.is(code, 2, run.stderr());
    assertOneLine(run.stderr(), new RegExp(`^cowscope: child ${run.children[1]} was killed by SIGKILL during the workload: `));
    assert.not.match(run.stderr(), /state Z|waits for a thread/);
    assert.ok(at - killedAt < 3000, `reported ${seconds(at - killedAt)} after the kill`);
    for (const pid of [run.parent, run.twin, ...run.children]) assert.is(statOf(pid), undefined, `process ${pid} is gone`);
  } finally {
    run.proc.kill('SIGKILL');
    run.marks.remove();
  }
});

test('the twin SIGKILLed during the workload: named as the twin', async () => {
  const run = await startSlowRun();
  try {
    process.kill(run.twin, 'SIGKILL');
    const { code } = await run.exited;
    assert.is(code, 2, run.stderr());
    assertOneLine(run.stderr(), new RegExp(`^cowscope: the twin \\(pid ${run.twin}, the stopped fork-time image\\) was killed by SIGKILL during the workload`));
  } finally {
    run.proc.kill('SIGKILL');
    run.marks.remove();
  }
});

// The heap map's writer (the agent's sibling fork) reports the map itself, so the parent is quiet after the
// fork; its failure is its own, in one line, on every Ruby: killed by SIGXFSZ past the program's file size
// limit, or (the signal ignored) its exception in dump_all. (Before, the parent waited for it, and its
// writes after that raced cowscope's read: 17 to 38 pages copied by the parent in runs of one program.)
for (const { ruby, version } of testRubies())
  test(`Ruby ${version}: the heap map's writer killed by SIGXFSZ, or raising EFBIG: one line naming it and the limit, exit 2, all reaped`, () => {
    const killed = runCowscope(['run', '--children', '1', '--', ruby, fixture('map_fails.rb')]);
    assert.is(killed.status, 2, killed.stderr);
    assertOneLine(killed.stderr, /^cowscope: the heap map's writer \(pid \d+, a fork of the program that runs ObjectSpace\.dump_all\) was killed by SIGXFSZ (at the fork|during the workload|while cowscope read)[^:]*, before it finished the map: the program's file size limit \(RLIMIT_FSIZE, ulimit -f\) is below the map's size: raise it/);
    const raised = runCowscope(['run', '--children', '1', '--', ruby, fixture('map_fails.rb')], { COWSCOPE_FIXTURE_XFSZ: 'ignore' });
    assert.is(raised.status, 2, raised.stderr);
    assertOneLine(raised.stderr, /^cowscope: the heap map's writer \(pid \d+, a fork of the program that runs ObjectSpace\.dump_all\) raised (Errno::EFBIG: File too large|IOError: full buffer)/);
  });

test('the Ruby parent SIGKILLed mid-workload: "the program … was killed by SIGKILL during the workload", not "before the fork point"', async () => {
  const run = await startSlowRun();
  try {
    const killedAt = Date.now();
    process.kill(run.parent, 'SIGKILL');
    const { code, at } = await run.exited;
    note(`Ruby parent SIGKILLed mid-workload: cowscope exited ${seconds(at - killedAt)} after the kill`);
    assert.is(code, 2, run.stderr());
    assertOneLine(run.stderr(), new RegExp(`^cowscope: the program \\(pid ${run.parent}\\) was killed by SIGKILL during the workload; its twin and children were killed with it`));
    assert.not.match(run.stderr(), /before the fork point/);
    assert.ok(at - killedAt < 3000, `reported ${seconds(at - killedAt)} after the kill`);
    for (const pid of [run.parent, run.twin, ...run.children]) assert.is(statOf(pid), undefined, `process ${pid} is gone`);
  } finally {
    run.proc.kill('SIGKILL');
    run.marks.remove();
  }
});

test('the program killed at the fork (in its --before-fork strategy): the phase is named, no thread hint', () => {
  const r = runCowscope(['run', '--strategy', 'custom', '--before-fork', fixture('before_fork_kill.rb'), fixture('noop.rb')]);
  assert.is(r.status, 2, r.stderr);
  assertOneLine(r.stderr, /^cowscope: the program \(pid \d+\) was killed by SIGKILL at the fork \(strategy, heap map, forking the twin and children\): something killed the Ruby parent/);
  assert.not.match(r.stderr, /before the fork point|waits for a thread/);
});

test('--timeout bounds the boot, then each step after the fork point again: a 2 s boot and a 2 s prewarm pass under --timeout 3', () => {
  const r = runCowscope(['run', '--json', '--timeout', '3', '--strategy', 'prewarm', fixture('slow_prewarm.rb')]);
  // before: "the program did not reach the fork point within 3 s", 4 s after it started
  assert.is(r.status, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).strategy.name, 'prewarm');
});

for (const signal of ['SIGHUP', 'SIGTERM', 'SIGPIPE'] as NodeJS.Signals[]) {
  test(`${signal} to cowscope mid-workload: everything killed and reaped, temp folder removed, exit 128+${os.constants.signals[signal]}, one line`, async () => {
    const run = await startSlowRun();
    try {
      assert.is(leftoverRunDirs().length, 1, 'the run has its temporary folder');
      const sentAt = Date.now();
      run.proc.kill(signal);
      const { code, at } = await run.exited;
      note(`${signal}: cowscope exited ${seconds(at - sentAt)} after the signal`);
      assert.is(code, 128 + os.constants.signals[signal], run.stderr());
      assertOneLine(run.stderr(), new RegExp(`^cowscope: interrupted by ${signal}: every process it started was killed and reaped, and its temporary folder removed$`));
      for (const pid of [run.parent, run.twin, ...run.children]) assert.is(statOf(pid), undefined, `process ${pid} is gone`);
      assert.equal(leftoverRunDirs(), []);
    } finally {
      run.proc.kill('SIGKILL');
      run.marks.remove();
    }
  });
}

test('cowscope SIGKILLed mid-workload: its family dies by itself (none left stopped), and the next run sweeps its folder', async () => {
  // Adopt the orphans for this test only, to reap them (pid 1 here may not).
  setChildSubreaper(true);
  const run = await startSlowRun();
  const family = [run.parent, run.twin, ...run.children];
  try {
    const killedAt = Date.now();
    run.proc.kill('SIGKILL');
    await run.exited;
    const left = await waitGone(family, 5000);
    note(`cowscope SIGKILLed: its family was dead ${seconds(Date.now() - killedAt)} later`);
    assert.equal(
      left.map((p) => `${p} ${statOf(p)?.state}`),
      [],
      'the Ruby parent, the twin and the children died with cowscope (PR_SET_PDEATHSIG)',
    );
    const dirs = leftoverRunDirs();
    assert.is(dirs.length, 1, 'the killed run could not remove its folder');
    assert.ok(fs.existsSync(path.join(os.tmpdir(), dirs[0], 'owner.pid')), 'it names its owner');
  } finally {
    for (const pid of family) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (let i = 0; i < 200 && family.some((p) => !reap(p)); i++) await new Promise((r) => setTimeout(r, 10));
    setChildSubreaper(false);
    run.marks.remove();
  }
  const r = runCowscope(['run', fixture('noop.rb')]);
  assert.is(r.status, 0, r.stderr);
  assert.equal(leftoverRunDirs(), [], 'the next run swept the dead run\'s folder');
});

test('cowscope SIGKILLed while the program boots: the program dies with it (PR_SET_PDEATHSIG), it does not boot on alone', async () => {
  setChildSubreaper(true);
  const marks = tempDir('marks');
  const proc = spawn(process.execPath, [CLI, 'run', fixture('slow_boot.rb')], { env: { ...process.env, COWSCOPE_FIXTURE_MARKS: marks.dir }, stdio: 'ignore' });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  let program = 0;
  try {
    const mark = path.join(marks.dir, 'boot');
    const deadline = Date.now() + 30_000;
    while (!fs.existsSync(mark) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50));
    program = Number(fs.readFileSync(mark, 'utf8'));
    assert.is(statOf(program)?.ppid, proc.pid, 'the program is a child of cowscope');
    const killedAt = Date.now();
    proc.kill('SIGKILL');
    await exited;
    const left = await waitGone([program], 5000);
    note(`cowscope SIGKILLed during the boot: the program was dead ${seconds(Date.now() - killedAt)} later`);
    assert.equal(left, [], 'the program died with cowscope');
  } finally {
    proc.kill('SIGKILL');
    if (program) {
      try {
        process.kill(program, 'SIGKILL');
      } catch {
        // gone
      }
      for (let i = 0; i < 200 && !reap(program); i++) await new Promise((r) => setTimeout(r, 10));
    }
    setChildSubreaper(false);
    marks.remove();
  }
  const r = runCowscope(['run', fixture('noop.rb')]);
  assert.is(r.status, 0, r.stderr);
  assert.equal(leftoverRunDirs(), [], "the next run swept the dead run's folder");
});

test('the workload kills Process.ppid (the Ruby parent), 6 runs: cowscope is never killed, reports the program, leaves nothing', () => {
  for (let i = 0; i < 6; i++) {
    const started = Date.now();
    const r = runCowscope(['run', '--children', '3', fixture('kill_parent_workload.rb')]);
    if (i === 0) note(`workload kills its parent: run reported in ${seconds(Date.now() - started)}`);
    assert.is(r.signal, null, `run ${i}: cowscope itself was killed (${r.signal}); stderr: ${r.stderr}`);
    assert.is(r.status, 2, `run ${i}: ${r.stderr}`);
    assertOneLine(r.stderr, /^cowscope: the program \(pid \d+\) was killed by SIGKILL during the workload; its twin and children were killed with it: something killed the Ruby parent \(does the workload signal Process\.ppid/);
    assert.equal(rubyFixtureProcesses(), [], `run ${i}: nothing left`);
  }
});

test('temp folder sweep: only real cowscope-run-* folders of this user whose owner is gone; symlinks never followed', () => {
  const root = tempDir('sweep');
  try {
    const me = statOf(process.pid)!;
    const dead = spawnSync('true').pid!;
    const mk = (name: string, owner?: string) => {
      const dir = path.join(root.dir, name);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'heap.jsonl'), 'x');
      if (owner !== undefined) fs.writeFileSync(path.join(dir, 'owner.pid'), owner);
      return dir;
    };
    mk('cowscope-run-dead01', `${dead} 12345\n`);
    mk('cowscope-run-live01', `${process.pid} ${me.startTime}\n`);
    mk('cowscope-run-reuse1', `${process.pid} ${me.startTime + 1}\n`); // same pid, another process
    mk('cowscope-run-fresh1'); // no owner file, young: maybe a run that is just starting
    const old = mk('cowscope-run-old001');
    const longAgo = new Date(Date.now() - OWNERLESS_AGE_MS - 3600_000);
    fs.utimesSync(old, longAgo, longAgo);
    mk('cowscope-run-bad001', 'not a pid\n');
    // owner.pid as a symlink to a dead owner's file: not followed, so no owner (and young)
    const linked = mk('cowscope-run-link01');
    fs.writeFileSync(path.join(root.dir, 'elsewhere.pid'), `${dead} 1\n`);
    fs.symlinkSync(path.join(root.dir, 'elsewhere.pid'), path.join(linked, 'owner.pid'));
    // a symlink named like a run folder, to a folder with a dead owner: never followed or removed
    const target = mk('target', `${dead} 1\n`);
    fs.symlinkSync(target, path.join(root.dir, 'cowscope-run-slink1'));
    fs.writeFileSync(path.join(root.dir, 'cowscope-run-file01'), `${dead} 1\n`);
    mk('unrelated', `${dead} 1\n`);
    const foreign = mk('cowscope-run-other1', `${dead} 1\n`);
    const asRoot = process.getuid?.() === 0;
    if (asRoot) fs.chownSync(foreign, 65534, 65534);

    const removed = sweepRunDirs(root.dir).sort();
    assert.equal(removed, ['cowscope-run-dead01', 'cowscope-run-old001', 'cowscope-run-reuse1']);
    const left = fs.readdirSync(root.dir).sort();
    assert.equal(left, [
      'cowscope-run-bad001',
      'cowscope-run-fresh1',
      'cowscope-run-file01',
      'cowscope-run-link01',
      ...(asRoot ? ['cowscope-run-other1'] : []),
      'cowscope-run-live01',
      'cowscope-run-slink1',
      'elsewhere.pid',
      'target',
      'unrelated',
    ].sort());
    assert.ok(fs.existsSync(path.join(target, 'heap.jsonl')), 'the symlink target is untouched');
  } finally {
    root.remove();
  }
});

test('the program writes to the control channel: a 2 MiB line, a wrong field type, an unknown event, garbage: one line each, exit 2', () => {
  const cases: [string, RegExp][] = [
    ['long', /the agent sent a message longer than 1 MiB on the control channel: the program must not write to cowscope's control channel \(fd 3\)/],
    ['bad-type', /the agent sent a malformed message \(event fork_point: field ruby is missing or of the wrong type\)/],
    ['unknown', /the agent sent a malformed message \(unknown event "launch_missiles"\)/],
    ['garbage', /the agent sent a line that is not JSON \("hello there"\)/],
  ];
  for (const [line, pattern] of cases) {
    const started = Date.now();
    const r = runCowscope(['run', fixture('channel_writer.rb')], { COWSCOPE_FIXTURE_LINE: line });
    assert.is(r.status, 2, `${line}: ${r.stderr}`);
    assertOneLine(r.stderr, pattern);
    assert.ok(Date.now() - started < 10_000, `${line}: refused at once`);
  }
});

test('an agent that speaks another protocol, or none: refused with one line naming the fix', () => {
  const dir = tempDir('agent');
  try {
    const source = fs.readFileSync(AGENT, 'utf8');
    const variants: [string, string, RegExp][] = [
      ['v3', source.replace('PROTOCOL = 2', 'PROTOCOL = 3'), /the agent speaks control protocol 3, this cowscope speaks 2: use the agent that ships with this cowscope \(reinstall it with npm ci/],
      ['old', source.replace("report('hello', protocol: PROTOCOL, ruby: RUBY_VERSION)", 'nil'), /the agent did not announce its control protocol \(its first message was fork_point\): .*reinstall cowscope \(npm ci\)/],
    ];
    for (const [name, text, pattern] of variants) {
      assert.is.not(text, source, `${name}: the agent was changed`);
      const agent = path.join(dir.dir, `${name}.rb`);
      fs.writeFileSync(agent, text);
      // A "ruby" that loads this agent instead of the one cowscope names (-r AGENT are its first two arguments).
      const ruby = path.join(dir.dir, `ruby-${name}`);
      fs.writeFileSync(ruby, `#!/bin/sh\nshift 2\nexec ${process.env.COWSCOPE_RUBY ?? 'ruby'} -r ${agent} "$@"\n`, { mode: 0o755 });
      const r = runCowscope(['run', '--ruby', ruby, fixture('noop.rb')]);
      assert.is(r.status, 2, `${name}: ${r.stderr}`);
      assertOneLine(r.stderr, pattern);
    }
  } finally {
    dir.remove();
  }
});

test('a heap map over the limit is refused before it is read: one line naming --max-heap-map', () => {
  const r = runCowscope(['run', '--max-heap-map', '64KiB', fixture('noop.rb')]);
  assert.is(r.status, 2, r.stderr);
  assertOneLine(r.stderr, /^cowscope: the heap map \S+heap\.jsonl is [\d.]+ MiB, more than the 64 KiB limit: raise it with --max-heap-map \(e\.g\. --max-heap-map [\d.]+MiB\) or COWSCOPE_MAX_HEAP_MAP$/);
  const env = runCowscope(['run', fixture('noop.rb')], { COWSCOPE_MAX_HEAP_MAP: '1KiB' });
  assert.is(env.status, 2, env.stderr);
  assertOneLine(env.stderr, /more than the 1 KiB limit/);
  const bad = runCowscope(['run', '--max-heap-map', 'lots', fixture('noop.rb')]);
  assert.is(bad.status, 2);
  assertOneLine(bad.stderr, /--max-heap-map "lots" is not a size: write e\.g\. 8GiB or 512MiB/);
});

test.run();
