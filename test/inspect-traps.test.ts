// Kernel traps, in both tiers (root: exact; uid 65534: exclusive-bit), against the fixture's plan:
// - a parent that makes a region PROT_NONE after the fork still shares those frames with its children
//   (they were counted "new": the parent's ---p mapping was not read, so nothing paired with them);
// - a child that makes a range of its own PROT_NONE still holds its pages (they were left out of every count);
// - a child that stores the byte already there into a parent's huge page owns a copy with the same
//   contents (the exclusive-bit tier compared contents there and called it shared);
// - a child that moves the parent's pages with mremap still shares them, at another address (they were
//   "new": pages pair by address). The exact tier tells by the frames; the exclusive-bit tier cannot.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Family, isRoot, runCli, startFamily, stopAll } from './helpers/family';
import { AS_NOBODY, Stage, stagePackage } from './helpers/stage';

let stage: Stage | undefined;
let family: Family | undefined;

test.after(async () => {
  await family?.stop();
  await stopAll();
  stage?.remove();
});

type Pages = { shared: number; copied: number; new: number; absent: number };

/** A child's page counts summed over its mappings in [from, to) (a protected range splits a mapping). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function pagesIn(report: any, pid: number, from: number, to: number): Pages {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const s = report.sharing.find((x: any) => x.pid === pid);
  assert.ok(s, `child ${pid} is in the report`);
  const sum: Pages = { shared: 0, copied: 0, new: 0, absent: 0 };
  for (const m of s.mappings) {
    if (m.start < from || m.start >= to) continue;
    assert.ok(m.end <= to, `mapping ${m.start.toString(16)}-${m.end.toString(16)} lies in the fixture's`);
    for (const k of Object.keys(sum) as (keyof Pages)[]) sum[k] += m.pages[k];
  }
  return sum;
}

/** inspect --json --mappings of the family: as root, and as uid 65534 from the staged copy. */
function bothTiers(pid: number): [string, unknown][] {
  const root = runCli(['inspect', String(pid), '--json', '--mappings']);
  assert.is(root.status, 0, root.stderr);
  const nobody = runCli(['inspect', String(pid), '--json', '--mappings'], { prefix: AS_NOBODY, cli: stage!.cli });
  assert.is(nobody.status, 0, nobody.stderr);
  const reports: [string, unknown][] = [
    ['exact', JSON.parse(root.stdout)],
    ['exclusive-bit', JSON.parse(nobody.stdout)],
  ];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  for (const [tier, r] of reports) assert.is((r as any).tier, tier);
  return reports;
}

test('PROT_NONE after the fork, in the parent and in the children: the pages are still shared (or copied), none new, none left out', async () => {
  if (!isRoot()) assert.unreachable('this test switches users with setpriv and needs root (CI runs as root)');
  stage = stagePackage();
  // child 0 writes pages 0-9, then both children protect 0-49; the parent protects 150-199
  family = await startFamily(['--pages', '200', '--child', '0-9:0', '--child', ':0', '--child-protnone', '0-49', '--parent-protnone', '150-199'], AS_NOBODY, stage.fixture);
  const { base, pageSize, children } = family.info;
  const end = base + 200 * pageSize;
  for (const [tier, report] of bothTiers(family.info.pid)) {
    assert.equal(pagesIn(report, children[0], base, end), { shared: 190, copied: 10, new: 0, absent: 0 }, `${tier}: child 0`);
    assert.equal(pagesIn(report, children[1], base, end), { shared: 200, copied: 0, new: 0, absent: 0 }, `${tier}: child 1`);
  }
});

test('a copy with the same contents inside the parent\'s huge page is copied, in both tiers', async () => {
  await family?.stop();
  // each child stores, at 100 of the huge page's 512 small pages, the byte already there
  family = await startFamily(['--pages', '10', '--child', ':0', '--huge', '1', '--huge-same', '0-99'], AS_NOBODY, stage!.fixture);
  const { hugeBase, hugePages, pageSize, children } = family.info;
  assert.is(hugePages, 512, 'the kernel gave the fixture a transparent huge page (THP enabled: always or madvise)');
  for (const [tier, report] of bothTiers(family.info.pid)) {
    const p = pagesIn(report, children[0], hugeBase, hugeBase + 512 * pageSize);
    assert.equal([p.copied, p.shared], [100, 412], `${tier}: the huge page's small pages`);
  }
});

test('pages a child moved with mremap: still shared with the parent (exact tier), none new', async () => {
  await family?.stop();
  family = await startFamily(['--pages', '100', '--child', '20-29:0', '--child', ':0', '--child-move', '50']);
  const { base, moveBase, pageSize, children } = family.info;
  const r = runCli(['inspect', String(family.info.pid), '--json', '--mappings']);
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.is(report.tier, 'exact');
  // pages 0-49 now at moveBase, 50-99 where they were. Child 0 wrote 20-29 before the move: its own
  // pages, with nothing of the parent's at their new address to pair with, so new (private either way).
  assert.equal(pagesIn(report, children[0], moveBase, moveBase + 50 * pageSize), { shared: 40, copied: 0, new: 10, absent: 0 }, 'child 0, moved');
  assert.equal(pagesIn(report, children[1], moveBase, moveBase + 50 * pageSize), { shared: 50, copied: 0, new: 0, absent: 0 }, 'child 1, moved');
  for (const c of children) assert.equal(pagesIn(report, c, base, base + 100 * pageSize), { shared: 50, copied: 0, new: 0, absent: 0 }, `child ${c}, in place`);
});

test.run();
