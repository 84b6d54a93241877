// CoW blame on Debian's Ruby 3.1: each planted-cause fixture (fixtures/ruby/causes.rb, one mode per
// cause, the child doing only that) must have at least 90% of the copied pages of the region where the
// cause lives blamed on that cause, `unknown` at most 5% of all copied pages, and the blame totals equal
// to the copied totals exactly.

import path from 'node:path';
import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RUBY_FIXTURES, runCowscope, tempDir } from './helpers/ruby';
import { loadCapture } from '../native/capture-file';
import { runReport } from '../analyzers/run-report';

interface Planted {
  mode: string;
  region: 'ruby-heap' | 'malloc-heap';
  /** the causes the fixture plants (a GC plants the gc.* family) */
  causes: RegExp;
}

const PLANTED: Planted[] = [
  { mode: 'gc_minor', region: 'ruby-heap', causes: /^gc\.(age|promote)$/ },
  { mode: 'gc_major', region: 'ruby-heap', causes: /^gc\./ },
  { mode: 'coderange', region: 'ruby-heap', causes: /^string\.coderange$/ },
  { mode: 'calls', region: 'malloc-heap', causes: /^icache\.call$/ },
  { mode: 'const', region: 'malloc-heap', causes: /^icache\.const$/ },
  { mode: 'ivar', region: 'malloc-heap', causes: /^icache\.ivar$/ },
  { mode: 'alloc', region: 'ruby-heap', causes: /^alloc\.free-slot$/ },
  { mode: 'objid', region: 'ruby-heap', causes: /^object\.id$/ },
  { mode: 'freeze', region: 'ruby-heap', causes: /^object\.freeze$/ },
  { mode: 'hash_each', region: 'ruby-heap', causes: /^hash\.iteration$/ },
];

const tmp = tempDir('test');
test.after(() => tmp.remove());

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function assertTotals(child: any): void {
  const pages = child.blame.reduce((n: number, b: { pages: number }) => n + b.pages, 0);
  assert.is(pages, child.pages.copied, `child ${child.pid}: blame pages add up to the copied pages`);
  const byRegion = child.blameByRegion.reduce((n: number, g: { pages: number }) => n + g.pages, 0);
  assert.is(byRegion, child.pages.copied, `child ${child.pid}: per-region blame adds up too`);
}

for (const p of PLANTED) {
  test(`${p.mode}: >= 90% of copied ${p.region} pages blamed on ${p.causes.source}, unknown <= 5%`, () => {
    const r = runCowscope(['run', '--json', '--children', '1', path.join(RUBY_FIXTURES, 'causes.rb')], { COWSCOPE_CAUSE: p.mode });
    assert.is(r.status, 0, r.stderr);
    const child = JSON.parse(r.stdout).children[0];
    assertTotals(child);
    const region = child.blameByRegion.find((g: { region: string }) => g.region === p.region);
    assert.ok(region, `${p.region} has copied pages`);
    const planted = region.blame.filter((b: { cause: string }) => p.causes.test(b.cause)).reduce((n: number, b: { pages: number }) => n + b.pages, 0);
    const share = planted / region.pages;
    assert.ok(share >= 0.9, `${p.mode}: ${planted} of ${region.pages} ${p.region} pages (${(100 * share).toFixed(1)}%) on the planted cause; blame: ${JSON.stringify(region.blame.slice(0, 5))}`);
    const unknown = child.blame.find((b: { cause: string }) => b.cause === 'unknown')?.pages ?? 0;
    assert.ok(unknown <= 0.05 * child.pages.copied, `${p.mode}: unknown ${unknown} of ${child.pages.copied} copied pages`);
  });
}

test('two children, text output, and report FILE re-runs the blame offline with the same result', () => {
  const save = path.join(tmp.dir, 'objid.cow');
  const r = runCowscope(['run', '--json', '--children', '2', '--save', save, path.join(RUBY_FIXTURES, 'causes.rb')], { COWSCOPE_CAUSE: 'objid' });
  assert.is(r.status, 0, r.stderr);
  for (const child of JSON.parse(r.stdout).children) assertTotals(child);
  const offline = runCowscope(['report', '--json', save]);
  assert.is(offline.status, 0, offline.stderr);
  assert.is(offline.stdout, r.stdout);
  const text = runCowscope(['report', save]);
  assert.match(text.stdout, /Why child \d+ copied \d+ pages/);
  assert.match(text.stdout, /object\.id\s+\d+/);
  assert.ok(fs.statSync(save).size < 2 * 1024 * 1024, `capture size ${fs.statSync(save).size}`);
});

test('--trace-allocations names allocation sites', () => {
  const r = runCowscope(['run', '--json', '--children', '1', '--trace-allocations', path.join(RUBY_FIXTURES, 'causes.rb')], { COWSCOPE_CAUSE: 'freeze' });
  assert.is(r.status, 0, r.stderr);
  const child = JSON.parse(r.stdout).children[0];
  assert.ok(child.bySite.length > 0, 'sites reported');
  assert.match(child.bySite[0].site, /causes\.rb:\d+$/);
  assert.is(child.byClass[0].class, 'Object');
});

test('a Ruby version outside the table: version-independent rules only, said in a note, totals still exact', () => {
  const save = path.join(tmp.dir, 'freeze.cow');
  const r = runCowscope(['run', '--json', '--children', '1', '--save', save, path.join(RUBY_FIXTURES, 'causes.rb')], { COWSCOPE_CAUSE: 'freeze' });
  assert.is(r.status, 0, r.stderr);
  const capture = loadCapture(save);
  capture.runtime!.version = '9.9.0'; // as if the agent had reported a Ruby cowscope does not know
  const report = runReport(capture);
  assert.ok(report.notes.some((n) => /Ruby 9\.9\.0 is not in cowscope's version table/.test(n)));
  const child = report.children[0];
  assertTotals(child);
  // object.freeze is a version-independent flags bit: still found.
  const heap = child.blameByRegion.find((g) => g.region === 'ruby-heap')!;
  assert.ok(heap.blame[0].cause === 'object.freeze', JSON.stringify(heap.blame.slice(0, 3)));
});

test.run();
