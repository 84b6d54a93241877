// Ground truth, exact tier (root): the fixture plants copied, new and zero pages per child, and
// `cowscope inspect` must report exactly those counts in the fixture's mapping (with siblings, the pages
// the parent wrote that two children still share are copiedByParent).

import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, Family, isRoot, runCli, startFamily, startJsonFamily, stopAll } from './helpers/family';
import { fixtureMapping, plantedWithSiblings } from './helpers/plan';

let family: Family | undefined;
test.after(async () => {
  await family?.stop();
  await stopAll();
});

const PLAN = {
  pages: 512,
  zero: 16,
  children: [
    { writes: '0-9,20', new: 5 },
    { writes: '30-129', new: 0 },
    { writes: '200-299/3,100-104', new: 17 },
  ],
  parent: '100-104,400-420',
};

test('exact tier: inspect reports the planted shared, copied, new and zero pages per child', async () => {
  if (!isRoot()) assert.unreachable('this test needs root (CI runs as root)');
  family = await startFamily([
    '--pages', String(PLAN.pages),
    '--zero', String(PLAN.zero),
    ...PLAN.children.flatMap((c) => ['--child', `${c.writes}:${c.new}`]),
    '--parent', PLAN.parent,
  ]);
  const r = runCli(['inspect', String(family.info.pid), '--json', '--mappings']);
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.is(report.schema, 'cowscope.inspect/1');
  assert.is(report.tier, 'exact');
  assert.is(report.pageSize, family.info.pageSize);
  assert.equal(report.processes.map((p: any) => p.pid).sort(), [family.info.pid, ...family.info.children].sort());
  assert.is(report.sharing.length, PLAN.children.length);
  PLAN.children.forEach((c, i) => {
    const m = fixtureMapping(report, family!.info.children[i], family!.info.base);
    const siblings = PLAN.children.filter((_, j) => j !== i).map((x) => x.writes);
    const expected = plantedWithSiblings(PLAN.pages, PLAN.zero, c.writes, c.new, PLAN.parent, siblings, family!.info.zeroPages);
    // Spare pages other children used but this one did not are untouched: not counted. Pages the parent
    // wrote that a sibling still shares at the child's frame are the parent's copies.
    assert.equal(m.pages, expected, `child ${i}`);
    assert.is(m.region, 'anon');
  });
});

test('exact tier: totals are the sum of regions, and regions the sum of mappings', async () => {
  if (!family) family = await startFamily(['--pages', '64', '--child', '0-3:2']);
  const r = runCli(['inspect', String(family.info.pid), '--json', '--mappings']);
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  for (const s of report.sharing) {
    for (const key of ['shared', 'copied', 'new', 'absent', 'swapped', 'zero']) {
      const byRegion = s.regions.reduce((n: number, g: any) => n + g.pages[key], 0);
      const byMapping = s.mappings.reduce((n: number, g: any) => n + g.pages[key], 0);
      assert.is(byRegion, s.pages[key], `${key}: regions add up`);
      assert.is(byMapping, s.pages[key], `${key}: mappings add up`);
    }
  }
});

test('human output names the tier and shows every child', async () => {
  const r = runCli(['inspect', String(family!.info.pid)]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /tier exact/);
  assert.match(r.stdout.split('\n')[2], /^Answer: each of the 3 children stopped sharing \d/, 'the answer first');
  // the planted children write 11, 100 and 39 pages of their own: too different to share a table
  for (const c of family!.info.children) assert.match(r.stdout, new RegExp(`^Child ${c} by region$`, 'm'));
  assert.match(r.stdout, /SHARED\s+COPIED\s+COPIED-BY-PARENT\s+NEW/); // siblings: the parent's copies are told apart
  assert.not.match(r.stdout, /SWAPPED/, 'nothing is swapped: no SWAPPED column');
});

// A master re-executed by USR2 is a child that exec'd: its memory is a new program's, none of it its
// parent's. A parent with one such child (sleep) and one forked child that writes 500 of 2,000 buffers.
const EXEC_FAMILY = `
import json, os, signal, sys, time
bufs = [bytearray(4096) for _ in range(2000)]
execd = os.fork()
if execd == 0:
    os.execv("/bin/sleep", ["sleep", "600"])
forked = os.fork()
if forked == 0:
    for b in bufs[:500]:
        b[0] = 1
    time.sleep(600)
    os._exit(0)
time.sleep(0.3)
print(json.dumps({"execd": execd, "forked": forked}), flush=True)
sys.stdin.read()
for pid in (execd, forked):
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
`;

