// Runs last (uvu runs files in name order): no process any test started may still be alive.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from './helpers/family';

test('no fixture, ruby, unicorn, chromium or cowscope process is left behind', () => {
  const ps = execFileSync('ps', ['-eo', 'pid,ppid,stat,args', '--no-headers'], { encoding: 'utf8' });
  const left = ps
    .split('\n')
    // this checkout's programs (another checkout's tests may run beside these), and any browser or stage
    .filter((l) => /cowscope-stage-|chromium/.test(l) || (l.includes(ROOT) && /cow_family|fixtures\/ruby\/|runtimes\/ruby\/agent\/cowscope\.rb|dist\/cli\/main\.js|unicorn/.test(l)))
    .filter((l) => !l.includes(' ps -eo '));
  assert.equal(left, [], `left running:\n${left.join('\n')}`);
});

// Only what this test process's time made: a run killed before its after hooks (a CI job stopped
// mid-run on the same machine) leaves folders older than this process, which are not this run's defect.
const started = performance.timeOrigin;
test('no temporary file or folder of cowscope or of a test is left behind', () => {
  const ours = (name: string) => {
    try {
      const s = fs.lstatSync(path.join(os.tmpdir(), name));
      // (a file system that keeps no birth time gives 0: the last change, which a dead run's folder keeps)
      return (s.birthtimeMs || s.mtimeMs) >= started - 1000;
    } catch {
      return false; // removed while we looked
    }
  };
  assert.equal(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('cowscope-') && ours(n)), []);
});

test.run();
