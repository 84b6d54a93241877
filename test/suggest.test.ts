// The "did you mean" of usage errors (cli/suggest.ts): edit distances against hand-counted ones, and the
// nearest candidate or none.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { didYouMean, editDistance, nearest } from '../cli/suggest';

test('edit distance: insertions, deletions, substitutions, and a swap of neighbours each count one', () => {
  assert.is(editDistance('', ''), 0);
  assert.is(editDistance('json', 'json'), 0);
  assert.is(editDistance('', 'abc'), 3);
  assert.is(editDistance('jsn', 'json'), 1); // an insertion
  assert.is(editDistance('bites', 'bytes'), 1); // a substitution
  assert.is(editDistance('prewram', 'prewarm'), 1); // a swap
  assert.is(editDistance('childs', 'children'), 3);
  assert.is(editDistance('kitten', 'sitting'), 3);
});

test('nearest: within a third of the word (at least one edit), or a start of it; else none', () => {
  const options = ['children', 'json', 'bytes', 'repeat', 'strategies', 'update-baseline'];
  assert.is(nearest('jsn', options), 'json');
  assert.is(nearest('JSON', options), 'json', 'case ignored');
  assert.is(nearest('childs', options), 'children'); // all but its last letter begins children
  assert.is(nearest('update', options), 'update-baseline');
  assert.is(nearest('repeats', options), 'repeat');
  assert.is(nearest('xyzzy', options), undefined);
  assert.is(nearest('js', options), undefined, 'two letters: too few to guess from');
  assert.is(nearest('gx', ['gc']), undefined, 'two letters: too few to guess from, even one edit away');
  assert.is(nearest('GC', ['gc']), 'gc', 'two letters, the same word');
  assert.is(nearest('map', ['mappings']), undefined, 'three letters begin it, fewer than four');
  assert.is(nearest('gcc', ['none', 'gc', 'nakayoshi']), 'gc');
  assert.is(nearest('x', []), undefined);
});

test('didYouMean: the suggestion as a message ends with it, shown as the caller writes it', () => {
  assert.is(didYouMean('jsn', ['json'], (o) => `--${o}`), ' (did you mean --json?)');
  assert.is(didYouMean('zzz', ['json']), '');
});

test.run();
