// The plain `inspect PID --json` path (cli/main.ts): the family's reads start before the analyzers load
// and are taken over by the capture, which must then be the capture a fresh read gives; the one output
// is written without a stream, and a reader that went away still ends the program quietly.

import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { captureProcesses, checkTarget, readFamilyAhead } from '../native/capture';
import { liveFamily } from '../native/proc';
import { CLI, Family, startFamily, stopAll } from './helpers/family';

let family: Family | undefined;
test.after(async () => {
  await family?.stop();
  await stopAll();
});

/** What a capture says of each process, without the time it was taken. */
function facts(c: Awaited<ReturnType<typeof captureProcesses>>) {
  return c.processes.map((p) => ({ pid: p.pid, memory: p.memory, vmas: p.vmas, flags: Array.from(p.pages.flags), pfn: Array.from(p.pages.pfn) }));
}

test('reads started ahead are the reads a fresh capture makes; a different list is read afresh', async () => {
  family = await startFamily(['--pages', '300', '--zero', '4', '--child', '0-99/3:2', '--child', '5:0', '--parent', '200-209']);
  const { pid, children } = family.info;
  assert.equal(readFamilyAhead(pid), [pid, ...children], 'the target and its children, in family order');
  const listed = liveFamily(checkTarget(pid)).family;
  const taken = await captureProcesses(listed);
  const fresh = await captureProcesses(listed);
  assert.equal(facts(taken), facts(fresh));
  assert.equal(taken.meta.tier, fresh.meta.tier);
  assert.is(taken.meta.zeroPagesKnown, fresh.meta.zeroPagesKnown);
  // Ahead for the whole family, asked for the parent alone: the parent's own capture.
  readFamilyAhead(pid);
  const alone = await captureProcesses([checkTarget(pid)]);
  assert.equal(facts(alone), facts(fresh).slice(0, 1));
});

test('reads started ahead of a family that then exits: no error until a capture asks, and none escapes', async () => {
  const gone = await startFamily(['--pages', '8', '--child', '0:0']);
  assert.ok(readFamilyAhead(gone.info.pid));
  await gone.stop();
  await new Promise((r) => setTimeout(r, 200)); // the reads fail on the pool; nobody is waiting for them
  assert.is(readFamilyAhead(gone.info.pid), undefined, 'no process: nothing started, nothing thrown');
  assert.is(readFamilyAhead(2), undefined, 'a kernel thread: nothing started');
});

test('inspect --json whose reader went away exits 0 without a word', async () => {
  if (!family) family = await startFamily(['--pages', '8', '--child', '0:0']);
  const child = spawn(process.execPath, [CLI, 'inspect', String(family.info.pid), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy(); // the read end is closed before cowscope writes
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.is(code, 0, stderr);
  assert.is(stderr, '');
});

test.run();
