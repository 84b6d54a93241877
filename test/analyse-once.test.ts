// A command analyses once: `run --html` with two children classifies each child's pages once and
// blames each child once (the report, the text and the HTML page maps read the same results).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RUBY_FIXTURES, tempDir } from './helpers/ruby';

const tmp = tempDir('once');
test.after(() => tmp.remove());

test('run --html: one classification and one blame per child', () => {
  const html = path.join(tmp.dir, 'run.html');
  const r = spawnSync(process.execPath, [path.join(__dirname, 'helpers', 'analyse-once-run.js'), path.join(RUBY_FIXTURES, 'causes.rb'), html], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, COWSCOPE_CAUSE: 'freeze' },
  });
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.children, 2);
  assert.match(out.text, /object\.freeze/);
  assert.ok(fs.statSync(html).size > 1000, 'the HTML report was written');
  assert.is(out.classify, 2, 'classified once per child');
  assert.is(out.blame, 2, 'blamed once per child');
});

test.run();
