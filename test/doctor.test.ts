// cowscope doctor reports what this machine allows; checked against independent sources.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, fixtureBinary, isRoot, runCli } from './helpers/family';
import { olderPython } from './helpers/python';
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

// The python3 row: the version as the interpreter itself says it (platform.python_version()), and
// what cowscope does with it: refused before 3.8, decoded in full in the version table, run outside it.
test('python3 row: the version on PATH and what cowscope does with it, or not found', () => {
  const doctorWith = (PATH: string) => {
    const r = spawnSync(process.execPath, [CLI, 'doctor', '--json'], { encoding: 'utf8', env: { ...process.env, PATH }, timeout: 60_000 });
    assert.is(r.status, 0, r.stderr);
    const d = JSON.parse(r.stdout);
    return { facts: d.facts.python, row: d.checks.find((c: { check: string }) => c.check === 'python3') };
  };
  const cases = [
    { python: '/usr/bin/python3', says: /is in the version table \(3\.11, 3\.12, 3\.13\)$/ },
    { python: olderPython(['3.8']), says: /^controlled forks of Python programs; 3\.8\.\d+ is not in the version table/ },
    { python: olderPython(['3.7']), says: /^cowscope runs CPython 3\.8 or newer/ },
  ];
  for (const { python, says } of cases) {
    if (!python || !fs.existsSync(python)) {
      console.log(`note: no ${python ?? 'Python of that version'}: its doctor row is not checked`);
      continue;
    }
    const version = execFileSync(python, ['-c', 'import platform; print(platform.python_version(), end="")'], { encoding: 'utf8' });
    const dir = path.dirname(python);
    const { facts, row } = doctorWith(`${dir}:/usr/bin:/bin`);
    assert.equal(facts, { path: path.join(dir, 'python3'), version });
    assert.is(row.value, `${version} (${path.join(dir, 'python3')})`);
    assert.match(row.meaning, says, `${python}: ${row.meaning}`);
  }
  const none = doctorWith('/nonexistent');
  assert.is(none.facts, null);
  assert.is(none.row.value, 'not found');
  assert.match(none.row.meaning, /^install Python \(apt-get install python3\)/);
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
