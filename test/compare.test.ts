// cowscope compare on Debian's Ruby 3.1: strategies measured against none on the planted-cause fixture.

import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RUBY_FIXTURES, leftoverRunDirs, runCowscope, rubyFixtureProcesses } from './helpers/ruby';

const CAUSES = path.join(RUBY_FIXTURES, 'causes.rb');

test.after.each(() => {
  assert.equal(rubyFixtureProcesses(), [], 'no Ruby process left behind');
  assert.equal(leftoverRunDirs(), [], 'no temporary folder left behind');
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function compare(mode: string, strategies: string): any {
  const r = runCowscope(['compare', '--json', '--repeat', '1', '--children', '1', '--strategies', strategies, CAUSES], { COWSCOPE_CAUSE: mode });
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.is(report.schema, 'cowscope.compare/1');
  return report;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function pagesOf(report: any, strategy: string, causes: RegExp): number {
  const s = report.strategies.find((x: { name: string }) => x.name === strategy);
  assert.ok(s, `${strategy} ran`);
  return s.blame.filter((b: { cause: string }) => causes.test(b.cause)).reduce((n: number, b: { pages: number }) => n + b.pages, 0);
}

test('warmup cuts GC aging/promotion pages by >= 90% against none (minor GC in the child)', () => {
  const r = compare('gc_minor', 'none,warmup');
  const none = pagesOf(r, 'none', /^gc\.(age|promote)$/);
  const warm = pagesOf(r, 'warmup', /^gc\.(age|promote)$/);
  assert.ok(none >= 100, `none: ${none} pages`);
  assert.ok(warm <= 0.1 * none, `warmup ${warm} vs none ${none}`);
  assert.match(r.strategies.find((s: { name: string }) => s.name === 'warmup').label, /^warmup \(emulated\)$/, 'Ruby 3.1 has no Process.warmup');
  assert.match(r.verdict, /^best: warmup \(emulated\) — [\d.]+ MiB less per child \(\d+%\) than none; at 8 workers that is [\d.]+ MiB$/);
});

test('warmup cuts string coderange pages by >= 90% against none', () => {
  const r = compare('coderange', 'none,warmup');
  const none = pagesOf(r, 'none', /^string\.coderange$/);
  const warm = pagesOf(r, 'warmup', /^string\.coderange$/);
  assert.ok(none >= 100, `none: ${none} pages`);
  assert.ok(warm <= 0.1 * none, `warmup ${warm} vs none ${none}`);
});

test('prewarm cuts call-cache pages by >= 80% against none', () => {
  const r = compare('calls', 'none,prewarm');
  const none = pagesOf(r, 'none', /^icache\.call$/);
  const pre = pagesOf(r, 'prewarm', /^icache\.call$/);
  assert.ok(none >= 100, `none: ${none} pages`);
  assert.ok(pre <= 0.2 * none, `prewarm ${pre} vs none ${none}`);
});

test('nakayoshi uses the real gem when it is installed, and says so; strategies compose with +', () => {
  const r = compare('noop', 'nakayoshi,gc+coderange');
  assert.match(r.strategies.find((s: { name: string }) => s.name === 'nakayoshi').label, /^nakayoshi \(gem [\d.]+\)$/);
  assert.is(r.strategies.find((s: { name: string }) => s.name === 'gc+coderange').label, 'gc+coderange');
  assert.match(r.verdict, /run none too/);
});

test('a strategy that raises: its error shown, exit 2, everything reaped', () => {
  const r = runCowscope(['compare', '--strategies', 'none,custom', '--before-fork', path.join(RUBY_FIXTURES, 'raising_strategy.rb'), '--repeat', '1', CAUSES]);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /cowscope: the program raised IOError: planted strategy failure \(.*raising_strategy\.rb:2/);
});

test.run();
