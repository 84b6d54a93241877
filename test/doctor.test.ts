// cowscope doctor reports what this machine allows; checked against independent sources.

import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixtureBinary, isRoot, runCli } from './helpers/family';
import { AS_NOBODY, Stage, stagePackage } from './helpers/stage';

let stage: Stage | undefined;
test.after(() => stage?.remove());

test('as root: exact tier, PFNs and kpageflags visible, facts match the system', () => {
  if (!isRoot()) assert.unreachable('this test needs root (CI runs as root)');
  const r = runCli(['doctor', '--json']);
  assert.is(r.status, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  assert.is(d.schema, 'cowscope.doctor/1');
  assert.is(d.tier, 'exact');
  assert.is(d.facts.kernel, os.release());
  assert.is(d.facts.pageSize, Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' })));
  assert.ok(d.facts.pfnVisible && d.facts.kpagecount && d.facts.kpageflags && d.facts.capSysAdmin);
  assert.is(d.facts.ruby.version, execFileSync('ruby', ['-e', 'print RUBY_VERSION'], { encoding: 'utf8' }));
  const major = Number(os.release().split('.')[0]);
  const minor = Number(os.release().split('.')[1]);
  assert.is(d.facts.pagemapScan, major > 6 || (major === 6 && minor >= 7), 'PAGEMAP_SCAN exactly on 6.7+');
  // the C fixture's own check of a read fault (its pagemap entry), made in another process
  const fixture = JSON.parse(execFileSync(fixtureBinary(), ['--pages', '1', '--zero', '1'], { encoding: 'utf8', input: '' }));
  assert.is(d.facts.zeroPage, fixture.zeroPages, 'read faults map the zero page, as the fixture found');
  assert.is(d.checks.find((c: { check: string }) => c.check === 'zero page on read').value, fixture.zeroPages ? 'yes' : 'no');
});

test('as uid 65534: exclusive-bit tier, PFNs hidden, kpagecount closed', () => {
  if (!isRoot()) assert.unreachable('this test switches users with setpriv and needs root (CI runs as root)');
  stage = stagePackage();
  const r = runCli(['doctor', '--json'], { prefix: AS_NOBODY, cli: stage.cli });
  assert.is(r.status, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  assert.is(d.tier, 'exclusive-bit');
  assert.is(d.facts.uid, 65534);
  assert.not.ok(d.facts.pfnVisible || d.facts.kpagecount || d.facts.capSysAdmin);
  assert.ok(d.facts.pagemapReadable);
  const human = runCli(['doctor'], { prefix: AS_NOBODY, cli: stage.cli });
  assert.match(human.stdout, /tier: exclusive-bit \(run as root for the exact tier\)/);
});

test.run();
