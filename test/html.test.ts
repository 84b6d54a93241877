// The HTML report in a real browser: Debian's Chromium, headless, opens each self-contained file; the
// page reports what it drew (<body data-painted data-legend data-bars>), and a screenshot is saved in
// the test's temporary folder.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Family, startFamily, stopAll } from './helpers/family';
import { RUBY_FIXTURES, runCowscope, tempDir } from './helpers/ruby';

const tmp = tempDir('test');
let family: Family | undefined;
test.after(async () => {
  await family?.stop();
  await stopAll();
  tmp.remove();
});

/** Chromium as the machine notes advise: no network, a fresh profile, no sandbox (root). */
function chromium(args: string[]): string {
  const profile = fs.mkdtempSync(path.join(tmp.dir, 'profile-'));
  const r = spawnSync(
    'chromium',
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--window-size=1200,1600', ...args],
    { encoding: 'utf8', timeout: 90_000 },
  );
  assert.is(r.status, 0, `chromium: ${r.stderr}`);
  return r.stdout;
}

function drawn(file: string): { painted: number; legend: number; bars: number; dom: string } {
  const dom = chromium(['--dump-dom', `file://${file}`]);
  const body = /<body data-painted="(\d+)" data-legend="(\d+)" data-bars="(\d+)">/.exec(dom);
  assert.ok(body, 'the page ran its drawing script');
  const shot = path.join(tmp.dir, `${path.basename(file)}.png`);
  chromium([`--screenshot=${shot}`, `file://${file}`]);
  assert.ok(fs.statSync(shot).size > 10_000, `screenshot ${shot} is not blank`);
  return { painted: Number(body![1]), legend: Number(body![2]), bars: Number(body![3]), dom };
}

test('run --html: page maps coloured by cause, legend and cause bars render', () => {
  const html = path.join(tmp.dir, 'run.html');
  const save = path.join(tmp.dir, 'run.cow');
  const r = runCowscope(['run', '--children', '1', '--html', html, '--save', save, path.join(RUBY_FIXTURES, 'causes.rb')], { COWSCOPE_CAUSE: 'objid' });
  assert.is(r.status, 0, r.stderr);
  const page = fs.readFileSync(html, 'utf8');
  assert.not.match(page, /(src|href)="https?:/, 'self-contained: nothing to fetch');
  const d = drawn(html);
  assert.ok(d.painted > 10_000, `canvas pixels painted: ${d.painted}`);
  assert.ok(d.legend >= 5, `legend entries: ${d.legend}`);
  assert.ok(d.bars >= 3, `cause bars: ${d.bars}`);
  assert.match(d.dom, /<li><span class="sw"[^>]*><\/span>object\.id<\/li>/, 'the planted cause is in the legend');
  assert.match(d.dom, /object\.id — \d+ pages/);

  // report FILE --html draws the same from the saved capture
  const again = path.join(tmp.dir, 'report.html');
  assert.is(runCowscope(['report', '--html', again, save]).status, 0);
  assert.ok(drawn(again).painted > 10_000);
});

test('compare --html: the strategy chart renders', () => {
  const html = path.join(tmp.dir, 'compare.html');
  const r = runCowscope(['compare', '--repeat', '1', '--children', '1', '--strategies', 'none,warmup', '--html', html, path.join(RUBY_FIXTURES, 'causes.rb')], { COWSCOPE_CAUSE: 'coderange' });
  assert.is(r.status, 0, r.stderr);
  const d = drawn(html);
  assert.ok(d.bars >= 2, `bars: ${d.bars}`);
  assert.match(d.dom, /warmup \(emulated\) — [\d.]+ MiB per child/);
});

test('inspect --html: page maps of a process family render', async () => {
  family = await startFamily(['--pages', '600', '--child', '0-99:10', '--child', '200-399/2:0']);
  const html = path.join(tmp.dir, 'inspect.html');
  const r = runCowscope(['inspect', String(family.info.pid), '--html', html]);
  assert.is(r.status, 0, r.stderr);
  const d = drawn(html);
  assert.ok(d.painted > 1000, `painted ${d.painted}`);
  assert.match(d.dom, /Child \d+: \d+ copied pages/);
});

test.run();
