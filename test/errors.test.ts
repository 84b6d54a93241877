// Bad input: one line on stderr that names the fix, exit code 2, no stack trace (unless --debug),
// nothing left running.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { captureProcesses, checkTarget, ExitedError, TargetError } from '../native/capture';
import { describeError } from '../cli/errors';
import { ProbeError } from '../native/probe';
import { tempNameFor, writeFileAtomically } from '../native/files';
import { Family, ROOT, isRoot, runCli, startFamily, stopAll } from './helpers/family';
import { AS_NOBODY, Stage, stagePackage } from './helpers/stage';
import { RUBY_FIXTURES } from './helpers/ruby';

let stage: Stage | undefined;
let family: Family | undefined;
test.after(async () => {
  await family?.stop();
  await stopAll();
  stage?.remove();
});

function assertOneLineError(r: ReturnType<typeof runCli>, pattern: RegExp): void {
  assert.is(r.status, 2, `exit code 2, got ${r.status}; stderr: ${r.stderr}`);
  assert.is(r.stdout, '', 'nothing on stdout');
  const lines = r.stderr.trimEnd().split('\n');
  assert.is(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0], /^cowscope: /);
  assert.match(lines[0], pattern);
  assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
}

/** A pid that surely does not exist: one that just exited and was reaped. */
function deadPid(): number {
  return spawnSync('true').pid!;
}

test('a pid that does not exist', () => {
  const pid = deadPid();
  assertOneLineError(runCli(['inspect', String(pid)]), new RegExp(`no process ${pid}: check the pid`));
});

test('a kernel thread', () => {
  assertOneLineError(runCli(['inspect', '2']), /process 2 \(kthreadd\) is a kernel thread: .*pick a user process/);
});

test('a zombie', async () => {
  family = await startFamily(['--pages', '4', '--zombie', '1']);
  const z = (family.info as unknown as { zombie: number }).zombie;
  assertOneLineError(runCli(['inspect', String(z)]), new RegExp(`process ${z} \\(cow_family\\) is a zombie: .*its parent ${family.info.pid} has not reaped it`));
  // The zombie inside a live family is skipped with a note, not an error.
  const r = runCli(['inspect', String(family.info.pid), '--json']);
  assert.is(r.status, 0, r.stderr);
  assert.ok(JSON.parse(r.stdout).notes.some((n: string) => n.includes(`process ${z} (cow_family) is a zombie and was skipped`)));
  await family.stop();
});

test('a process that exits during the scan', async () => {
  family = await startFamily(['--pages', '4', '--child', '0:0']);
  const parent = checkTarget(family.info.pid);
  const child = checkTarget(family.info.children[0]);
  await family.stop(); // both exit and are reaped after they were listed
  try {
    await captureProcesses([parent, child]);
    assert.unreachable('captured processes that had exited');
  } catch (e) {
    assert.instance(e, TargetError);
    assert.match(describeError(e), new RegExp(`^process ${parent.pid} \\(cow_family\\) exited during the scan: run again`));
  }
});

