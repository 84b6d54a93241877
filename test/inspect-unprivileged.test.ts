// Without privileges (uid 65534, no capabilities) the fixture and cowscope give the same counts for a
// one-child family as the exact tier does as root, and say tier "exclusive-bit".

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Family, isRoot, runCli, startFamily, stopAll } from './helpers/family';
import { AS_NOBODY, Stage, stagePackage } from './helpers/stage';
import { fixtureMapping, planted } from './helpers/plan';

let stage: Stage | undefined;
let family: Family | undefined;

test.after(async () => {
  await family?.stop();
  await stopAll();
  stage?.remove();
});

const PLAN = { pages: 300, zero: 12, child: '0-19,50-59/3', newPages: 7, parent: '100-109,15' };
const ARGS = ['--pages', String(PLAN.pages), '--zero', String(PLAN.zero), '--child', `${PLAN.child}:${PLAN.newPages}`, '--parent', PLAN.parent];

test('exclusive-bit tier as uid 65534: the planted counts, the same as the exact tier', async () => {
  if (!isRoot()) assert.unreachable('this test switches users with setpriv and needs root (CI runs as root)');
  stage = stagePackage();
  family = await startFamily(ARGS, AS_NOBODY, stage.fixture);
  const r = runCli(['inspect', String(family.info.pid), '--json', '--mappings'], { prefix: AS_NOBODY, cli: stage.cli });
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.is(report.tier, 'exclusive-bit');
  assert.ok(report.zeroPagesKnown, 'PAGEMAP_SCAN tells zero pages apart without root');
  const expected = planted(PLAN.pages, PLAN.zero, PLAN.child, PLAN.newPages, PLAN.parent, family.info.zeroPages);
  const m = fixtureMapping(report, family.info.children[0], family.info.base);
  assert.equal({ ...m.pages, copiedByParent: undefined }, { ...expected, copiedByParent: undefined });

  // The same idle family read as root (exact tier) agrees on the whole child, not just the fixture mapping.
  const root = JSON.parse(runCli(['inspect', String(family.info.pid), '--json', '--mappings']).stdout);
  assert.is(root.tier, 'exact');
  assert.equal(root.sharing[0].pages, report.sharing[0].pages, 'whole-child totals agree across tiers');
});

test('exclusive-bit tier with siblings: ties are settled by content and still match the plan', async () => {
  await family?.stop();
  family = await startFamily(
    ['--pages', '200', '--child', '0-9:3', '--child', '20-39:0', '--parent', '150-159'],
    AS_NOBODY,
    stage!.fixture,
  );
  const r = runCli(['inspect', String(family.info.pid), '--json', '--mappings'], { prefix: AS_NOBODY, cli: stage!.cli });
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.is(report.tier, 'exclusive-bit');
  const m0 = fixtureMapping(report, family.info.children[0], family.info.base);
  const m1 = fixtureMapping(report, family.info.children[1], family.info.base);
  assert.equal([m0.pages.shared, m0.pages.copied, m0.pages.new], [180, 20, 3]);
  assert.equal([m1.pages.shared, m1.pages.copied, m1.pages.new], [170, 30, 0]);
});

test.run();
