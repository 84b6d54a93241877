// Version behaviour the reports must state: Ruby 3.3+ runs a timer thread of its own at every fork point
// (no "threads alive" warning for it), and Ruby 3.4.5 empties every call cache on a marking GC, so the
// gc strategy leaves children with cold call caches (measured here, and said in the report's notes).

import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { layoutFor } from '../runtimes/ruby/layouts';
import { RUBY_FIXTURES, runCowscope, testRubies } from './helpers/ruby';

const wordsOf = (child: { blame: { cause: string; words: number }[] }, cause: string) => child.blame.find((b) => b.cause === cause)?.words ?? 0;

for (const { ruby, version } of testRubies()) {
  test(`Ruby ${version}: no thread warning for a program with one thread`, () => {
    const r = runCowscope(['run', '--json', '--children', '1', '--', ruby, path.join(RUBY_FIXTURES, 'noop.rb')]);
    assert.is(r.status, 0, r.stderr);
    assert.not.match(r.stderr, /threads? .*alive at the fork point/);
    assert.ok(!JSON.parse(r.stdout).notes.some((n: string) => /threads/.test(n)), r.stdout);
  });

  test(`Ruby ${version}: strategy gc and warm call caches`, () => {
    const run = (strategy: string) => {
      const r = runCowscope(['run', '--json', '--children', '1', '--strategy', strategy, '--', ruby, path.join(RUBY_FIXTURES, 'warm_calls.rb')]);
      assert.is(r.status, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const none = run('none');
    const gc = run('gc');
    const empties = !!layoutFor(version)?.markEmptiesCallCaches;
    const note = gc.notes.some((n: string) => /empties every call cache/.test(n));
    assert.is(note, empties, `the note is there exactly on versions whose GC empties call caches: ${JSON.stringify(gc.notes)}`);
    // Changed words, not pages: 3000 call sites refilled are 3000 words, and pages also hold other writes.
    const cold = wordsOf(gc.children[0], 'icache.call');
    const warm = wordsOf(none.children[0], 'icache.call');
    if (empties) assert.ok(cold >= warm + 2000, `3000 call sites refilled after the parent's GC: icache.call ${cold} words against ${warm} without it`);
    else assert.ok(cold <= warm + 300, `a GC in the parent leaves call caches warm: icache.call ${cold} words against ${warm} without it`);
  });
}

test.run();
