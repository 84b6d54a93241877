// A command analyses once: `run --html` with two children classifies each child's pages once and
// blames each child once (the report, the text, the JSON and the HTML page maps read the same results).

import path from 'node:path';
import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { classifyCalls } from '../analyzers/classify';
import { blameCalls } from '../blame/engine';
import { measureRun, planRun } from '../cli/commands/run';
import { runOutput } from '../cli/render/run-output';
import { RUBY_FIXTURES, tempDir } from './helpers/ruby';

const tmp = tempDir('once');
test.after(() => tmp.remove());

test('run --html: one classification and one blame per child', async () => {
  const html = path.join(tmp.dir, 'run.html');
  const plan = planRun(
    { program: [path.join(RUBY_FIXTURES, 'causes.rb')], requests: 1, children: 2, strategy: 'none', timeout: 60, traceAllocations: false, prewarm: 1, ruby: '/usr/bin/ruby', json: false, bytes: false, html },
    fs.createWriteStream('/dev/null'),
  );
  process.env.COWSCOPE_CAUSE = 'freeze';
  const classify0 = classifyCalls.count;
  const blame0 = blameCalls.count;
  const { capture, analysis } = await measureRun(plan, ['run']);
  const text = runOutput(capture, analysis, { json: false, bytes: false, html });
  delete process.env.COWSCOPE_CAUSE;
  assert.match(text, /object\.freeze/);
  assert.ok(fs.statSync(html).size > 1000);
  assert.is(classifyCalls.count - classify0, 2, 'classified once per child');
  assert.is(blameCalls.count - blame0, 2, 'blamed once per child');
});

test.run();
