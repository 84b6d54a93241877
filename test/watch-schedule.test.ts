// When --watch samples (cli/commands/inspect.ts nextTick): on the ticks of a clock started with the first
// sample; a late sample makes the next one start when it ends, and the ticks it missed are skipped.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nextTick } from '../cli/commands/inspect';

/** Start times of `costs.length` samples taking these many ms each, on a clock of interval ms. */
function starts(costs: number[], interval: number): number[] {
  const out = [0];
  let [now, tick] = [costs[0], 0];
  for (const cost of costs.slice(1)) {
    const next = nextTick(0, tick, interval, now);
    tick = next.tick;
    now = next.at;
    out.push(now);
    now += cost;
  }
  return out;
}

test('samples that take less than the interval start on its ticks', () => {
  assert.equal(starts([300, 500, 999, 10, 0], 1000), [0, 1000, 2000, 3000, 4000]);
});

test('a late sample: the next one starts when it ends, the one after on the next tick', () => {
  // the first sample (the heap maps parsed, the structures found) is the slow one
  assert.equal(starts([1400, 500, 500, 500, 500], 1000), [0, 1400, 2000, 3000, 4000]);
  assert.equal(starts([1700, 500, 500, 500, 500], 1000), [0, 1700, 2200, 3000, 4000]);
  assert.equal(starts([300, 1400, 200, 300], 1000), [0, 1000, 2400, 3000]);
});

test('ticks a sample missed are skipped: no burst of samples to catch up', () => {
  assert.equal(starts([3500, 100, 100, 100], 1000), [0, 3500, 4000, 5000]);
  assert.equal(starts([100, 2500, 100, 100], 1000), [0, 1000, 3500, 4000]);
  // every sample slower than the interval: each starts when the one before ends
  assert.equal(starts([1500, 1500, 1500], 1000), [0, 1500, 3000]);
});

test.run();
