// When --watch samples (cli/commands/inspect.ts dueAt): on the grid of intervals from the first sample,
// a late sample right after the one before, and a sample more than half an interval late moving the grid.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dueAt } from '../cli/commands/inspect';

/** Start times of `costs.length` samples taking these many ms each, interval ms apart. */
function starts(costs: number[], interval: number): number[] {
  const out: number[] = [];
  let [origin, now] = [0, 0];
  costs.forEach((cost, i) => {
    const due = dueAt(origin, i, interval, now);
    origin = due.origin;
    now = Math.max(now, due.at);
    out.push(now);
    now += cost;
  });
  return out;
}

test('samples that take less than the interval start on its grid', () => {
  assert.equal(starts([300, 500, 999, 10, 0], 1000), [0, 1000, 2000, 3000, 4000]);
});

test('a sample up to half an interval late starts when the one before ends, the next ones are back on the grid', () => {
  // the first sample (the heap maps parsed, the structures found) is the slow one
  assert.equal(starts([1400, 500, 500, 500, 500], 1000), [0, 1400, 2000, 3000, 4000]);
  assert.equal(starts([300, 1400, 200, 300], 1000), [0, 1000, 2400, 3000]);
});

test('a sample more than half an interval late moves the grid: samples start at least half an interval apart', () => {
  assert.equal(starts([1600, 100, 100, 100], 1000), [0, 1600, 2600, 3600]);
  assert.equal(starts([3500, 100, 100, 100], 1000), [0, 3500, 4500, 5500]);
  // exactly half an interval late still counts as on the old grid
  assert.equal(starts([1500, 100, 100], 1000), [0, 1500, 2000]);
  // a sample that takes longer than the interval: the next one starts when it ends
  assert.equal(starts([100, 2500, 100, 100], 1000), [0, 1000, 3500, 4500]);
});

test.run();
