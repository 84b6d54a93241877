// cowscope budget and init: budgets within and over, a baseline regression in one cause, config
// errors naming the field, JUnit, JSON and the GitHub step summary.

import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadBudgetConfig, parseSize } from '../cli/budget-config';
import { initConfig } from '../cli/commands/init';
import { RUBY_FIXTURES, leftoverRunDirs, runCowscope, rubyFixtureProcesses, tempDir } from './helpers/ruby';

const tmp = tempDir('test');
test.after(() => tmp.remove());
test.after.each(() => {
  assert.equal(rubyFixtureProcesses(), [], 'no Ruby process left behind');
  assert.equal(leftoverRunDirs(), [], 'no temporary folder left behind');
});

const CAUSES = path.join(RUBY_FIXTURES, 'causes.rb');

function config(name: string, body: Record<string, unknown>): string {
  const file = path.join(tmp.dir, name);
  fs.writeFileSync(file, JSON.stringify({ program: CAUSES, children: 1, repeat: 1, ...body }, null, 2));
  return file;
}

test('within budget: exit 0, JSON pass, and a Markdown table appended to $GITHUB_STEP_SUMMARY', () => {
  const summary = path.join(tmp.dir, 'summary.md');
  fs.writeFileSync(summary, '# earlier step\n');
  const file = config('ok.json', { budgets: { copiedPerChild: '100MiB', sharedRatio: 0.5, causes: { 'object.freeze': '64KiB' } } });
  const r = runCowscope(['budget', '--json', '--config', file], { COWSCOPE_CAUSE: 'noop', GITHUB_STEP_SUMMARY: summary });
  assert.is(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.is(result.schema, 'cowscope.budget/1');
  assert.is(result.pass, true);
  assert.equal(result.checks.map((c: { name: string }) => c.name), ['copiedPerChild', 'sharedRatio', 'causes.object.freeze']);
  const md = fs.readFileSync(summary, 'utf8');
  assert.ok(md.startsWith('# earlier step\n'), 'appended, not replaced');
  assert.match(md, /### cowscope budget: within budget\n\n\| Budget \| Limit \| Measured \| Status \|\n\|---\|---\|---\|---\|\n\| copiedPerChild \| <= 100\.0M \| [\d.]+[KM] \| ok \|/);
});

test('over budget: exit 1, the JUnit failure names the budget, the limit and the measured value', () => {
  const file = config('over.json', { budgets: { copiedPerChild: '1KiB' } });
  const xmlFile = path.join(tmp.dir, 'junit.xml');
  const r = runCowscope(['budget', '--config', file, '--junit', xmlFile], { COWSCOPE_CAUSE: 'noop' });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stdout, /over budget \(copiedPerChild\)/);
  const xml = fs.readFileSync(xmlFile, 'utf8');
  assert.match(xml, /<testsuites name="cowscope budget" tests="1" failures="1">/);
  assert.match(xml, /<testcase classname="cowscope\.budget" name="copiedPerChild">\s*<failure message="copiedPerChild: measured [\d.]+[KM], over the limit 1\.0K">/);
});

test('a regression in one cause against the baseline: exit 1, the cause named', () => {
  const file = config('base.json', { baseline: 'base-line.json', tolerance: '5%' });
  const update = runCowscope(['budget', '--config', file, '--update-baseline'], { COWSCOPE_CAUSE: 'noop' });
  assert.is(update.status, 0, update.stderr);
  assert.ok(fs.existsSync(path.join(tmp.dir, 'base-line.json')));
  const same = runCowscope(['budget', '--config', file, '--json'], { COWSCOPE_CAUSE: 'noop' });
  assert.is(same.status, 0, `the same program is within the baseline: ${same.stdout}`);
  const r = runCowscope(['budget', '--config', file, '--json'], { COWSCOPE_CAUSE: 'freeze' });
  assert.is(r.status, 1, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.is(result.grew[0].cause, 'object.freeze');
  assert.ok(result.checks.some((c: { name: string; pass: boolean }) => c.name === 'baseline.causes.object.freeze' && !c.pass));
  const text = runCowscope(['budget', '--config', file], { COWSCOPE_CAUSE: 'freeze' });
  assert.match(text.stdout, /Causes that grew against the baseline:\n {2}object\.freeze: 0 -> [\d.]+K/);
});

test('config errors: exit 2, one line naming the field', () => {
  const cases: [string, string, RegExp][] = [
    ['bad.json', '{ "program": ', /bad\.json is not valid JSON/],
    ['size.json', JSON.stringify({ program: CAUSES, budgets: { copiedPerChild: 'lots' } }), /size\.json: budgets\.copiedPerChild: "lots" is not a size: write e\.g\. "24MiB"/],
    ['file.json', JSON.stringify({ program: CAUSES, workload: 'nope.rb' }), /file\.json: workload: nope\.rb does not exist/],
    ['ratio.json', JSON.stringify({ program: CAUSES, budgets: { sharedRatio: 80 } }), /ratio\.json: budgets\.sharedRatio: must be a number from 0 to 1/],
    ['unknown.json', JSON.stringify({ program: CAUSES, budget: {} }), /unknown\.json: budget: unknown field/],
    ['noprog.json', JSON.stringify({ children: 2 }), /noprog\.json: program: give the program/],
  ];
  for (const [name, body, pattern] of cases) {
    const file = path.join(tmp.dir, name);
    fs.writeFileSync(file, body);
    const r = runCowscope(['budget', '--config', file]);
    assert.is(r.status, 2, `${name}: ${r.stderr}`);
    assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
  }
  const missing = runCowscope(['budget', '--config', path.join(tmp.dir, 'absent.json')]);
  assert.is(missing.status, 2);
  assert.match(missing.stderr, /no config at .*absent\.json: write one with `cowscope init`/);
});

test('config files that are no config: 200 MB, /dev/zero, a directory, nothing to check: exit 2 at once, one line', () => {
  const big = path.join(tmp.dir, 'big.json');
  fs.writeFileSync(big, '{');
  fs.truncateSync(big, 200 * 1024 * 1024); // sparse: no 200 MB written
  const empty = config('empty.json', { budgets: {} });
  const noCauses = config('nocauses.json', { budgets: { causes: {} } });
  const infinite = config('infinite.json', { budgets: { copiedPerChild: `${'9'.repeat(400)}MiB` } });
  const percent = config('percent.json', { tolerance: `${'9'.repeat(400)}%` });
  const cases: [string, RegExp][] = [
    [big, /big\.json is 200 MiB, more than the 1 MiB limit for a config: give the cowscope\.json config file/],
    ['/dev/zero', /\/dev\/zero is a character device, not a regular file: give the cowscope\.json config file/],
    [tmp.dir, /is a directory: give the cowscope\.json config file/],
    [empty, /empty\.json: budgets: nothing to check: give at least one of copiedPerChild \("24MiB"\), newPerChild \("8MiB"\), sharedRatio \(0\.9\) or causes/],
    [noCauses, /nocauses\.json: budgets: nothing to check/],
    [infinite, /infinite\.json: budgets\.copiedPerChild: "9{40}.*" is not a size/],
    [percent, /percent\.json: tolerance: "9{40}.*" is neither a percentage/],
  ];
  for (const [file, pattern] of cases) {
    const t0 = Date.now();
    const r = runCowscope(['budget', '--config', file]);
    assert.is(r.status, 2, `${file}: ${r.stderr}`);
    assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
    assert.ok(Date.now() - t0 < 10_000, `${file}: refused at once (${Date.now() - t0} ms)`);
  }
  assert.equal([parseSize('9'.repeat(400)), parseSize('1constructor'), parseSize('2 toString'), parseSize('1.5GiB')], [undefined, undefined, undefined, 1610612736]);
});

test('init writes a commented config that loads, and does not overwrite one', () => {
  const dir = path.join(tmp.dir, 'app');
  fs.mkdirSync(dir);
  fs.copyFileSync(CAUSES, path.join(dir, 'app.rb'));
  const file = path.join(dir, 'cowscope.json');
  fs.writeFileSync(file, initConfig(dir));
  assert.match(fs.readFileSync(file, 'utf8'), /\/\/ cowscope budget config/);
  const cfg = loadBudgetConfig(file);
  assert.equal(cfg.program, [path.join(dir, 'app.rb')]);
  assert.is(cfg.budgets.copiedPerChild, 24 * 1024 * 1024);
  assert.equal(cfg.tolerance, { percent: 5 });
  fs.writeFileSync(path.join(dir, 'config.ru'), 'run ->(_) { [200, {}, []] }\n');
  assert.match(initConfig(dir), /"rack": \{ "config": "config\.ru"/, 'a Rack app is configured as such');
  const again = runCowscope(['init', '--config', file]);
  assert.is(again.status, 2);
  assert.match(again.stderr, /cowscope\.json exists: edit it, or pass --force/);
  assert.equal([parseSize('24MiB'), parseSize('512KiB'), parseSize(4096), parseSize('1.5G'), parseSize('12 parsecs')], [25165824, 524288, 4096, 1610612736, undefined]);
});

test.run();
