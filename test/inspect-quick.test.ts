// The plain `inspect PID --json` path (cli/main.ts): the family's reads start before the analyzers load
// and are taken over by the capture, which must then be the capture a fresh read gives; the one output
// is written without a stream, and a reader that went away still ends the program quietly.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { captureProcesses, checkTarget, readFamilyAhead } from '../native/capture';
import { familyOf, liveFamily, parentMap } from '../native/proc';
import { CLI, Family, startFamily, startJsonFamily, stopAll } from './helpers/family';

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

// A parent with a child forked by its main thread, one forked by another thread that stays alive, and a
// grandchild; all wait for the parent's stdin to close (then the parent reaps its children, and the
// child its own).
const TREE = `
import json, os, sys, threading
r, w = os.pipe()
def fork(grandchild=False):
    pid = os.fork()
    if pid == 0:
        try: os.close(w)  # (the grandchild's parent closed it before forking it)
        except OSError: pass
        g = fork() if grandchild else 0
        os.read(r, 1)
        if g: os.waitpid(g, 0)
        os._exit(0)
    return pid
kids = {'main': fork(grandchild=True)}
ready = threading.Event()
done = threading.Event()
def other():
    kids['thread'] = fork()
    ready.set()
    done.wait()
t = threading.Thread(target=other)
t.start()
ready.wait()
print(json.dumps({'pid': os.getpid(), **kids}), flush=True)
sys.stdin.read()
os.close(w)
for k in kids.values(): os.waitpid(k, 0)
done.set()
`;

test("a family is listed from the kernel's children lists as from every process's parent: children of every thread, grandchildren", async () => {
  assert.ok(fs.existsSync(`/proc/self/task/${process.pid}/children`), 'the kernel keeps children lists (CONFIG_PROC_CHILDREN)');
  const tree = await startJsonFamily<{ pid: number; main: number; thread: number }>('python3', ['-c', TREE]);
  try {
    const { pid, main, thread } = tree.info;
    // the grandchild shows once the child has forked it
    let listed = familyOf(pid);
    for (let i = 0; i < 100 && listed.length < 4; i++) {
      await new Promise((r) => setTimeout(r, 20));
      listed = familyOf(pid);
    }
    assert.equal(listed.length, 4, 'the parent, two children and a grandchild');
    assert.equal(listed.slice(0, 3), [pid, ...[main, thread].sort((a, b) => a - b)], 'parents before children, siblings by pid');
    assert.equal(listed, familyOf(pid, parentMap()), "the same family from every process's stat");
    // all alive, the grandchild too (not a zombie: a test of live processes), and all taken by liveFamily
    assert.equal(liveFamily(checkTarget(pid)).family.map((p) => [p.pid, p.zombie]), listed.map((p) => [p, false]));
  } finally {
    await tree.stop();
  }
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