test('a child that exits after its pagemap was read, before its smaps_rollup (inspect reads totals late)', async () => {
  // One thread-pool thread: the family's pagemaps are read first, then the rollups one by one in family
  // order, the parent's (1 GiB, ~20 ms) first. The child killed as soon as the pagemaps are in is still
  // waiting for its rollup: it is left out by memoryRead, as skipExited leaves out one gone earlier.
  family = await startFamily(['--pages', '262144', '--child', '0:0', '--child', '1:0']);
  const [first, last] = family.info.children;
  const script = `
    const { captureProcesses, checkTarget } = require(${JSON.stringify(path.join(ROOT, 'dist', 'native', 'capture'))});
    (async () => {
      const targets = [${family.info.pid}, ${first}, ${last}].map(checkTarget);
      const c = await captureProcesses(targets, { memoryLater: true, skipExited: { except: new Set([${family.info.pid}]) } });
      const before = c.processes.map((p) => p.memory.rss);
      process.kill(${last}, 'SIGKILL');
      const late = await c.memoryRead;
      console.log(JSON.stringify({ before, late: late.map((p) => p.pid), after: c.processes.map((p) => [p.pid, p.memory.rss]) }));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, UV_THREADPOOL_SIZE: '1' }, timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { before: number[]; late: number[]; after: [number, number][] };
  assert.equal(out.before, [0, 0, 0], 'no totals before the rollups are read');
  assert.equal(out.late, [last]);
  const rss = new Map(out.after);
  // the parent and the live child have their totals: 1 GiB resident each (in kB), and a little more
  for (const pid of [family.info.pid, first]) assert.ok(rss.get(pid)! >= 1024 * 1024, `rss of ${pid}: ${rss.get(pid)}`);
  await family.stop();
});

test('a process of another user, read without privileges', () => {
  if (!isRoot()) assert.unreachable('this test switches users with setpriv and needs root (CI runs as root)');
  stage = stagePackage();
  // pid 1 belongs to root; uid 65534 may not read its maps.
  const r = runCli(['inspect', '1'], { prefix: AS_NOBODY, cli: stage.cli });
  assertOneLineError(r, /cannot read \/proc\/1\/\w+: EACCES: run as the same user as process 1 .*or as root/);
  // a program this user cannot read: refused before any interpreter starts, not left to its own error
  // (Ruby's "Permission denied -- app.rb (LoadError)" blamed on the interpreter, Python's in a traceback)
  for (const [name, words] of [['app.rb', ['run']], ['app.py', ['run']], ['config.ru', ['compare', '--rack']]] as const) {
    const file = path.join(stage.dir, name);
    fs.writeFileSync(file, '', { mode: 0o000 });
    fs.chmodSync(file, 0o000);
    assertOneLineError(runCli([...words, file], { prefix: AS_NOBODY, cli: stage.cli }), new RegExp(`^cowscope: the (program|Rack app) .*${name.replace('.', '\\.')} is not readable by this user \\(uid 65534\\): make it readable \\(chmod a\\+r `));
  }
});

test('garbage arguments', () => {
  assertOneLineError(runCli([]), /name a command/);
  assertOneLineError(runCli(['inspect']), /inspect needs <pid>: cowscope inspect <pid>: see cowscope inspect --help/);
  assertOneLineError(runCli(['inspect', 'abc']), /"abc" is not a process id: give a number/);
  assertOneLineError(runCli(['inspect', '0']), /"0" is not a process id/);
  assertOneLineError(runCli(['inspect', '-5']), /"-5" is not a process id/);
  assertOneLineError(runCli(['inspect', '12x']), /"12x" is not a process id/);
  assertOneLineError(runCli(['inspect', '1', '--frobnicate']), /unknown option --frobnicate: see cowscope inspect --help$/);
  assertOneLineError(runCli(['inspectt', '1']), /Unknown argument|Did you mean inspect/);
  assertOneLineError(runCli(['report']), /report needs <file>: cowscope report <file>/);
  // a thread's id (node runs V8's platform threads beside its main one): the process to give instead
  const tid = fs.readdirSync(`/proc/${process.pid}/task`).find((t) => t !== String(process.pid))!;
  assertOneLineError(runCli(['inspect', tid]), new RegExp(`^cowscope: ${tid} is a thread of process ${process.pid}, not a process: give ${process.pid}`));
  // and before a watch's first sample, not at every sample
  assertOneLineError(runCli(['inspect', tid, '--watch', '1', '--count', '2']), new RegExp(`^cowscope: ${tid} is a thread of process ${process.pid}, not a process`));
  // a heap-map folder that is not there is a typo, said before anything is read (not one note per child)
  assertOneLineError(runCli(['inspect', String(process.pid), '--heap-map-dir', '/nonexistent/cowscope-maps']), /--heap-map-dir \/nonexistent\/cowscope-maps: ENOENT: give the folder the live agent writes its heap maps to/);
  assertOneLineError(runCli(['inspect', String(process.pid), '--heap-map-dir', '/etc/hostname']), /--heap-map-dir \/etc\/hostname is not a folder/);
});

test('an unknown flag: named once, as typed, with the command\'s --help', () => {
  // yargs reports both spellings (bogus-flag, bogusFlag)
  assertOneLineError(runCli(['inspect', '1', '--bogus-flag']), /^cowscope: unknown option --bogus-flag: see cowscope inspect --help$/);
  assertOneLineError(runCli(['run', '--bogus-flag=3', 'app.rb']), /^cowscope: unknown option --bogus-flag: see cowscope run --help$/);
  assertOneLineError(runCli(['inspect', '1', 'extra']), /^cowscope: unexpected argument "extra": see cowscope inspect --help$/);
});

test('a value outside the choices, and a word where a number goes: the option, the value, the choices', () => {
  assertOneLineError(runCli(['inspect', '1', '--format', 'xml']), /^cowscope: --format "xml" is not one of table, json, prometheus: see cowscope inspect --help$/);
  assertOneLineError(runCli(['inspect', '1', '--watch', 'abc']), /^cowscope: --watch takes a number, not "abc": see cowscope inspect --help$/);
  assertOneLineError(runCli(['inspect', '1', '--watch=1', '--count=many']), /^cowscope: --count takes a number, not "many": see cowscope inspect --help$/);
  assertOneLineError(runCli(['run', '--children', 'four', 'app.rb']), /^cowscope: --children takes a number, not "four": see cowscope run --help$/);
  // `--children=` reaches the command as 0: the option had no value, not one out of range
  assertOneLineError(runCli(['run', '--children=', 'app.rb']), /^cowscope: --children needs a value: see cowscope run --help$/);
});

test('a mistyped option or strategy step: the nearest known one suggested, none when nothing is near', () => {
  assertOneLineError(runCli(['inspect', '1', '--jsn']), /^cowscope: unknown option --jsn \(did you mean --json\?\): see cowscope inspect --help$/);
  assertOneLineError(runCli(['inspect', '1', '--mapings', '--bites']), /^cowscope: unknown options --mapings \(did you mean --mappings\?\), --bites \(did you mean --bytes\?\): see cowscope inspect --help$/);
  // the command's own options: run's, compare's, budget's
  assertOneLineError(runCli(['run', '--childs', '2', 'app.rb']), /^cowscope: unknown option --childs \(did you mean --children\?\)/);
  assertOneLineError(runCli(['compare', '--repeats', '3', 'app.rb']), /^cowscope: unknown option --repeats \(did you mean --repeat\?\)/);
  assertOneLineError(runCli(['budget', '--update']), /^cowscope: unknown option --update \(did you mean --update-baseline\?\)/);
  assertOneLineError(runCli(['inspect', '1', '--repeat']), /^cowscope: unknown option --repeat: see cowscope inspect --help$/);
  const noop = path.join(RUBY_FIXTURES, 'noop.rb');
  assertOneLineError(runCli(['run', '--strategy', 'prewram', noop]), /^cowscope: unknown strategy step "prewram" in "prewram" \(did you mean prewarm\?\): use none, gc/);
  assertOneLineError(runCli(['compare', '--strategies', 'none,gc+nakayoshy', noop]), /^cowscope: unknown strategy step "nakayoshy" in "gc\+nakayoshy" \(did you mean nakayoshi\?\): use/);
  assertOneLineError(runCli(['run', '--strategy', 'magic', noop]), /^cowscope: unknown strategy step "magic" in "magic": use/);
});

test('a file to write (--save, --html, --output, init\'s --config) in a folder that does not exist, a folder, or a pipe: refused before anything runs', () => {
  const missing = path.join(ROOT, 'no-such-folder', 'out');
  const noop = path.join(RUBY_FIXTURES, 'noop.rb');
  const cases: [string[], RegExp][] = [
    [['run', '--html', `${missing}.html`, noop], /^cowscope: cannot write .*no-such-folder\/out\.html \(--html\): folder .*no-such-folder does not exist: create it, or name a file in a folder that exists$/],
    [['run', '--save', ROOT, noop], /^cowscope: cannot write .* \(--save\): it is a folder: name a file/],
    [['compare', '--html', `${missing}.html`, noop], /\(--html\): folder .*no-such-folder does not exist: create it, or name a file in a folder that exists$/],
    [['inspect', '1', '--format', 'prometheus', '--output', `${missing}.prom`], /\(--output\): folder .*no-such-folder does not exist: create it, or name a file in a folder that exists$/],
    [['report', `${missing}.cow`, '--html', `${missing}.html`], /\(--html\): folder .*no-such-folder does not exist: create it, or name a file in a folder that exists$/],
  ];
  // init's --config is a file it writes (budget's, one it reads): it was checked after the run, its own
  // way, or not at all (a folder with --force: EISDIR after the run)
  const app = fs.mkdtempSync(path.join(ROOT, 'dist', 'init-app-'));
  try {
    fs.copyFileSync(noop, path.join(app, 'app.rb'));
    cases.push(
      [['init', '--config', `${missing}.json`], /^cowscope: cannot write .*no-such-folder\/out\.json \(--config\): folder .*no-such-folder does not exist: create it, or name a file in a folder that exists$/],
      [['init', '--config', app, '--force'], new RegExp(`^cowscope: cannot write ${app} \\(--config\\): it is a folder: name a file \\(e\\.g\\. ${app}/cowscope\\.json\\)$`)],
    );
    // a pipe (or a device: /dev/null, as root) would be replaced by the renamed file
    const fifo = path.join(app, 'fifo');
    spawnSync('mkfifo', [fifo]);
    const special = /: it is not a regular file \(a device, a pipe or a socket\): name a regular file \(it is replaced: written beside it, then renamed into place\)$/;
    cases.push([['run', '--save', fifo, noop], special], [['inspect', '1', '--html', fifo], special], [['init', '--config', fifo, '--force'], special]);
    // (after a run, the write failed with "cannot write FILE: ENOENT", or an internal error for --output)
    for (const [args, pattern] of cases) assertOneLineError(runCli(args), pattern);
    assert.ok(fs.statSync(fifo).isFIFO(), 'the pipe is left as it was');
    assert.equal(fs.readdirSync(app).sort(), ['app.rb', 'fifo'], 'nothing written');
  } finally {
    fs.rmSync(app, { recursive: true, force: true });
  }
  assertOneLineError(runCli(['inspect', '1', '--json', '--format', 'prometheus']), /^cowscope: --json and --format prometheus ask for two outputs: give one/);
  // --format table was its default, so given with --json it was not told from none: JSON came out
  assertOneLineError(runCli(['inspect', '1', '--format', 'table', '--json']), /^cowscope: --json and --format table ask for two outputs: give one \(--json is --format json\)$/m);
});

test('root refused by a process outside its user namespace: no "run as root", the real fix', async () => {
  if (!isRoot()) assert.unreachable('this test needs root (CI runs as root)');
  // A root shell in a container is root in an inner user namespace: the kernel lets it read no process
  // outside (no CAP_SYS_PTRACE there). unshare --user --map-root-user builds exactly that.
  const target = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const r = runCli(['inspect', String(target.pid)], { prefix: ['unshare', '--user', '--map-root-user'] });
    assertOneLineError(r, new RegExp(`cannot read /proc/${target.pid}/\\w+: EACCES: even root may not read process ${target.pid} from here: .*another user namespace.*: run cowscope beside it`));
    assert.not.match(r.stderr, /or as root/);
  } finally {
    target.kill('SIGKILL');
    await new Promise((resolve) => target.once('exit', resolve));
  }
  // The hint is the same whatever refused root (here: a probe error as the addon raises it).
  const e = new ProbeError('EACCES: open /proc/1/pagemap', 'EACCES', 13, 'open', '/proc/1/pagemap', 'run as the same user as process 1 (it must be dumpable), or as root for the exact tier');
  assert.match(describeError(e), /^cannot read \/proc\/1\/pagemap: EACCES: (even root may not read process 1 from here|root without CAP_SYS_PTRACE may not read process 1)/);
});

test('run with a TMPDIR that is missing, a file or not writable: one line naming TMPDIR, exit 2', () => {
  const noop = path.join(RUBY_FIXTURES, 'noop.rb');
  // (QA: "internal error: ENOENT: no such file or directory, mkdtemp ...", naming no fix)
  assertOneLineError(runCli(['run', noop], { prefix: ['env', 'TMPDIR=/nonexistent-cowscope-tmp'] }), /^cowscope: cannot make a temporary folder in \/nonexistent-cowscope-tmp \(ENOENT\): set TMPDIR to a folder you can write to$/);
  assertOneLineError(runCli(['run', noop], { prefix: ['env', 'TMPDIR=/etc/passwd'] }), /^cowscope: cannot make a temporary folder in \/etc\/passwd \(ENOTDIR\): set TMPDIR to a folder you can write to$/);
});

test('run: a --workload in the other language, and --cache-probe on Python: refused before anything runs', () => {
  const dir = fs.mkdtempSync(path.join(ROOT, 'dist', 'workload-lang-'));
  try {
    const py = path.join(dir, 'wl.py');
    const rb = path.join(dir, 'wl.rb');
    // (QA: print(1) parses in both languages, and a .py workload ran as Ruby without a word)
    fs.writeFileSync(py, 'print(1)\n');
    fs.writeFileSync(rb, 'print(1)\n');
    assertOneLineError(runCli(['run', '--workload', py, path.join(RUBY_FIXTURES, 'noop.rb')]), /^cowscope: --workload \S*wl\.py is a Python file, and the program is Ruby: give a \.rb file \(the children load it\)$/);
    assertOneLineError(runCli(['run', '--workload', rb, path.join(ROOT, 'fixtures', 'python', 'hello.py')]), /^cowscope: --workload \S*wl\.rb is a Ruby file, and the program is Python: give a \.py file \(the children run it\)$/);
    assertOneLineError(runCli(['run', '--cache-probe', path.join(ROOT, 'fixtures', 'python', 'hello.py')]), /^cowscope: --cache-probe is for Ruby 3\.4 \(whose full GC empties every call cache\): a Python program has no such caches; leave it out$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// QA: run --save ok.cow --html on a full disk said "cannot write ...: ENOSPC", exit 2, and left ok.cow
// written. Both or neither (as root: a full tmpfs of 100 KiB for the HTML).
test('run --save and --html: the HTML failing on a full disk leaves no capture either', () => {
  if (!isRoot()) return;
  const dir = fs.mkdtempSync(path.join(ROOT, 'dist', 'both-or-none-'));
  const full = path.join(dir, 'full');
  fs.mkdirSync(full);
  let mounted = false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=100k', 'tmpfs', full]);
    mounted = true;
    // filled up to the last block, after the check before the run made and removed its test file
    spawnSync('dd', ['if=/dev/zero', `of=${path.join(full, 'fill')}`, 'bs=4k', 'count=100']);
    const save = path.join(dir, 'ok.cow');
    const r = runCli(['run', '--save', save, '--html', path.join(full, 'x.html'), path.join(RUBY_FIXTURES, 'noop.rb')]);
    assertOneLineError(r, /^cowscope: cannot write \S*full\/x\.html: ENOSPC$/);
    assert.equal(fs.readdirSync(dir).sort(), ['full'], 'no capture, no temporary file');
  } finally {
    if (mounted) execFileSync('umount', [full]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an option given twice: one line saying so (not "not 2,3"); --request repeats', () => {
  const noop = path.join(RUBY_FIXTURES, 'noop.rb');
  assertOneLineError(runCli(['run', '--children', '2', '--children', '3', noop]), /^cowscope: --children is given 2 times \(2, 3\): give it once$/);
  assertOneLineError(runCli(['run', '--strategy', 'gc', '--strategy=none', noop]), /^cowscope: --strategy is given 2 times \("gc", "none"\): give it once$/);
  // a repeatable option is not refused for it (here for want of --rack)
  assertOneLineError(runCli(['run', '--request', 'GET /', '--request', 'GET /x', noop]), /^cowscope: --request goes with --rack config\.ru/);
});

test('a process that exits during the scan is a one-line error, not an internal one', () => {
  // (QA: ExitedError's own name was missing from the one-liners: "internal error: process N ... exited")
  assert.is(describeError(new ExitedError(4242, 'ruby')), 'process 4242 (ruby) exited during the scan: run again when the process family is stable');
});

test('run: --request takes one value, a config.ru needs --rack, --example goes alone', () => {
  const noop = path.join(RUBY_FIXTURES, 'noop.rb');
  // the program after --request 'GET /' is the program, not a second request
  assertOneLineError(runCli(['run', '--request', 'GET /', noop]), /^cowscope: --request goes with --rack config\.ru \(Ruby\) or --wsgi module:app \(Python\)$/);
  assertOneLineError(runCli(['run', path.join(RUBY_FIXTURES, 'rack', 'config.ru')]), /^cowscope: .*rack\/config\.ru is a Rack app: run it with cowscope run --rack .*rack\/config\.ru$/);
  // (QA: one that is not there was "a Rack app" too, and --rack then said it does not exist)
  assertOneLineError(runCli(['run', path.join(RUBY_FIXTURES, 'rack', 'missing.ru')]), /^cowscope: the program .*rack\/missing\.ru does not exist: check the path$/);
  assertOneLineError(runCli(['run', '--example', noop]), /^cowscope: --example runs the bundled example: give no program, --rack or --wsgi with it$/);
  // (QA round 13: a rackup named memo.txt reached Rack, whose require failed, and the agent's report of
  // that failed too, in a stack trace of its own)
  assertOneLineError(runCli(['run', '--rack', path.join(RUBY_FIXTURES, '..', '..', 'README.md')]), /^cowscope: --rack \S*README\.md is no rackup file: Rack loads a \.ru file \(config\.ru\), or requires a \.rb one that defines the app's constant; rename it or name the config\.ru$/);
  assertOneLineError(runCli(['run']), /give a program to run \(cowscope run app\.rb\), a Rack app \(cowscope run --rack config\.ru\), or --example/);
});

test('an app using Cowscope.workload runs without the agent behind defined?(Cowscope), as the README shows', () => {
  const example = path.join(ROOT, 'examples', 'app.rb');
  assert.match(fs.readFileSync(example, 'utf8'), /^if defined\?\(Cowscope\)\n {2}Cowscope\.workload \{/m);
  const r = spawnSync('ruby', [example], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^served 100 requests/);
  // The same call without the guard fails in plain Ruby: that is why the README shows the guard.
  const bare = spawnSync('ruby', ['-e', 'Cowscope.workload { }'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(bare.status, 1);
  assert.match(bare.stderr, /uninitialized constant Cowscope/);
  assert.match(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'), /^Cowscope\.workload \{ .* \} if defined\?\(Cowscope\)$/m);
});

test('--debug adds the stack trace', () => {
  const r = runCli(['inspect', String(deadPid()), '--debug']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /^cowscope: no process/);
  assert.match(r.stderr, /\n\s+at /);
});

test('an output file\'s temporary name planted as a symlink is refused, not followed, and left alone', () => {
  const dir = fs.mkdtempSync(path.join(ROOT, 'dist', 'planted-'));
  try {
    const target = path.join(dir, 'victim');
    fs.writeFileSync(target, 'precious');
    const out = path.join(dir, 'report.html');
    fs.symlinkSync(target, tempNameFor(out));
    assert.throws(() => writeFileAtomically(out, 'report'), (e: Error) => describeError(e) === `${tempNameFor(out)} is in the way (left by a cowscope that was killed?): remove it, and run again`);
    assert.is(fs.readFileSync(target, 'utf8'), 'precious', 'the symlink\'s target is untouched');
    assert.ok(fs.lstatSync(tempNameFor(out)).isSymbolicLink(), 'the planted name stays');
    assert.not.ok(fs.existsSync(out));
    fs.rmSync(tempNameFor(out));
    writeFileAtomically(out, 'report');
    assert.is(fs.readFileSync(out, 'utf8'), 'report');
    assert.equal(fs.readdirSync(dir).sort(), ['report.html', 'victim'], 'no temporary file left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// QA (as root): a folder link planted by another user in a folder others can write (sticky, as /tmp)
// sent `run --save shared/dirlink/victim` over a root-only file, exit 0. Such a link is not followed:
// refused before anything runs, and by the write itself.
test('an output file whose path goes through a folder link another user planted (in a folder others can write, or in one of its own): refused, its target untouched', () => {
  const dir = fs.mkdtempSync(path.join(ROOT, 'dist', 'planted-'));
  try {
    const guarded = path.join(dir, 'guarded');
    fs.mkdirSync(guarded, { mode: 0o700 });
    const victim = path.join(guarded, 'victim');
    fs.writeFileSync(victim, 'precious');
    const shared = path.join(dir, 'shared');
    fs.mkdirSync(shared);
    fs.chmodSync(shared, 0o1777);
    const link = path.join(shared, 'dirlink');
    fs.symlinkSync(guarded, link);
    const out = path.join(link, 'victim');
    if (isRoot()) {
      fs.lchownSync(link, 65534, 65534); // nobody's link
      const why = `${link} is a symbolic link of another user`;
      assert.throws(() => writeFileAtomically(out, 'report'), (e: Error) => describeError(e).startsWith(why));
      assertOneLineError(runCli(['run', '--save', out, path.join(RUBY_FIXTURES, 'noop.rb')]), new RegExp(`^cowscope: cannot write ${out} \\(--save\\): ${why}, which cowscope does not follow \\(it may have been planted\\): name the folder it leads to, if you trust it$`));
      assert.is(fs.readFileSync(victim, 'utf8'), 'precious', "the link's target is untouched");
      assert.equal(fs.readdirSync(guarded), ['victim'], 'no temporary file there');
      // reached through a link of root's own (trusted, followed), it is still that link
      const trusted = path.join(dir, 'trusted');
      fs.symlinkSync(path.join('shared', 'dirlink'), trusted);
      assert.throws(() => writeFileAtomically(path.join(trusted, 'victim'), 'report'), (e: Error) => describeError(e).startsWith(why));
      assert.is(fs.readFileSync(victim, 'utf8'), 'precious');
      // QA: nobody's link in a folder of nobody's own (0755, only nobody writes it) was followed
      const owned = path.join(dir, 'owned');
      fs.mkdirSync(owned, { mode: 0o755 });
      fs.chownSync(owned, 65534, 65534);
      const ownedLink = path.join(owned, 'reports');
      fs.symlinkSync(guarded, ownedLink);
      fs.lchownSync(ownedLink, 65534, 65534);
      assertOneLineError(runCli(['run', '--save', path.join(ownedLink, 'x.cow'), path.join(RUBY_FIXTURES, 'noop.rb')]), new RegExp(`^cowscope: cannot write ${ownedLink}/x\\.cow \\(--save\\): ${ownedLink} is a symbolic link of another user, which cowscope does not follow`));
      assert.equal(fs.readdirSync(guarded), ['victim'], 'nothing written through it');
      // the same link of this process's own user is its own: followed
      fs.lchownSync(link, 0, 0);
    }
    writeFileAtomically(out, 'report');
    assert.is(fs.readFileSync(victim, 'utf8'), 'report');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// QA: a file system that refuses the write though access() allows it (sysfs, as root), and a name ending
// in a slash, failed only after the run (a raw "EACCES ... open" or "ENOTDIR ... rename", naming no fix).
test('an output file the folder refuses though its mode allows, or a name ending in a slash: refused before anything runs', () => {
  const marker = path.join(ROOT, 'dist', `ran-${process.pid}`);
  const program = path.join(ROOT, 'dist', `marks-${process.pid}.rb`);
  fs.writeFileSync(program, `File.write(${JSON.stringify(marker)}, 'ran')\n`);
  try {
    assertOneLineError(runCli(['run', '--save', `${path.join(ROOT, 'dist')}/new.cow/`, program]), /^cowscope: cannot write .*\/new\.cow\/ \(--save\): it ends in a slash \(a folder\): name a file/);
    if (isRoot() && fs.existsSync('/sys/kernel')) assertOneLineError(runCli(['run', '--save', '/sys/kernel/x.cow', program]), /^cowscope: cannot write \/sys\/kernel\/x\.cow \(--save\): folder \/sys\/kernel is not writable \((EACCES|EROFS|EPERM)\): name a file in a folder you can write$/);
    assert.not.ok(fs.existsSync(marker), 'the program did not run');
  } finally {
    fs.rmSync(program, { force: true });
    fs.rmSync(marker, { force: true });
  }
});

// QA: a report that could not be written to stdout (a full disk, /dev/full) exited 0, the file cut short.
test('stdout that cannot be written (/dev/full): one line, exit 2, nothing left running; a closed pipe is no failure', () => {
  // (doctor and report write through the stream, inspect with fs.writeSync, run once its processes are reaped)
  // (--help and --version: yargs printed them and exited before the write's error came: exit 0, QA)
  const commands: string[][] = [['doctor'], ['inspect', String(process.pid)], ['run', '--children', '1', path.join(RUBY_FIXTURES, 'noop.rb')], ['--help'], ['run', '--help'], ['--version']];
  for (const args of commands) {
    const out = fs.openSync('/dev/full', 'w');
    try {
      const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'main.js'), ...args], { stdio: ['ignore', out, 'pipe'], encoding: 'utf8', timeout: 60_000 });
      assert.is(r.status, 2, `${args[0]}: exit 2, got ${r.status}: ${r.stderr}`);
      assert.is(r.stderr, 'cowscope: cannot write the output to stdout (ENOSPC): the report is incomplete; free space where it goes, or send it elsewhere\n', args[0]);
    } finally {
      fs.closeSync(out);
    }
  }
  const piped = spawnSync('bash', ['-c', `node ${JSON.stringify(path.join(ROOT, 'dist', 'cli', 'main.js'))} doctor | head -c 1 > /dev/null; echo \${PIPESTATUS[0]}`], { encoding: 'utf8', timeout: 60_000 });
  assert.is(piped.stdout.trim(), '0', piped.stderr);
});

test('run: a --ruby that is not there says to check the path it was given, not to pass the flag', () => {
  assertOneLineError(runCli(['run', '--ruby', '/nonexistent/bin/ruby', path.join(RUBY_FIXTURES, 'noop.rb')]), /no Ruby at \/nonexistent\/bin\/ruby: check the path/);
});

test('run, compare: a command of PATH given as the program is named as one, with what run starts (it said "the program true does not exist")', () => {
  for (const command of ['run', 'compare'])
    for (const [word, program] of [['true', ['true']], ['ls', ['--', 'ls', '-l']]] as const)
      assertOneLineError(runCli([command, ...program]), new RegExp(`^cowscope: ${word} is a command \\(/\\S+\\), not a Ruby or Python program: cowscope ${command} starts a Ruby script .*--rack config\\.ru, --wsgi module:app.*cowscope inspect`));
  // after `ruby` a word is the script, whatever PATH has
  assertOneLineError(runCli(['run', '--', 'ruby', 'true']), /the program true does not exist: check the path/);
});

test.run();
