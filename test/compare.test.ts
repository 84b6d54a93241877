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
  const none = pagesOf(r, 'none', /^gc\.(age|promote|promote-next)$/);
  const warm = pagesOf(r, 'warmup', /^gc\.(age|promote|promote-next)$/);
  assert.ok(none >= 100, `none: ${none} pages`);
  assert.ok(warm <= 0.1 * none, `warmup ${warm} vs none ${none}`);
  assert.match(r.strategies.find((s: { name: string }) => s.name === 'warmup').label, /^warmup \(emulated\)$/, 'Ruby 3.1 has no Process.warmup');
  // one run of one child each: the ranges are single values, apart unless equal
  assert.equal(r.decision, { kind: 'better', strategy: 'warmup', runs: 1 });
  assert.match(r.verdict, /^best: warmup \(emulated\) — [\d.]+[KM] less per child \(\d+%\) than none, its range clear of none's over 1 run; at 8 workers that is [\d.]+[KM]$/);
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
  assert.equal(r.decision.kind, 'no-none');
  assert.match(r.verdict, /^no verdict without none: .* copied least, [\d.]+[KM] per child; run none too/);
});

test('compare --help: its own options, examples and schema; run-only options refused', () => {
  const help = runCowscope(['compare', '--help']);
  assert.is(help.status, 0, help.stderr);
  const options = [...help.stdout.matchAll(/^\s+--([a-z-]+)/gm)].map((m) => m[1]);
  for (const o of ['strategies', 'repeat', 'workers', 'children', 'rack', 'json', 'html', 'bytes']) assert.ok(options.includes(o), `--${o} listed`);
  for (const o of ['strategy', 'save']) assert.not.ok(options.includes(o), `--${o} not listed: compare does not take it`);
  assert.match(help.stdout, /schema cowscope\.compare\/1/);
  assert.not.match(help.stdout, /cowscope\.run\/1/);
  const examples = help.stdout.slice(help.stdout.indexOf('Examples:')).split('\n\n')[0];
  assert.match(examples, /cowscope compare --strategies/);
  assert.not.match(examples, /cowscope run/);
  // run's --strategy is compare's --strategies, suggested; --save is run's alone
  for (const [option, said] of [[['--strategy', 'gc'], 'unknown option --strategy \\(did you mean --strategies\\?\\)'], [['--save', 'x.cow'], 'unknown option --save']] as const) {
    const r = runCowscope(['compare', ...option, CAUSES]);
    assert.is(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${said}: see cowscope compare --help`));
  }
});

test('compare text: the verdict first, savings in words, whole sizes', () => {
  const r = runCowscope(['compare', '--repeat', '1', '--children', '1', '--strategies', 'none,prewarm', CAUSES], { COWSCOPE_CAUSE: 'objid' });
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0], /^cowscope compare: ruby 3\.\d+\.\d+, tier \w[\w-]*, 8 workers projected$/);
  assert.match(lines[2], /^(best: prewarm x1 — [\d.]+[KM] less per child|no clear difference at 1 run)/);
  const prewarm = lines.find((l) => /^\s+prewarm\s/.test(l));
  assert.ok(prewarm, r.stdout);
  assert.match(prewarm!, /\s[\d.]+[KM] less \(\d+%\)\s+[\d.]+[KM] less\s/, 'measured and predicted savings, in words');
  assert.not.match(r.stdout, /MiB|[+-]\d/);
});

test('a strategy that raises: its error shown, exit 2, everything reaped', () => {
  const r = runCowscope(['compare', '--strategies', 'none,custom', '--before-fork', path.join(RUBY_FIXTURES, 'raising_strategy.rb'), '--repeat', '1', CAUSES]);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /cowscope: the program raised IOError: planted strategy failure \(.*raising_strategy\.rb:2/);
});

test.run();