test('a child that exec\'d after its fork: marked, said in a note, and left out of the answer', async () => {
  const fam = await startJsonFamily<{ execd: number; forked: number }>('/usr/bin/python3', ['-c', EXEC_FAMILY]);
  try {
    const r = runCli(['inspect', String(fam.proc.pid), '--json']);
    assert.is(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    const row = (pid: number) => report.sharing.find((s: { pid: number }) => s.pid === pid);
    assert.is(row(fam.info.execd)?.execd, true, JSON.stringify(report.sharing.map((s: { pid: number; execd?: boolean }) => [s.pid, s.execd])));
    assert.is(row(fam.info.forked)?.execd, undefined);
    assert.ok(row(fam.info.forked).pages.copied >= 500, 'the forked child copied its 500 buffers');
    assert.ok(report.notes.some((n: string) => n.startsWith(`process ${fam.info.execd} and its parent run different programs (one of them exec'd after the fork`)), JSON.stringify(report.notes));
    const text = runCli(['inspect', String(fam.proc.pid)]);
    assert.match(text.stdout, /^Answer: the child stopped sharing /m, 'one child in the answer: the forked one');
  } finally {
    await fam.stop();
  }
});

// A shell's children are commands it exec'd: there is no fork-time image in them to measure, and the
// answer says so instead of "no children" (they are listed, sharing the files both map).
const SHELL_FAMILY = `
import json, subprocess, sys
kids = [subprocess.Popen(["/bin/sleep", "600"]) for _ in range(2)]
print(json.dumps({"kids": [k.pid for k in kids]}), flush=True)
sys.stdin.read()
for k in kids:
    k.kill()
    k.wait()
`;

test('every child exec\'d: the answer says they run other programs, not that there are no children', async () => {
  const fam = await startJsonFamily<{ kids: number[] }>('/usr/bin/python3', ['-c', SHELL_FAMILY]);
  try {
    const text = runCli(['inspect', String(fam.proc.pid)]);
    assert.is(text.status, 0, text.stderr);
    const [a, b] = fam.info.kids;
    assert.match(text.stdout, new RegExp(`^Answer: its 2 children \\(${a}, ${b}\\) run other programs \\(exec'd after the fork\\): no copy-on-write to measure`, 'm'));
    assert.not.match(text.stdout, /no children/);
    const report = JSON.parse(runCli(['inspect', String(fam.proc.pid), '--json']).stdout);
    assert.equal(report.sharing.filter((s: { execd?: boolean }) => s.execd).map((s: { pid: number }) => s.pid).sort(), [a, b].sort());
  } finally {
    await fam.stop();
  }
});

// A watch whose target exits (a server stopped): the samples so far, the curve, a line saying so, exit 0;
// not "no process N: check the pid", which is for a pid that was wrong from the start (QA).
test('inspect --watch: the target exiting ends the watch with its curve and a line, exit 0', async () => {
  const fam = await startFamily(['--pages', '64', '--child', '0-9:0']);
  const cowscope = spawn(process.execPath, [CLI, 'inspect', String(fam.info.pid), '--watch', '0.3'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  cowscope.stdout.on('data', (d: Buffer) => (stdout += d));
  cowscope.stderr.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => cowscope.once('exit', (code) => resolve(code)));
  try {
    // two samples, then the family goes
    for (let waited = 0; (stdout.match(/^\[\s*[\d.]+s\] child \d+: copied/gm) ?? []).length < 2 && waited < 20_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    await fam.stop();
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running after 20 s'), 20_000))]);
    assert.is(code, 0, stderr);
    const samples = (stdout.match(/^\[\s*[\d.]+s\] child \d+: copied/gm) ?? []).length;
    assert.ok(samples >= 2, stdout);
    assert.match(stdout, new RegExp(`copied memory per child over ${samples} samples`));
    assert.is(stderr, `cowscope: process ${fam.info.pid} exited after ${samples} samples: the watch ends\n`);
  } finally {
    cowscope.kill('SIGKILL');
    await exited;
    await fam.stop();
  }
});

test.run();
