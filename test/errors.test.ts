// Bad input: one line on stderr that names the fix, exit code 2, no stack trace (unless --debug),
// nothing left running.

import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { captureProcesses, checkTarget, TargetError } from '../native/capture';
import { describeError } from '../cli/errors';
import { Family, isRoot, runCli, startFamily, stopAll } from './helpers/family';
import { AS_NOBODY, Stage, stagePackage } from './helpers/stage';

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
    assert.match(describeError(e), new RegExp(`process ${parent.pid} \\(cow_family\\) exited during the scan: run again`));
  }
});

test('a process of another user, read without privileges', () => {
  if (!isRoot()) assert.unreachable('this test switches users with setpriv and needs root (CI runs as root)');
  stage = stagePackage();
  // pid 1 belongs to root; uid 65534 may not read its maps.
  const r = runCli(['inspect', '1'], { prefix: AS_NOBODY, cli: stage.cli });
  assertOneLineError(r, /cannot read \/proc\/1\/\w+: EACCES: run as the same user as process 1 .*or as root/);
});

test('garbage arguments', () => {
  assertOneLineError(runCli([]), /name a command/);
  assertOneLineError(runCli(['inspect']), /inspect needs more arguments: see cowscope inspect --help/);
  assertOneLineError(runCli(['inspect', 'abc']), /"abc" is not a process id: give a number/);
  assertOneLineError(runCli(['inspect', '0']), /"0" is not a process id/);
  assertOneLineError(runCli(['inspect', '-5']), /"-5" is not a process id/);
  assertOneLineError(runCli(['inspect', '12x']), /"12x" is not a process id/);
  assertOneLineError(runCli(['inspect', '1', '--frobnicate']), /Unknown argument: frobnicate/);
  assertOneLineError(runCli(['inspectt', '1']), /Unknown argument|Did you mean inspect/);
});

test('--debug adds the stack trace', () => {
  const r = runCli(['inspect', String(deadPid()), '--debug']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /^cowscope: no process/);
  assert.match(r.stderr, /\n\s+at /);
});

test.run();
